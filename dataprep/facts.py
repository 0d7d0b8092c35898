"""The offline fact-heavy scorer: which claims in a reply the conversation's own input does not support.

An example is fact-heavy when its reply rests on specific facts the model would have to
recall (prices, dates, limits, names, addresses, citations...). The scorer finds the
specific claims in the reply, checks each against the input (system prompt, user turns,
tool calls and tool results, earlier turns) after normalization, and turns the
unsupported ones plus a few cues into a score in [0, 1] with human-readable reasons.

Normalization, so that behaviour (reformatting, extracting, relaying, computing) scores low:

- numbers in any common format (``1,200`` = ``1.200`` = ``1200``; ``$4.2M``; ``1.2k``;
  ``thirty (30)``; ``twice``), numbers in other units (x60, x100, x1024, x12...) and, when
  the reply is computing, numbers one arithmetic step from the input's (sums, differences,
  products, ratios, percentages, discounts);
- dates as (month, day) in any order or language, times as minutes after midnight;
- phone numbers, tracking numbers and identifiers by their letters and digits only;
- names, case-insensitively, word by word;
- PII placeholders (``<EMAIL_1>``) count as present when the input has them; template
  placeholders (``{{Order Number}}``) are generic procedure, never claims.

Derived numbers are supported (the labeling guide: arithmetic, unit, date and time-zone
conversions are behaviour, shown or not): a calculation the reply shows and gets right
(``40 × $22 = $880``, powers ``(1 + 0.05)^10``, steps that equal each other or go on from the last
result, ``60 × 45 × 40 = 108,000 ÷ 5000 = 21.6``) from numbers it was given or worked out, a sum or
difference of two given whole numbers (14 hours, the first 10 at one rate: ``4 × 22``), or constants
of arithmetic and units (12 months, 1.609 km a mile, x 1.20 or 0.05 for a given 20% or 5%), supports
every number in it; the total and the average of a field over a tool result's list of items; a number
two steps from the input as shown rounded (a total of three, ``£807.69``, a share ``56%``, a
change ``+12.9%``); °F as °C; the days between two input dates, the hours between two input
times (ISO time stamps included), a duration the input states; a date a known number of days,
weeks or months from an input date; a time a known number of hours from an input time (a time
zone, a dose every 8 hours). What a calculation *applies* is not derived: a rate or percentage
the input lacks (a VAT rate, a loyalty discount, a dose per kg) is a fact however well the result
checks out, so a percentage is derived only as a share or change of known numbers, and shown
working with an operand from nowhere explains nothing. Products and ratios use a small whole
number only when the reply states it (with every 2 and 5 of the input as factors, "5 days" is
always 10 / 2).

Facts with no digit and no name are claims too: a sentence that asserts how something is
(``ASSERTION_WORDS``: covers, doesn't include, only, partner, expires, closed...) with at least
three words and half its content words the input lacks, even in another form (stems), is an
unsupported "assertion". Questions, how-to steps (a sentence opening on a verb), hedged general
advice and sentences with numbers (read as numbers) are not. A reply built on a tool's result
that adds a long statement of its own (a cause, a rule, a schedule) makes an assertion whatever
its words. And an organisation's assistant whose system prompt only names its role, with no tool
result and nothing pasted, that answers a question by stating something new, speaks from the
organisation's own documents: that alone makes the reply fact-heavy.

Nothing in a question is a claim ("Are you on Django or Rails?", "for example 160 mg per 5 mL?").
A number right after a name is a version or model ("Python 3.12", "Terminal 5").

Code in the reply is a transformation, not a claim: only URLs and hosts inside code count, and
world constants (an image tag, an API version, a pinned package or action, a runtime version)
the input did not give. A JSON reply's short capitalized values the input lacks (a manufacturer,
a country code) were recalled, not extracted; a weekday worked out from a date and the currency
code of the input's symbol (GBP for £) were not. Interface labels (bold, quoted, in a menu path,
after "click"), template placeholders (``[Company Name]``, ``[Name, Title]``), invented names in
creative text and a translation's capitalized words are not claims.

Scoring: each unsupported claim weighs by its kind (``WEIGHTS``); policy language in a
sentence that says something new (not one quoting the input's own number), and a user question
asking for a fact, add cues; when the user asked to transform the input (translate, extract,
summarize, classify...) the claims a transformation can produce weigh less, but not a name, a
number or a version it adds (a summary that adds a claim is the guide's fact-heavy case).
``score = 1 - exp(-total)``: one unsupported price, name, URL or number above 12 crosses 0.5
alone, a small number or an acronym does not.

Speed matters (about 7,500 examples a second on one core on the old labeled set, 4,800 on the
longer blind-written ones), and Python's regex engine is slow when it must try many alternatives
at every position. So numeric claims are matched only where a digit run begins, names by one
pattern that starts a word, word cues only when one of their words occurs, pairwise checks on
at most 40 numbers, dates or times, and the input's lookups are built on first use and cached
per message.
"""

from __future__ import annotations

import ipaddress
import math
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Callable, Iterable, Iterator

import orjson

from .record import message_text

# -- what a claim weighs ----------------------------------------------------------------------
WEIGHTS = {
    "price": 1.0, "percentage": 1.0, "quantity": 0.9, "date": 0.9, "time": 0.8, "number": 0.7,
    "small number": 0.2, "year": 0.7, "phone": 1.2, "URL": 1.2, "email": 1.2, "placeholder": 1.0,
    "identifier": 0.8, "version": 0.9, "name": 0.9, "acronym": 0.5, "assertion": 0.8, "constant": 0.9,
}
# What reformatting, translating or extracting can produce from the input by rewording or rounding
# (a quantity in other words, a percentage, an assertion): these weigh less in a transformation. A
# name, a date, a year, a version or a number it adds is the guide's "summary that adds a claim", and a phone
# number, a URL, an identifier or a scrubbed placeholder it can only copy.
SOFT_KINDS = frozenset({"price", "percentage", "quantity", "time", "small number", "acronym", "assertion"})
TRANSFORM_FACTOR = 0.7
POLICY_CUE = 0.5
POLICY_CUE_MAX = 1.0
QUESTION_CUE = 0.3
ORGANISATION_CUE = 0.8  # an organisation's assistant stating something new with no source: alone, fact-heavy
ROLE_ONLY_MAX = 160  # characters of a system prompt that only names the assistant's role
PASTED_MIN = 300  # characters of a user turn that hold a pasted document, not just a question
NOVEL_SENTENCE = 0.34  # a policy sentence counts when at least a third of its content words are new
CONVERSION_FACTORS = (60, 100, 1000, 1024, 1048576, 1_000_000, 3600, 24, 7, 12, 52, 365)

MONTHS = {
    # English, German, French, Spanish, Italian, Portuguese, Dutch month names and abbreviations
    1: "january jan januar janvier enero gennaio janeiro januari",
    2: "february feb februar février fevrier febrero febbraio fevereiro februari",
    3: "march mar märz maerz mars marzo março maart",
    4: "april apr avril abril aprile",
    5: "may mai mayo maggio maio mei",
    6: "june jun juni juin junio giugno junho",
    7: "july jul juli juillet julio luglio julho",
    8: "august aug août aout agosto augustus",
    9: "september sep sept septembre septiembre settembre setembro",
    10: "october oct oktober octobre octubre ottobre outubro",
    11: "november nov novembre noviembre novembro",
    12: "december dec dezember décembre decembre diciembre dicembre dezembro",
}
MONTH_NUMBER = {name: number for number, names in MONTHS.items() for name in names.split()}
WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun "
                     "montag dienstag mittwoch donnerstag freitag samstag sonntag lundi mardi mercredi jeudi vendredi "
                     "samedi dimanche lunes martes miércoles jueves viernes sábado domingo".split())
NUMBER_WORDS = {
    "once": 1, "one": 1, "twice": 2, "two": 2, "three": 3, "thrice": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "dozen": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "thousand": 1000, "half": 0.5, "fortnight": 14,
    "metade": 0.5, "mitad": 0.5, "moitié": 0.5, "hälfte": 0.5, "metà": 0.5, "helft": 0.5,
}
SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
# Capitalized words that name nothing: greetings, sentence furniture, generic acronyms, titles.
GENERIC_WORDS = frozenset(
    "i i'm i'll i've i'd ok okay hi hello hey dear thanks thank yes no please note tip step subject re fw fyi "
    "am pm a.m p.m api apis url urls json csv pdf sql http https html css id ids faq it hr ceo cfo cto coo vp "
    "wi-fi wifi windows macos linux android ios os ui ux usb tbd eta asap n/a utc gmt ai llm q1 q2 q3 q4 yoy sku po p.s e.g i.e etc mr mrs ms dr prof st "
    "jr sr inc ltd llc gmbh co corp usd eur gbp chf jpy cad aud inr sir madam".split())
CONNECTORS = frozenset("of de du la le van von der den del da y and & the".split())
STOPWORDS = frozenset(
    "the a an and or but if then so to of in on at by for with from as is are was were be been being it its this "
    "that these those there here you your yours we our ours they their them he she his her i me my not no yes can "
    "could would should will shall may might must do does did have has had just also very more most any all some "
    "what which who when where how why about into onto over under than too only own same other each".split())
# Words of any sentence, fact or advice: they say nothing new about the world when the input lacks them.
COMMON_WORDS = STOPWORDS | frozenset(
    "doesn don isn aren won didn wasn weren hasn haven shouldn wouldn couldn whether because instead such having "
    "going already until while since though although either neither every really properly normally usually "
    "means mean want know help find take turn uses make need needs like well even still much many often "
    "something anything nothing someone anyone thing things way ways sure right good best better".split())

# -- patterns ---------------------------------------------------------------------------------------
def word_alternation(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, written as a trie so a failing position fails on its first letters."""
    tree: dict = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(tree)


_MONTH = word_alternation(MONTH_NUMBER)
COUNT_WORDS = frozenset("two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
                        "seventeen eighteen nineteen twenty thirty forty fifty sixty ninety fortnight".split())
_COUNT_WORD = word_alternation(COUNT_WORDS)
_UNIT_WORDS = (r"business\s+days?|working\s+days?|calendar\s+days?|days?|weeks?|wks?|months?|mos?|years?|yrs?|"
               r"hours?|hrs?|h|minutes?|mins?|min|seconds?|secs?|s|ms|mg/dl|mg|mcg|µg|g|kg|lbs?|ml|l|km|mi|miles?|"
               r"kb|mb|gb|tb|mbps|gbps|seats?|users?|requests?|times|characters?|chars|passwords?|points?|"
               r"employees?|stores?|items?|countries|businesses|customers?|calls?|units?|pills?|tablets?|doses?|"
               r"class(?:es)?|installments?|nights?|people|licen[cs]es?|tests?|attempts?|retries|replicas|"
               r"workers?|cores?|steps?|sessions?|credits?|stars?|locations?|offices?|members?")
_CAP = r"(?:(?:Dr|Mr|Mrs|Ms|Prof|St)\.|[A-ZÀ-ÖØ-Þ][\w'’&]*(?:-[\w'’&]+)*)"

# Every kind of claim that holds a digit, in one pattern tried only where a digit run begins
# (scanning every position with a dozen alternatives is what makes regexes slow). At a
# given position the first alternative wins, so the order is the priority: a date's digits
# are not also a number.
NUMERIC_PATTERNS = (
    ("list_marker", r"(?m:^)[ \t]*\d{1,2}[.)][ \t]"),
    ("month_date", rf"\b(?P<mon>(?i:{_MONTH}))\.?\s(?P<md>\d{{1,2}})(?:st|nd|rd|th)?\b"
                   rf"(?:,?\s(?:(?P<my>\d{{4}})|'(?P<my2>\d{{2}})))?(?![:\d])"
                   rf"|\b(?P<dm>\d{{1,2}})(?:st|nd|rd|th|\.)?\s(?:of\s|de\s)?(?P<mon2>(?i:{_MONTH}))\b\.?"
                   rf"(?:,?\s(?:de\s)?(?P<dy>\d{{4}}))?"),
    ("numeric_date", r"\b(?P<iso>\d{4})-(?P<iso_m>\d{1,2})-(?P<iso_d>\d{1,2})(?!\d)"
                     r"|\b(?!24/7\b)(?P<a>\d{1,2})(?P<sep>[/.])(?P<b>\d{1,2})(?:(?P=sep)(?P<y>\d{4}|\d{2}))?\b(?![.,]\d)"),
    ("version", r"\b[vV]?\d+\.\d+\.\d+(?:[.-]\w+)?\b"),
    ("time", r"\b(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s?(?P<ap>(?i:[ap]\.?\s?m)\b\.?)|\b(?P<h24>\d{1,2})[:h](?P<m24>\d{2})\b(?![:\d])"),
    ("phone", r"(?<![\w-])(?:\+\d{1,3}[ \t.-]?)?(?:\(?\d{3}\)?[ \t.-]?|1[ \t.-]\d{3}[ \t.-])\d{3}[ \t.-]\d{4}\b"
              r"|(?<![\w-])\d{3}-\d{4}\b"),
    ("digit_group", r"(?<![\w.,])\d{3,}(?:[ -]\d{3,}){2,}\b"),
    # a number or a range ("5-7 days"), not followed by letters then digits (1Z999AA1 is an identifier)
    ("number", r"(?<![\w.,])(?P<cur>[$€£¥₹]|\b(?i:usd|eur|gbp|chf|jpy|cad|aud|inr)\s?)?(?P<num>\d+(?:[.,]\d+)*)(?![A-Za-z]*\d)"
               r"(?:[ \t]?[-–][ \t]?(?P<to>\d+(?:[.,]\d+)*)\b)?(?P<scale>\s?(?i:k|m|mn|bn|b|million|billion|thousand)\b)?(?P<pct>\s?(?:%|(?i:percent)\b))?"
               r"(?P<cur2>\s?(?:€|\b(?i:usd|eur|gbp|dollars?|euros?|pounds?)\b))?"),
    ("identifier", r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*\b|\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b"),
)
NUMERIC = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in NUMERIC_PATTERNS))
DIGIT_RUN = re.compile(r"\d+")
HAS_DIGIT = re.compile(r"\d")
POSSESSIVE = re.compile(r"['’]s$")
NUMERIC_DATE = re.compile(dict(NUMERIC_PATTERNS)["numeric_date"])
CIDR = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}/\d{1,2}\b")
#: a Japanese, Chinese or Korean date: 2024年4月1日, 2024년 4월 1일
CJK_DATE = re.compile(r"(?:(?P<y>\d{4})\s*[年년]\s*)?(?P<m>\d{1,2})\s*[月월]\s*(?P<d>\d{1,2})\s*[日일]")
MONTH_DATE = re.compile(dict(NUMERIC_PATTERNS)["month_date"])
TIME = re.compile(dict(NUMERIC_PATTERNS)["time"])
NUMBER = re.compile(dict(NUMERIC_PATTERNS)["number"])
NUMBER_WORD_UNIT = re.compile(rf"\b(?P<word>{_COUNT_WORD})\b(?P<unit>[\s-]+(?:business\s+|working\s+)?"
                              rf"(?:days?|weeks?|months?|years?|hours?|minutes?|seconds?|times))?")
# a capitalized run, or a brand with an inner capital (easyJet), from the start of a word: the inner
# capital of camelCase or sessionStorage alone names nothing
NAME = re.compile(rf"(?<![\w'’])(?:{_CAP}|[a-z]+[A-Z][\w'’&]*)"
                  rf"(?:[ ](?:(?:of|de|du|la|van|von|der|den|del|da|and|&)[ ])?{_CAP})*")
UNIT = re.compile(rf"[\s-]*(?:per\s)?(?:{_UNIT_WORDS})\b", re.I)
NUMBER_WITH_UNIT = re.compile(r"\d+(?:[.,]\d+)?(?:-\d+(?:[.,]\d+)?)?(?:st|nd|rd|th)?(?:-?[A-Za-z]+)*")
PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*\d*>|\[[A-Z][A-Z_]*\d*\]")
#: a field to fill in on a form: "Date: __________", or a template's field whose blank was taken out
FORM_BLANK = re.compile(r":?[ \t]*_{3,}|:[ \t]*(?:$|[·|•]|[ \t]{2,})", re.M)
TEMPLATE_BLANKS = 2  # blanks that make a reply a template to fill in
TEMPLATE = re.compile(r"\{\{[^{}]{1,60}\}\}|\[(?:[A-Z][\w'’-]*|[Yy]our|of|or|and|\s|/|,)+\]")  # {{Order Number}}, [Company Name]
CODE_CONSTANT = re.compile(r"\b[a-z][\w.-]*:\d+(?:\.\d+)+[\w.-]*|\b[a-z][\w.-]*/v\d+(?:(?:alpha|beta)\d+)?\b"
                           r"|\b[\w.-]+==\d+(?:\.\d+)+|\b[\w.-]+/[\w.-]+@v?\d+(?:\.\d+)*\b"
                           r"|\b[\w-]*version[\"']?\s*[:=]\s*[\"']?\d+(?:\.\d+)+")
# python:3.12-slim, apps/v1, requests==2.31.0, actions/checkout@v4, python-version: "3.12"
JSON_LABEL = re.compile(r"[A-Z][A-Za-z&'.-]*(?: [A-Z][A-Za-z&'.-]*){0,2}")  # letters only: identifiers are read as such
CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]+`", re.S)
FENCED_JSON = re.compile(r"```(?:json)?[ \t]*\n(.*)```", re.S)  # a JSON reply set in a code block
#: a rate, limit or threshold the code hard-codes under a name of its own: "VAT_RATE_DE = 0.19",
#: "MAX_MG_PER_KG_PER_DAY = 75" (a name in capitals with an underscore: a constant, not an abbreviation)
NAMED_CONSTANT = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\s*[:=]\s*\(?\s*(?P<value>\d[\d_]*(?:\.\d+)?)(?![\w.])")
#: a table the code hard-codes under a name in capitals: "PRICES = {...}", "BRACKETS_2024 = [(11_600, 0.10), ...]"
NAMED_TABLE = re.compile(r"\b[A-Z][A-Z0-9_]{2,}\s*(?::[^=\n]*)?=\s*[\[{(]")
TABLE_NUMBER = re.compile(r"(?<![\w.\"'])(?P<value>\d[\d_]*(?:\.\d+)?)(?![\w.\"'])")
LINK_MARKS = ("://", "@", ".com", ".io", ".org", ".net", ".dev", ".app", ".ai", ".co", ".de", ".uk", ".fr", ".eu",
              ".us", ".gov", ".edu")
URL = re.compile(r"https?://[^\s<>\"'`)\]]+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+|"
                 r"\b(?:[a-z0-9-]+\.)+(?:com|io|org|net|dev|app|ai|co|de|uk|fr|eu|us|gov|edu)\b(?:/[^\s<>\"'`)\]]*)?",
                 re.I)
LETTER_PREFIX = re.compile(r"[A-Z]-[a-z]+")  # X-ray, T-shirt: a letter prefix, not a name
FLOAT = re.compile(r"\d+(?:\.\d+)?")
INPUT_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
CSV_FIELDS = re.compile(r",\d{1,2}\.|,\d{4,}")  # commas no number writes: fields of a CSV row ("3,36.00")
SPACES = re.compile(r"[ \u00a0\u202f]")
SPACED_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:,\d+)?(?![\d.])")
INPUT_SCALE = re.compile(r"\s?(k|m|mn|bn|million|billion|thousand)\b", re.I)
INPUT_DIGITS = re.compile(r"\d(?:[\d().\- ]*\d)?")
WORD = re.compile(r"\w+")
SENTENCE_START = frozenset(".!?:;\n|\"'“‘([{—–->*#•")
BLANK = "\u2060"  # hides a link or placeholder already read: neither a word character nor a sentence end
TOKEN_OPENERS = "([\"'“‘*"
OPENS_NUMBER = frozenset("0123456789+($€£¥₹")
CURRENCY_CODES = frozenset("usd eur gbp chf jpy cad aud inr".split())
CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹"}

SENTENCE = re.compile(r"(?:[^.!?\n]|\.(?=\d))+[.!?]*")  # "1.8 TB" does not end a sentence
CREATIVE_REQUEST = re.compile(
    r"\b(?:write|draft|compose|create|generate|make up|come up with|invent|rewrite|re-write|imagine)\b.{0,60}?"
    r"\b(?:story|stories|poem|sketch|scene|skit|song|limerick|haiku|script|questions?|quiz|lesson|plan|reply|"
    r"response|email|message|letter|clause|announcement|post|bio|ad|slogan|example|template|version)\b"
    r"|\b(?:fictional|made-up|for (?:a|my) (?:child|kid|\d+-year-old))\b")
CONCEPT_REQUEST = re.compile(r"\bwhat(?:'s|’s| is) an? (?:[\w'-]+ ){0,2}[\w'-]+\s*[?,]|\bwhat does .{1,60} mean\b"
                             r"|\bin simple terms\b"
                             r"|\bexplain\b.{0,80}\bto an? (?:\d+-year-old|child|kid|beginner)")
TRANSLATE_REQUEST = re.compile(r"\b(?:translate|translation|in (?:french|german|spanish|italian|portuguese|dutch))\b")
TRANSFORM_REQUEST = re.compile(
    r"\b(?:rewrite|re-write|rephrase|paraphrase|translate|summari[sz]e|extract|pull out|list (?:all|every|the)|"
    r"classify|categori[sz]e|tag|route|detect|format|reformat|convert|turn (?:this|these|it)|make (?:this|it)|"
    r"fix (?:this|the|it|my)|explain (?:this|what)|what does this|draft|write|compose|normali[sz]e|"
    r"put (?:this|these|the)|sort|rank|compute|calculate|total of|in one sentence|shorten|simplify|proofread|"
    r"score|assign|escalate\?|which team)\b")
SYSTEM_TASK = re.compile(r"(?:^|[.!?:\n]\s*)(?:classify|route|assign|score|extract|translate|summari[sz]e|tag|"
                         r"categori[sz]e|detect|rewrite|convert)\b")
# "You are the HR assistant for Calloway Studios." / "You are Cirrusly's billing assistant." / "You are
# PeopleBot, the HR assistant for Northwind Logistics.": one sentence naming an organisation's assistant
ORGANISATION_ROLE = re.compile(
    r"you are (?:[\w&'’.-]+,? ){0,6}?(?:assistant|agent|bot|helpdesk|help desk|concierge)"
    r"(?: (?:for|at|of) (?:the )?[A-Z][\w&'’ .-]{1,60})?\.?", re.I)
COMPUTE_REQUEST = re.compile(r"\b(?:compute|calculate|total|how much (?:is|would) (?:that|it)|what(?:'s| is) \d)")
ARITHMETIC = re.compile(r"[×*=+÷−]|\b(?:total|sum|altogether|comes? to|works? out|adds? up|which is|that's|that is|"
                        r"minus|plus|times|multiplied|divided|difference|left|remaining|balance|overcharged?|"
                        r"discount|average|rate)\b")
FACT_QUESTION = re.compile(
    r"\b(?:who|whom|whose|when|where|which|how (?:much|many|long|often|soon|far|old)|"
    r"what(?:'s|’s| is| are| was)? (?:the |your |our |my )?(?:price|cost|fee|rate|limit|address|number|url|version|"
    r"hours|deadline|policy|name|phone|email|max\w*|min\w*|default|password|penalty|fine|dose|range|base|warranty|"
    r"discount)|is there|are there|do you|does (?:the|your|it)|can i|can we|do i|do we|is (?:it|the|your)|"
    r"are (?:you|your|the))\b")
_COUNT = r"(?:\d|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fourteen|thirty|sixty|ninety)"
# Policy language, in parts that each start with a literal (fast to search) and run only when
# one of their words is in the reply: (words, pattern).
POLICY_PARTS = tuple((frozenset(words.split()), re.compile(pattern)) for words, pattern in (
    ("we", r"we (?:don't|do not|can't|cannot|only|always|never|no longer|issue|offer|ship|support|accept|charge|"
           r"require|provide|stock|sell|deliver|cover|refund|match|close|open)\b"),
    ("our", r"our (?:policy|policies|standard|terms|customers?|returns?|refunds?|warranty|support|team|offices?|"
            r"stores?|warehouse|headquarters|plans?|pricing|prices|hours|website|portal|app|service)\b"),
    ("take takes ship ships arrive arrives processed",
     r"(?:takes?|ships?|arrives?|is processed|are processed) (?:in |within )?" + _COUNT),
    ("covered included eligible allowed permitted required available reserved handled processed stored given "
     "offered billed charged governed located closed welcome blocked called based paid",
     r"(?:is|are|isn't|aren't) (?:not |only |fully |usually )?(?:covered|included|eligible|allowed|permitted|"
     r"required|available|reserved|handled|processed|stored|given|offered|billed|charged|governed|located|closed|"
     r"welcome|blocked|called|based|paid)\b"),
    ("can cannot can't must has have go goes expected expire expires later latest",
     r"(?:can only|can't be|cannot be|must be|must have|has to be|have to be|have to go|go through|goes through|"
     r"are expected to|is expected to|expires?|never expires|no later than|at the latest)\b"),
    ("within every up least most more minimum maximum",
     r"(?:within|every|up to|at least|at most|no more than|a minimum of|a maximum of) " + _COUNT),
    # the same in the other languages the logs hold: a time limit, a validity, working days, "we don't accept"
    ("innerhalb bis sous délai jusqu dentro hasta até entro fino binnen tot",
     r"(?:innerhalb von|bis zu|sous|dans un délai de|jusqu'à|dentro de|hasta|em até|até|entro|fino a|binnen|tot) \d"),
    ("werktage werktagen arbeitstage arbeitstagen ouvrés ouvrables hábiles úteis lavorativi werkdagen",
     r"\d+ (?:werktag|arbeitstag|jours ouvr|días hábiles|dias úteis|giorni lavorativi|werkdag)"),
    ("gültig valable valables válido válida válidos válidas valido valida validi valide geldig",
     r"(?:gültig|valables?|válid[oa]s?|valid[oaie]|geldig) (?:für |pendant |por |durante |per |voor )?\d"),
    ("aceptamos ofrecemos enviamos aceitamos oferecemos acceptons proposons livrons akzeptieren bieten "
     "versenden accettiamo offriamo spediamo accepteren bieden",
     r"(?:no|não|n'|wir|non|niet) ?(?:aceptamos|ofrecemos|enviamos|aceitamos|oferecemos|acceptons|proposons|livrons|"
     r"akzeptieren|bieten|versenden|accettiamo|offriamo|spediamo|accepteren|bieden)\b"),
))
SENTENCE_ENDS = ".!?\n"
# An assertion about how something is (policy, availability, limits, rules, behaviour, origin),
# as opposed to advice on what to do: the predicates such sentences turn on, digits or not.
ASSERTION_WORDS = frozenset(
    "only covered covers cover include includes included exclude excludes excluded eligible qualify qualifies "
    "reimbursable expensed allowed permitted required requires require needs need entitled applies apply "
    "expire expires expired valid void unenforceable enforceable free charged charges fee penalty default "
    "defaults closed closes opens partner partners counts count affect affects lose loses interact "
    "interacts interaction avoid safer standard largest biggest based headquartered "
    "founded published released introduced deprecated removed dropped supports supported uses leave leaves "
    "terminal handled handles carried carry never always automatically automatic no-claims restricted "
    "restrictions exception exceptions rule rules rated rating allowance treats treated considered capped cap "
    "limited limit maximum minimum mandatory "
    "recommended approved network benefits guest lounge doesn't don't isn't aren't won't can't cannot".split())
HOWTO_OPENERS = frozenset(
    "go click open select check try restart make use add set pick keep book send take ask contact call note let "
    "start enter choose tap run install update remove read write plan allow pass handle consider look follow "
    "create copy paste save sign log turn move press drag type find visit see confirm review make sure "
    "include list say describe attach mention share explain give tell "
    "if please here hi hello thanks thank sorry yes no sure great good congratulations i i'm i'd i'll i've to "
    "e.g".split())
LIST_LABEL = re.compile(r"^[\s*•\-]*(?:\*\*[^*]{1,40}\*\*\s*:?)?\s*")  # "- **Environment**: include your OS"
HEDGES = frozenset("might could may probably perhaps depends depend likely "
                   "worth".split())
ASSERTION_NOVELTY = 0.5  # share of a sentence's content words the input does not have
ASSERTION_MIN_NEW = 3  # new words an assertion needs: one new word is a paraphrase
BEYOND_MIN_NEW = 8  # new content words of a statement a tool-grounded reply adds of its own
BEYOND_NOVELTY = 0.7
STEM = 5  # letters that make a word's stem: "included" and "include" meet


# -- results ----------------------------------------------------------------------------------------
@dataclass(slots=True, frozen=True)
class Claim:
    """A specific fact stated in a reply that the input does not hold."""

    kind: str
    text: str

    @property
    def weight(self) -> float:
        return WEIGHTS[self.kind]

    def describe(self) -> str:
        return f'unsupported {self.kind} "{self.text}"'  # not "name: ...", which reads as a form's name field


@dataclass(slots=True)
class Assessment:
    """Why a reply is or is not fact-heavy: the score, the unsupported claims and the cues."""

    score: float
    unsupported: list[Claim] = field(default_factory=list)
    cues: list[str] = field(default_factory=list)
    reply_at: int | None = None  # the index of the reply scored, when not the last message

    @property
    def reasons(self) -> list[str]:
        return [claim.describe() for claim in self.unsupported] + self.cues

    @property
    def facts(self) -> list[str]:
        return [claim.text for claim in self.unsupported]


# -- normalization ----------------------------------------------------------------------------------
#: a statement's line: a signed amount first ("+2.100,00 stipendio", "−750.00 rent")
LEDGER_LINE = re.compile(r"(?m)^\s*(?P<sign>[+\-−–])\s*[$€£]?\s*(?P<amount>\d[\d.,]*)")


def _list_totals(text: str) -> set[int]:
    """The sum of a text's numbers as written, repeats counted ("食費32,400円、光熱費11,850円..."), and of
    the last number of each of its lines ("2024-03-02,Cloud storage,9.99")."""
    if not HAS_DIGIT.search(text):
        return set()
    everything = [values[0] for match in INPUT_NUMBER.finditer(text) if (values := number_values(match.group()))]
    last = [values[0] for line in text.splitlines() if (values := _last_number(line))]
    return {sum(everything), *([sum(last)] if len(last) > 1 else [])}


def _last_number(line: str) -> tuple[int, ...]:
    """The readings of a line's last number (of a CSV row's last field)."""
    written = INPUT_NUMBER.findall(line)
    if not written:
        return ()
    return number_values(_csv_fields(written[-1])[-1])


def _csv_fields(written: str) -> list[str]:
    """A number as written, or the fields of a CSV row its commas join ("3,36.00": "3", "36.00")."""
    return written.split(",") if CSV_FIELDS.search(written) else [written]


def _unspaced(match: re.Match) -> str:
    """Thousands written apart, together: "1 280" is "1280"."""
    return SPACES.sub("", match.group())


def _ledger_totals(text: str) -> set[int]:
    """What came in, what went out and the balance of a statement's signed lines."""
    amounts = [(line["sign"] == "+", number_values(line["amount"].rstrip(".,"))) for line in LEDGER_LINE.finditer(text)]
    signed = [(incoming, values[0]) for incoming, values in amounts if values]
    if len(signed) < 2:
        return set()
    money_in = sum(value for incoming, value in signed if incoming)
    money_out = sum(value for incoming, value in signed if not incoming)
    return {money_in, money_out, money_in - money_out}


def _field_totals(value: Any) -> Iterator[int]:
    """The sum and the average of each numeric field over the items of every list of objects in a JSON value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _field_totals(item)
    elif isinstance(value, list):
        items = [item for item in value if isinstance(item, dict)]
        fields: dict[str, list[float]] = {}
        for item in items:
            for key, field_value in item.items():
                if isinstance(field_value, (int, float)) and not isinstance(field_value, bool):
                    fields.setdefault(key, []).append(field_value)
        for numbers in fields.values():
            if len(numbers) > 1:
                yield from (number_key(sum(numbers)), number_key(sum(numbers) / len(numbers)))
        for item in value:
            yield from _field_totals(item)


def number_key(value: float) -> int:
    """A number as a set key: its value in ten-thousandths (round() is five times slower)."""
    return math.floor(value * 10000 + 0.5)


def singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def compact(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def number_values(text: str, scale: str | None = None) -> tuple[int, ...]:
    """The keys of every value a written number may mean: ``1,250`` is 1250 (or 1.25 in Europe),
    ``1.250,00`` is 1250; ``1,234.5.6`` means nothing."""
    values = [float(text)] if text.isdigit() else [float(r) for r in _readings(text) if FLOAT.fullmatch(r)]
    factor = SCALE.get(scale.strip().lower()) if scale else None
    if factor:
        values += [value * factor for value in values]
    return tuple(number_key(value) for value in values)


def _readings(text: str) -> list[str]:
    if "," in text and "." in text:
        if text.rfind(".") > text.rfind(","):
            return [text.replace(",", "")]
        return [text.replace(".", "").replace(",", ".")]
    if "," in text:
        groups = text.split(",")
        readings = [text.replace(",", "")] if all(len(g) == 3 for g in groups[1:]) else []
        return readings + [text.replace(",", ".")] if len(groups) == 2 else readings
    if text.count(".") > 1:
        return [text.replace(".", "")]
    if "." in text and len(text.split(".")[1]) == 3:
        return [text, text.replace(".", "")]
    return [text]


def _group(match: re.Match, name: str) -> str | None:
    return match.group(name) if name in match.re.groupindex else None


def date_keys(match: re.Match) -> tuple[tuple[int, int], ...]:
    """(month, day) readings of a date match; both orders for 3/4 and 03.04.2024."""
    if _group(match, "iso"):
        return ((int(match["iso_m"]), int(match["iso_d"])),)
    if _group(match, "a"):
        if match["sep"] == "." and not match["y"]:
            return ()  # 3.9 is a number or a version, not a date
        a, b = int(match["a"]), int(match["b"])
        return tuple((m, d) for m, d in ((a, b), (b, a)) if 1 <= m <= 12 and 1 <= d <= 31)
    month = MONTH_NUMBER[(match["mon"] or match["mon2"]).lower()]
    day = int(match["md"] or match["dm"])
    return ((month, day),) if 1 <= day <= 31 else ()


DAYS_BEFORE_MONTH = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


def _day_of_year(key: tuple[int, int]) -> int:
    return DAYS_BEFORE_MONTH[key[0]] + key[1]


def date_year(match: re.Match) -> int | None:
    year = next((match[name] for name in ("iso", "y", "my", "my2", "dy") if _group(match, name)), None)
    if year and len(year) == 2:
        year = "20" + year
    return int(year) if year else None


def minutes_of(match: re.Match) -> int | None:
    if match["h24"] is not None:
        hour, minute = int(match["h24"]), int(match["m24"])
    else:
        hour, minute = int(match["h"]), int(match["m"] or 0)
        if hour > 12:
            return None
        hour = hour % 12 + (12 if match["ap"].lower().startswith("p") else 0)
    return hour * 60 + minute if hour < 24 and minute < 60 else None


# -- the input side ---------------------------------------------------------------------------
def _is_network(text: str) -> bool:
    """An IPv4 address or network ("10.8.16.0/21"), each octet at most 255 and the prefix at most 32."""
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def _words_of(text: str) -> frozenset[str]:
    words = set(WORD.findall(text.lower()))
    words.update([part for w in words if "_" in w for part in w.split("_")])  # JSON keys: flood_cover
    words.update([w[:-1] for w in words if len(w) > 3 and w[-1] == "s"])
    return frozenset(words)


@lru_cache(maxsize=4096)
def _numbers_of(text: str) -> frozenset[float]:
    numbers: set[float] = set()
    for match in INPUT_NUMBER.finditer(text):
        scale = INPUT_SCALE.match(text, match.end())
        values = number_values(match.group(), scale[1] if scale else None)  # $1.2k is 1.2 and 1200
        numbers.update(values)
        if CSV_FIELDS.search(match.group()):  # "x3,36.00" in a CSV row is 3 and 36.00
            numbers.update(value for field in _csv_fields(match.group()) for value in number_values(field))
        if text[match.end():match.end() + 1] == "%":
            numbers.update(number_key(v / 1e6) for v in values)  # 19% is also 0.19
    for match in SPACED_THOUSANDS.finditer(text):  # "1 150 cartons" is also 1150
        numbers.update(number_values(_unspaced(match)))
    return frozenset(numbers)


class Support:
    """What the conversation's own input contains, normalized for looking claims up.

    Built from the input's texts (one per message); each lookup is built on first use, and
    per-message work is cached because the same system prompt opens thousands of records.
    """

    def __init__(self, texts: list[str]):
        self.texts = texts
        self.text = "\n".join(texts)

    @cached_property
    def lower(self) -> str:
        return self.text.lower()

    @cached_property
    def words(self) -> frozenset[str]:
        return frozenset().union(*map(_words_of, self.texts))

    @cached_property
    def stems(self) -> frozenset[str]:
        """Each word's first five letters: "included" and "include", "expires" and "expiry" meet."""
        return frozenset(word[:STEM] for word in self.words)

    @cached_property
    def numbers(self) -> frozenset[float]:
        spelled = frozenset(number_key(NUMBER_WORDS[w]) for w in self.words & NUMBER_WORDS.keys())
        # a network's size and its usable hosts are what a reader works out from its prefix
        sizes = frozenset(number_key(network.num_addresses - usable) for network in self.networks for usable in (0, 2))
        return spelled.union(sizes, *map(_numbers_of, self.texts))

    @cached_property
    def _date_matches(self) -> tuple[list[re.Match], list[re.Match]]:
        """The input's dates: as the reply's are written, and as Japanese, Chinese and Korean write them."""
        return ([*NUMERIC_DATE.finditer(self.text), *MONTH_DATE.finditer(self.text)],
                list(CJK_DATE.finditer(self.text)))

    @cached_property
    def dates(self) -> set[tuple[int, int]]:
        written, cjk = self._date_matches
        return {key for match in written for key in date_keys(match)} | {(int(m["m"]), int(m["d"])) for m in cjk}

    @cached_property
    def date_years(self) -> frozenset[int]:
        """The years of the input's dates: "31.08.2024" written again as "2024-08-31" recalls nothing."""
        written, cjk = self._date_matches
        return frozenset([*filter(None, map(date_year, written)), *(int(m["y"]) for m in cjk if m["y"])])

    @cached_property
    def networks(self) -> list[ipaddress.IPv4Network]:
        """The IP networks the input writes as CIDR ("10.8.16.0/21"); octets over 255 are no network."""
        return [ipaddress.ip_network(cidr, strict=False) for cidr in CIDR.findall(self.text) if _is_network(cidr)]

    def in_networks(self, text: str) -> bool:
        """An address in a network the input gives: its first, last or broadcast address is subnet arithmetic."""
        return bool(self.networks) and _is_network(text) and any(
            ipaddress.ip_address(text) in network for network in self.networks)

    @cached_property
    def codes(self) -> frozenset[str]:
        """Three-letter codes the input holds (airports: LHR-LIS, DUB)."""
        return frozenset(CODE3.findall(self.text))

    def abbreviated(self, name: str) -> bool:
        """A one-word name that a code of the input abbreviates: its letters in order, from the first
        (Dublin for DUB, Barcelona for BCN); a reader expands the code, recalling nothing new."""
        low = name.lower()
        return " " not in name and any(code[0].lower() == low[0] and _in_order(code.lower(), low) for code in self.codes)

    @cached_property
    def ascii_words(self) -> frozenset[str]:
        """The words without accents, as addresses spell them ("Chloé" in chloe.martin@)."""
        return frozenset(unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode() for word in self.words)

    @cached_property
    def names_a_weekday(self) -> bool:
        """"Next Tuesday" resolves to a date within a week of the input's."""
        return not self.words.isdisjoint(WEEKDAYS)

    @cached_property
    def has_temperatures(self) -> bool:
        return "°" in self.text or "fahrenheit" in self.lower or "celsius" in self.lower

    @cached_property
    def bare_numbers(self) -> frozenset[int]:
        """Numbers standing alone ("open 9 to 5"), not parts of a date, an id or a code ("2024-06-11")."""
        text = self.text
        return frozenset(key for match in INPUT_NUMBER.finditer(text)
                         if not (text[match.start() - 1:match.start()].isalnum() or text[match.end():match.end() + 1]
                                 in ("-", "/")) and text[match.start() - 1:match.start()] not in ("-", "/")
                         for key in number_values(match.group()))

    @cached_property
    def intervals(self) -> frozenset[int]:
        """Days between the input's dates (counted either way, inclusive too) and hours and minutes
        between its times: "day 21 of 30" from 3 May to 24 May, an 8.5 h shift from 07:00-15:30."""
        dates, times = sorted(self.dates)[:TWO_STEP_LIMIT], sorted(self.times)[:TWO_STEP_LIMIT]  # pairs: quadratic
        days = {abs(_day_of_year(a) - _day_of_year(b)) for a in dates for b in dates if a < b}
        days |= {365 - d for d in days} | {d + 1 for d in days}
        minutes = {abs(a - b) for a in times for b in times if a < b}
        minutes |= {int(h) * 60 + int(m or 0) for h, m in DURATION.findall(self.text)}
        # 13:05 to 14:47 is "1 h 42 min"
        hours_and_minutes = {part for m in minutes if 60 < m < 24 * 60 and m % 60 for part in divmod(m, 60)}
        return frozenset(number_key(n) for n in (*days, *minutes, *(m / 60 for m in minutes), *hours_and_minutes))

    @cached_property
    def months(self) -> set[int]:
        return {MONTH_NUMBER[w] for w in self.words & MONTH_NUMBER.keys()} | {month for month, _ in self.dates}

    @cached_property
    def times(self) -> set[int]:
        stamps = {int(h) * 60 + int(m) for h, m in ISO_TIME.findall(self.text) if int(h) < 24 and int(m) < 60}
        return {m for m in map(minutes_of, TIME.finditer(self.text)) if m is not None} | stamps

    @cached_property
    def digits(self) -> str:
        """Every digit run (spaces, dashes and dots inside it removed), separated by '|'."""
        return "|".join(_digits(run) for run in INPUT_DIGITS.findall(self.text))

    @cached_property
    def alnum(self) -> str:
        return compact(self.text)

    @cached_property
    def compact_tokens(self) -> frozenset[str]:
        """Each whitespace-separated token's letters and digits: "TB-3" is "tb3"."""
        return frozenset(map(compact, self.text.split()))

    @cached_property
    def totals(self) -> frozenset[int]:
        """Sums and averages a reply may give of what the input lists: all its numbers, those of one
        text as written, its lines' last numbers (a CSV's amounts), the money in and out of a
        statement and its balance, and each field of a JSON list over its items (a bill's charges, a
        year's orders: "totalling €442.40, €110.60 an order")."""
        found = {sum(self.numbers)}
        for text in self.texts:
            found.update(_ledger_totals(text))
            found.update(_list_totals(text))
            if text[:1] in "[{" and any(char.isdigit() for char in text):
                try:
                    found.update(_field_totals(orjson.loads(text)))
                except orjson.JSONDecodeError:
                    continue
        return frozenset(found)

    @cached_property
    def seconds_parts(self) -> frozenset[int]:
        """372 seconds is 6 min 12 s: the parts of every count of 60 or more."""
        return frozenset(number_key(part) for key in self.numbers if key >= 600000
                         for part in (key // 600000, key % 600000 / 10000, key // 36000000))

    def has_words(self, text: str) -> bool:
        words = self.words
        return all(word in words or singular(word) in words
                   for word in WORD.findall(text.lower()) if word not in STOPWORDS and len(word) > 1)

    def has_digits(self, text: str) -> bool:
        """A long digit string (phone, tracking number) present in the input, however it was spaced."""
        digits = _digits(text)
        return len(digits) >= 4 and digits in self.digits


def converts(key: int, known: frozenset[int] | set[int], seconds_parts: frozenset[int]) -> bool:
    """The number is a known number in other units: x or / 60, 100, 1024, 12... (of a number >= 10
    or a fraction, so that 2 does not "explain" 120), or the hours, minutes or seconds of a count
    of seconds (``seconds_parts``)."""
    if key in seconds_parts:
        return True
    value = key / 10000
    for factor in CONVERSION_FACTORS:
        for source in (number_key(value / factor), number_key(value * factor)):
            if source in known and (source >= 100000 or source % 10000):
                return True
    return False


#: what one unit is in another (m² to ft², km to miles, cm to inches, kg to pounds, litres to gallons, psi to kPa)
UNIT_FACTORS = (10.764, 1.609, 0.6214, 2.54, 0.3937, 0.3048, 3.281, 0.9144, 1.094, 0.4536, 2.2046, 28.35, 3.785, 0.2642,
                4.546, 6.895)
UNIT_FACTOR_KEYS = frozenset(number_key(factor) for factor in UNIT_FACTORS)  # "1 mile is 1.609 km" is no fact


def converts_units(key: int, known: frozenset[int] | set[int]) -> bool:
    """The number is a known one in other units, as rounded when shown: 74 m² is 797 sq ft. Not a small
    whole number: 48 is 30 km in miles, and also the hours of a refund window."""
    value = key / 10000
    if key % 10000 == 0 and value < 100:
        return False
    tolerance = 0.5 if key % 10000 == 0 else max(0.006, abs(value) * 0.001)
    return any(abs(other / 10000 * factor - value) <= tolerance or abs(other / 10000 / factor - value) <= tolerance
               for other in known if other for factor in UNIT_FACTORS)


def _in_order(letters: str, word: str) -> bool:
    position = 0
    for letter in letters:
        position = word.find(letter, position) + 1
        if not position:
            return False
    return True


def converts_temperature(key: int, known: frozenset[int] | set[int]) -> bool:
    """The number is a known temperature in the other scale (°F and °C), as rounded when shown."""
    value = key / 10000
    tolerance = 0.5 if key % 10000 == 0 else 0.05
    return any(abs((other / 10000 - 32) / 1.8 - value) <= tolerance
               or abs(other / 10000 * 1.8 + 32 - value) <= tolerance for other in known)


def _rounds(key: int, known: frozenset[int] | set[int]) -> bool:
    """The number is a known one rounded ("41.7, so about 42"; "£807.69, about £808")."""
    return key % 10000 == 0 and any(abs(key - other) < 5000 for other in known if other % 10000)


def sum_or_difference(key: int, known: frozenset[int] | set[int]) -> bool:
    """The number is a sum or a difference of two known numbers."""
    return any(key - other in known or other - key in known for other in known)


def computes(key: int, known: Iterable[int], factors: Iterable[int] | None = None) -> bool:
    """The number is one arithmetic step from the known numbers: a sum or difference of ``known``,
    or a product (not a square: 25 is not 5 x 5), ratio, percentage of, discount or markup of
    ``factors`` (default: ``known``)."""
    known = known if isinstance(known, (set, frozenset)) else set(known)
    factors = known if factors is None else factors if isinstance(factors, (set, frozenset)) else set(factors)
    value = key / 10000
    if sum_or_difference(key, known):
        return True
    for other in factors:
        a = other / 10000
        if a and (number_key(value / a) in factors - {other} or number_key(value * 100 / a) in factors
                  or number_key((1 - value / a) * 100) in factors or number_key((value / a - 1) * 100) in factors):
            return True
        if value and number_key(a / value) in factors:
            return True
    return False


# -- worked arithmetic -------------------------------------------------------------------------
_OPERAND = r"[$€£¥]?\d[\d,]*(?:\.\d+)?%?(?:\s?[A-Za-z/]+(?<![xX]))?"
_TERMS = rf"(?:\(?{_OPERAND}\)?\s*[×x*÷/+\-−–^]\s*)"
# a calculation and what it equals, perhaps through steps: "10,000 × (1 + 0.05)^10 = 10,000 × 1.6289 ≈ 16,288.95"
EQUATION = re.compile(rf"{_TERMS}+\(?{_OPERAND}\)?(?:\s*(?:=|≈|~|is about|is)\s*\**\s*[+\-−–]?{_TERMS}*\(?{_OPERAND}\)?)+")
# "^" is a power ("(1 + 0.05)^10"); "**" is Markdown's bold, not Python's power
OPERATORS = {"×": "*", "x": "*", "*": "*", "÷": "/", "/": "/", "+": "+", "-": "-", "−": "-", "–": "-", "^": "**"}
EQUATION_TOKEN = re.compile(r"(\d[\d,]*(?:\.\d+)?)(%?)|([×x*÷/+\-−–^])(?=\s*[$€£¥(]?\d)|(=|≈|~|\bis\b)"
                            r"|([()])")


SUPERSCRIPT = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹]+")


def _power(match: re.Match) -> str:
    """A power written in superscript, as "^" writes it: (1.05)¹⁰ is (1.05)^10."""
    return "^" + match.group().translate(str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789"))


def worked_numbers(text: str, known: frozenset[int] | set[int]) -> set[int]:
    """The numbers of every calculation the reply shows and gets right ("40 × $22 = $880",
    "20,000 ÷ 480 ≈ 41.7") from numbers it was given (``known``), worked out (shown after an "=" or
    "≈") or that are constants of arithmetic and units (12 months, 52 weeks, x1.5, 1.609 km a mile,
    the count of numbers an average divides by).
    An operand from anywhere else (a tax rate, a dose per kg) is a fact the calculation applies:
    that calculation explains nothing."""
    results = {key for match in RESULT.finditer(text) for key in number_values(match[1].replace(",", ""))}
    found: set[int] = set()
    for match in EQUATION.finditer(text):
        steps: list[list[str]] = [[]]  # the expression before each "=", then after it
        numbers: list[list[float]] = [[]]  # each step's numbers
        for number, percent, operator, equals, bracket in EQUATION_TOKEN.findall(match.group()):
            if bracket:
                steps[-1].append(bracket)
            elif equals:
                steps.append([])
                numbers.append([])
            elif number:
                value = float(number.replace(",", ""))
                steps[-1].append(repr(value / 100 if percent else value))
                numbers[-1].append(value)
            elif operator and steps[-1] and steps[-1][-1] not in OPERATORS.values():
                steps[-1].append(OPERATORS[operator])
        values = [_evaluate(" ".join(_balanced(step))) for step in steps]
        if len(values) > 1 and None not in values and _traced(numbers[0], known, results) \
                and all(_follows(values[i - 1], values[i], numbers[i], known, results) for i in range(1, len(values))):
            found.update(number_key(v) for step_numbers in numbers for v in step_numbers)
    return found


def _traced(operands: list[float], known: frozenset[int] | set[int], results: set[int]) -> bool:
    """Every operand is given, worked out or a constant (or the count an average divides by)."""
    return all(value == index or _given(number_key(value), known, results) for index, value in enumerate(operands))


def _follows(before: float, value: float, operands: list[float], known: frozenset[int] | set[int],
             results: set[int]) -> bool:
    """A step equals the one before it ("= 10,000 × 1.6289 ≈ 16,288.95"), or goes on from its result with
    operands the reader can trace ("60 × 45 × 40 = 108,000 ÷ 5000 = 21.6")."""
    return _close(before, value) or bool(operands) and _close(before, operands[0]) \
        and all(_given(number_key(operand), known, results) for operand in operands[1:])


def _balanced(step: list[str]) -> list[str]:
    """The step without a bracket the text opened outside it ("(40 × 22 = 880)"), and without a last operator."""
    if step.count("(") != step.count(")"):
        step = [token for token in step if token not in "()"]
    return step[:-1] if step and step[-1] in OPERATORS.values() else step


def _given(key: int, known: frozenset[int] | set[int], results: set[int]) -> bool:
    """An operand of shown working the reader can trace: given, worked out, a constant, a given
    rate as a fraction or a multiplier (5%: 0.05; 20% VAT: x 1.20; 3% inflation: 1.03), or a whole
    number a sum or difference of two given ones (14 hours of overtime, the first 10 at one rate: 4 × ...)
    or a given one in smaller units (3 years compounded monthly: 36)."""
    return key in known or key in results or key in WORKING_CONSTANTS or number_key(key / 100) in known \
        or number_key((key / 10000 - 1) * 100) in known or number_key((1 - key / 10000) * 100) in known \
        or (key % 10000 == 0 and (sum_or_difference(key, known) or _counted_over(key, known)))


def _counted_over(key: int, known: frozenset[int] | set[int]) -> bool:
    """A whole number that is a given one times a count of units (3 years: 36 months, 2 weeks: 14 days)."""
    return any(other and key % other == 0 and key // other * 10000 in CONVERSION_KEYS for other in known if other > 0)


def _evaluate(expression: str) -> float | None:
    """The value of numbers (floats: a power overflows rather than runs on) joined by + - * / **, nothing else."""
    try:
        with warnings.catch_warnings():  # "2 (3)" compiles with a SyntaxWarning a user's terminal need not see
            warnings.simplefilter("ignore", SyntaxWarning)
            code = compile(expression, "<arithmetic>", "eval")
        return float(eval(code, {"__builtins__": {}}))  # noqa: S307
    except (SyntaxError, ZeroDivisionError, OverflowError, TypeError):  # TypeError: a negative number's root
        return None


def _close(value: float | None, shown: float) -> bool:
    """Equal as written: rounded to the shown precision, or within 1% ("≈ 42")."""
    return value is not None and (abs(value - shown) <= max(0.01, abs(shown) * 0.01))


TWO_STEP_LIMIT = 40  # known numbers tried in pairs (the check is quadratic)
SMALL_FACTOR = number_key(12)  # whole numbers up to this explain too much as factors
# operands shown working may use without the input giving them: unit factors, halves and doubles,
# the definitions of units (a mile, an inch, a foot, a yard, a pound, a gallon, an ounce, °F, kelvin)
CONVERSION_KEYS = frozenset(number_key(factor) for factor in CONVERSION_FACTORS)
WORKING_CONSTANTS = frozenset(number_key(n) for n in (
    *CONVERSION_FACTORS, *UNIT_FACTORS, 0.5, 1, 1.5, 2, 1.6093, 0.621, 0.454, 2.205, 1.8, 32, 0.5556, 273.15))
ISO_TIME = re.compile(r"\dT(\d{2}):(\d{2})")  # 2024-12-03T17:40:00Z
DURATION = re.compile(r"\b(\d{1,2})\s?h(?:ours?|rs?)?\s?(\d{1,2})\s?m(?:in(?:utes?|s)?)?\b")  # 7h 40m
FRACTION_CONTEXT = re.compile(r"\s?(?:[=×*÷]|of\b)")  # "25 × 3/5 = 15", "3/4 of a circle": a fraction, not a date
CODE3 = re.compile(r"\b[A-Z]{3}\b")
QUESTION_END = re.compile(r"[?!\n]|\.(?=\s|$)")  # where the sentence a claim sits in ends
RESULT = re.compile(r"(?:=|≈)\s*\**\s*[$€£¥]?(\d[\d,]*(?:\.\d+)?)")  # a number shown as worked out


def is_share(key: int, known: list[int]) -> bool:
    """The percentage is one known number as a share of another, or the change between them."""
    value = key / 10000
    tolerance = 0.5 if key % 10000 == 0 else 0.051  # as rounded when shown
    for i, a_key in enumerate(known):
        for b_key in known[i + 1:]:
            a, b = a_key / 10000, b_key / 10000
            shares = ((a / b, (a - b) / b) if b else ()) + ((b / a, (b - a) / a) if a else ())
            if any(abs(abs(share) * 100 - value) <= tolerance for share in shares):
                return True
    return False


def two_steps(key: int, known: frozenset[int] | set[int], factors: frozenset[int] | set[int] | None = None) -> bool:
    """The number is two arithmetic steps from the known numbers, as shown rounded: a sum of three
    of ``known``; a product or ratio of ``factors`` (default: ``known``) rounded to cents, a share
    or a percentage change ("56%", "+12.9%")."""
    numbers = sorted(known)[:TWO_STEP_LIMIT]
    # a + b + c; with cents (small whole numbers combine too easily), also c - a - b ("£1,842.57 less holds
    # of £120.00 and £310.40 leaves £1,412.17") and c + a - b
    signed = bool(key % 10000)
    if any(key - a - b in known or signed and (key + a + b in known or key + a - b in known or key - a + b in known)
           for i, a in enumerate(numbers) for b in numbers[i:]):
        return True
    value = key / 10000
    numbers = sorted(known if factors is None else factors)[:TWO_STEP_LIMIT]
    tolerance = 0.5 if key % 10000 == 0 else max(0.006, abs(value) * 0.001)  # as rounded when shown
    for i, a_key in enumerate(numbers):
        a = a_key / 10000
        for b_key in numbers[i + 1:]:
            b = b_key / 10000
            # a price in pence or cents makes its product a hundredth: 229 kWh × 24.5p = £56.11
            if abs(a * b - value) <= tolerance or (key % 10000 and abs(a * b / 100 - value) <= tolerance) \
                    or (b and abs(a / b - value) <= tolerance) or (a and abs(b / a - value) <= tolerance):
                return True
    return is_share(key, numbers)


# -- the reply side ---------------------------------------------------------------------------
def document_values(value: Any) -> Iterable[str]:
    """The values of a JSON document (keys are schema, not claims)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from document_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from document_values(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


SENTENCE_WORDS = 5  # an argument this long says something ("sole peeling after 8 months"); a shorter one names a thing


def reply_text(message: dict[str, Any], sentence_arguments_only: bool = False) -> str:
    """What the assistant said: its text, or the argument values of the tools it called (with
    ``sentence_arguments_only``, only those of ``SENTENCE_WORDS`` words or more)."""
    arguments = [value for call in message.get("tool_calls") or () for value in _call_arguments(call)]
    if sentence_arguments_only:
        arguments = [value for value in arguments if len(value.split()) >= SENTENCE_WORDS]
    return "\n".join(part for part in (message_text(message), *arguments) if part)


def _call_arguments(call: dict[str, Any]) -> list[str]:
    arguments = (call.get("function") or {}).get("arguments") or "{}"
    try:
        return list(document_values(orjson.loads(arguments)))
    except orjson.JSONDecodeError:
        return [str(arguments)]


def json_values(text: str) -> str | None:
    """The values of a JSON reply, bare or set in a code block (```json ... ```), one per line; None
    when the reply is no JSON document."""
    stripped = text.strip()
    if fenced := FENCED_JSON.fullmatch(stripped):
        stripped = fenced.group(1).strip()
    if stripped[:1] not in "{[" or stripped[-1:] not in "}]":
        return None
    try:
        return "\n".join(document_values(orjson.loads(stripped)))
    except orjson.JSONDecodeError:
        return None


class ReplyClaims:
    """Read the specific claims out of a reply; keep those the input does not support."""

    def __init__(self, reply: str, support: Support, question: str = ""):
        self.support = support
        self.question = question
        self.unsupported: list[Claim] = []
        self.accepted: set[int] = set()  # the reply's numbers that the input explains, for chains
        # One-step arithmetic explains a new number only when someone is computing: the user
        # asked for it, the reply shows it ("35 x $42 = $1,470") or restates two of the input's
        # numbers before it ("2 items at $168 each, so $336"). Otherwise 2 and 60 "explain" 120.
        self._computing: bool | None = None
        self.restated = 0
        # a template's blanks ({{ship_date}}, [CANDIDATE_NAME]): its sentences say what to fill in, not facts
        self.blanks = len(TEMPLATE.findall(reply)) + len(PLACEHOLDER.findall(reply)) \
            if "{{" in reply or "[" in reply else 0
        if self.blanks:
            reply = TEMPLATE.sub(" ", reply)
        values = json_values(reply)
        text = values if values is not None else CODE.sub(" ", reply) if "`" in reply else reply  # code is no prose
        # the tools the reply's code uses ("npm", "pandas"): a number after one is its version
        self.tools = frozenset(WORD.findall(" ".join(CODE.findall(reply)).lower())) - COMMON_WORDS \
            if "`" in reply else frozenset()
        self.constants: list[tuple[str, str]] = []  # (as written, number) of its code's named constants and tables
        if text is not reply and "`" in reply:
            self._code_constants(reply)
        if values is not None:
            self._json_labels(values)
        if _may_hold_link(reply):  # links count even inside code; read them once, then hide them
            for match in URL.finditer(reply):
                self._link(match.group().rstrip(".,;:!?"))
            text = URL.sub(lambda match: BLANK * len(match.group()), text)
        if "<" in text or "[" in text:
            text = PLACEHOLDER.sub(self._placeholder, text)
        text = SPACED_THOUSANDS.sub(_unspaced, text)  # "1 280 €" is 1280 €
        self.text = text
        self.low = text.lower()
        tokens = set(self.low.split())
        self.dates: set[tuple[int, int]] = set()  # the reply's dates and times already explained, for chains
        self.times: set[int] = set()
        self.labels: set[str] = set()  # interface labels the reply names
        shows_working = "=" in text or "≈" in text or "~" in text
        self.worked = worked_numbers(SUPERSCRIPT.sub(_power, text), support.numbers | support.intervals) \
            if shows_working else set()
        self._named_constants()
        if HAS_DIGIT.search(text):
            self._read_numeric(text)
        if not COUNT_WORDS.isdisjoint(tokens) or "-" in self.low:  # "five days", "a five-day course"
            for match in NUMBER_WORD_UNIT.finditer(self.low):
                self._number_word(match)
        self.tokens = tokens
        for match in NAME.finditer(text):
            self._name(match)

    def _code_constants(self, reply: str) -> None:
        """Code is a transformation, but its world constants are facts: an image tag, an API version,
        a pinned package version the input did not give."""
        for block in CODE.findall(reply):
            for match in CODE_CONSTANT.finditer(block):
                if match.group().lower() not in self.support.lower:
                    self._miss("version", match.group())
            self.constants += [(match.group(), match["value"]) for match in NAMED_CONSTANT.finditer(block)]
            self.constants += [(match.group(), match["value"]) for table in NAMED_TABLE.finditer(block)
                               for match in TABLE_NUMBER.finditer(_bracketed(block, table.end() - 1))]

    def _named_constants(self) -> None:
        """A named constant of the code is a fact unless the input states it, as written, in other units
        (6 GB is 6144 MB) or as a rate (6.25% is 0.0625), the reply works it out, or it defines a unit."""
        numbers = self.support.numbers
        for written, value in self.constants:
            if not any(key in numbers or key * 100 in numbers or key in WORKING_CONSTANTS or key in self.worked
                       or converts(key, numbers, self.support.seconds_parts)
                       for key in number_values(value.replace("_", ""))):
                self._miss("constant", written)

    def _json_labels(self, values: str) -> None:
        """A JSON reply's short capitalized values (a manufacturer, a currency or country code)
        that the input lacks were recalled, not extracted; lower-case labels are classifications."""
        for value in values.splitlines():
            low = value.lower()
            if JSON_LABEL.fullmatch(value) and not self.support.has_words(value) \
                    and low not in WEEKDAYS and low not in MONTH_NUMBER \
                    and CURRENCY_SYMBOLS.get(low, "\0") not in self.support.text:  # a weekday from a date, GBP from £
                self._miss("name" if " " in value or not value.isupper() else "identifier", value)

    def _read_numeric(self, text: str) -> None:
        for match in numeric_matches(text):
            if not _in_question(text, match.end()):
                READERS[match.lastgroup](self, match)

    @property
    def computing(self) -> bool:
        if self._computing is None:
            self._computing = bool(COMPUTE_REQUEST.search(self.question) or ARITHMETIC.search(self.low))
        return self._computing

    def _miss(self, kind: str, text: str) -> None:
        claim = Claim(kind, text.strip())
        if claim not in self.unsupported:
            self.unsupported.append(claim)

    def _link(self, link: str) -> None:
        if link.lower() not in self.support.lower and not self._built_address(link):
            self._miss("email" if "@" in link and "/" not in link else "URL", link)

    def _built_address(self, link: str) -> bool:
        """An email address built from the input's parts (the user's domain and a person's names:
        "first.last@" the user asked for)."""
        local, at, domain = link.lower().partition("@")
        return bool(at) and "/" not in domain and domain in self.support.lower \
            and all(part in self.support.ascii_words for part in re.split(r"[._-]", local) if part)

    def _placeholder(self, match: re.Match) -> str:
        if match.group() not in self.support.text:
            self._miss("placeholder", match.group())
        return BLANK * len(match.group())

    def _skip(self, match: re.Match) -> None:
        """List markers ("1. ") are layout, not claims."""

    def _version(self, match: re.Match) -> None:
        if match.group().lower().lstrip("v") not in self.support.lower and not self.support.in_networks(match.group()):
            self._miss("version", match.group())

    def _phone(self, match: re.Match) -> None:
        if not self.support.has_digits(match.group()):
            self._miss("phone", match.group())

    def _digit_group(self, match: re.Match) -> None:
        if not self.support.has_digits(match.group()):
            self._miss("identifier", match.group())

    def _date(self, match: re.Match) -> None:
        keys = date_keys(match)
        fraction = match["a"] and not match["y"] and FRACTION_CONTEXT.match(match.string, match.end(), match.end() + 3)
        if not keys or fraction:
            self._numbers_in(match)  # 3.9 or 4.0: numbers after all
            return
        support = self.support
        if match.group().lower() in support.lower:
            return
        year = date_year(match)
        known = any(key in support.dates or (number_key(key[1]) in support.numbers and key[0] in support.months)
                    or self._date_derived(key) for key in keys)
        if not known or (year is not None and not self._year_derived(year)):
            self._miss("date", match.group())
            return
        self.dates.update(keys)

    def _date_derived(self, key: tuple[int, int]) -> bool:
        """A date some known number of days, weeks or months from a date of the input (or one
        the reply derived): a deadline counted from a given date, a next working day."""
        known = self.known_numbers
        target = _day_of_year(key)
        for base in self.support.dates | self.dates:
            delta = abs(target - _day_of_year(base))
            delta = min(delta, 365 - delta)
            if delta <= 3 or (delta <= 7 and self.support.names_a_weekday) \
                    or any(number_key(n) in known for n in (delta, delta - 1, delta + 1, delta / 7)):
                return True
            months = (key[0] - base[0]) % 12
            if key[1] == base[1] and any(number_key(months + 12 * years) in known for years in range(4)):
                return True
        return False

    def _year_derived(self, year: int) -> bool:
        known = self.known_numbers
        return year in self.support.date_years or any(number_key(year + offset) in known for offset in range(-10, 11)
                   if offset == 0 or abs(offset) <= 1 or number_key(abs(offset)) in known)

    def _time(self, match: re.Match) -> None:
        minutes = minutes_of(match)
        if minutes is None:
            self._numbers_in(match)
            return
        support = self.support
        hour, minute = divmod(minutes, 60)
        hours = support.bare_numbers
        known = minutes in support.times or (
            (number_key(hour) in hours or number_key(hour % 12 or 12) in hours)
            and (minute == 0 or number_key(minute) in hours))
        if not known and not self._time_derived(minutes):
            self._miss("time", match.group())
            return
        self.times.add(minutes)

    def _time_derived(self, minutes: int) -> bool:
        """A time a known number of hours or minutes from a time of the input or of the reply: a
        time-zone conversion, an arrival, a dose every 8 hours."""
        known = self.known_numbers
        bases = self.support.times | self.times
        for base in bases:
            for gap in {(minutes - base) % 1440, (base - minutes) % 1440}:
                hours = gap / 60
                if gap in bases or number_key(gap) in known or number_key(hours) in known \
                        or number_key(gap) in self.support.intervals \
                        or computes(number_key(hours), known) or computes(number_key(gap), known):
                    return True
                if hours.is_integer() and any(key <= 240000 and key % 10000 == 0 and hours % (key // 10000) == 0
                                              for key in known if key):
                    return True  # a multiple of an interval: every 8 hours
        return False

    @property
    def known_numbers(self) -> frozenset[int] | set[int]:
        return self.support.numbers | self.accepted | self.worked if self.accepted or self.worked else self.support.numbers

    def _identifier(self, match: re.Match) -> None:
        text = match.group()
        if NUMBER_WITH_UNIT.fullmatch(text):
            self._numbers_in(match)  # "12-15", "2-year", "6th", "10mg": numbers
            return
        letters_digits = compact(text)
        present = (letters_digits in self.support.compact_tokens if len(letters_digits) <= 3
                   else letters_digits in self.support.alnum)
        if not present and not self.support.has_digits(text):
            self._miss("identifier", text)

    def _numbers_in(self, match: re.Match) -> None:
        """Read a span another pattern claimed but did not want as numbers."""
        for number in NUMBER.finditer(match.string, match.start(), match.end()):
            self._number(number)

    def _number(self, match: re.Match) -> None:
        """A number, or both ends of a range, supported by the input or derived from it."""
        ends = [match["num"]] + ([match["to"]] if match["to"] else [])
        readings = []
        for end in ends:
            values = number_values(end, match["scale"])
            readings.append(values + tuple(number_key(v / 1e6) for v in values) if match["pct"] else values)
        support = self.support
        for end, values in zip(ends, readings):
            if any(value in support.numbers or value in self.worked for value in values):
                self.restated += 1
            elif not (self._share(values) if match["pct"] else self._derived(values)) and not support.has_digits(end):
                self._miss(_number_kind(match, readings[0], self.tools), match.group() + _unit(match))
                return
        for values in readings:
            self.accepted.update(values)

    def _derived(self, values: tuple[int, ...]) -> bool:
        support = self.support
        known = self.known_numbers
        derived = self.accepted | self.worked  # rounding applies to what the reply worked out, not to the input
        if any(value in support.intervals or value in UNIT_FACTOR_KEYS or converts(value, known, support.seconds_parts)
               or _rounds(value, derived)
               or (support.has_temperatures and converts_temperature(value, support.numbers)) for value in values):
            return True
        if self.restated >= 2 or self.computing:
            factors = self.factors
            return any(value in support.totals or computes(value, known, factors) or two_steps(value, known, factors)
                       or converts_units(value, known) for value in values)
        return False

    @property
    def factors(self) -> set[int]:
        """What the reply's products and ratios may use: the input's numbers, but a small whole number
        only when the reply or the user's question states it ("split $120 between 4"): with every 2 or
        5 of a tool result or a prompt, 5 days is 10 / 2 and 25 is 5 x 5."""
        return {key for key in self.support.numbers if key > SMALL_FACTOR or key % 10000} \
            | self.mentioned | self.accepted | self.worked | _numbers_of(self.question)

    @cached_property
    def stated_sums(self) -> frozenset[int]:
        """The reply's numbers that add up two of the input's, wherever stated: "70% ... (175 of 250)"
        is a share of a sum the reply gives after it."""
        numbers = self.support.numbers
        return frozenset(value for match in INPUT_NUMBER.finditer(self.text) for value in number_values(match.group())
                         if value not in numbers and any(value - other in numbers for other in numbers))

    @cached_property
    def mentioned(self) -> frozenset[int]:
        """The input's numbers the reply states somewhere."""
        numbers = self.support.numbers
        return frozenset(value for match in INPUT_NUMBER.finditer(self.text)
                         for value in number_values(match.group()) if value in numbers)

    def _share(self, values: tuple[int, ...]) -> bool:
        """A percentage the input does not state is derived only as a share or a change between two
        numbers already known (``56%`` of a total): a rate is what a calculation applies, so one
        the reply brings (a discount, a tax rate) is a fact however well its result checks out."""
        known = sorted(self.known_numbers | self.stated_sums)[:TWO_STEP_LIMIT]
        percents = values[:len(values) // 2]  # the rest are the same values as fractions (19% is 0.19)
        return any(_rounds(value, self.accepted | self.worked) or is_share(value, known) for value in percents)

    def _number_word(self, match: re.Match) -> None:
        if match["unit"] and number_key(NUMBER_WORDS[match["word"].lower()]) not in self.support.numbers:
            self._miss("quantity", match.group())

    def _name(self, match: re.Match) -> None:
        text = match.group()
        if _in_question(match.string, match.end()) or text.startswith("Dear "):
            return  # a question asserts nothing; "Dear Manager" addresses a reader
        if text in self.labels or _interface_label(match.string, match.start(), match.end()):
            self.labels.add(text)  # named again later ("if you don't see Automatic Replies")
            return
        tokens = text.split()
        if _at_sentence_start(match.string, match.start()) and not _marked(tokens[0]):
            if len(tokens) == 1:
                return
            tokens = tokens[1:]
        for name in _name_runs(tokens, bool(HAS_DIGIT.search(text))):
            if name in UNIT_SYMBOLS or (not name.isupper() and self._everyday_words(name)):
                continue
            if not self.support.has_words(name) and not self._variant(name) and not self.support.abbreviated(name):
                self._miss(_name_kind(name), name)

    @cached_property
    def everyday_nouns(self) -> frozenset[str]:
        """Where the reply is written in a language that capitalises nouns or titles ("Regel", "Praxis",
        "Monsieur"), that language's everyday words: capitalised, they are still no names."""
        return everyday_words_of(self.language)

    @cached_property
    def language(self) -> str:
        return reply_language(self.low)

    def _everyday_words(self, name: str) -> bool:
        """A word, or in a language other than English a run of words ("Ihre Rückmeldung"), all everyday."""
        words = name.casefold().split()
        return (len(words) == 1 or self.language != "en") and all(map(self._everyday, words))

    def _everyday(self, word: str) -> bool:
        """An everyday word of the reply's language; in German, which capitalises every noun, also a word
        English never writes that German writes often ("Auftragsnummer", "Stirnlampe") or puts together
        from words it writes ("Umbuchungsgebühr", "Erste-Hilfe-Set"): names and brands travel across
        languages ("Lufthansa", "Hoffmann")."""
        if word in self.everyday_nouns:
            return True
        if self.language != "de":
            return False
        from wordfreq import zipf_frequency

        if "-" in word:
            return german_compound(word)
        return zipf_frequency(word, "en") == 0 and (zipf_frequency(word, "de") >= GERMAN_NOUN_ZIPF
                                                    or german_compound(word))

    def _variant(self, name: str) -> bool:
        """A fuller form of a name the input holds ("VW Golf" for "Golf"): a multi-word name whose last
        word, the thing named, the input has as a name, capitalized ("St Mary's Hospital" is no variant
        of "which hospital?"; "Calloway Wellness Fund" of "Calloway" names something else)."""
        words = name.split()
        return len(words) > 1 and re.search(rf"\b{re.escape(words[-1])}\b", self.support.text) is not None


READERS: dict[str, Callable[[ReplyClaims, re.Match], None]] = {
    "list_marker": ReplyClaims._skip, "month_date": ReplyClaims._date, "numeric_date": ReplyClaims._date,
    "version": ReplyClaims._version, "time": ReplyClaims._time, "phone": ReplyClaims._phone,
    "digit_group": ReplyClaims._digit_group, "number": ReplyClaims._number, "identifier": ReplyClaims._identifier,
}


def _may_hold_link(text: str) -> bool:
    return any(mark in text for mark in LINK_MARKS)


def numeric_matches(text: str) -> Iterator[re.Match]:
    """The numeric pattern's matches, tried only where each digit run's claim may begin: the token
    before it ("USD 5", "March 3", "+1 503-..."), the token itself ("$49", "A-55821") or the run
    (the pattern has many alternatives: trying it at every position is slow)."""
    done = 0
    for run in DIGIT_RUN.finditer(text):
        if run.start() < done:
            continue
        starts = (start for start in candidate_starts(text, run.start()) if start >= done)
        match = next((m for start in starts if (m := NUMERIC.match(text, start)) and m.end() > run.start()), None)
        if match:
            done = match.end()
            yield match


def candidate_starts(text: str, run_start: int) -> list[int]:
    """Where the claim holding the digit run at ``run_start`` may begin, earliest first: the token
    before it when that can open a claim ("USD 5", "(March 3", "+1 503-555-0148"), the token itself
    ("$49", "A-55821"), the token after an opening bracket or quote, the run."""
    token = run_start
    while token > 0 and not text[token - 1].isspace():
        token -= 1
    starts = [token]
    previous = token
    while previous > 0 and text[previous - 1] in " \t":
        previous -= 1
    if 0 < previous < token:
        end = previous
        while previous > 0 and not text[previous - 1].isspace():
            previous -= 1
        while previous < end and text[previous] in TOKEN_OPENERS:  # "(Dec 3)" is a date as "Dec 3" is
            previous += 1
        word = text[previous:end].rstrip(".,").lower()
        if word[:1] in OPENS_NUMBER or word in MONTH_NUMBER or word in CURRENCY_CODES:
            starts.insert(0, previous)
    opened = token
    while opened < run_start and text[opened] in TOKEN_OPENERS:
        opened += 1
    if opened != token:
        starts.append(opened)
    if run_start not in starts:
        starts.append(run_start)
    return starts


def _number_kind(match: re.Match, values: tuple[int, ...], tools: frozenset[str] = frozenset()) -> str:
    if match["cur"] or match["cur2"]:
        return "price"
    if match["pct"]:
        return "percentage"
    if UNIT.match(match.string, match.end()):
        return "quantity"
    value = values[0] / 10000 if values else 0.0
    if value.is_integer() and 1900 <= value <= 2100:
        return "year"
    if _names_a_version(match.string, match.start(), tools):
        return "version"
    return "small number" if value <= 12 else "number"


def _names_a_version(text: str, start: int, tools: frozenset[str]) -> bool:
    """A number right after a name is its version, model or number ("Python 3.12", "Chrome 126",
    "Terminal 5"), unless the name is a layout word of the reply ("Step 2", "Option 3"); so is a
    number after a tool the reply's code runs ("npm 6", "pandas 2.0")."""
    before = text[max(0, start - 24):start]
    if not before.endswith(" "):
        return False
    word = before.split()[-1].lstrip(TOKEN_OPENERS) if before.split() else ""
    low = word.lower()
    if low in tools and word.isalpha():
        return True
    return word[:1].isupper() and word.isalpha() and low not in LAYOUT_WORDS and low not in WEEKDAYS \
        and low not in MONTH_NUMBER \
        and not _at_sentence_start(text, start - len(word) - 1)


def _bracketed(text: str, start: int) -> str:
    """The literal that opens at ``text[start]`` ("[", "{" or "("), up to its closing bracket."""
    depth = 0
    for end in range(start, len(text)):
        depth += (text[end] in "[{(") - (text[end] in "]})")
        if depth == 0:
            return text[start:end + 1]
    return text[start:]


def _unit(match: re.Match) -> str:
    unit = UNIT.match(match.string, match.end())
    return unit.group() if unit else ""


LAYOUT_WORDS = frozenset("step steps option options question questions page part section level phase round line item "
                         "table figure chapter tier day week month year room gate floor unit no".split())
UI_VERBS = frozenset("click tap select choose open press toggle enable disable tick untick check uncheck".split())
UI_MARKS = ("*", "\"", "'", "“", "‘", ">", "→", "›")


def _interface_label(text: str, start: int, end: int) -> bool:
    """A capitalized run that names an interface element in a how-to step: bold or quoted, in a
    menu path (Settings > Mail), right after "click", "select"..., or a form's field ("Date: ____")."""
    before, after = text[max(0, start - 3):start].rstrip(" "), text[end:end + 3].lstrip(" ")
    if before.endswith(UI_MARKS) or after.startswith(UI_MARKS) or FORM_BLANK.match(text, end):
        return True
    words = text[max(0, start - 12):start].split()
    return bool(words) and words[-1].lower() in UI_VERBS


def _in_question(text: str, end: int) -> bool:
    """The claim sits in a question ("Are you on Django or Rails?"): a question asserts nothing."""
    found = QUESTION_END.search(text, end)
    return bool(found) and found.group() == "?"


def _at_sentence_start(text: str, start: int) -> bool:
    index = start - 1
    while index >= 0 and text[index] in " \t":
        index -= 1
    return index < 0 or text[index] in SENTENCE_START


def _marked(token: str) -> bool:
    """A word that is a name even at the start of a sentence: inner capitals (MacBook, GlobalProtect)."""
    body = token[1:]
    return body.lower() != body and not token.isupper()


def _name_runs(tokens: list[str], digits: bool) -> Iterable[str]:
    """Split a capitalized run at words that name nothing (months, weekdays, greetings, titles) and at
    identifiers (``digits``: the run holds digits; identifiers are read with the numbers)."""
    run: list[str] = []
    for token in tokens + [""]:
        bare = token.lower().strip(".,'’")
        if bare.endswith(("'s", "’s")):
            bare = bare[:-2]
        elif bare.endswith("s") and bare[:-1] in WEEKDAYS:  # "on Tuesdays and Thursdays"
            bare = bare[:-1]
        if token and run and bare in CONNECTORS:
            run.append(token)
        elif not token or bare in GENERIC_WORDS or bare in MONTH_NUMBER or bare in WEEKDAYS or len(bare) < 2 \
                or (token[1:2] == "-" and LETTER_PREFIX.fullmatch(token)) or (digits and HAS_DIGIT.search(token)):
            while run and run[-1].lower() in CONNECTORS:
                run.pop()
            if run:
                yield " ".join(run)
            run = []
        elif bare not in CONNECTORS:
            run.append(token.rstrip(".,"))
            if POSSESSIVE.search(run[-1]):  # "Tim Cook's Apple": a possessive ends a name
                run[-1] = POSSESSIVE.sub("", run[-1])
                yield " ".join(run)
                run = []


#: units and everyday technical abbreviations: written in capitals, they name no fact
UNIT_SYMBOLS = frozenset("KB MB GB TB PB kB KiB MiB GiB TiB kW kWh MW MWh Wh mAh Hz kHz MHz GHz QR PIN SMS MMS USB PDF "
                         "URL ID UTC GMT FAQ OTP CSV JSON HTML API UI OK".split())
LANGUAGE_CUES = 60  # a language's most frequent words that tell it from the others
GERMAN_NOUN_ZIPF = 1.8  # about once in 60 million words: compounds people write ("Trinkflasche"), not coinages
GERMAN_HEAD_ZIPF = 3.0  # a compound's last word, the thing it names, is a common one ("-gebühr", "-tabelle")
GERMAN_LINKS = ("", "s", "es", "n", "en")  # what joins a compound's words: "Umbuchung-s-gebühr"


@lru_cache(maxsize=4096)
def german_compound(word: str) -> bool:
    """A German compound of words German writes: hyphenated, one of them German more than English
    ("erste-hilfe-set"; "Coca-Cola" is no German word), or closed, a common word of four letters or
    more after a word German writes ("tarif|differenz", "umbuchungs|gebühr")."""
    from wordfreq import zipf_frequency

    def written(part: str) -> bool:
        return zipf_frequency(part, "de") >= GERMAN_NOUN_ZIPF

    if "-" in word:
        parts = list(filter(None, word.split("-")))
        return all(map(written, parts)) and any(zipf_frequency(part, "de") >= zipf_frequency(part, "en") + 1
                                                for part in parts)
    for cut in range(3, len(word) - 3):
        modifier = word[:cut]
        if zipf_frequency(word[cut:], "de") >= GERMAN_HEAD_ZIPF and any(
                modifier.endswith(link) and written(modifier[:cut - len(link)]) for link in GERMAN_LINKS):
            return True
    return False


@lru_cache(maxsize=8)
def everyday_words_of(language: str) -> frozenset[str]:
    """The 10,000 most frequent words of ``language`` but the places and brands every language uses
    ("Frankfurt", "Amsterdam"), with its most frequent words, which are never names ("Sie"); none for
    English, whose capitalised words are names."""
    if language == "en":
        return frozenset()
    from wordfreq import top_n_list

    return frozenset(top_n_list(language, 10_000)) - widespread_words() | language_cues()[language]


@lru_cache(maxsize=1)
def widespread_words() -> frozenset[str]:
    """Words among the 50,000 most frequent of six of the seven languages or all of them."""
    from collections import Counter

    from wordfreq import top_n_list

    counts = Counter(word for language in language_cues() for word in set(top_n_list(language, 50_000)))
    return frozenset(word for word, count in counts.items() if count >= 6)


@lru_cache(maxsize=1)
def language_cues() -> dict[str, frozenset[str]]:
    from wordfreq import top_n_list

    return {language: frozenset(top_n_list(language, LANGUAGE_CUES)) for language in ("en", "de", "fr", "es", "it",
                                                                                      "pt", "nl")}


def reply_language(low: str) -> str:
    """The language whose most frequent words the reply uses most (English on a tie)."""
    words = WORD.findall(low)
    counts = {language: sum(word in cues for word in words) for language, cues in language_cues().items()}
    return max(counts, key=lambda language: (counts[language], language == "en"))


def _name_kind(name: str) -> str:
    if "_" in name:
        return "identifier"  # QUILLPAY_API_KEY
    return "acronym" if " " not in name and name.rstrip("s").isupper() else "name"


# -- cues -----------------------------------------------------------------------------------------
def _content_words(sentence: str) -> list[str]:
    return [w for w in WORD.findall(sentence) if len(w) > 3 and w not in COMMON_WORDS]


def _new_words(words: list[str], support: Support) -> list[str]:
    """The words the input does not have, even in another form ("included", "include")."""
    return [w for w in words if w[:STEM] not in support.stems]


def _novelty(sentence: str, support: Support) -> float:
    """Share of the sentence's content words the input does not have."""
    words = _content_words(sentence)
    return len(_new_words(words, support)) / len(words) if words else 0.0


def assertion_claims(low_prose: str, support: Support, found: list[Claim]) -> list[Claim]:
    """Sentences that assert something about the world with mostly new words: facts with no digit
    and no capital ("alcohol isn't reimbursable", "that plan doesn't include SSO"). A sentence
    holding a claim already ``found`` is that claim."""
    claims = []
    known = [claim.text.lower() for claim in found]
    for sentence, words in _statements(low_prose):
        if any(text in sentence for text in known) or HAS_DIGIT.search(sentence) or ASSERTION_WORDS.isdisjoint(words):
            continue  # a sentence with numbers is read by its numbers
        if _says_something_new(sentence, support):
            claims.append(Claim("assertion", sentence.strip()[:160]))
    return claims


def beyond_the_tool(low_prose: str, support: Support, found: list[Claim]) -> list[Claim]:
    """A reply built on a tool's result that adds a long statement of its own (a rule, a cause, a
    date the tool did not give): most of its content words are in neither the result nor the
    question. Shorter additions are read by their numbers, names and assertion words."""
    known = [claim.text.lower() for claim in found]
    for sentence, _ in _statements(low_prose):
        content = _content_words(sentence)
        new = _new_words(content, support)
        if len(new) >= BEYOND_MIN_NEW and len(new) >= BEYOND_NOVELTY * len(content) \
                and not any(text in sentence for text in known):
            return [Claim("assertion", sentence.strip()[:160])]
    return []


def _statements(low_prose: str) -> Iterator[tuple[str, list[str]]]:
    """The sentences that state something, with their words: not questions, steps, greetings or
    hedged general advice."""
    for sentence in SENTENCE.findall(low_prose):
        words = WORD.findall(LIST_LABEL.sub("", sentence))
        if len(words) >= 4 and not sentence.rstrip().endswith("?") and words[0] not in HOWTO_OPENERS \
                and HEDGES.isdisjoint(words):
            yield sentence, words


def _says_something_new(sentence: str, support: Support, at_least: int = ASSERTION_MIN_NEW) -> bool:
    content = _content_words(sentence)
    new = _new_words(content, support)
    return len(new) >= at_least and len(new) >= ASSERTION_NOVELTY * len(content)


def speaks_for_an_organisation(prompt: list[dict[str, Any]], low_prose: str, support: Support) -> bool:
    """The system prompt only says whose assistant this is ("You are the HR assistant for Calloway
    Studios."), no tool answered and nothing was pasted, the user asked a question, and the reply
    states something new: an organisation's rules, offers or procedures, which only its own
    documents hold."""
    system = _system(prompt).strip()
    if not system or len(system) > ROLE_ONLY_MAX or not ORGANISATION_ROLE.fullmatch(system):
        return False
    question = _last_user(prompt)
    if any(m.get("role") == "tool" for m in prompt) or len(question) > PASTED_MIN:
        return False
    low = question.lower()
    asks = ("?" in question or FACT_QUESTION.search(low)) and not CREATIVE_REQUEST.search(low) \
        and not CONCEPT_REQUEST.search(low)  # not thanks, a poem, or what a common term means
    return bool(asks) and any(_says_something_new(sentence, support, 2) for sentence, _ in _statements(low_prose))


def policy_cues(low_prose: str, tokens: set[str], support: Support, claims: list[Claim]) -> list[str]:
    """Policy language ("we don't offer", "within 30 days") in sentences that say something the input
    does not. A sentence that quotes one of the input's numbers ("at least 500 points", the tool's
    minimum) and holds no unsupported claim restates the input's policy (a small number may match
    by chance: 5 days and the 5th)."""
    unsupported = [claim.text.lower() for claim in claims]
    tokens = {token.strip(".,;:!?)\"'") for token in tokens}  # "hábiles." ends a sentence
    found: list[str] = []
    for words, pattern in POLICY_PARTS:
        if words.isdisjoint(tokens):
            continue
        for match in pattern.finditer(low_prose):
            start = match.start()
            if (start and low_prose[start - 1].isalnum()) or match.group() in found:
                continue
            sentence = _sentence_around(low_prose, start)
            if HAS_DIGIT.search(sentence) and _quotes_the_input(sentence, support) \
                    and not any(text in sentence for text in unsupported):
                continue
            if _novelty(sentence, support) >= NOVEL_SENTENCE:
                found.append(match.group())
    return found


def _quotes_the_input(sentence: str, support: Support) -> bool:
    return any(key > SMALL_FACTOR and key in support.bare_numbers
               for match in INPUT_NUMBER.finditer(sentence) for key in number_values(match.group()))


def _sentence_around(text: str, index: int) -> str:
    start = max(text.rfind(end, 0, index) for end in SENTENCE_ENDS) + 1
    ends = [found for found in (text.find(end, index) for end in SENTENCE_ENDS) if found >= 0]
    return text[start:min(ends) if ends else len(text)]


@lru_cache(maxsize=1024)
def _system_asks_transform(system: str) -> bool:
    """System prompts repeat across a whole dataset: decide once per distinct prompt."""
    return bool(SYSTEM_TASK.search(system.lower()))


# -- the scorer -----------------------------------------------------------------------------------
def input_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The texts a reply may draw on: every earlier message, tool calls' arguments included."""
    return [reply_text(m) if m.get("role") == "assistant" else message_text(m) for m in messages]


def _last_user(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def _system(messages: list[dict[str, Any]]) -> str:
    return "\n".join(message_text(m) for m in messages if m.get("role") in ("system", "developer"))


def unsupported_claims(reply: str, texts: list[str], question: str = "") -> list[Claim]:
    """The reply's claims that ``texts`` do not support (e.g. the input plus a retrieved passage)."""
    return _claims(ReplyClaims(reply, Support(texts), question.lower()))


def _claims(found: ReplyClaims) -> list[Claim]:
    """Every unsupported claim: the specific ones, and the assertions with no digit or name."""
    question = found.question
    if CREATIVE_REQUEST.search(question) or TRANSLATE_REQUEST.search(question) or CONCEPT_REQUEST.search(question):
        # invented names are the point of creative text; a translation's capitalised words are its
        # language's; what a common term means is general knowledge (its numbers still count)
        return [claim for claim in found.unsupported if claim.kind not in ("name", "acronym")]
    if found.blanks >= TEMPLATE_BLANKS:  # a template's sentences are the shape of a message, its blanks the facts
        return found.unsupported
    return found.unsupported + assertion_claims(found.low, found.support, found.unsupported)


def assess_reply(reply: str, prompt: list[dict[str, Any]]) -> Assessment:
    """Score one reply against the messages before it."""
    support = Support(input_texts(prompt))
    question = _last_user(prompt).lower()
    found = ReplyClaims(reply, support, question)
    claims = _claims(found)
    if any(m.get("role") == "tool" for m in prompt):
        claims += beyond_the_tool(found.low, support, claims)
    policy = policy_cues(found.low, found.tokens, support, claims)
    organisation = speaks_for_an_organisation(prompt, found.low, support)
    if not claims and not policy and not organisation:
        return Assessment(0.0)
    transform = bool(TRANSFORM_REQUEST.search(question)) or _system_asks_transform(_system(prompt))
    factor = TRANSFORM_FACTOR if transform else 1.0
    total = sum(claim.weight * (factor if claim.kind in SOFT_KINDS else 1.0) for claim in claims)
    total += min(POLICY_CUE_MAX, POLICY_CUE * len(policy)) * factor
    cues = [f'policy language: "{cue}"' for cue in policy]
    if organisation:
        total += ORGANISATION_CUE
        cues.append("answers for an organisation with nothing in the conversation to go on")
    asked = None if transform else FACT_QUESTION.search(question)
    if asked:
        total += QUESTION_CUE
        cues.append(f'asks for a fact: "{asked.group()}"')
    if transform and claims:
        cues.append("the user asked to transform the input (claims weigh less)")
    return Assessment(round(1 - math.exp(-total), 3), claims, cues)


def assess_trained_replies(messages: list[dict[str, Any]]) -> Assessment | None:
    """A conversation as training sees it: every assistant reply a trainer learns from (all but those
    with ``weight: 0``) is scored against the messages before it, and the highest score speaks for the
    record: a price stated in the second of four replies is trained on like one in the last. An
    earlier reply counts by its specific facts only (numbers, names, dates, links), not by the
    weaker cues (a new assertion, policy words): a long conversation gives a weak cue many chances
    to misfire ("treat water from streams along the way"). And by what it says: its text and the
    sentences it passes to tools (a ticket's summary), not the values a tool is called with, which
    are the call's shape and come from what logs often leave out (today's date, the session's
    booking, the user's plan): {"period": "2024-05"} or {"plan": "Meridian Health Silver"} is no fact."""
    best = assess(messages)
    for index, message in enumerate(messages[:-1]):
        if message.get("role") == "assistant" and message.get("weight", 1) != 0:
            said = reply_text(message, sentence_arguments_only=True)
            earlier = assess_reply(said, messages[:index]) if said.strip() else None
            specific = [claim for claim in earlier.unsupported if claim.kind != "assertion"] if earlier else []
            score = round(1 - math.exp(-sum(claim.weight for claim in specific)), 3)
            if specific and (best is None or score > best.score):
                best = Assessment(score, specific, [f"in an earlier reply (messages[{index}])"], reply_at=index)
    return best


def assess(messages: list[dict[str, Any]]) -> Assessment | None:
    """Score a conversation's final assistant reply; ``None`` when it has no reply to score."""
    if not messages or messages[-1].get("role") != "assistant":
        return None
    reply = reply_text(messages[-1])
    if not reply.strip():
        return None
    return assess_reply(reply, messages[:-1])
