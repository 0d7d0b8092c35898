"""PII scrubbing: find personal data and secrets in a record's text and replace each with a
typed placeholder that stays the same everywhere in that record (``<EMAIL_1>`` is one
address in every message, tool-call argument, rejected reply and feedback comment).

Detection is regular expressions plus validators, in priority order (the first detector
to claim a span keeps it):

- secrets: PEM private-key blocks (whole block), JWTs and bearer tokens, API keys in the shapes
  detect-secrets' vendor plugins know plus the vendors' documented shapes it lacks
  (``dataprep.key_shapes``; whole tokens only, and an ``sk-`` key needs a digit, so
  ``sk-learn-compatible`` is left alone), 32-64 hex digits after an API-key header or field, a UUID or long
  base64 after a header or variable naming a key or token ("X-Postmark-Server-Token: ...",
  ``AZURE_STORAGE_KEY=...==``), AWS secret access keys (40 base64 characters mixing cases and digits, in a
  text that says AWS: an AWS word, key id, SDK or error), IP addresses (before passwords: sshd's "Failed
  password for dawn from 2001:db8::1" holds none), passwords stated in text in
  several languages ("my password is hunter", "pwd: correcthorse", "password was set to X",
  "pass: Winter2024!", a quoted passphrase with spaces, ``://user:pass@host`` (an "@" in the password
  too), "login is jdoe / letmein", ``basic_auth``, compounds and field names ("WLAN-Passwort lautet
  jetzt ...", ``"temporary_password": ...``), "... the new one is Kx9!mPq2", "the guest one is ...",
  "la antigua era ...", "set it to 'mango tango'", "the password you sent (Bl4ckbird_77)", "senha incorreta
  (mamma1962!)", ``--password=...``, ``mysql -pS3cret``, ``redis-cli -a S3cret``, ``curl -u user:S3cret``, a
  Wi-Fi code, "lösenordet är ...", "hasło ... to ..."), keys and tokens after the word that names them, other
  keyword secrets (PIN, one-time codes: these need a digit), and long random
  tokens by character mix and Shannon entropy (not CamelCase words, not hex hashes);
- e-mail addresses, including unicode (IDN) ones;
- IBANs in any case and spacing (mod-97 check, ``stdnum.iban``), card numbers (Luhn and a
  card-network prefix), order and account numbers next to their keyword (a card number after
  "account" is a card);
- US SSNs with dashes, spaces or dots (and nine bare digits a few words after "SSN", "social" or
  "social security", or as a JSON ``"ssn"`` value), UK National Insurance numbers (valid prefixes;
  any two letters next to the keyword, like HMRC's example "QQ 12 34 56 C"), other countries' personal
  numbers after the word that names them ("BSN", "personnummer", "PESEL", "DNI", "codice fiscale",
  "numéro de sécurité sociale", "Steuer-ID", ID cards and more, or a JSON key: ``"pesel"``, ``"cpr"``; not a
  date there, nor past the next JSON field or sentence), passport numbers and
  dates of birth next to their keyword in English, German, French, Spanish, Italian, Dutch,
  Portuguese, Swedish, Danish, Norwegian, Finnish, Polish and Czech (dates written with numbers in any order and separator, or with a month word in any
  language: "5th of June, 1971", "3 de marzo de 1990", "14. Februar 1975", "5-Jun-1971"; German
  and Dutch "am 5. Mai 1970 geboren" with the keyword after);
- IPv4/IPv6 addresses (``ipaddress``; not 4-part numbers after "build", "version", "python",
  "section", "chapter" and the like, not "0.0.0.0" or loopback, not byte strings like a
  certificate serial "0A:3F:91:7C:22:5B:E0:14");
- phone numbers of every region in ``phone_regions``, with or without ``+`` (Google's
  libphonenumber metadata via ``phonenumbers``; a number without separators and without
  ``+`` or a trunk ``0`` must be valid in the first region, and a national number of a region
  that writes a trunk ``0`` needs it unless the region's formats leave it out (India) or the area
  code is in brackets (Brazil's "(11) 98765-4321"); not a run right after "#", a currency sign, an
  id word ("ticket", "invoice", "tracking", "order", "policy", "SKU" and the like) or a carrier
  ("FedEx", "BRT", "Spedizione"), nor a date with a time, thousands grouped with dots, a decimal
  ("3.14159265"), a document numbered by year ("2024/1187", "2024-000417"), a slash not after a
  trunk ``0`` ("PL 17907/0096"), or an unclosed bracket ("ERROR 1045 (28000)"));
- postal addresses: US street addresses, addresses ending in a UK postcode, a US state and ZIP,
  an Australian state and postcode or an Indian PIN, European street + postcode + city
  (DE, FR, ES, IT, NL, PT, SE "411 38", PL "31-019" and its "m." flats, Dutch "318-II", and the four-digit
  postcodes of AT, CH, BE, DK with Danish floors "st. tv."), Brazilian addresses
  with their CEP ("São Paulo - SP, 01304-001"), and PO boxes (PO Box, Postfach, Postbus, Apartado
  de Correos, Caixa Postal);
- personal names where logs carry them: greetings and thanks in many languages, in any case before a known
  first name ("Hi Maria,", "Bom dia Joana", "Dear Mr. Okafor", "M. Girard", "thx Ngozi!!"),
  sign-offs and "--" signature blocks ("Thanks,\\nJames", "Fiona MacLeod | Accountant"), a known
  first name ending the text after a sentence or a dash ("Can you sort it? Morgan", "thx — Jess"),
  introductions ("my name is", "I'm Tom", "this is Kenji Watanabe from Acme", "Tobias from your
  team"), relations and requests, with every name of a list ("my colleague Fatima", "tell Chen and
  Abdullah"), roles ("the practice manager is Grace Nakamura", "On-call nurse: ..."), possessives
  ("Olivia's"), titles, initials with a surname ("K. Vogel"), "Name: ..." / "From: ..." labels, every
  name of a "cc:" or "Attendees:" list, fields that hold a name whatever it is (``"first_name":
  "Yuki"``, "full name Olumide Bakare", "Kontoinhaber ...", "**Name:** ...") and other name labels
  (also in lower case or capitals: "name: rosa delgado", "name on card WEI ZHANG"), user names made
  of a name after their label, in a URL or as a whole field ("username: jbecker", "mi usuario es
  mferrer", ``mysql://tgarcia:...@``, ``kwame.mensah``), first and last names joined by a dot
  anywhere ("cn=mei.lin", ``"operator": "nadia.petrova"``), a whole field of two parts joined by
  "_" or "." when one is a known name and neither an everyday word (``nkechi_okafor``), and a known
  first name followed by a surname, also after capitalised nouns ("das Passwort von Lena Vogel"):
  a surname on the lists, or a word that is none of the 10,000 most frequent words of English,
  German, French, Spanish, Italian, Portuguese or Dutch (``wordfreq``: "Ngozi Okonjo", "Harriet
  Osei-Bonsu"; not "Hugo Boss", "Jasper Pro"), or a first name that is an everyday word before a listed
  surname ("Hope Sandoval", "Will Harper"), person keys of JSON in several languages (``"klient"``,
  ``"medewerker"``, ``"traveller"``), sshd's "Failed password for Rachel from", a URL's user ("https://Anna:
  ...@"), and the first name of a full name found, where it stands alone later in the text ("on behalf of
  Joy Adeyemi ... sign as 'Joy'"). Names are Faker's person
  lists across its locales, as written, without accents ("Aurelie") and, from Cyrillic, Greek,
  Chinese, Korean, Georgian and Armenian, in Latin letters (``anyascii``: "Wei", "Petrova"), and
  gender-guesser's names of 54 countries minus the everyday words of seven languages ("Beste",
  "Gentile"); first names minus common English words ("Will", "May"). Teams and companies that sign ("Best,\nAcme
  Billing", "Talent Team") are not names, nor is a label's one word that no name list holds
  ("Customer: Premium").

Beyond the detectors' own patterns: a value under a key, column, form label, key=value field, XML element
or mail header that names its kind (``dataprep.pii_fields``) is that kind first; names in scripts
without capitals are found by what stands around them (``dataprep.pii_scripts``); after a name on its
line, a date a dozen years back or more is a date of birth and a cell whose country's check digits hold
is a personal number (``person_record_dates``, ``person_record_ids``); and a passport or personal
number found brings the one of the same shape right after it (``SeriesDetector``: a couple's, a
family's).

Speed: detectors look only where they can match (near their keyword, a digit run, an "@"), and one
whose hints stand in most texts (addresses, cards, checked national ids, IPv4 addresses, IBANs) only in a
text that holds what every match of it holds (``needing``), and a name rule only where its hint stands.
The keyword searches run on RE2 (``google-re2``), one automaton for all of a detector's
keywords, so a 200 MB line is searched in about a second per keyword list instead of minutes;
ASCII text is handed to RE2 as bytes (``Text.spans``). Time grows linearly with the text and
with the values found in it.

Not detected: names with no context and no known first name ("to Olu Adeyemi"), a known first
name as the subject of a sentence ("Helen opened a ticket") or in a CSV row, names in lower case
or all capitals outside a label, names from Arabic, Hebrew or Indic scripts that Faker lists only
in those scripts ("Priyanka", "Kerem" are on no list), user names in running text after other words
("Your account rgupta is unlocked"), names in prose in scripts without capitals and with no cue, a
whole field that is one word made of an initial and a surname
(``jbecker``, ``zdlamini``: as many English words split that way, "cluster", "parents"), user names
not made of names on the lists (``NguyenVanAn``), places and products that read as a first name
and a rare word ("Washington Dulles", "Marshall Stanmore"), passwords with no keyword near
them, a plain word with no verb ("my password Rosebud stopped working", "pass sakura-blossom") or
after "it's either", national IDs with weak check digits and no word, field or name around them,
licence plates, dates that are neither next to a birth keyword nor after a name on its line,
addresses with no postcode and no street-type word, in lower case, or with the postcode
after the city outside the US, UK, AU, IN and Brazil ("Beirut 1103"), vendor keys with no prefix
and no key header or field name before them (a bare 40-character token), and secrets with no
keyword that look like words.
We chose this over presidio-analyzer and scrubadub: both want spaCy/NLTK models that
cannot be downloaded offline, and their pattern recognizers are the same regexes at a
fraction of the speed. spaCy's small English model (a PyPI re-upload that does install offline)
was measured as a name detector on our five tuning sets: person precision 0.40-0.57, recall
0.42-0.66, 430 texts/s; added to the rules it lifts one set's name recall from 0.80 to 0.88 and
drops name precision to 0.58, so it is not used.

Text that is a JSON object or array (tool arguments, tool results) is scrubbed value by
value, so a placeholder never breaks the JSON or swallows an escape sequence; it is also read
whole, so a value whose only clue is its key (``{"dob": "1984-07-09"}``) is found.
"""

from __future__ import annotations

import calendar
import datetime
import importlib
import ipaddress
import json
import math
import pkgutil
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

import orjson
import phonenumbers
import re2
from stdnum import iban, luhn
from stdnum.exceptions import ValidationError

from .errors import UsageError
from .record import Record
from .key_shapes import API_KEY, BEARER_TOKEN, TOKEN
from .lexicons import kept
from .pii_fields import PHONE_LABEL, field_spans, labeled_values
from .pii_scripts import script_names
from .re2_hints import HINTS, compiled_re2
from .record_fields import Walker, map_record_texts, pseudonym

#: A validator turns a matched value into the form that identifies it (so "+1 415 555 0123"
#: and "(415) 555-0123" get one placeholder), or None when the match is not really PII.
Validator = Callable[[str], "str | None"]


class Text:
    """A text and the cheap facts about it that tell detectors where to look, each worked out once."""

    __slots__ = ("value", "taken", "_lower", "_digit", "_digit_runs", "_matches", "_ascii_bytes", "_labeled", "_occurring")

    def __init__(self, value: str, taken: Taken | None = None):
        self.value = value
        self.taken = taken  # what earlier detectors claimed: a later one need not look there
        self._lower: str | None = None
        self._digit: bool | None = None
        self._digit_runs: list[Window] | None = None
        self._matches: dict[int, list[Window]] = {}
        self._ascii_bytes: dict[bool, bytes] = {}  # the text (False) or its lower case (True), when ASCII
        self._labeled: list[tuple[str, int, int]] | None = None
        self._occurring: dict[bool, frozenset[int]] = {}  # which hints occur in the text (False) or its lower case

    @property
    def lower(self) -> str:
        """The text in lower case, each character where it was: keyword positions found in it hold."""
        if self._lower is None:
            self._lower = lower_in_place(self.value)
        return self._lower

    @property
    def has_digit(self) -> bool:
        if self._digit is None:
            self._digit = DIGIT.search(self.value) is not None
        return self._digit

    @property
    def digit_runs(self) -> list[Window]:
        """Where seven or more digits and separators stand in a row: every phone, card and SSN
        number lies inside one."""
        if self._digit_runs is None:
            self._digit_runs = self.spans(DIGIT_RUN) if self.has_digit else []
        return self._digit_runs

    @property
    def labeled(self) -> list[tuple[str, int, int]]:
        """(label, start, end) of each JSON value, table cell and "label: value" line (``dataprep.pii_fields``)."""
        if self._labeled is None:
            self._labeled = labeled_values(self.value)
        return self._labeled

    def matches(self, pattern: Any) -> list[Window]:
        """Where ``pattern`` (``re`` or ``re2``) matches, in order: one pass however many
        candidates ask about it."""
        key = id(pattern)  # not the pattern: hashing a long ``re`` pattern hashes its whole program
        if key not in self._matches:
            self._matches[key] = self.spans(pattern)
        return self._matches[key]

    def has(self, pattern: Any, lower: bool = False) -> bool:
        """Whether ``pattern`` matches somewhere in the text, or its lower case; for the patterns of
        ``compiled_re2``, one pass tells it for all of them."""
        index = _hint_index(pattern)
        if index is None:
            return pattern.search(self.lower if lower else self.value) is not None
        return index in self.occurring(lower)

    def occurring(self, lower: bool) -> frozenset[int]:
        """The numbers of the ``compiled_re2`` patterns that occur in the text, or in its lower case."""
        if lower not in self._occurring:
            self._occurring[lower] = HINTS.occurring(self.lower if lower else self.value)
        return self._occurring[lower]

    def spans(self, pattern: Any, lower: bool = False) -> list[Window]:
        """Where ``pattern`` (``re`` or ``re2``) matches the text, or its lower case, in order."""
        if _hint_index(pattern) is not None and not self.has(pattern, lower):
            return []
        if isinstance(pattern, re2._Regexp):
            return [m.span() for m in pattern.finditer(self.re2_haystack(lower))]
        return [m.span() for m in pattern.finditer(self.lower if lower else self.value)]

    def re2_haystack(self, lower: bool) -> str | bytes:
        """The text, or its lower case, for RE2 to read: as bytes when ASCII, so the offsets are the same
        and its wrapper no longer converts each one from bytes to characters (a third of the time on a
        long text)."""
        haystack = self.lower if lower else self.value
        if not haystack.isascii():
            return haystack
        if lower not in self._ascii_bytes:
            self._ascii_bytes[lower] = haystack.encode("ascii")
        return self._ascii_bytes[lower]


#: Where in a text a detector's regex is worth running. Scanning every text whole with every
#: regex is what makes scrubbing slow; most texts hold no PII, and a detector's matches can only
#: be near what it needs (an "@", a keyword, a run of digits).
def _hint_index(pattern: Any) -> int | None:
    """Where ``compiled_re2`` counted ``pattern`` in, if it did; an ``re`` pattern is not looked up:
    hashing one hashes its whole program."""
    return HINTS.index.get(pattern) if isinstance(pattern, re2._Regexp) else None


Window = tuple[int, int]
# seven digits at least: the shortest phone number worth a placeholder
DIGIT, DIGIT_RUN = re.compile(r"\d"), compiled_re2(r"\d(?:[ ()./-]*\d){6,}")


class Where:
    """Where in a text a detector's regex is worth running, and the hints (``compiled_re2``
    patterns, each looked for in the text or in its lower case) without one of which it finds
    nowhere. A text's hints are known from one pass for all of them, so the scrubber skips a
    detector with none in a set lookup: most of a short text's detectors, which otherwise cost a
    few µs of Python each."""

    __slots__ = ("windows", "hints", "in_text", "in_lower")

    def __init__(self, windows: Callable[[Text], Iterable[Window]], *hints: tuple[Any, bool]):
        self.windows = windows
        self.hints = hints  # none: look whatever occurs
        # the hints' numbers in ``HINTS``, looked for in the text and in its lower case
        self.in_text = frozenset(_hint_index(hint) for hint, lower in hints if not lower)
        self.in_lower = frozenset(_hint_index(hint) for hint, lower in hints if lower)

    def __call__(self, text: Text) -> Iterable[Window]:
        return self.windows(text)

    def may_find(self, in_text: frozenset[int], in_lower: frozenset[int]) -> bool:
        """False only when none of the hints occurs (the numbers of those that occur in a text and in its
        lower case): then there is nowhere to look."""
        return not self.hints or not (self.in_text.isdisjoint(in_text) and self.in_lower.isdisjoint(in_lower))


def whole_if(test: Callable[[Text], bool], *hints: tuple[Any, bool]) -> Where:
    return Where(lambda text: [(0, len(text.value))] if test(text) else [], *hints)


def containing(*needles: str) -> Where:
    hint = compiled_re2("|".join(map(re.escape, needles)))
    return whole_if(lambda text: text.has(hint), (hint, False))


def near(*needles: str, before: int, after: int, lower: bool = False) -> Where:
    """Windows around each occurrence of a needle (found in the lowercased text if ``lower``)."""
    return after_keyword("|".join(map(re.escape, needles)), before=before, after=after, lower=lower)


def after_keyword(regex: str, before: int = 0, after: int = 120, lower: bool = True) -> Where:
    """Windows around each match of ``regex`` (in the lowercased text if ``lower``). RE2 runs one
    automaton over the text whatever the number of alternatives, where ``re`` tries each of them
    at every position: a 200 MB line is searched in about a second instead of minutes. RE2 has no
    lookarounds, so a window may reach a character further than the keyword."""
    hint = compiled_re2(regex)

    def windows(text: Text) -> list[Window]:
        return merged([(max(start - before, 0), end + after) for start, end in text.spans(hint, lower)])
    return Where(windows, (hint, lower))


def merged(windows: list[Window]) -> list[Window]:
    out: list[Window] = []
    for start, end in sorted(windows):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def either(*wheres: Where) -> Where:
    """The windows of every one of ``wheres``."""
    hints = () if not all(where.hints for where in wheres) else [hint for where in wheres for hint in where.hints]
    return Where(lambda text: merged([window for where in wheres for window in where(text)]), *hints)


def around_digit_runs(before: int = 2) -> Where:
    """Windows around the digit runs; ``before`` reaches back to a keyword or a "+(" that opens
    a phone number before its first digit (lookaheads look two characters past the run)."""
    return Where(lambda text: merged([(max(start - before, 0), end + 2) for start, end in text.digit_runs]),
                 (DIGIT_RUN, False))


def needing(needle: Any, where: Where) -> Where:
    """``where``, in a text that holds ``needle``: an RE2 pattern every match of the detector's regex
    holds, told with the other hints in one pass, where ``where``'s own hints are near most texts (a
    number, a capital) and its regex costs tens of µs to find nothing there."""
    return Where(where.windows, (needle, False))


@dataclass(frozen=True, slots=True)
class Detector:
    name: str
    kind: str  # the placeholder's type: <KIND_n>
    pattern: re.Pattern[str]
    validate: Validator | None = None
    where: Where | None = None  # None: the whole text
    shrink: bool = False  # on a failed validation, retry without the last space-separated group
    veto: re.Pattern[str] | None = None  # a match this close to a value says it is something else
    fields: bool = False  # also every value under a JSON key or table column that names this kind
    #: the value inside a field's text ("Születési dátum: 1959. április 11., TAJ ..."): None, the whole text
    field_value: re.Pattern[str] | None = None
    #: the regex's ``value`` groups, named once: hashing a long compiled ``re`` pattern to look them up
    #: hashes its whole program, more time than most searches take
    value_groups: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_groups", tuple(name for name in self.pattern.groupindex if name.startswith("value")))

    def field_spans(self, text: Text) -> Iterator[tuple[int, int, str]]:
        for start, end in field_spans(text.value, self.kind, text.labeled, self.field_value) if self.fields else ():
            value = text.value[start:end]
            identity = self.validate(value) if self.validate is not None else value
            if identity is not None:
                yield start, end, identity

    def candidates(self, text: Text) -> Iterable[Window]:
        """Spans the regex matches; a ``value`` group (or ``value_…``) narrows the span to the value."""
        groups = self.value_groups
        windows = self.where(text) if self.where is not None else [(0, len(text.value))]
        for start, end in windows:
            # finditer from pos to endpos: lookbehinds still see the text before the window
            for match in self.pattern.finditer(text.value, start, end):
                # a pattern may have alternatives with and without a value group
                yield next((match.span(group) for group in groups if match.start(group) >= 0), match.span())

    def vetoed(self, text: Text, start: int, end: int) -> bool:
        """A veto match lies within VETO_BEFORE characters before the value and VETO_AFTER after it, and not
        past a double quote or an "=" after it: there it is the next field's ("client_ip": "203.0.113.47",
        "app_version": ...; "ip=91.67.225.193 ua=Mozilla/5.0 build=2024.11.0192")."""
        if self.veto is None:
            return False
        vetoes = text.matches(self.veto)
        # matches do not overlap, so the first one starting late enough also ends soonest
        index = bisect_left(vetoes, (start - VETO_BEFORE, 0))
        # before the value, an earlier field's word is not this value's: past its own key ('"version": "') stand
        # at most two quotes ('"app_version": "3.14.2", ... "client_ip": "86.12.214.77"), and a key=value log
        # line's value has its own key after a space ("user=v.ivanova@lumenpay.eu src=93.184.12.66")
        while index < len(vetoes) and vetoes[index][1] <= start and earlier_field(text.value[vetoes[index][1]:start]):
            index += 1
        next_field = NEXT_FIELD.search(text.value, end, end + VETO_AFTER)
        return index < len(vetoes) and vetoes[index][1] <= (next_field.start() if next_field else end + VETO_AFTER)

    def spans(self, text: Text) -> Iterable[tuple[int, int, str]]:
        """(start, end, identity) of each validated match (the scrubber reads ``field_spans`` first)."""
        for start, end in self.candidates(text):
            value = text.value[start:end]
            if self.vetoed(text, start, end):
                continue
            if self.validate is None:
                yield start, end, value
                continue
            identity = self.validate(value)
            while identity is None and self.shrink and (cut := value.rfind(" ")) > 0:
                value = value[:cut]
                identity = self.validate(value)
            if identity is not None:
                yield start, start + len(value), identity


VETO_BEFORE, VETO_AFTER = 80, 30
OWN_KEY = re.compile(r"\s[\w.-]+=\s*\Z")  # " src=" right before a value


def earlier_field(between: str) -> bool:
    """What stands between a veto word and a value shows the word is another field's."""
    return between.count('"') > 2 or OWN_KEY.search(between) is not None
#: the next field ('"', "=", or where a key=value log line's next key starts), or the sentence's end:
#: "...:5432/eshop. Je to v pořádku", "remote_addr=81.50.1.254 build=48df785"
NEXT_FIELD = re.compile(r'["=]|\.\s|\s[\w.-]+=')
KEYWORD_REACH = 40  # "purchase order number is " and the like


# -- phone numbers -----------------------------------------------------------------------------
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "AU", "IN", "CA", "BR", "MX", "PL", "SE", "PT")


@dataclass(frozen=True, slots=True)
class PhoneDetector(Detector):
    """libphonenumber's matcher looks inside each digit run: it finds "415-555-0123" in
    "415-555-0123 2" and nothing in "2024-03-15 10:30". A run written the way phone numbers
    are written ("+1 692-604-7232", "(692) 604-7232") counts when it has a possible length,
    even if its area code is not assigned: made-up and mistyped numbers are still someone's.
    A national number ("07700 900123", "06 12 34 56 78") counts when it is valid in one of
    ``regions``, tried in order; its identity is the E.164 form, so one number written two
    ways gets one placeholder."""

    regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS

    def spans(self, text: Text) -> Iterable[tuple[int, int, str]]:
        for start, end in self.candidates(text):
            # a card, IBAN or SSN found first: libphonenumber is too slow to ask about it again
            if text.taken is not None and not text.taken.free(start, end):
                continue
            # "caller ID 555.959.1163": the phone word outweighs the id word
            if self.labelled_otherwise(text, start, end) and not phone_cued(text, start, end):
                continue
            inner = start
            if text.value[start] == "(" and text.value[end:end + 1] == ")" and ")" not in text.value[start:end]:
                inner += 1  # a number in brackets: "Femke (06-12 87 43 90)"
            found = phones_in(text.value[inner:end], self.regions)
            if not found and phone_cued(text, start, end):  # a phone word vouches for a bare run too: "Tel. 613037683"
                found = phones_in(text.value[inner:end], self.regions + CUED_PHONE_REGIONS, bare=True)
            for offset, stop, identity in found:
                yield inner + offset, inner + stop, identity

    def labelled_otherwise(self, text: Text, start: int, end: int) -> bool:
        """A keyword or currency sign right before the run says it is an id or an amount ("ticket
        4155550123", "€ 1 234 567"); one further away may label something else ("ticket 12, call ...")."""
        if self.veto is None:
            return False
        # a veto ends just after the run's first digit (after "+(" at most); searched near each candidate,
        # since most texts hold few phone-like runs and many keywords
        before = max(start - KEYWORD_REACH, 0)
        nearby = self.veto.finditer(text.value[before:start + 3])  # RE2 would re-encode the whole text
        return any(match.end() > start - before for match in nearby)


#: a word right before a number that says it is a phone ("Tlf. 66 14 28 90", "ring 924 17 380", "gsm 0475 ...")
PHONE_WORD = re.compile(r"(?i:\b(?:tlf|tel|tél|telefon\w*|t[ée]l[ée]phone|tel[ée]fono|telefone|phone|mobile?|mob|mobil\w*"
                        r"|cell|cel|celular|m[óo]vil|gsm|handy|ring(?: på| til)?|call|caller[ -]?id|puhelin|puh|whatsapp|hívj"
                        r"|sun[aă]|ara|msisdn|wa_id|sms(?: til| to| an| à)?)\.?:?"
                        r"|연락처[은는]?|전화(?:번호)?[은는]?|電話(?:番号)?|連絡先[はがを]?|फ़?ोन|मोबाइल|(?:电话|手机号?|联系电话)[是为]?"
                        r"|телефон|тел\.|τηλ(?:έφωνο)?\.?|الهاتف|هاتف|điện thoại|sđt|telp\.?|hp)"
                        # a JSON key or an SQL column: '"телефон": "8 903 ...', "phone = '15921887304'"
                        r"(?:[ \t]+[^\W\d]+){0,3}[\"']?[ \t]*[:=]?[ \t]*[\"']?\(?\Z")
#: regions a cued number may be from when none of ``phone_regions`` has it: the Nordics, the rest of Europe's
#: eight-digit and short national numbers, and the other regions logs come from
CUED_PHONE_REGIONS = ("DK", "NO", "FI", "BE", "AT", "CH", "IE", "LU", "IS", "CZ", "SK", "HU", "RO", "GR", "HR", "SI",
                      "BG", "TR", "IL", "AE", "ZA", "NZ", "AR", "CL", "CO", "PE", "JP", "KR", "CN", "HK", "SG", "PH",
                      "IN", "RU", "UA", "KZ", "BY")
AREA_CODE = re.compile(r"\(\d{2,5}\)[ .-]?\d")  # "8 (926) 555-22-10", "(11) 98412-7730"


def phone_cued(text: Text, start: int, end: int) -> bool:
    """A phone word stands right before the run, the run is a field labelled as a phone, or it holds an
    area code in brackets. Asked only when it decides something: most runs need no cue."""
    return PHONE_WORD.search(text.value, max(start - 24, 0), start) is not None or any(
        label_start <= start < label_end and PHONE_LABEL.fullmatch(label) for label, label_start, label_end in text.labeled
    ) or AREA_CODE.search(text.value, start, end) is not None



@lru_cache(maxsize=65536)  # logs repeat the same numbers, and libphonenumber is the slow part
def phones_in(run: str, regions: tuple[str, ...], bare: bool = False) -> tuple[tuple[int, int, str], ...]:
    if sum(ch.isdigit() for ch in run) < 7 or NOT_A_PHONE.fullmatch(run):
        return ()
    whole = parsed(run, regions[0])
    if whole is not None and phonenumbers.is_valid_number(whole):
        return ((0, len(run), e164(whole)),)  # the run is one number: the matcher costs ten parses
    matcher = phonenumbers.PhoneNumberMatcher(run, regions[0], leniency=phonenumbers.Leniency.VALID)
    found = tuple((match.start, match.end, e164(match.number)) for match in matcher)
    if found:
        return found
    if bare and (number := international_without_plus(run)):  # a WhatsApp id or an MSISDN: "5531988124407"
        return ((0, len(run), e164(number)),)
    number = national_number(run, regions[1:], bare) or (
        possible_number(run, regions[0]) if run.startswith("+") or PHONE_SHAPED.fullmatch(run) else None)
    return ((0, len(run), e164(number)),) if number is not None else ()


PHONE_SHAPED = re.compile(r"\+\d{1,3}[ .-]\(?\d{1,4}\)?(?:[ .-]\d{2,4}){2,4}|(?:\+?1[ .-])?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}")
#: dates (and a time after one), year ranges, versions (7.3.1.2045; not "06.98.76.54.32", whose leading 0 is a
#: trunk prefix), amounts (61320.00, 1.234.567), decimals (3.14159265), ZIP+4 codes, runs ending in a one-digit
#: group (ISBNs, "06/03/2024 4"), documents numbered by year ("2024/1187", "2024-000417"), a slash that does
#: not follow a trunk "0" ("PL 17907/0096"; "030/1234567" is Berlin) and an unclosed bracket ("ERROR 1045
#: (28000)"): valid national numbers in some region, but not written as phones
NOT_A_PHONE = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}(?:[ T].*)?|(?:19|20)\d\d-(?:19|20)\d\d|(?!0\d)\d+(?:\.\d+){3,}"
                         r"|\d+\.\d{1,2}|\d{1,3}\.\d{5,}|\d{1,3}(?:\.\d{3}){2,}|\d{5}-\d{4}|.*\D\d"
                         r"|(?:19|20)\d\d[ /-].*|[1-9][^/]*/.*|[^(]*\).*|.*\([^)]*")
BARE_DIGITS = re.compile(r"[1-9]\d+")  # no separators, no "+", no trunk "0": order ids and amounts look like this


def national_number(run: str, regions: tuple[str, ...], bare: bool = False) -> phonenumbers.PhoneNumber | None:
    """The number ``run`` stands for in the first of ``regions`` where it is valid; a bare run
    of digits must be valid in the first region, which the caller has tried already, unless
    ``bare`` (a phone word stands before it). A region
    whose numbers are written with a trunk "0" ("07700 900123") needs it, unless its formats say
    it may be left out (India's mobiles): "7712 3456 7890" is a tracking number, not a German phone."""
    if not bare and BARE_DIGITS.fullmatch(run.strip("()")):
        return None
    for region in regions:
        number = parsed(run, region)
        if number is None:
            return None
        if phonenumbers.is_valid_number_for_region(number, region) and written_with_trunk(run, region):
            return number
    return None


def international_without_plus(run: str) -> phonenumbers.PhoneNumber | None:
    """A number written with its country code but no "+", as messaging apps log them: valid once "+" is put back."""
    if not re.fullmatch(r"[1-9]\d{10,14}", run):
        return None
    number = parsed("+" + run, "ZZ")
    return number if number is not None and phonenumbers.is_valid_number(number) else None


@cache
def trunk_prefix_needed(region: str) -> str:
    """The trunk prefix a national number of ``region`` is written with, "" when none or optional."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.national_prefix != "0":
        return ""
    optional = any(form.national_prefix_optional_when_formatting for form in metadata.number_format)
    return "" if optional else "0"


def written_with_trunk(run: str, region: str) -> bool:
    # an area code in brackets is written that way only in phone numbers: "(11) 98765-4321" in Brazil
    return run.startswith(("(", trunk_prefix_needed(region)))


def possible_number(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    number = parsed(text, region)
    return number if number is not None and phonenumbers.is_possible_number(number) else None


def parsed(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# -- personal names ----------------------------------------------------------------------------
@cache
def common_words() -> frozenset[str]:
    """Everyday English words (Faker's lorem list) plus month and day names: a capitalised one
    is a sentence start or a title more often than a name."""
    from faker.providers.lorem.en_US import Provider as Lorem

    calendar_words = [*calendar.month_name[1:], *calendar.day_name, *calendar.month_abbr[1:], *calendar.day_abbr]
    return frozenset(word.casefold() for word in [*Lorem.word_list, *calendar_words, *NOT_NAMES])


#: languages whose everyday words are not taken for surnames, and how many of each language's most
#: frequent words count as everyday (wordfreq): "Cake", "Boss", "Betrag" are; "Okonjo", "Galli" are not
EVERYDAY_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl")
EVERYDAY_WORDS_PER_LANGUAGE = 10_000


@cache
def everyday_words() -> frozenset[str]:
    """The most frequent words of the languages logs are mostly written in (built once a machine:
    see lexicons.py)."""
    return kept("everyday-words", _everyday_words)


def _everyday_words() -> frozenset[str]:
    from wordfreq import top_n_list

    return frozenset(word for language in EVERYDAY_LANGUAGES
                     for word in top_n_list(language, EVERYDAY_WORDS_PER_LANGUAGE))


#: words a greeting or sign-off is followed by that are not names
NOT_NAMES = ("there", "team", "all", "everyone", "everybody", "folks", "guys", "sir", "madam", "customer",
             "support", "again", "both", "admin", "colleagues", "thanks", "regards", "cheers", "hello",
             "siri", "alexa", "cortana",  # voice assistants are greeted like people
             "rua", "calle", "via", "rue", "santa", "santo", "san", "saint", "sankt", "st",  # streets and places
             "sie", "ihr", "ihre", "ihnen", "wir", "du")  # German's polite pronouns are capitalised (and "Sie" is a name)


@cache
def first_names() -> frozenset[str]:
    """First names from Faker's person providers in every locale (see ``faker_names``) and from
    gender-guesser's 40,000-odd names of 54 countries ("Małgorzata", "Yevgenia", "Rustam", "Priyanka"),
    minus everyday English words ("Will", "Hope")."""
    common = common_words()
    return frozenset(name for name in all_first_names() if name.casefold() not in common)


@cache
def all_first_names() -> frozenset[str]:
    return kept("first-names", lambda: frozenset(faker_names("first") | guesser_names()))


def guesser_names() -> set[str]:
    """The names of gender-guesser's dictionary (about 0.25 s to read, once per process), minus the
    everyday words of the languages logs are written in ("Beste", "Gentile", "Mein", "San", "West"),
    titles ("Dona", "Pani") and greetings: its list holds every name of 54 countries."""
    from gender_guesser.detector import Detector as GenderDetector

    everyday, greeting_or_title = everyday_words(), re.compile(rf"{TITLE}|{GREETING}")
    return {written for name in GenderDetector(case_sensitive=True).names for written in latin_forms(name)
            if len(written) > 2 and NAME_WORD.fullmatch(written) and written.casefold() not in everyday
            and not greeting_or_title.fullmatch(written)}


def opens_with_everyday_first_name(text: str, words: list[Window]) -> bool:
    """The words open on a first name that is also an everyday word ("Hope", "Will", "Bill") before a
    listed surname that is not one ("Hope Sandoval", "Will Harper"; not "Will Power")."""
    if len(words) < 2:
        return False
    first, surname = (text[start:end] for start, end in words[:2])
    return (first in all_first_names() and surname in last_names() and surname.casefold() not in common_words()
            and surname.casefold() not in everyday_words())


@cache
def last_names() -> frozenset[str]:
    return kept("last-names", lambda: frozenset(faker_names("last")))


def faker_names(role: str) -> set[str]:
    """Every name in the ``role`` ("first" or "last") name lists of Faker's person providers
    ("first_names_female", "last_romanized_names", "unisex_last_names"), as written and as people
    type them in logs: without accents ("Jurgen", "Aurelie", "Nguyen") and, for scripts whose
    transliteration reads like the name, in Latin letters ("Wei", "Petrova", "Minjun")."""
    import faker.providers.person as person

    attribute_of_role = re.compile(rf"(?:[a-z]+_)?{role}_(?:romanized_)?names?(?:_[a-z]+)*")
    names: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        for attribute in dir(provider):
            if attribute_of_role.fullmatch(attribute) and isinstance(getattr(provider, attribute), (tuple, list, dict)):
                names.update(name for name in getattr(provider, attribute) if isinstance(name, str))
    return {written for name in names for written in latin_forms(name) if NAME_WORD.fullmatch(written)}


def latin_forms(name: str) -> set[str]:
    """``name`` in Latin letters: itself and without accents, or transliterated from Cyrillic, Greek,
    Chinese, Korean, Georgian or Armenian; scripts that leave out vowels (Arabic, Hebrew) or that
    ``anyascii`` spells letter by letter (Devanagari, Thai) give no usable form."""
    from anyascii import anyascii

    if name.isascii():
        return {name}
    if all(ord(char) < 0x250 for char in name):  # Latin
        return {name, anyascii(name)}
    if all(unicodedata.name(char, "").startswith(READABLE_SCRIPTS) for char in name):
        return {anyascii(name).capitalize()}
    return set()


#: scripts whose ``anyascii`` transliteration is how the name is written in Latin letters
READABLE_SCRIPTS = ("CYRILLIC", "GREEK", "CJK UNIFIED", "HANGUL", "GEORGIAN", "ARMENIAN")


# Latin Extended-A, Vietnamese's ơ and ư, and Extended Additional ("Nguyễn", "Phương") mix both cases
UPPER, LOWER = "A-ZÀ-ÖØ-Þ\u0100-\u017f\u01a0\u01af\u1e00-\u1eff", "a-zß-öø-ÿ\u0100-\u017f\u01a1\u01b0\u1e00-\u1eff"
NAME_WORD_TAIL = rf"(?:['’][{UPPER}])?[{LOWER}]+(?:[{UPPER}][{LOWER}]+)?(?:[-'’][{UPPER}]?[{LOWER}]+)?"  # O'Neill
NAME_WORD = re.compile(rf"[{UPPER}]{NAME_WORD_TAIL}")
#: a name word not inside a longer word; the capital comes first so ``re`` can skip ahead to one
STANDALONE_NAME_WORD = rf"[{UPPER}](?<![\w-].){NAME_WORD_TAIL}"
PARTICLE = r"(?:de|da|di|del|della|van|von|der|den|ter|le|la|du|dos|das|al|el|bin|ibn)"
#: for RE2 hints: every character a full name and the spaces between its words may hold
NAME_CHARS = rf"[{UPPER}{LOWER}'’ \t-]"
#: for RE2 hints: what Python's ``\s`` matches (RE2's is ASCII)
PYTHON_SPACE = r"[\s\v\x1c-\x1f\x85\p{Z}]"
#: a first name and up to three more capitalised words on the same line ("Femke de Boer")
FULL_NAME = rf"{NAME_WORD.pattern}(?:[ \t]+(?:{PARTICLE}[ \t]+){{0,2}}{NAME_WORD.pattern}){{0,3}}"
TITLE = (r"(?:Mr|Mrs|Ms|Mx|Miss|Dr|Dra|Prof|Herr|Herrn|Frau|Mme|Mlle|Sr|Sra|Srta|Sig|Sig\.ra|Sig\.na|Dott|Dott\.ssa"
         r"|Dhr|Mevr|[Mm]eneer|[Mm]evrouw|[Ss]ignora|[Ss]ignor|[Ss]ig\.ra|Señora|Señor|Doña|Dona|Maître|[Mm]adame"
         r"|[Mm]onsieur|Pani|Panie|[Pp]ana|[Pp]anu|[Pp]aní|[Pp]ane|Fru|M\.|[Dd]omnul(?:e|ui)?|[Dd]oamn(?:a|ei|ă)|Dl|Dna"
         r"|Avv|Ing|Arch|Geom|Rag|anh|chị|ông|bà|Bapak|Pak|Ibu|Bu|Mbak|Mas"
         # Italian titles in lower case, Dutch and Vietnamese teachers: "sig. Esposito", "prof.ssa Conti", "juf Ilse"
         r"|sig|sig\.ra|dott|dott\.ssa|prof|prof\.ssa|juf|meester|cô|thầy)\.?")  # "M. Girard": its dot
OPTIONAL_TITLE = rf"(?:{TITLE}[ \t]+){{0,2}}"  # "Frau Dr. Aydın"
VALUE = rf"(?P<value>{FULL_NAME})"
GREETING = (r"Hi|Hello|Hey|Dear|Hallo|Hoi|Beste|Liebe|Lieber|Bonjour|Salut|Coucou|Hola|Olá|Ola|Oi|Ciao|Gentile"
            r"|Caro|Cara|Buongiorno|Buonasera|Estimad[oa]|Querid[oa]|Thanks|Thank you|Thx|Danke|Merci|Gracias"
            r"|Obrigad[oa]|Grazie|Bedankt|Good (?:morning|afternoon|evening)|Guten (?:Tag|Morgen|Abend)"
            r"|Morning|Evening|Hiya|Howdy|Greetings|Welcome|Hej|Hei|Moin|Servus|Grüezi|Grüß Gott|Salve|Bom dia"
            r"|Boa tarde|Boa noite|Buenos días|Buenos dias|Buenas tardes|Buenas noches|Bonsoir|Goedemorgen"
            r"|Goedemiddag|Goedenavond|Cześć|Witam|Dzień dobry|Merhaba|Ahoj|Namaste|Sawubona|Habari|Shalom"
            r"|Tack|Tak|Takk|Kiitos|Dziękuję|Dzięki|Děkuji|Díky|Dank je|Dank u|Welcome aboard|Welcome back|Fala"
            r"|Tjena|Tja|Hejsan|Moi|Terve|Szia|Sziasztok|Kedves|Helló|Oye|Selam|Sayın|Bună|Dragă|Drag[ăa]|Stimate"
            r"|Stimată|Siema|Hejka|Servus|Zdravím|Dobrý den|Chào|Xin chào|Kính gửi|Halo|Selamat pagi|Selamat siang"
            r"|Kære|Kia ora|Professor|Hallå|Dobrý večer|Jó napot|Kochana|Kochany|Drogi|Droga")
SIGN_OFF = (r"Thanks|Thank you|Many thanks|Cheers|Best|Best regards|Kind regards|Warm regards|Regards|Sincerely"
            r"|Yours(?: truly| sincerely)?|Cordialement|Bien à vous|Mit freundlichen Grüßen|Freundliche Grüße"
            r"|Viele Grüße|Liebe Grüße|Grüße|Gruß|Saludos|Un saludo|Atentamente|Cumprimentos|Atenciosamente"
            r"|Obrigad[oa]|Cordiali saluti|Distinti saluti|Saluti|Grazie(?: mille)?|Met vriendelijke groet(?:en)?"
            r"|Vriendelijke groet(?:en)?|Groeten|Groetjes|Merci|Gracias|Danke|Best wishes|All the best|Take care"
            r"|Talk soon|Thanks again|Thanks so much|Thanks a lot|Much appreciated|Respectfully|Warmly|Ciao"
            r"|Un abrazo|Abrazos|Saludos cordiales|Un cordial saludo|Abraços|Beijos|Bises|Amicalement"
            r"|Bien cordialement|Salutations|Herzliche Grüße|Beste Grüße|Schöne Grüße|MfG|LG|VG|Tschüss"
            r"|Hartelijke groet(?:en)?|Pozdrawiam|Mvh|Med vänliga hälsningar|Hälsningar|Hilsen|Terveisin"
            r"|Signed|Yours faithfully|Pozdrawiam serdecznie|Z poważaniem|Abraço|Cu stimă|Cu drag|Salam|Besos"
            r"|Saygılarımla|(?:İ|I)yi günler(?: dileriz)?|(?:İ|I)yi çalışmalar|Med vennlig hilsen|Venlig hilsen|Vennlig hilsen"
            r"|Ystävällisin terveisin|S pozdravem|Üdvözlettel|Mit besten Grüßen|Thx|Ta|Xoxo|Love|Hugs"
            r"|Un saludo cordial|À plus|A plus|Bisous|Φιλικά|Με εκτίμηση|Üdv|Puszi|Groetjes|Tot ziens|Trân trọng"
            r"|Saygılarımızla|Pozdrawiamy|Beijinhos|Bonne journée|Bonne soirée")
# the longest first, and a space only after a prefix: "name on card WEI ZHANG" is not "name" + "on card"
NAME_LABEL = (r"name on (?:the )?(?:card|account)|account holder|full[ _]?name|(?:(?:first|last|given|family|middle"
              r"|display|customer|client|contact|creditor|debtor|account|holder|passenger|patient|employee|card)[ _]?)?"
              r"names?|surname|nombre|nom|naam|nome|navn"
              r"|prenom|prénom|vorname|nachname|apellidos?|cognome|achternaam|voornaam"
              r"|cliente|klant|kunde|customer|employee|requester|patient|passenger|titular|holder"
              r"|applicant|agente?|cardholder|t\.n\.v\.|ten name van|pax"
              r"|contact|signed(?: by)?|sent by|owner|assignee|reporter|author|cc|bcc|attn"
              # who is on a call or chat: "Operatore: Chiara", "Konsultant: Natalia"
              r"|operatore|operador[a]?|konsultant(?:ka)?|consultant|atendente|asesor[a]?|berater(?:in)?"
              r"|conseill(?:er|ère)|klient(?:ka)?|rep")
INTRODUCTION = (r"I'm|I’m|I am|this is|it's|its|jestem|le atiende|la atiende|te atiende|le habla|tu|tutaj|hier|olen|tôi là|mình là|em là|saya|aku|sunt|ich bin|hier ist|ik ben|je suis|moi c'est|c'est|soy|sono|eu sou|sou [oa]"
                r"|he's|she's|he is|she is|er ist|sie ist|aquí|aqui|ici|qui è|hier is|speaking with|spoke with"
                r"|spoke to|talked to|talking to|chatting with|on behalf of|signed|regards from")
STATED_NAME = (r"my name is|my name's|his name is|her name is|name is|their name is|goes by|known as|mein Name ist|ich heiße|je m'appelle"
               r"|mon nom est|me llamo|mi nombre es|mi chiamo|il mio nome è|mijn naam is|ik heet|meu nome é"
               r"|chamo-me|me chamo|nama saya|tên tôi là|tên mình là|tên em là|numele meu este|mă numesc")
RELATION = (r"husband|wife|partner|son|daughter|sister|brother|mother|father|mum|mom|dad|colleague|manager"
            r"|boss|friend|landlord|landlady|nurse|doctor|driver|neighbour|neighbor|ask for|speak to|talk to"
            r"|donner à|parler à|Mann|Frau|Sohn|Tochter|Schwester|Bruder|marido|esposa|mari|femme|attn|attention"
            r"|c/o|z\. ?Hd\.|name|named|called|titular|holder|name on (?:the )?(?:card|account)"
            r"|ask|asked|tell|told|ping|cc|cc'd|cc'ing|email|e-mail|call|called|phone|text|message|contact|remind"
            r"|thank|thanked|forward to|forwarded to|assign to|assigned to|reassign to|escalate to|escalated to"
            r"|hand over to|loop in|looped in|meet|met|invite|invited|hired|fired|fiancé"
            r"|fiancée|fiance|fiancee|girlfriend|boyfriend|spouse|uncle|aunt|cousin|grandma|grandpa|grandmother"
            r"|grandfather|niece|nephew|roommate|flatmate|coworker|co-worker|teammate|supervisor|assistant"
            r"|technician|lawyer|accountant|tutor|teacher|coach|thanks to|thank you to|ring|copied|beneficiary"
            r"|in the name of|t\.n\.v\.|ten name van|au nom de|a nombre de|a nome di|im Namen von"
            r"|nonna|nonno|oma|opa|abuela|abuelo|avó|avô|grand-mère|grand-père|mormor|farmor|babcia|dziadek"
            r"|mein Kollege|meine Kollegin|mon collègue|ma collègue|mi colega|il mio collega|la mia collega"
            r"|mijn collega|meu colega|minha colega|Monsieur|Madame|Señor|Señora|Signor|Signora")
INTERJECTION = (r"sorry|thanks|thank you|hi|hello|hey|okay|ok|sure|yes|no|great|welcome|bye|certo|claro|c'est noté"
                r"|d'accord|bien sûr|natürlich|klar|perfecto|perfetto|entendido|capito|compris")
USER_LABEL = (r"user(?:[ _-]?name)?|login|logon|handle|uid|cn|user[ _-]?id|screen[ _]?name|nick(?:name)?"
              r"|benutzer(?:name)?|benutzernamen|utilisateur|identifiant|usuario|utente|gebruiker(?:snaam)?|usuário"
              r"|login name|(?:log(?:ged)?|sign(?:ed)?)[ -]?in as|sich als|-u|--user")
SURNAME_LABEL = r"surname|last name|family name|nachname|apellido|cognome|achternaam|nom de famille"
#: labels whose value is a name whatever it is (no name list needed), with or without a colon
NAME_FIELD = (r"(?:first|last|given|family|middle|full|customer|client|patient|passenger|employee|student|holder"
              r"|card|account|contact|end[ _]?user|applicant|beneficiary|recipient|payee)[ _]?names?|forename|surname"
              r"|vorname|nachname|prénom|prenom|apellidos?|cognome|voornaam|achternaam|nom de famille|kontoinhaber(?:in)?"
              r"|cardholder|account holder|name on (?:the )?(?:card|account)|titular")
#: people named by what they do: "the practice manager is Grace Nakamura", "On-call nurse: Kateryna Bondarenko";
#: not the roles software has too (tenant, host, driver, agent, owner, parent, handler, lead): logs are full of them
ROLE = (r"manager|assignee|buyer|seller|student|nurse|doctor|assessor|adjuster|lawyer|attorney|solicitor"
        r"|ceo|cto|cfo|coo|cio|ciso|founder|co-founder|policyholder|policy holder|claimant|insured|guarantor"
        r"|account holder|kontoinhaber(?:in)?"
        r"|landlord|landlady|recruiter|approver|reviewer|sponsor|guardian"
        r"|technician|engineer|advisor|adviser|consultant|representative|coordinator|supervisor|director|officer"
        r"|caseworker|therapist|dentist|physician|surgeon|pharmacist|teacher|tutor|coach|trainer"
        r"|instructor|mentor|secretary|receptionist|accountant|interviewer|recipient|payee|beneficiary|applicant"
        r"|end[ _]?user|inhaber|destinatario|empfänger|empfaenger|beneficiario"
        r"|avvocat[oa]|medico|infermier[ae]|arzt|ärztin|anwalt|anwältin|ansprechpartner(?:in)?|betreuer(?:in)?"
        r"|médecin|avocate?|infirmière|infirmier|responsable|interlocut(?:eur|rice)|abogad[oa]|médico|enfermer[oa]"
        r"|advogad[oa]|enfermeir[oa]|contactpersoon|advocaat|verpleegkundige|behandelaar")
TEAM_WORD = (r"team|office|department|dept|company|side|group|branch|desk|agency|firm|clinic|practice|school"
             r"|hr|it|accounting|accounts|finance|legal|sales|support|billing|marketing|procurement|payroll|security"
             r"|engineering|operations|ops|admissions|reception|customer service")
#: JSON keys whose value is a person, in the languages of the logs ("name" keys are NAME_FIELD's)
PERSON_KEY = (r"klient|kund|kunde|cliente|utente|medewerker|handl[äa]ggare|traveller|traveler|guest|nome_completo"
              r"|nombre_completo|nom_complet|volledige_naam|namn|naam|nome|nombre|navn|nimi|imie|imię|imie_nazwisko"
              r"|display|display_name|displayname|contact_name|agent_name|owner_name|requester|assignee|reporter"
              r"|first|last|given|family|ad_soyad|adsoyad|jmeno|jméno|nazwisko"
              r"|empleado|dipendente|mitarbeiter|employee|passenger|pasajero|passeggero|passagier|patient|paciente")
#: what a person is reported as saying or doing right after their name
REPORTED_VERB = (r"said|says|told|asked|mentioned|wrote|approved|suggested|confirmed|promised|explained|replied|texted"
                 r"|emailed|messaged|recommended|agreed|thinks|wants|needs|forgot|signed|booked|ordered|joined|prefers"
                 r"|a dit|m'a dit|hat gesagt|sagt|meinte|dijo|me dijo|disse|ha detto|zei|zegt|sagde|sade|powiedzia\w*"
                 r"|prosi\w*|napisa\w*|říkal\w*|dedi|söyledi")
#: a request to someone named first: "Maeve, please also enable 2FA", "Jonas, kannst du ..."
VOCATIVE_ASK = (r"please|pls|plz|can you|could you|would you|will you|kindly|bitte|kannst du|könntest du|können sie"
                r"|könnten sie|por favor|puedes|podrías|pourriez-vous|pouvez-vous|peux-tu|pourrais-tu|merci de"
                r"|per favore|puoi|potresti|kun je|kunt u|zou je|você pode|pode|poderia|podes|proszę|czy możesz"
                r"|kan du|kan ni|voisitko|voitko")
#: who speaks in a call or chat log: "Agent (Leonie):", "Atendente Camila:", "Cliente Luiz Henrique:"
CHAT_ROLE = (r"agent|agente|operator|operatore|operador[a]?|atendente|attendant|consultant|konsultant|cliente|client"
             r"|customer|kunde|kundin|klient|rep|advisor|adviser|asesor[a]?|berater(?:in)?|conseill(?:er|ère)")
#: labels a list of people follows: "cc: Hannah Goldberg, Raj Kapoor"
LIST_LABEL = (r"cc|bcc|attendees?|participants?|contacts?|recipients?|employees|invitees|guests|passengers"
              r"|signatories|members|owners|reviewers|approvers|assignees|teilnehmer|destinataires|partecipanti"
              r"|deelnemers|participantes")


@dataclass(frozen=True, slots=True)
class NameRule:
    pattern: re.Pattern[str]
    keywords: re.Pattern[str] | None  # the rule only matches after one of these (lower case): run it near them
    known_first: bool  # the name must start with a known first name (after any title)
    min_words: int = 1  # a bare "First Last" needs its surname
    surname_known: bool = False  # ... and one from the surname lists ("Victoria Sponge" is cake)
    rare_surname: bool = False  # ... or a word no language's everyday words hold ("Ngozi Okonjo", "Harriet Osei-Bonsu")
    lone_word_known: bool = False  # one word alone must be on the name lists ("Customer: Premium")
    #: for names not written with capitals ("name: rosa delgado", "user jbecker"): the name the value starts
    #: with, or "" when it holds none; the capitalised-word rules above do not apply then
    uncased: Callable[[str], str] | None = None
    max_text: int = 0  # the rule reads only texts this short (a whole field), 0: any text
    some_word_known: bool = False  # one of the name's words must be on the name lists ("the owner is Acme")
    listed: bool = False  # the value is a list of names: "Hannah Goldberg, Raj Kapoor and Ana Lima"
    #: the match may start on capitalised words before the name ("Could Tobias from", "das Passwort von Lena
    #: Vogel"): the name starts at the first known first name
    unanchored: bool = False
    tail: int = 0  # the rule matches only at the end of a text: read its last ``tail`` characters, 0: all of it
    keyword_after: bool = False  # the keyword follows the name ("Raj said"): the rule is tried just before each
    #: for a rule without keywords, what every match holds (an RE2 pattern, told for all rules by one pass):
    #: the rule is not tried on a text without it ("://" for "mysql://tgarcia:...@host")
    hint: Any = None


def name_rules() -> list[NameRule]:
    def rule(regex: str, known_first: bool = False, min_words: int = 1, surname_known: bool = False,
             keywords: str | None = None, lone_word_known: bool = False,
             uncased: Callable[[str], str] | None = None, max_text: int = 0, some_word_known: bool = False,
             listed: bool = False, unanchored: bool = False, tail: int = 0, rare_surname: bool = False,
             keyword_after: bool = False, hint: str | None = None) -> NameRule:
        return NameRule(re.compile(regex, re.MULTILINE), re.compile(keywords.lower()) if keywords else None,
                        known_first, min_words, surname_known, rare_surname, lone_word_known, uncased, max_text,
                        some_word_known, listed, unanchored, tail, keyword_after, hint and compiled_re2(hint))
    end_of_line = r"(?=[ \t]*(?:$|\n|[,.!]?[ \t]*\Z|\|))"  # "|" ends a signature's name: "Fiona MacLeod | Accountant"
    # after a sign-off, the team may follow the name on its line: "Tomasz, Biuro Obsługi Klienta", "Sam @ Support",
    # "Mihai – Relații Clienți"
    signed_end = r"(?=[ \t]*(?:$|\n|[,.!]?[ \t]*\Z|\||[,–—@][ \t]|[ \t]-[ \t]|[ \t]\(|[ \t](?:du|de|from|z|von|van)[ \t]))"
    return [
        rule(rf"\b{TITLE}[ \t]+{VALUE}", known_first=False, keywords=TITLE),
        rule(rf"(?i:{STATED_NAME})[ \t]+{OPTIONAL_TITLE}{VALUE}", known_first=False, keywords=STATED_NAME),
        rule(rf"\A{VALUE}\Z", known_first=True, hint=rf"\A[{UPPER}]{NAME_CHARS}*\z"),  # a name field: "Hannah Kowalski"
        rule(rf"(?i:(?<![A-Za-z-])(?:{NAME_LABEL}))(?:[ \t]+\d+)?[\"'*]*[ \t]*[:=][*]*[ \t]*[\"']?{OPTIONAL_TITLE}{VALUE}",
             known_first=False, keywords=NAME_LABEL, lone_word_known=True),
        # a field that holds a name whatever it is: {"first_name": "Yuki"}, "full name Olumide Bakare"
        rule(rf"(?i:(?<![A-Za-z-])(?:{NAME_FIELD}))[\"'*]*[ \t]*[:=]?[*]*[ \t]*[\"']?{OPTIONAL_TITLE}{VALUE}",
             known_first=False, keywords=NAME_FIELD),
        rule(rf"(?i:(?<![\w-])(?:{ROLE})(?:[ \t]+(?:di|de|du|of|for)[ \t]+[\w-]+)?)(?:[ \t]+(?i:is|was|will be)"
             rf"|[\"'*]*[ \t]*[:,=][*]*)[ \t]*[\"']?{OPTIONAL_TITLE}{VALUE}", keywords=ROLE, some_word_known=True),
        rule(rf"(?<=\")(?i:{PERSON_KEY})\"[ \t]*:[ \t]*\"{OPTIONAL_TITLE}{VALUE}\"", keywords=PERSON_KEY),
        # "Failed password for dawn from ...": sshd's log names the account, here a person's first name
        rule(rf"(?i:(?:failed|accepted) (?:password|publickey) for)(?: invalid user)?[ \t]+{VALUE}[ \t]+from\b",
             known_first=True, keywords=r"failed password for|accepted password for|accepted publickey for"),
        rule(rf"(?i:(?<![\w-])(?:{LIST_LABEL}))[\"']?[ \t]*:[ \t]*(?P<value>[^\n]+)", keywords=LIST_LABEL,
             some_word_known=True, listed=True),
        rule(rf"(?i:\b(?:{SURNAME_LABEL}))[ \t]+[\"'‘“]?{VALUE}", known_first=False, keywords=SURNAME_LABEL),
        rule(rf"^(?:From|To|Cc|Bcc|Reply-To|Sender|Recipient|Attendees?|Participants?)[ \t]*:[ \t]*\"?{VALUE}\"?"
             r"(?=[ \t]*(?:<|,|;|\(|$))", known_first=False, lone_word_known=True,
             hint=r"(?m)^(?:From|To|Cc|Bcc|Reply-To|Sender|Recipient|Attendees?|Participants?)[ \t]*:"),
        # Vietnamese and Indonesian introductions: names the lists do not hold ("mình là Nguyễn Thu Trang")
        rule(rf"(?i:\b(?:tôi là|tôi tên|mình là|em là|saya|aku))[ \t]+{VALUE}", keywords=r"tôi là|tôi tên|mình là|em là|saya|aku"),
        # "this is Ana Lopez from Acme": who speaks for a company says their name first
        rule(rf"(?i:\b(?:this is|it's|it is|I'm|I am|c'est|soy|sono|ich bin|ik ben|hier ist))[ \t]+{VALUE}"
             r"[ \t]+(?i:from|at|with|of|here|in|de|da|von|van|bei|chez|aus|del|della)\b",
             known_first=False, keywords=INTRODUCTION),
        rule(rf"^--[ \t]*\n[ \t]*{OPTIONAL_TITLE}{VALUE}{end_of_line}", known_first=False,  # a signature block
             hint=r"(?m)^--[ \t]*\n"),
        # someone reported as saying or doing something: "Raj said you could", "like Tony asked", "Ola prosiła"
        rule(rf"(?<![\w.@/-])(?P<value>{STANDALONE_NAME_WORD})[ \t]+(?:{REPORTED_VERB})\b", known_first=True,
             keywords=REPORTED_VERB, keyword_after=True),
        rule(rf"(?:^|(?<=[.!?])[ \t]+)(?P<value>{STANDALONE_NAME_WORD}),[ \t]+(?i:{VOCATIVE_ASK})\b", known_first=True,
             keywords=VOCATIVE_ASK, keyword_after=True),
        rule(rf"(?<![\w-])(?i:{CHAT_ROLE})[ \t]*\({VALUE}\)[ \t]*:", keywords=CHAT_ROLE),
        rule(rf"(?<![\w-])(?i:{CHAT_ROLE})[ \t]+{VALUE}[ \t]*:(?![/\d])", known_first=True, keywords=CHAT_ROLE),
        # "Tyler here", "Yo. Tyler here."
        rule(rf"(?:^|(?<=[.!?,])[ \t]+)(?P<value>{STANDALONE_NAME_WORD})[ \t]+here\b", known_first=True, keywords="here",
             keyword_after=True),
        # "Maria's account", Turkish case endings: "Deniz'in numarası", "Ayşe'ye"
        rule(rf"(?P<value>{STANDALONE_NAME_WORD})['’](?:s|[iıuü]n|n[iıuü]n|y?[ea]|d[ea]n?|t[ea]n?|l[ea])\b",
             known_first=True, hint="['’]"),
        # a first name in lower case after "this is", "it's", "i'm": "yo this is dmitri", "i'm mia btw"
        rule(r"(?i:\b(?:this is|it's|its|it’s|i'm|i’m|im|i am|jestem))[ \t]+"
             r"(?P<value>[^\W\d_]{3,}(?:[ \t]+[^\W\d_]+)?)", keywords=r"this is|it's|its|it’s|i'm|i’m|im|i am|jestem",
             uncased=uncased_name),
        # lower case: a colon or "is" after the label ("names an interface" is prose); capitals may follow it
        rule(rf"(?i:(?<![A-Za-z-])(?:{NAME_LABEL}))(?:[ \t]+\d+)?[\"']?"
             rf"(?:[ \t]*[:=]|[ \t]+is[ \t]|[ \t]+(?=[{UPPER}]{{2}}))[ \t]*[\"']?"
             rf"(?P<value>[^\W\d_]+(?:[ \t]+[^\W\d_]+){{0,2}})(?![\w(])", keywords=NAME_LABEL, uncased=uncased_name),
        rule(rf"(?i:(?<![A-Za-z-])(?:{USER_LABEL}))[\"']?[ \t]*(?:[:=]|is|was|of|for|by|es|est|ist|è|é)?[ \t]*[\"'`]?@?"
             r"(?P<value>[^\W\d_][\w.-]*[^\W_])", keywords=USER_LABEL, uncased=user_name),
        rule(r"\A[ \t]*@?(?P<value>[^\W\d_][\w.-]*[^\W_])[ \t]*\Z", uncased=field_user_name, max_text=64,
             hint=r"\A[ \t]*@?[^\s@]{2,}[ \t]*\z"),  # one word: no space inside
        rule(r"(?<![\w/.-])(?P<value>[A-ZÀ-Þ][A-Za-zÀ-ÿ'-]+(?: [A-ZÀ-Þ][A-Za-zÀ-ÿ'-]+)?/[A-ZÀ-Þ][A-Za-zÀ-ÿ'-]+"
             r"(?: (?!(?:MRS?|MS|MISS|MSTR|DR|CHD|INF)\b)[A-ZÀ-Þ][A-Za-zÀ-ÿ'-]+)?)(?![\w/.-])", uncased=slashed_name,
             hint=r"[A-Za-zÀ-ÿ'-]/[A-ZÀ-Þ]"),
        # a list line with the person's e-mail after their name: "1. Olumide Fashola — o.fashola@zenithmail.ng"
        rule(rf"^[ \t]*(?:\d+[.)][ \t]+)?{VALUE}[ \t]+[—–-][ \t]+[\w.+-]+@", hint="@"),
        # "mysql://tgarcia:...@host"
        rule(r"://(?P<value>[^\W\d_][\w.-]*[^\W_]):[^\s/]*@", uncased=url_user_name, hint="://"),
        # a user name made of a first name and a surname, anywhere: "cn=mei.lin", "operator": "nadia.petrova"
        rule(r"(?<![\w.@/-])(?P<value>[^\W\d_]+\.[^\W\d_]+)(?![\w@(-]|\.\w)", uncased=dotted_user_name,
             keywords=r"[a-zß-ÿ]+\.[a-zß-ÿ]+"),
        rule(rf"(?<![\w-])(?:{GREETING})[ \t]*,?[ \t]+@?{OPTIONAL_TITLE}{VALUE}(?=[ \t]*[,!:\n—–-]|\.(?:\s|\Z)|[ \t]*\Z)",
             known_first=False, keywords=GREETING),
        rule(rf"(?<![\w-])(?:{SIGN_OFF})[ \t]*[,!.]?[ \t]*\n\s*(?:[—–-][ \t]*)?"
             rf"{OPTIONAL_TITLE}{VALUE}{signed_end}",
             known_first=False, keywords=SIGN_OFF),
        rule(rf"(?<![\w-])(?:{SIGN_OFF}),[ \t]+{OPTIONAL_TITLE}{VALUE}{signed_end}", known_first=False,
             keywords=SIGN_OFF),
        # "— Ana" on its own line or after a sentence; the dash first, so ``re`` skips ahead to each dash
        rule(rf"[—–](?:(?<=^.)|(?<=[.!?)].)|(?<=[.!?)][ \t].)|(?<=[.!?)][ \t]{{2}}.))[ \t]*{VALUE}{end_of_line}",
             known_first=False, hint="[—–]"),
        rule(rf"(?<![\w-])(?i:{GREETING}|{SIGN_OFF})[ \t]*,?\s+{VALUE}", known_first=True,
             keywords=f"{GREETING}|{SIGN_OFF}"),
        # a known first name that ends the text after a sentence, or after a dash: "Can you sort it? Morgan",
        # "the 3pm is moved? thx — Jess"
        # ... also at the end of a message quoted inside the text: '... auf dem Laufwerk. Honza"'
        rule(rf"[.!?][ \t]+{VALUE}[ \t]*[.!]?(?:\s*\Z|[\"»”」](?=[ \t]*(?:\n|\Z)))", known_first=True,
             hint=rf"[.!?][ \t]+[{UPPER}]{NAME_CHARS}*(?:[.!\"»”」]|{PYTHON_SPACE}|\z)"),
        # a known first name that opens a quoted message, calling its reader: '"Bence, a szerver ...'
        rule(rf"[\"«“„](?P<value>{STANDALONE_NAME_WORD}),[ \t]", known_first=True,  # the quote first: ``re`` skips to it
             hint="[\"«“„]"),
        rule(rf"[—–/](?<![\w:/.~]/)[ \t]*{VALUE}{signed_end}", known_first=True, hint="[—–/]"),  # "— Jess", Swedish "/Elin"
        # an initial and a surname: "K. Vogel"
        rule(rf"(?<![\w.])(?P<value>[{UPPER}]\.[ \t]?{NAME_WORD.pattern})", surname_known=True,
             keywords=r"[a-z]\. ?[a-zß-ÿ]+"),  # found by RE2 like a keyword: trying every capital costs more
        # "tell Chen and Abdullah": each name of a list after a relation word
        rule(rf"(?<![\w-])(?i:{INTRODUCTION}|{RELATION})[ \t]+(?P<value>{FULL_NAME}(?:(?:,[ \t]*|[ \t]+(?:and|und|et|y|e)"
             rf"[ \t]+){FULL_NAME})*)", known_first=True, keywords=f"{INTRODUCTION}|{RELATION}", listed=True),
        # "Could Tobias from your team send ...", "Ana from accounting": a person from a team or a department
        # (not "Paris from the north terminal": places share first names)
        rule(rf"(?P<value>{STANDALONE_NAME_WORD}(?:[ \t]+{NAME_WORD.pattern})?)[ \t]+from[ \t]+"
             rf"(?:(?:your|our|the|my)[ \t]+(?:[\w-]+[ \t]+){{0,2}}?)?(?i:{TEAM_WORD})\b", known_first=True,
             unanchored=True, hint=r"[ \t]from[ \t]"),
        rule(rf",[ \t]+{VALUE}[.!?]", known_first=True, hint=rf",[ \t]+[{UPPER}]{NAME_CHARS}*[.!?]"),  # "as requested, Lukas."
        # "I'm sorry, Daniel,"
        rule(rf"(?i:\b(?:{INTERJECTION})),?[ \t]+{VALUE}[ \t]*[,.!?:—–]", known_first=True, keywords=INTERJECTION),
        # a letter's closing with a possessive: "Deine Gisela", "Ta Clémence", "Love, Sam" is SIGN_OFF's
        rule(rf"(?<![\w-])(?:Deine|Dein|Ta|Ton|Tua|Tuo|Jouw|Din|Tvoje|Twoja|Twój)[ \t]+{VALUE}{end_of_line}",
             known_first=True, keywords=r"deine|dein|ta|ton|tua|tuo|jouw|din|tvoje|twoja|twój"),
        rule(rf"\n[ \t]*{VALUE}[ \t]*\Z", known_first=True, tail=TAIL, hint=r"\n"),  # a signature line that ends the text
        rule(rf"\n[ \t]*{VALUE},[ \t]+[^\n]{{2,40}}\Z", known_first=True, tail=TAIL,  # "Akiko, Wayfarer Travel"
             hint=r"\n"),
        # Hungarian puts "I am" after the name: "Jó napot, Kovács Péter vagyok."
        rule(rf"(?P<value>{STANDALONE_NAME_WORD}[ \t]+{NAME_WORD.pattern})[ \t]+vagyok\b", keywords="vagyok",
             keyword_after=True),
        rule(rf"(?P<value>{STANDALONE_NAME_WORD}(?:[ \t]+(?:{PARTICLE}[ \t]+){{0,2}}{NAME_WORD.pattern}){{1,3}})",
             known_first=True, min_words=2, surname_known=True, rare_surname=True, unanchored=True,
             # a capitalised word's last letter, then the next one's capital: most texts hold no two in a row
             hint=rf"[{UPPER}][{UPPER}{LOWER}'’-]*[{LOWER}][ \t]+(?:{PARTICLE}[ \t]+){{0,2}}[{UPPER}]"),
    ]


@dataclass(frozen=True, slots=True)
class SeriesDetector(Detector):
    """Also a number written like one found, soon after it: the second of a couple's or a family's
    ("여권번호는 M20410730, 남편은 M35266996", "мой 14 8338090, мужа 17 7768833", "Meine Steuer-ID ist
    35896647204, die von meiner Frau 34687125021")."""

    def spans(self, text: Text) -> Iterable[tuple[int, int, str]]:
        found = list(Detector.spans(self, text))
        for start, end, _ in list(found):
            shape = number_shape(text.value[start:end])
            for match in SERIES_MEMBER.finditer(text.value, end, end + SERIES_REACH):
                if number_shape(match.group()) == shape and all(match.start() >= e or match.end() <= s for s, e, _ in found):
                    found.append((*match.span(), compact(match.group())))
        return found


SERIES_REACH = 80


def number_shape(value: str) -> str:
    """"M20410730" -> "A99999999": what a series of one kind of document number have in common."""
    return re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", value))


KEYWORDS_REMEMBERED = 4096


@dataclass(frozen=True, slots=True)
class NameDetector(Detector):
    """Names where logs carry them (see ``name_rules``). Capitalised words after a known first
    name are its surname; a capitalised common word ends the name ("Hi Anna Thanks")."""

    rules: tuple[NameRule, ...] = ()
    keyword_hint: Any = None  # one RE2 automaton for the keywords of every rule: group 1 is the keyword
    #: keyword -> what ``rules_wanting`` said about it
    wanting: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)
    #: the indexes of the rules without keywords, tried on every text their hint and length allow
    unkeyed: tuple[int, ...] = field(init=False, repr=False, compare=False)
    #: the hints occurring in a text -> what ``unkeyed_hinted`` said about them
    hinted: dict[frozenset[int], tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        Detector.__post_init__(self)
        object.__setattr__(self, "unkeyed", tuple(index for index, rule in enumerate(self.rules) if rule.keywords is None))

    def spans(self, text: Text) -> Iterable[tuple[int, int, str]]:
        found = [*self.rule_spans(text),
                 *((start, end, text.value[start:end]) for start, end in script_names(text.value, text.occurring(False)))]
        return found + list(name_parts_elsewhere(text.value, found))

    def rule_spans(self, text: Text) -> Iterator[tuple[int, int, str]]:
        known = first_names()
        starts = self.keyword_starts(text)
        # in rule order, the rules a keyword of which the text holds and those without keywords whose hint it
        # holds: most of a short text's rules are passed over without a look
        for index in sorted([*starts, *self.unkeyed_hinted(text.occurring(False))]):
            rule = self.rules[index]
            if rule.max_text and len(text.value) > rule.max_text:
                continue
            for match in rule_matches(rule, text, starts.get(index)):
                start, end = match.span("value")
                if rule.uncased is not None:
                    if name := rule.uncased(text.value[start:end]):
                        yield start, start + len(name), name.casefold()
                    continue
                for item_start, item_end in list_items(text.value, start, end) if rule.listed else [(start, end)]:
                    if span := name_in(text.value, item_start, item_end, rule, known):
                        yield span

    def keyword_starts(self, text: Text) -> dict[int, list[int]]:
        """Where each rule's own keywords start, by the rule's index (by index, as hashing a compiled pattern
        costs more than the search), for the rules one of whose keywords the text holds: from one pass over
        the text for all of them."""
        starts: dict[int, list[int]] = {}
        if not text.has(self.keyword_hint, lower=True):  # most texts: the one pass for every hint said so
            return starts
        for match in self.keyword_hint.finditer(text.re2_haystack(lower=True)):
            keyword = match.group(1)
            for index in self.rules_wanting(keyword if isinstance(keyword, str) else keyword.decode("ascii")):
                starts.setdefault(index, []).append(match.start(1))
        return starts

    def unkeyed_hinted(self, in_text: frozenset[int]) -> tuple[int, ...]:
        """The indexes of the rules without keywords whose hint (if any) is among the hints occurring in a text:
        combinations of hints repeat across texts, and asking each rule about its own costs more than a lookup."""
        hinted = self.hinted.get(in_text)
        if hinted is None:
            hinted = tuple(index for index in self.unkeyed
                           if self.rules[index].hint is None or _hint_index(self.rules[index].hint) in in_text)
            if len(self.hinted) < HINT_COMBINATIONS_REMEMBERED:
                self.hinted[in_text] = hinted
        return hinted

    def rules_wanting(self, keyword: str) -> tuple[int, ...]:
        """The indexes of the rules ``keyword`` is one of the keywords of. Texts hold few distinct keywords,
        and asking every rule's regex about one costs more than the rest of finding names in a short text."""
        wanted = self.wanting.get(keyword)
        if wanted is None:
            wanted = tuple(index for index, rule in enumerate(self.rules) if rule.keywords and rule.keywords.match(keyword))
            if len(self.wanting) < KEYWORDS_REMEMBERED:  # keywords are a few words, spaced as typed: bound it anyway
                self.wanting[keyword] = wanted
        return wanted


def name_parts_elsewhere(text: str, found: list[tuple[int, int, str]]) -> Iterator[tuple[int, int, str]]:
    """The first name of a full name found, where it stands alone elsewhere in the text, as that name: "on
    behalf of Joy Adeyemi ... sign every email as 'Joy'". Capitalised as in the name; not a surname, which
    companies are named after ("Chiara Esposito ... Esposito Arredi S.r.l.")."""
    kept = Taken()  # a name that overlaps one found before it is not kept ("Beste Daan" after "Daan")
    full_names = []
    for start, end, identity in found:
        if kept.free(start, end):
            kept.add(start, end)
            full_names += [(NAME_WORD.match(text, start), identity)] if " " in identity else []
    parts = {word.group(): identity for word, identity in full_names if word and word.group() in all_first_names()}
    if parts:  # one pass for all of them: a long text may name thousands of people
        alternatives = "|".join(map(re.escape, sorted(parts, key=len, reverse=True)))
        for match in re.finditer(rf"(?<![\w-])(?:{alternatives})(?![\w-])", text):
            yield match.start(), match.end(), parts[match.group()]


def name_in(text: str, start: int, end: int, rule: NameRule, known: frozenset[str]) -> tuple[int, int, str] | None:
    """The name a rule's value holds, as (start, end, identity), or None."""
    words = [without_possessive(text, m.start(), m.end()) for m in NAME_WORD_OR_PARTICLE.finditer(text, start, end)]
    if rule.unanchored:
        words = words[next((i for i, (s, e) in enumerate(words) if text[s:e] in known), len(words)):]
        start = words[0][0] if words else start
    if not words or (rule.known_first and text[words[0][0]:words[0][1]] not in known
                     and not opens_with_everyday_first_name(text, words)):
        return None
    kept, count = name_words(text, words, rule)
    # the words the name stopped before still tell a team ("Talent Team") from a person
    if (count >= rule.min_words and plausible_name(text[start:kept], count, rule) and not organisation(text[start:end])
            and not named_place(text, start, kept)):
        return start, kept, text[start:kept].casefold()
    return None


def named_place(text: str, start: int, end: int) -> bool:
    """A place named after someone: a venue word right before or after the name ("Museo Reina Sofía",
    "Bulevardul Regina Elisabeta", "Mimar Sinan Üniversitesi'ne", "Alvar Aallon museo"), a street
    written as one word ("Van Goghstraat"), or a company with its legal form ("Van den Berg
    Installatietechniek B.V.")."""
    if LEGAL_FORM.match(text, end) or SAINT.search(text, max(start - 12, 0), start):
        return True
    before = WORD_BEFORE.search(text, max(start - 40, 0), start)
    after = WORD_AFTER.match(text, end, end + 40)
    words = [word.group(1) for word in (before, after) if word is not None] + APOSTROPHE.split(text[start:end])
    return any(word.casefold() in PLACE_WORDS for word in words) or STREET_WORD.search(text, start, end) is not None


LEGAL_FORM = re.compile(r"[ \t]+(?:B\.V\.|BV|N\.V\.|GmbH|AG|KG|Ltd\b|LLC|LLP|Inc\b|Corp\b|S\.A\.|S\.L\.|S\.r\.l\.|Srl|S\.p\.A\."
                        r"|SpA|SAS|SARL|Oy|AB|A/S|ApS|AS\b|Sp\. z o\.o\.|s\.r\.o\.|Kft|Zrt|Ltda|& Co\b|& Sons\b)")
SAINT = re.compile(r"\b(?:São|Santa|Santo|San|Saint|Sainte|Sankt|Sint)[ \t]+\Z")  # "São José dos Campos", "San Diego"
WORD_BEFORE = re.compile(r"([^\W\d_]+)\.?[ \t]+\Z")
WORD_AFTER = re.compile(r"[ \t]+([^\W\d_]+)")  # "Üniversitesi'ne": the word, not its suffix
APOSTROPHE = re.compile(r"['’][^\W\d_]*\s*|\s+")  # the words of a name, without their case endings
#: venues, streets and institutions named after people, in the languages of the logs (not "park", "church":
#: surnames)
PLACE_WORDS = frozenset((
    "street road gate gade vej straat cad sok mahallesi mah house square bridge tower hotel cathedral "
    "museo museum musée museu muzeum múzeum estádio estadio stadion stadium stade arena bulevardul bulevard "
    "boulevard avenida avenue aleja calea strada str piața piata palatul palacio palazzo palais palace centrum "
    "centro centre center universidad università universität universiteit universitet uniwersytet üniversitesi "
    "egyetem university college colegio collège escola escuela scuola schule szkoła liceo lycée gymnasium "
    "instituto institut istituto aeroporto aeropuerto aéroport flughafen lotnisko airport havalimanı gare "
    "estação estación stazione bahnhof station hospital hôpital ospedale krankenhaus szpital kórház teatro "
    "théâtre theater theatre teatr színház parque parc parco plaza praça piazza largo rua calle rue ulica utca "
    "út caddesi sokak iglesia église chiesa kirche kościół catedral cathédrale cattedrale basilica basílica "
    "puente pont ponte brücke most híd fundación fondation fondazione stiftung premio prix prize award "
    "monumento monument denkmal pomnik"
).split())


def list_items(text: str, start: int, end: int) -> Iterator[Window]:
    """Where each name of a list stands: "Hannah Goldberg, Raj Kapoor and Ana Lima (APAC)"."""
    position = start
    for separator in [*LIST_SEPARATOR.finditer(text, start, end), None]:
        stop = separator.start() if separator else end
        if match := LISTED_NAME.match(text, position, stop):
            yield match.span("value")
        position = separator.end() if separator else end


LIST_SEPARATOR = re.compile(r"[,;&]|[ \t](?:and|und|et|y|e|en)[ \t]")
LISTED_NAME = re.compile(rf"[ \t]*\[?[\"']?{OPTIONAL_TITLE}{VALUE}")  # "[" opens a JSON list of names


def without_possessive(text: str, start: int, end: int) -> Window:
    """A word without its possessive "'s": "Mensah's phone" is Mensah's."""
    return (start, end - 2) if text[end - 2:end] in ("'s", "’s") and end - start > 3 else (start, end)


def uncased_name(value: str) -> str:
    """The name a lower-case or capitals-only value starts with ("rosa delgado -- pls", "WEI ZHANG"): a
    known first name, then the words after it that are on the name lists."""
    words = list(re.finditer(r"[^\W\d_]+", value))
    if not words or not (value.islower() or value.isupper()) or words[0].group().title() not in first_names():
        return ""
    end = words[0].end()
    for word in words[1:]:
        if word.group().title() not in last_names() and word.group().title() not in first_names():
            break
        end = word.end()
    return value[:end]


def slashed_name(value: str) -> str:
    """An airline's SURNAME/GIVEN anywhere ("PAPADAKIS/ELENI", "Weber/Tobias", "AL MAKTOUM/SALEM") when the given
    name is a first name and the surname is one too or written in capitals: not "READ/WRITE", "Paris/London"."""
    surname, given = value.split("/", 1)
    first_given = given.split()[0].title() if given.split() else ""
    return value if first_given in first_names() and (surname.isupper() or surname.split()[-1] in last_names()) else ""


def user_name(value: str) -> str:
    """A user name after its label made from a person's name: "jbecker", "wei.zhang", "sven_lindqvist_2",
    "mariagonzalez"; not "admin" or "root"."""
    if value.casefold() in common_words():  # "handle consider": the label was a verb
        return ""
    parts = [part.title() for part in USER_NAME_PARTS.split(value.rstrip("0123456789_.-")) if part]
    if len(parts) > 1:  # "wei.zhang": after its label, a surname is enough
        return value if parts[-1] in last_names() or names_in_parts(parts) else ""
    word = parts[0] if parts else ""
    if word in first_names() and word.casefold() not in everyday_words():
        return value  # "Anna"; not "User unknown"
    if any(word[cut:].title() in last_names() for cut in (1, 2) if len(word) - cut >= 4):
        return value  # "maria", "jbecker", "zdlamini"
    return value if any(names_in_parts([word[:cut], word[cut:].title()]) for cut in range(3, len(word) - 2)) else ""


def url_user_name(value: str) -> str:
    """The user of "https://Anna:...@host": a first name alone is enough where a password follows."""
    return value if value.title() in first_names() else user_name(value)


def dotted_user_name(value: str) -> str:
    """A first name and a surname joined by "." in running text ("nadia.petrova"), in lower case as user
    names are written; not "_", which joins the words of every snake_case identifier ("bin_shares"), and
    not a call ("ray.put(", excluded by the rule's pattern)."""
    first, last = value.split(".")
    return value if value.islower() and first.title() in first_names() and last.title() in last_names() else ""


def field_user_name(value: str) -> str:
    """A whole field that is a user name: two or more name parts, split ("kwame.mensah") or in CamelCase
    ("NguyenVanAn"); one word alone is too often just a word. Of two parts joined by "." or "_", a
    known first name or a known surname is enough when the other part is no everyday word
    ("nkechi_okafor", "ewa_zielinska"; not "max_tokens"). Not a model's id ("claude-sonnet-4-5")."""
    if MODEL_ID.fullmatch(value):
        return ""
    parts = [part.title() for part in USER_NAME_PARTS.split(value.rstrip("0123456789_.-")) if part]
    if len(parts) == 1 and value[:1].isupper():
        parts = CAMEL_PART.findall(value)
    if (len(parts) == 2 and all(p.isalpha() and len(p) >= 3 for p in parts)
            and not {p.casefold() for p in parts} & common_words()):
        first, last = parts
        return value if first in first_names() or last in last_names() else ""
    return value if len(parts) > 1 and names_in_parts(parts) else ""


def names_in_parts(parts: list[str]) -> bool:
    """A first name or an initial, then names (or particles like "van") ending in a known name."""
    first, rest = parts[0], parts[1:]
    known = known_names()
    return ((first in first_names() or len(first) == 1) and rest[-1] in known
            and all(part in known or PARTICLE_ONLY.fullmatch(part.lower()) for part in rest))


@cache
def known_names() -> frozenset[str]:
    return first_names() | last_names()


USER_NAME_PARTS = re.compile(r"[._-]+")
#: the model families named like people, as every call logged through them names them ("claude-sonnet-4-5",
#: "anthropic.claude-3-haiku-20240307-v1:0", "reka-core", "ernie-bot"): a model, not a user
MODEL_ID = re.compile(r"(?i)(?:[\w-]+[./])*(?:claude|reka|ernie|aya)(?:[-.](?:v?\d[\w.]*|instant|opus|sonnet|haiku|latest|"
                      r"core|flash|edge|bot|speed|turbo|expanse|vision|ai))+(?:[@:][\w.-]+)?")
CAMEL_PART = re.compile(rf"[{UPPER}][{LOWER}]*")


def plausible_name(name: str, count: int, rule: NameRule) -> bool:
    """Not a team or a company ("Acme Billing"), and one word alone on the name lists when the rule asks."""
    words = name.split()
    if organisation(name):
        return False
    if rule.some_word_known and not any(word in known_names() for word in words):
        return False
    return not (rule.lone_word_known and count == 1 and words[0] not in first_names() and words[0] not in last_names())


def organisation(name: str) -> bool:
    """A team, a company or a place ("Anne Frank House"): not a person."""
    return any(word.casefold() in ORGANISATION_WORDS or word.casefold() in PLACE_WORDS for word in name.split())


#: words that make a signature or a label a team, a desk or a company rather than a person
ORGANISATION_WORDS = frozenset((
    "team support billing service services desk helpdesk department dept group inc ltd llc gmbh corp company "
    "bank office store shop customer care operations ops sales accounts finance hr it security admin bot "
    "committee board panel council hiring recruitment admissions"
).split())


def keyword_automaton(rules: Iterable[NameRule]) -> Any:
    """The longest keyword at each place, so "name is" is seen whole and also counts as "name"
    for the rules that want that; "_" may come before a keyword (user_name), a letter may not
    come after one ("mari" in "maria"). The boundary before is zero-width, so a keyword right
    after another one ("I'm sorry, Daniel") is still seen."""
    keywords = "|".join(rule.keywords.pattern for rule in rules if rule.keywords is not None)
    return compiled_re2(rf"(?:\b|_)({keywords})(?:[^a-zà-ÿ]|$)", longest_match=True)


def rule_matches(rule: NameRule, text: Text, keyword_starts: list[int] | None) -> Iterator[re.Match[str]]:
    """A rule with keywords is tried only where one starts (its pattern starts with the keyword): trying
    a long alternation at every character of a window around it costs more than the rest of the scrub."""
    if keyword_starts is None:
        yield from rule.pattern.finditer(text.value, max(len(text.value) - rule.tail, 0) if rule.tail else 0)
        return
    for start in keyword_starts:
        if rule.keyword_after:  # the name ends a space before the keyword
            match = rule.pattern.search(text.value, max(start - KEYWORD_BEFORE, 0), start + KEYWORD_BEFORE)
            if match and match.start("value") < start:
                yield match
        elif match := rule.pattern.match(text.value, start):
            yield match


TAIL = 120  # longer than a name and what may follow it at the end of a text
KEYWORD_BEFORE = 40  # how far before a keyword that follows it a name may start, and the keyword's reach
NAME_WORD_OR_PARTICLE = re.compile(rf"{NAME_WORD.pattern}|\b{PARTICLE}\b")


def name_words(text: str, words: list[Window], rule: NameRule) -> tuple[int, int]:
    """Where the name ends and how many words it keeps: it stops before the first common word
    (a known first name is never cut), or the first word not on the surname lists when the rule
    wants a known surname, and never ends on a particle."""
    common, surnames = common_words(), last_names()
    end = count = 0
    for index, (start, stop) in enumerate(words):
        word = text[start:stop]
        if end and text[end:end + 1] in ("'", "’"):
            break  # the name ended in a possessive
        if index == 0 and (rule.known_first or opens_with_everyday_first_name(text, words)):
            pass
        elif rule.surname_known:
            # "Ana Beatriz Souza" goes on, and so do "Müller-Hagen", "Delacroix-Hunt" and "João dos Santos"
            if not (PARTICLE_ONLY.fullmatch(word) or listed_name_part(word, surnames)
                    or (rule.rare_surname and rare_word(word))):
                break
        elif word.casefold() in common:
            break
        if not PARTICLE_ONLY.fullmatch(word):
            end, count = stop, count + 1
    return end, count


PARTICLE_ONLY = re.compile(PARTICLE)


def listed_name_part(word: str, surnames: frozenset[str]) -> bool:
    """The word, or one part of a hyphenated one, is on the surname or first-name lists."""
    return any(part in surnames or part in first_names() for part in (word, *word.split("-")))


def rare_word(word: str) -> bool:
    """No everyday word of any language in EVERYDAY_LANGUAGES, in any of its hyphenated parts."""
    parts = word.casefold().split("-")
    return not any(part in everyday_words() or part in common_words() for part in parts)


# -- validators ------------------------------------------------------------------------------
CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|3[068]|6(?:011|5|4[4-9]|2|7|3)|35|50|9792")  # 67, 63, 50: Maestro and Elo; 9792: Troy


def card_number(value: str) -> str | None:
    digits = re.sub(r"[ -]", "", value)
    if 13 <= len(digits) <= 19 and CARD_PREFIX.match(digits) and luhn.is_valid(digits):
        return digits
    return None


def iban_number(value: str) -> str | None:
    """Mod-97 and the country's length; not the national check digits, which a mistyped or
    made-up IBAN can fail while still being someone's account."""
    compact = value.replace(" ", "").upper()
    try:
        return iban.validate(compact, check_country=False)
    except ValidationError:
        return None


def ip_address(value: str) -> str | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # "0.0.0.0", "::" and "127.0.0.1" are every machine's, and "1.0.0.0" names a network, not a host (nor a version)
    if address.is_unspecified or address.is_loopback or (address.version == 4 and value.endswith(".0.0")):
        return None
    return address.compressed


def ipv6_candidate(value: str) -> str | None:
    # "::" alone, "a::b" or times like 10:30:00 are not addresses worth a placeholder
    if ("::" not in value and value.count(":") != 7) or sum(1 for g in value.split(":") if g) < 3:
        return None
    if all(len(group) == 2 for group in value.split(":")):
        return None  # "0A:3F:91:7C:22:5B:E0:14": a certificate serial or a MAC address, written in bytes
    return ip_address(value)


def email_address(value: str) -> str | None:
    # git@github.com and the like are how every developer clones, not someone's address
    return None if value.casefold().startswith(SERVICE_LOCAL_PARTS) else value.casefold()


SERVICE_LOCAL_PARTS = ("git@",)


def compact(value: str) -> str:
    """The identity of a value whatever its case and spacing: "LF-960195" is "lf 960195"."""
    return SEPARATORS.sub("", value).casefold()


SEPARATOR_CHARS = " \t\n\r().,/-"  # what may stand between the characters of a value written another way
SEPARATORS = re.compile(f"[{re.escape(SEPARATOR_CHARS)}]+")


def high_entropy(min_bits: float) -> Validator:
    """Random-looking tokens: upper, lower and digits mixed often (not CamelCase words), not hex
    (hashes, UUIDs), and with high Shannon entropy."""
    def validate(value: str) -> str | None:
        classes = [char_class(c) for c in value]
        # "=" padding: encoded binary, a content hash (ETag, digest) rather than a key
        if not {"upper", "lower", "digit"} <= set(classes) or HEXISH.fullmatch(value) or value.endswith("=") \
                or not not_an_example(value):
            return None
        switches = sum(a != b for a, b in zip(classes, classes[1:])) / (len(value) - 1)
        return value if switches >= 0.35 and shannon_bits(value) >= min_bits else None
    return validate


def shannon_bits(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def not_an_example(value: str) -> str | None:
    """A key, unless it is a vendor's documented example ("AKIAIOSFODNN7EXAMPLE")."""
    return None if "EXAMPLE" in value or "xxxx" in value.casefold() or value.casefold() in ENCODINGS else value


ENCODINGS = frozenset(("base64", "base32", "utf8", "utf-8", "sha256", "sha1", "md5", "hex"))


def aws_secret(value: str) -> str | None:
    """40 base64 characters that mix upper, lower and digits: not a word, not a hex hash, not AWS's
    documented example ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")."""
    classes = {char_class(c) for c in value}
    if not not_an_example(value):
        return None
    return value if {"upper", "lower", "digit"} <= classes and shannon_bits(value) >= 4.0 else None


def char_class(char: str) -> str:
    return "upper" if char.isupper() else "lower" if char.islower() else "digit" if char.isdigit() else "other"


HEXISH = re.compile(r"[0-9a-fA-F-]+")


def digits_only(value: str) -> str:
    return re.sub(r"\D", "", value)


def account_number(value: str) -> str | None:
    """Not a card number, which the card detector after this one names as such ("Cards on the account: 3707...")."""
    return None if card_number(value) else digits_only(value)


def stated_password(value: str) -> str | None:
    """A password someone wrote out, not the word after "password is" in "password is wrong"."""
    if value.casefold() in NOT_PASSWORDS or not any(ch.isalnum() for ch in value) or PLACEHOLDER.fullmatch(value) \
            or value.strip("`'\"").startswith(("/", "~/", "./", ".aws/", "${", "$(", "{{", "*", "<")) or " " == value[:1] \
            or re.fullmatch(r"[a-z_]+=\S*", value):  # a path, a variable, a placeholder, a mask, the next field
        return None
    return None if PASSWORD_VARIABLE.fullmatch(value) else value


#: a name that holds a password, not one: ``"DB_PASSWORD": password``, ``pwd=user_pass``
PASSWORD_VARIABLE = re.compile(r"[A-Za-z_]*(?i:pass(?:word|wd)?|pwd)[A-Za-z_]*")


NOT_PASSWORDS = frozenset((
    "incorrect correct wrong invalid required expired too not the a an my your his her our their still being "
    "reset changed set empty missing weak strong ok okay fine valid same different case saved stored now no yes "
    "here there this that it secure safe visible hidden shown needed sent long short forgotten lost locked "
    "blocked only must should will can cannot can't isn't doesn't hashed encrypted protected also already "
    "working accepted rejected asked requested case-sensitive mandatory optional updated "
    "de le la les un une el il lo der die das ein eine nicht pas falsch richtig incorrecta correcta sbagliata "
    "errata incorrecte erronée ungültig abgelaufen caducada scaduta verlopen onjuist fout "
    "printed disabled enabled insecure day written shared posted rotated displayed net nu niet ook al"
).split()) | {"***", "...", "xxx", "****", "********"}


# -- the built-in detectors, in priority order -------------------------------------------------
PEM_KEY = re.compile(r"-----BEGIN(?: [A-Z0-9]+)* PRIVATE KEY(?: BLOCK)?-----"
                     r"(?:(?:\s|\\[nr])*(?:Proc-Type|DEK-Info|Comment):[^\n\\]*)*"
                     r"(?:(?:\s|\\[nr])*[A-Za-z0-9+/=]{8,})+"  # a body: a header alone names a format
                     r"(?:(?:\s|\\[nr])*-----END(?: [A-Z0-9]+)* PRIVATE KEY(?: BLOCK)?-----)?")
AWS_SECRET = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=_-])")
# also the last part of a compound or a field name: "WLAN-Passwort", "temporary_password"
PASSWORD_WORD = (r"(?i:(?<!\w)(?<!\w-)(?:[^\W\d]+[-_])?(?:password|passwort|passwd|pwd|passcode|pass ?phrase|mot de passe"
                 r"|contraseña|senha"
                 r"|wachtwoord|kennwort|clave|parola d'ordine|hasło|haslo|lösenord(?:et)?|losenord(?:et)?"
                 r"|adgangskode(?:n)?|passord(?:et)?|koden til wi-?fi\w*|mdp|şifre\w*|sifre\w*"
                 r"|[a-z]+_pass"
                 r"|salasana|şifre|sifre|heslo|jelszó|jelszav\w*|parola mea(?: e| este)?|palavra[- ]passe|пароль"
                 r"|pgpassword|mysql_pwd|पासवर्ड|密码|密碼|كلمة المرور|كلمة السر|סיסמה|mật khẩu"
                 r"|code (?:du |de la )?wi-?fi|wi-?fi[ -](?:code|key|password)|clé wi-?fi|clave (?:del )?wi-?fi"
                 r"|wlan-?schlüssel|wlan-?key)"
                 # and a field that says which one, the adjective after as Romance languages write it:
                 # "senha_temporaria", "password_new", "contraseña-nueva"
                 r"(?:[-_](?:temp\w*|tempor\w*|new|neu\w*|nuev[oa]|nov[oa]|nouveau|nouvelle|provisoir\w*|provisional"
                 r"|provvisori[oa]|initial|inicial|iniziale|default|old|alt\w*|antigu[oa]|vecchi[oa]|current|actual))?"
                 r"(?![\w-]))")
PASSWORD_VERB = (r"[:=]|[ \t](?i:(?:is|was|has been|is now|now is|got)?[ \t]*(?:set|changed|reset|updated) to"
                 r"|is|es|est|ist"
                 r"|è|é|era|was|is now|lautet|c'est|war|är|er|on|je|jest|wynosi|sería)\b"
                 # "lautet jetzt Kaffeepause#9": the adverb is not the password
                 r"(?:[ \t]+(?i:now|currently|still|actually|btw|just|simply|literally|jetzt|nun|übrigens|eigentlich"
                 r"|maintenant|désormais"
                 r"|ahora|adesso|ora|agora|nu))?")
#: a value that looks made up (a digit, a symbol or an inner capital): enough without a verb
MADE_UP = r"(?=[^\s\"'`,;)]*(?:\d|[!@#$%^&*]|[A-Z][^\s\"'`,;)]*[A-Z]))[^\s\"'`”,;)]{5,}[^\s\"'`”,;.!?)]"
#: a value no one writes but as a password: letters, a digit and a symbol ("Moskva_2023!!", "Shanghai@2024abc")
STRONG_MADE_UP = (r"(?=[^\s\"'`,;)）」]*\d)(?=[^\s\"'`,;)）」]*[!@#$%^&*])(?=[^\s\"'`,;)）」]*[^\W\d_])"
                  r"(?![^\s@]+@[\w-]+\.)"  # not an e-mail address
                  r"[^\s\"'`”,;)）」]{6,}[^\s\"'`”,;.!?)）」]")
PASSWORD = re.compile(
    # a quoted phrase may hold spaces: "passphrase 'purple monkey dishwasher'"; words in between
    # only before a verb ("password for the VPN is '...'", not "password reset 'Send link'")
    PASSWORD_WORD + r"(?:(?:[ \t]+[\w'’-]+){0,4}?[ \t]*(?:" + PASSWORD_VERB + r")|[ \t]+(?i:auf|to|en|a|na|på|til|op))?[ \t]*"
    r"[\"'“‘](?P<value_quoted>[^\"'”’\n]{3,64})(?:[\"'”’])"
    + "|" + PASSWORD_WORD + r"(?:[ \t]+[\w'’-]+){0,6}?[\"']?[ \t]*(?:" + PASSWORD_VERB + r")[ \t]*"
    # not an article: "password on the label is ..." reads on to the verb ("on": Finnish "is")
    r"[\"'“„(`]?(?!(?i:the|a|an|my|your|this|that)\b)(?P<value>[^\s\"'`”“,;)]{2,}[^\s\"'`”“,;.!?)])"
    # "pass: Winter2024!", "pw is bluefish77": too short a word to take without a value that looks made up
    r"|(?i:(?<![\w-])(?:pass|pw|pword)(?![\w-]))(?:[ \t]+[\w'’-]+){0,4}?[ \t]*(?::|=|[ \t]is[ \t])[ \t]*"
    r"(?P<value_short>(?=[^\s\"',;)]*\d)[^\s\"'”,;)]{3,}[^\s\"'”,;.!?)])"
    # "://user:pass@host", "redis://:pass@host"; a password may hold "@": the host follows the last one
    r"|://[^\s:/]*:(?P<value_in_url>[^\s:/?]{3,})@"  # the user may hold an "@": smtp://alerts@host.com:pass@mail...
    r"|\b(?:mysql|mysqldump|mariadb)\b[^\n]*?[ \t]-p['\"]?(?P<value_cli_p>[^\s'\"]{3,})"
    r"|\bsshpass[ \t]+-p[ \t]*['\"]?(?P<value_sshpass>[^\s'\"]{3,})"
    r"|\bredis-cli\b[^\n]*?[ \t]-a[ \t]+(?P<value_cli_a>[^\s'\"]{3,})"
    r"|\bdocker[ \t]+login\b[^\n]*?[ \t](?:-p|--password)[ \t]+(?P<value_cli_docker>[^\s'\"]{3,})"
    r"|\bcurl\b[^\n]*?[ \t](?:-u|--user)[ \t]+[^\s:'\"]+:(?P<value_cli_u>[^\s'\"]{3,})"
    # Polish "to" as the verb: "hasło do konta firmowego to Krakow#2024!"
    r"|(?i:\bhas[łl]o)(?:[ \t]+[\w'’-]+){0,4}?[ \t]+to[ \t]+(?P<value_to>" + MADE_UP + ")"
    # a user name and its password: "login is wei.zhang / letmein", "creds: admin:Summer2024"
    r"|(?i:\b(?:login|logon|credentials?|creds|sign[- ]in|basic[_ -]?auth)\b)[^\n:=]{0,20}?"
    r"(?:[:=]|[ \t](?:is|are|was|were)[ \t])"
    r"[ \t]*[\"']?[^\s/:\"',]+[ \t]*[/:][ \t]*(?P<value_pair>[^\s\"',;/][^\s\"',;]{1,}[^\s\"',;.!?):])(?=[\s\"',;.!?)]|\Z)"
    # after a password word: "... the new one is Kx9!mPq2", "guest one is Welcome2024", "set it to 'purple'",
    # "la antigua era Chispa_1987", "das neue ist ..."
    r"|(?i:\b(?:(?:the )?(?:[\w-]+ )?one|mine)[ \t]+(?:is|was|is now|will be)"
    r"|\b(?:la|el|a|o|il|le|l'|das|die|der)[ \t]?(?:nuev[oa]|antigu[oa]|viej[oa]|actual|nov[oa]|antig[oa]|nuov[oa]"
    r"|vecchi[oa]|nouvelle|nouveau|ancienne|ancien|neue|alte|aktuelle)[ \t]+(?:es|era|é|è|est|était|ist|war|lautet)"
    # "det gamla var ...", "vanha oli ...", "stare to było ...", "eskisi ... idi": the old one was
    r"(?:[ \t]+[\w'’-]+){0,3}?"
    r"|\b(?:det gamla var|det gamle var|den gamle var|vanha oli|stare to było|stare było|eskisi)"
    r"|\b(?:set|changed|reset|updated) it to)[ \t]*(?:[\"'“‘](?P<value_pronoun_quoted>[^\"'”’\n]{3,64})[\"'”’]"
    r"|(?P<value_pronoun>" + MADE_UP + "))"
    # the password someone shared, in brackets: "the password you sent (Bl4ckbird_77)", "the one you shared here (...)"
    + "|(?:" + PASSWORD_WORD + r"|(?i:\bthe one))(?:[ \t]+[\w'’-]+){0,3}?[ \t]+(?i:sent|shared|gave|typed|entered|used"
    r"|posted|pasted|wrote)(?:[ \t]+[\w'’-]+){0,2}?[ \t]*\((?P<value_shared>[^\s()]{3,64})\)"
    + "|" + PASSWORD_WORD + r"(?:[ \t]+[\w'’-]+){0,2}?[ \t]*\((?P<value_bracketed>(?=[^\s()]*[\d!@#$%^&*])[^\s()]{4,64})\)"
    # no verb: "password GlacierMintTea", "changed my password to Gato1234" only when it looks made up
    # (digits, symbols, inner capitals)
    + "|" + PASSWORD_WORD
    + r"(?:[ \t]+(?:to|a|na|på|til|naar|auf|en|à|in))?[ \t]+(?P<value_bare>" + MADE_UP + ")"
    # further on in the sentence, when it can only be one: "Пароль от личного кабинета Moskva_2023!!",
    # "wachtwoord in platte tekst (\"Tulpen2024!\")", "密码我已经改成 Shanghai@2024abc", "パスワード（Sakura#0714）"
    + "|(?:" + PASSWORD_WORD + r"|(?i:\bcredentials?\b))[^\n.?!\"'`]{0,40}?(?<![\w@#!$%^&*+/=-])[(\"'“‘`（「]?"
    r"(?P<value_later>" + STRONG_MADE_UP + ")"
    # what someone tried at a login: "tentei flamengo2019 e ...", "I've tried Tr0ub4dor&3"
    + r"|(?i:\b(?:tried|tentei|probé|intenté|ho provato|versucht|essayé|probeerde|próbowałem|denedim))[ \t]+"
    # a letter in it, no path or package ("tried @sentry/react-native"), no card number
    r"(?P<value_tried>(?=[^\s]*[^\W\d_])(?![^\s]*/)(?!@)" + MADE_UP + ")"
    + r"|\bWIFI:[^\n]*?;P:(?P<value_wifi>[^;\n]{3,64});"
    # Japanese and Korean write the word inside a compound, a particle after it: "初期パスワードは ...", "비밀번호를 ..."
    # Chinese too, and a few words in between: "密码我已经改成 Shanghai@2024abc", "パスワード（Sakura#0714）"
    + r"|(?:パスワード|비밀번호|密码|密碼)(?:[はをが를는가은是为：:]|[^\x00-\x7f\n]{1,12}?)?[ \t]*[「『（(]?(?P<value_cjk>(?=[!-~]*(?:\d|[!@#$%^&*]))[!-~]{5,64})"
    # PHP's configuration: "define( 'DB_PASSWORD', 'Stroopw@fel2024' );"
    + r"|\bdefine\(\s*['\"][A-Z_]*PASSWORD['\"]\s*,\s*['\"](?P<value_php>[^'\"\n]{3,64})['\"]")
KEYWORD_VALUE = r"(?![a-z])[\"']?\s*(?:[:=]|is)\s*[\"']?(?P<value>(?=[^\s\"',;]*\d)[^\s\"',;]{3,}[^\s\"',;.!?)])"
#: a key or a token after the word that names it: an API key, whoever issued it
KEYWORD_KEY = re.compile(r"(?i)(?<![a-z])(?:api[_ -]?key|secret(?:[_ -]?(?:access[_ -]?)?key)?|token"
                         r"|cl[ée] (?:d'|de l')?api|clave (?:de )?api|chiave (?:dell')?api|api[- ]?schlüssel|api anahtar\w*"
                         r"|access[_ -]?key)(?:" + KEYWORD_VALUE
                         # words between, then a colon and a long key: "API key for the tracking service: 8a24b4..."
                         + r"|(?:[ \t]+[\w'’-]+){1,5}?[ \t]*:[ \t]*[\"']?"
                         r"(?P<value_later>(?=[^\s\"',;]*\d)(?=[^\s\"',;]*[a-z])[A-Za-z0-9_+/=.-]{16,}[A-Za-z0-9=]))")
#: codes a person is sent or chooses: PINs, one-time codes
KEYWORD_SECRET = re.compile(r"(?i)(?<![a-z])(?:pin|otp|(?:verification|security|confirmation|one[- ]time|login|sms|2fa)"
                            r" code|the code)" + KEYWORD_VALUE)
# an address in Latin letters may touch CJK text ("ユーザーkentaito@example.co.jpのパスワード"): the text around
# it is not part of it; a local part in another script ("пользователь@пример.рф") stays in that script
LATIN_WORD = "A-Za-z0-9_\u00c0-\u024f"
EMAIL = re.compile(rf"(?:(?<![{LATIN_WORD}.%+-])[{LATIN_WORD}][{LATIN_WORD}.%+'-]*|(?<![\w.%+-])[^\W{LATIN_WORD}]"
                   rf"[^\W{LATIN_WORD}]*(?:[.%+'-][^\W{LATIN_WORD}]+)*)"
                   rf"@\w[\w-]*(?:\.[\w-]+)*\.(?:[A-Za-z]{{2,}}(?![{LATIN_WORD}-])|[^\W\d_]{{2,}}(?![\w-]))")
IBAN = re.compile(r"(?i)(?<![A-Z0-9])[A-Z]{2} ?\d{2}(?:[A-Z0-9]{11,30}|(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?)"
                  r"(?![A-Z0-9])")
#: for RE2 needles: what ``re``'s case-blind ``[A-Z]`` matches, also "İ", "ı", "ſ" and the Kelvin sign
CASE_BLIND_LETTER = r"A-Za-z\x{130}\x{131}\x{17f}\x{212a}"
#: what every IBAN holds: two letters, two digits, eight letters or digits
IBAN_SHAPE = compiled_re2(rf"[{CASE_BLIND_LETTER}]{{2}} ?\p{{Nd}}{{2}}(?: ?[0-9{CASE_BLIND_LETTER}]){{8}}")
ORDER = re.compile(r"(?i)\border\s*(?:number|no\.?|num|id|#)?(?:\s+is)?\s*[:#]?\s*#?(?P<value>(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,})\b")
ACCOUNT = re.compile(r"(?i)\b(?:account|acct|a/c)\s*(?:number|no\.?|num|#)?(?:\s+is)?\s*[:#]?\s*(?:ending in\s*)?"
                     r"(?P<value>\d(?:[ -]?\d){5,})\b")
# after "+": a phone number ("+55 21 99876-5432"); glued to a Latin letter: an id or a hash ("rec-f1a470422438389501e6",
# "txn_4532015112830366"), whose digit runs pass the Luhn check one time in ten (Chinese, Japanese and Korean
# write a card right after a word: "卡号6289 5573 1335 1361", "카드 6221 7711 7405 6586로")
CARD = re.compile(r"(?<![\dA-Za-z_+/-])\d(?:[ -]?\d){12,18}(?![\dA-Za-z_-])")
#: what every card number holds: thirteen digits, a space or dash between two at most (``\p{Nd}``: ``re``'s
#: ``\d`` is every script's digits, RE2's only ASCII ones)
CARD_DIGITS = compiled_re2(r"\p{Nd}(?:[ -]?\p{Nd}){12}")
SSN_SEPARATOR = "- ./–—‑"  # also slashes and the dashes a word processor puts in: "231/54/8812", "219–48–3307"
SSN_GROUPS = rf"(?!000|666|9\d\d)\d{{3}}([{SSN_SEPARATOR}])(?!00)\d{{2}}\1(?!0000)\d{{4}}"
SSN = re.compile(rf"(?<![\d-]){SSN_GROUPS}(?![\d-])"
                 # nine bare digits after the keyword: "ssn without dashes: 665019832", {"ssn": "431762209"}
                 # or later in the sentence: "SSNs without separators (e.g. 455219083)"
                 r"|(?i:\b(?:ssns?|ss ?(?:number|no|#)|social(?: security)?(?: numbers?| no\.?| #)?"
                 r"|s[ée]curit[ée] sociale|seguridad social|seguro social|previdenza sociale)\b)[^\d\n.?!]{0,60}?"
                 r"(?<!\d)(?P<value>(?!000|666|9)\d{9})\b")
NINO_SHAPE = r"(?!BG|GB|KN|NK|NT|TN|ZZ|QQ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][ -]?\d{2}[ -]?\d{2}[ -]?\d{2}[ -]?[A-D]"
NINO_NEAR_KEYWORD = r"(?!QQ)[A-Z]{2}[ -]?\d{2}[ -]?\d{2}[ -]?\d{2}[ -]?[A-D]"  # made-up prefixes too, next to the keyword
UK_NINO = re.compile(rf"(?<![A-Za-z0-9]){NINO_SHAPE}(?![A-Za-z0-9])"  # a particle may touch it: "...A이고"
                     # lower case only next to its keyword: "ty 71 04 55 c"
                     rf"|(?i:\b(?:ni|nino|national insurance)\b[^\n\d]{{0,30}}?(?<![A-Za-z0-9])(?P<value>{NINO_NEAR_KEYWORD})"
                     r"(?![A-Za-z0-9]))")
#: other countries' personal numbers, by the word that names them (tax and social-security ids, national id
#: cards); the acronyms only in capitals ("nie" is Polish for "not")
NATIONAL_ID_WORD = (r"(?i:personnummer|personnr|samordningsnummer|burgerservicenummer|sofinummer|codice fiscale"
                    r"|cod\. ?fiscale|num[ée]ro de s[ée]curit[ée] sociale|n° de s[ée]curit[ée] sociale|num[ée]ro insee"
                    r"|cpr[- ]?nummer|henkil[öo]tunnu\w*|f[øo]dselsnummer|rodn[ée] [čc][íi]slo|steuer-?id"
                    r"|steueridentifikationsnummer|sozialversicherungsnummer|ahv-?nummer|num[ée]ro avs"
                    r"|rijksregisternummer|n[úu]mero de identidad|n[úu]mero de contribuinte|cart[ãa]o de cidad[ãa]o"
                    r"|numer dowodu|dow[óo]d\w*(?: osobist\w*)?|national id(?:entity)?(?: card)? (?:number|no)"
                    r"|social insurance number|tax file number|tax id|taxpayer id|personal (?:id|identity) number"
                    r"|id[- ]?nummer|id card number|identity card number|num[ée]ro de s[ée]cu|registre national"
                    r"|carte d'identit[ée]|carta d'identit[àa]|carta de identidad|personalausweis\w*"
                    r"|social security(?: number| no\.?)?|seguridad social|personal number|personnummer\w*"
                    r"|f[øo]dselsnummer\w*|tc kimlik\w*|kimlik numara\w*|versichertennummer|versicherungsnummer"
                    r"|tax code|aadhaa?r|ppsn?(?: number| no\.?)?|num[ée]ro d'assurance sociale"
                    r"|ob[čc]ansk\S* pr[ůu]kaz\S*|henkil[öo]kortti\w*"  # not \w: RE2's is ASCII only
                    r"|taj[- ]?sz[áa]m\S*|szem[ée]lyi igazolv[áa]ny\S*(?: sz[áa]ma)?|ad[óo]azonos[íi]t\S*"
                    r"|c[ée]dula(?: de (?:ciudadan[íi]a|identidad))?|num[ée]ro (?:national|fiscal)|national number"
                    r"|matricule|steuer-?id-?nr\.?|t\.c\. kimlik\S*|[čc][íi]slo op|steuer-?identifikationsnummer"
                    r"|contribuinte|c\.f\.|주민등록번호[은는이가]?|マイナンバー[はがを]?|आधार(?: नंबर)?"
                    # Chinese, Indonesian, Vietnamese, Greek, Russian, Arabic, Emirati
                    r"|身份证(?:号码?)?|公民身份号码|nik|ktp|cccd|căn cước(?: công dân)?|cmnd|αμκα|αφμ|снилс|инн"
                    r"|полис(?: омс)?|омс|رقم الهوية(?: الوطنية)?|الرقم القومي|emirates id(?: number| no\.?)?"
                    r"|kvnr|krankenversichertennummer|nhs (?:number|no\.?)|krankenkassenkarte|versichertenkarte"
                    r"|n\.?º de utente(?: sns)?|número de utente|utente sns|個人番号|sv-nummer|rentenversicherungsnummer"
                    # identity numbers in Hebrew, Ukrainian, Chinese (Taiwan, Hong Kong), Thai; Medicare, UTR, "ID number"
                    r"|תעודת הזהות|תעודת זהות|ת\"ז|ідентифікаційний код|рнокпп|іпн|身分證字號|身份證號碼?|香港身份證"
                    r"|เลขบัตรประชาชน|บัตรประชาชน|medicare(?: card)?(?: number| no\.?)|(?:my )?id number"
                    r"|identity number|seguridad social|ת\.ז\.?"
                    # a JSON key names it too: {"pesel": "75021461402"}, {"codice_fiscale": ...}
                    r"|\"(?:cpr|pesel|nir|dni|nie|nif|bsn|cpf|cuil|cuit|curp|tfn|sin|ahv|hetu|codice_fiscale|cf|tax_?id"
                    r"|national_?id|personnummer|steuer_?id|id_?number|fnr|rc|tckn|svnr|nas|pps|aadhaar|pan|citizen_?id)\""
                    # acronyms that are no word in any language in any case; the others only in capitals
                    r"|bsn|pesel|dni|nif|nir|cpr|hetu|ahv|cpf|cuil|cuit|curp|tfn|ppsn|tckn|cnp)"
                    r"|(?-i:NIE|NIP|SIN|TIN|NAS|PAN|RG|RFC|TAJ|OP|AVS|NSS|TC)")
#: digits with the separators countries group them by, a letter before or after (Spanish "70914031V",
#: NIE "X1234567L"), or the Italian codice fiscale's letters and digits
NATIONAL_ID_NUMBER = (r"(?<![A-Za-z0-9_-])(?:[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]|\d{6}[-+A-Y]\d{3}[0-9A-Y]"
                      r"|[XYZ]?\d(?:[ .\-/]?\d){5,17}(?:[ -]?[A-Z]{1,2})?"
                      # ID cards mix letters and digits ("CA48211FJ", "LF2H7Y9M3"), as do India's PAN and Mexico's CURP
                      r"|(?=(?:[A-Z]*\d){2})[A-Z][A-Z0-9]{7,17})(?![A-Za-z0-9_-])")  # a particle may follow: "...를"
# a digit may follow, or a Chinese or Japanese particle: "身份证210202...", "身份证号是3201..."
NATIONAL_ID = re.compile(rf"(?<![A-Za-z0-9_\u00c0-\u024f])(?:{NATIONAL_ID_WORD})(?:[是为：:は](?=\d)|(?![^\W\d]))"
                         # up to the number, not into the next JSON field or the next sentence; or on the
                         # next line, under its label ("Social Insurance Number / Numéro d'assurance sociale\n...")
                         r"(?:(?:(?!,\s*\"|[?!]|\.\s+[A-Z][a-z])[^\d\n]){0,40}?|[^\d\n]{0,60}\n[ \t]*)"
                         r"(?!\d{1,4}[./-]\d{1,2}[./-]\d{1,4}(?!\d|[.-]\d))"  # a date further on: "Steuer-ID und Geburtsdatum (11.07.1979)"
                         rf"(?P<value>{NATIONAL_ID_NUMBER})")
#: personal numbers whose check digits say what they are without a word naming them, tried with
#: python-stdnum: Spain's DNI and NIE, Italy's codice fiscale, Sweden's personnummer, Finland's HETU,
#: Denmark's CPR, Belgium's national number, France's NIR, India's Aadhaar (in groups of four), Brazil's CPF
#: and Germany's Steuer-ID as they are written
CHECKED_ID_SHAPES = (
    ("es.dni", r"\d{8}-?[A-Z]"), ("es.nie", r"[XYZ]\d{7}[A-Z]"), ("it.codicefiscale", r"[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]"),
    ("se.personnummer", r"(?:19|20)?\d{6}[-+]\d{4}"), ("fi.hetu", r"\d{6}[-+A]\d{3}[0-9A-Y]"), ("dk.cpr", r"\d{6}-\d{4}"),
    ("be.nn", r"\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2}"), ("fr.nir", r"[12] ?\d{2} ?\d{2} ?\d{2} ?\d{3} ?\d{3} ?\d{2}"),
    ("in_.aadhaar", r"(?<!\d )[2-9]\d{3} \d{4} \d{4}(?! \d)"),  # not three groups of a longer number
    ("br.cpf", r"\d{3}\.\d{3}\.\d{3}-\d{2}"), ("de.idnr", r"\d{2} \d{3} \d{3} \d{3}"),
    ("ch.ssn", r"756\.\d{4}\.\d{4}\.\d{2}"), ("cn.ric", r"\d{17}[\dX]"), ("kr.rrn", r"\d{6}-\d{7}"),
    ("cl.rut", r"\d{1,2}\.\d{3}\.\d{3}-[\dkK]"), ("th.pin", r"\d-\d{4}-\d{5}-\d{2}-\d"), ("in_.pan", r"[A-Z]{3}[PCHFATBLJG][A-Z]\d{4}[A-Z]"),
    ("no.fodselsnummer", r"\d{11}"))
#: check digits too weak to go on alone (one number in ten or eleven passes), enough in a person's record
RECORD_ID_CHECKS = ("pl.pesel", "nl.bsn", "ca.sin", "gr.amka", "no.fodselsnummer", "be.nn", "dk.cpr", "se.personnummer",
                    "il.idnr", "za.idnr", "th.pin", "ua.rntrc")
# CJK text may touch it: "我的身份证号是320102197810034793，"
CHECKED_ID = re.compile(r"(?<![A-Za-z0-9_.-])(?:" + "|".join(shape for _, shape in CHECKED_ID_SHAPES)
                        + r")(?![A-Za-z0-9_-]|\.\d)")
#: the shapes without their lookarounds (RE2 has none), for RE2 to tell whether a text holds one at all
CHECKED_ID_SHAPE = compiled_re2("|".join(re.sub(r"\(\?<?!.*?\)", "", shape) for _, shape in CHECKED_ID_SHAPES)
                                .replace(r"\d", r"\p{Nd}"))


def checked_id(value: str) -> str | None:
    """The number if a country's check digits hold for it (a date inside it too, where it has one)."""
    for name, shape in CHECKED_ID_SHAPES:
        if re.fullmatch(shape, value) and importlib.import_module(f"stdnum.{name}").is_valid(value):
            return compact(value)
    return None


PASSPORT_WORD = (r"passport|reisepass|旅券(?:番号)?|דרכון|passnummer(?:et)?|pasu|ppt|パスポート番号|パスポート|여권번호|여권|passeport|pasaporte|passaporto|paspoort|passaporte|pasnummer"
                 r"|paszport\w*|passin|passi|pas č\.?|pass_?nr|pasnr\.?|pasaport\w*"
                 r"|护照(?:号码?)?|paspor|διαβατήριο|[úu]tlev[ée]l|جواز(?: السفر)?|पासपोर्ट(?: संख्या)?|загранпаспорт\w*"
                 r"|паспорт\w*|pass nummer|passini|pa[sș]aport\w*|pass-?nr\.?|الجواز|hộ chiếu|διαβατηρίου|διαβατήρι[οό]"
                 r"|pass har nummer")
# letters and digits, or Russia's series and number ("75 4829173")
PASSPORT_NUMBER = r"(?<![A-Za-z0-9])(?:(?=[A-Z]{0,6}\d)[A-Z0-9]{6,9}|\d{2} \d{7}|\d{2} \d{2} \d{6})(?![A-Za-z0-9])"
#: a number another one of its series may be: a passport's, or a personal number's digits
SERIES_MEMBER = re.compile(rf"{PASSPORT_NUMBER}|(?<![\w.-])\d{{9,13}}(?![\w-])")
#: a code right after a booking word is the booking's: "Passport photo uploaded; your booking 4ESS7C"
NOT_A_BOOKING = "".join(f"(?<!{word}{sep})" for word in ("booking", "Booking", "PNR", "reservation", "locator", "ref")
                        for sep in (" ", ": ", " #"))
DOCUMENT_TYPE_P = r"(?i:\b(?:doc(?:ument)?[ _]?)?(?:type|kind)|\bdoc(?:ument)?)[\"']?[ \t]*[:=][ \t]*[\"']?(?:P|passport)(?!\w)"
#: a traveller's surname and given names as airlines write them: "SMIT/DAAN", "ROCHA LIMA/FERNANDA"
MANIFEST_NAME = r"[A-Z]{2,}(?: [A-Z]{2,})?/[A-Z]{2,}"


@cache
def country_codes(length: int) -> str:
    """ISO 3166 alpha-2 or alpha-3 codes (Faker's lists), as a regex alternation."""
    from faker.providers.address import Provider as Address

    return "|".join(Address.alpha_2_country_codes if length == 2 else Address.alpha_3_country_codes)


COUNTRY_CODE_3 = country_codes(3)
COUNTRY_CODE = f"{COUNTRY_CODE_3}|{country_codes(2)}"
PASSPORT = re.compile(
    # Chinese, Japanese and Korean write the number right after the word: "护照号码E40871964"
    rf"(?:护照号码?|パスポート(?:番号)?|旅券番号|여권번호)[はがは是：:（(\s는은가]*(?P<value_cjk>{PASSPORT_NUMBER})"
    rf"|(?i:(?<![^\W_])(?:{PASSPORT_WORD})(?:e?s)?(?:[ _-]?(?:nummer|nr|number|no|num|numéro|número|numero|sz[áa]m))?\b)"
                      rf"[^\n\d]{{0,40}}?{NOT_A_BOOKING}(?P<value>{PASSPORT_NUMBER})"
                      # further on after a word that says the number follows, also after a compound:
                      # "my passport? I'm Ana, number FE184527", "PassportError: ... for document C4J7RN2L8"
                      rf"|(?i:\b(?:{PASSPORT_WORD})\w*)[^\n\d]{{0,60}}?"
                      rf"(?i:\b(?:number|no|nr|nummer|numéro|número|numero|document)\b)\.?[ \t:#]*"
                      rf"(?P<value_further>{PASSPORT_NUMBER})"
                      # a travel document of type P, its number further on: {"doc_type": "P", "doc_no": ...},
                      # an OCR'd data page ("Type: P  Issuing state: GBR ... Document no. 941459560")
                      rf"|{DOCUMENT_TYPE_P}[^{{}}]{{0,200}}?(?i:\b(?:number|no|nr|doc_?no|document[ _]?(?:no|nr|number)))"
                      rf"\.?[\"']?[ \t]*[:=.]?[ \t]*[\"']?(?P<value_document>{PASSPORT_NUMBER})"
                      # an airline manifest's line: "PAX 1  SMIT/DAAN  NLD  PYESVN484", "OYELARAN/TUNDE MR  A10928374  NG"
                      rf"|(?P<value_before_country>{PASSPORT_NUMBER})(?=[ \t]+(?:{COUNTRY_CODE})\b)"
                      rf"|(?<![A-Za-z0-9])(?:{COUNTRY_CODE_3})[ \t]+(?P<value_after_country>{PASSPORT_NUMBER})")
BIRTH_WORD = (r"born|dob|d\.o\.b\.?|date[ _]of[ _]birth|birth[ _-]?date|birthday|geboren|geburtsdatum|geb\.|née?"
              r"|nato|nata|nacid[oa]|naci[oó]|nacimiento|nascimento|nascita|geboortedatum"
              r"|date[ _]de[ _]naissance|date_naissance|naissance|geburtstag"
              # Swedish, Danish, Norwegian, Finnish, Polish, Portuguese "nasci", Czech
              r"|född|födelsedatum|født|fødselsdato|fødselsdag|syntynyt|syntymäaika|urodzon[ya]|urodzenia"
              r"|urodzi\w*|nasci|nasceu|nac[ií]|narozen[aá]?|datum narození|datum_narozeni|syntym[äa]aika"
              r"|f[øo]edselsdato|doğum tarih\w*|dogum[ _]tarih\w*"
              # Hungarian, Romanian, Czech "narodil jsem se"
              r"|sz[üu]let[ée]si d[áa]tum\w*|sz[üu]lett\S*|sz[üu]l\.|n[ăa]scut[ăa]?|data na[șs]terii|narodil\S*"
              # "ur." (Polish), "nar." (Czech), "s." (Finnish), Japanese, Korean, Hindi
              r"|ur\.|nar\.|s\.|生年月日|생년월일|जन्म\S*|janm_tithi"
              r"|生まれ|생|doğumlu|생년월일[은이]|生年月日[はが]|出生日期[是为]|gimimo data|nascid[oa]|出生于|sinh ngày"
              r"|ميلاده|ميلادها|ميلادي|родил\S*|г\.\s?р\.|生"  # the last two stand after the date: "(昭和12年4月3日生まれ)", "1942년 3월 15일생", "12.04.1957 doğumlu"
              # Vietnamese, Indonesian, Russian, Chinese, Greek, Arabic, Hindi
              r"|ngày sinh|tanggal lahir|tgl\.? lahir|lahir|дата рождения|д\.р\.|出生日期|出生|生日|ημερομηνία γέννησης"
              r"|γέννηση|تاريخ الميلاد|जन्म तिथि|γεννήθηκε|γεννημένη|γεννημένος|народився|народилася|дата народження"
              r"|родился|родилась|เกิดวันที่|נולד|נולדה|תאריך לידה|ولد|ولدت")
MONTH_WORD = r"(?:[^\W\d_]|[\u0900-\u097f\u0e31-\u0e4e]){3,12}\.?"  # any language: the birth keyword is what makes it a date of birth
DATE = (r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{1,2}\.[ \t]\d{1,2}\.[ \t]\d{4}"
        # "14 March 1992", "5th of June, 1971", "3 de marzo de 1990", "14. Februar 1975", "5-Jun-1971"
        rf"|\d{{1,2}}(?:st|nd|rd|th|er|º)?\.?(?:[ \t]+(?:of|de|di))?[ \t-]+{MONTH_WORD},?(?:[ \t]+(?:de|del))?"
        rf"[ \t-]+\d{{4}}"
        rf"|{MONTH_WORD}[ \t]+\d{{1,2}}(?:st|nd|rd|th)?,?[ \t]+\d{{4}}|\d{{2}}[A-Z]{{3}}\d{{2}}"
        r"|\d{4}[ \t]?[年년][ \t]?\d{1,2}[ \t]?[月월][ \t]?\d{1,2}[ \t]?[日일]?"  # "1990年5月14日", "1993년 7월 21일"
        rf"|\d{{4}}\.[ \t]+{MONTH_WORD}[ \t]+\d{{1,2}}\.?"  # Hungarian: "1959. április 11."
        r"|(?:昭和|平成|令和)\d{1,2}年\d{1,2}月\d{1,2}日|\d{1,2} tháng \d{1,2} năm \d{4}")
DATE_OF_BIRTH = re.compile(rf"(?i:(?<![^\W_])(?:{BIRTH_WORD})(?![^\W\d_]))[^\n\d]{{0,40}}?(?<!\d)(?P<value>{DATE})(?!\d)"
                           # Chinese and Japanese write the word inside a sentence, with no space: "李浩然出生于2011年3月9日"
                           rf"|(?:出生于|出生日期|生年月日)[是为はが：:\s]*(?P<value_cjk>{DATE})"
                           # the word after the date: "am 5. Mai 1970 geboren", "（昭和22年5月3日生）", "07.11.1944 г.р."
                           rf"|(?<!\d)(?P<value_before>{DATE})(?:[ \t]+(?i:geboren)\b|[ \t]?(?:生まれ|生|생|doğumlu|г\.\s?р\.))")
#: a person's record on one line: a date after their name, with only ids and codes between ("Nils Hoffmann,
#: 08.05.1979", "Terrence Ogilvie | 449 39 9760 | 1971-08-30", "SMIT/DAAN  NLD  PYESVN484  M  1981-09-14")
RECORD_SEPARATOR = r"(?:[ \t]*[,;|·•—–][ \t]*|[ \t]+)"
RECORD_DATE = re.compile(rf"{RECORD_SEPARATOR}(?:[A-Z0-9][A-Z0-9./-]*{RECORD_SEPARATOR}){{0,5}}?(?<!\d)"
                         r"(?P<value>\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{4}"
                         r"|\d{2}(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)\d{2})(?!\d)")
RECORD_REACH = 80
BIRTH_YEARS_BACK = 12  # a date this many years back or more may be a birth date; a later one is an event's


def person_record_dates(text: str, name_ends: list[int]) -> Iterator[Window]:
    """Dates of birth in people's records: a date a dozen years back or more after a name on its line."""
    latest = datetime.date.today().year - BIRTH_YEARS_BACK
    for end in name_ends:
        if (match := RECORD_DATE.match(text, end, end + RECORD_REACH)) and 1900 <= year_of(match["value"]) <= latest:
            yield match.span("value")


RECORD_CELL = re.compile(r"[^,;|·•—–\t\n]+")


def person_record_ids(text: str, name_ends: list[int]) -> Iterator[Window]:
    """Personal numbers in people's records: a cell after a name on its line whose country's check digits
    hold ("Tomasz Lis, 79110228091", "Noor Bakker-Yilmaz;308579872;NL21KNAB...")."""
    for end in name_ends:
        for cell in islice(RECORD_CELL.finditer(text, end, end + RECORD_REACH), 4):
            value = cell.group().strip(" .")
            if 9 <= len(digits_only(value)) <= 13 and all(ch.isdigit() or ch in " .-" for ch in value) and any(
                    importlib.import_module(f"stdnum.{name}").is_valid(value) for name in RECORD_ID_CHECKS):
                start = cell.start() + cell.group().index(value)
                yield start, start + len(value)


def year_of(date: str) -> int:
    """The year of a numeric date or an airline's "19MAY92" (two digits: the latest century before now)."""
    years = [group for group in re.findall(r"\d+", date) if len(group) == 4]
    if years:  # a Thai date counts years from the Buddha: 2539 is 1996
        return int(years[0]) - (543 if int(years[0]) > datetime.date.today().year + 400 else 0)
    two_digits = int(date[-2:])
    return 2000 + two_digits if 2000 + two_digits <= datetime.date.today().year else 1900 + two_digits


# the digit first, so ``re`` skips ahead to one (faster than searching near a hint); ``ipaddress`` checks the octets
# CJK text may touch it: "サーバー192.168.6.167用"
IPV4 = re.compile(r"\d(?<![A-Za-z0-9_.]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![A-Za-z0-9_]|\.\d)")
VERSION_WORD = compiled_re2(r"(?i)\b(?:versions?|versione|versie|versión|versão|build|release|upgrad\w*|ver|firmware"
                           r"|rev|patch|python|java|node|sdk|kernel|package|section|sections|chapter|clause|article"
                           r"|paragraph|step|table|figure|fig|rule|oid|§|driver|module|modulo|modul"
                           r"|verze|versio|wersja|versiyon|sürüm|rolled back to|previous|předchozí|vorherige|précédente)\b"
                           r"|_version\b")  # any identifier ending in _version
#: ids, parcel numbers and amounts written like phone numbers, right after their keyword or currency sign
PRODUCT_NUMBER = compiled_re2(
    r"(?i)\b(?:sku|isbn|ean|upc|gtin|asin|serial|s/n|part|model|tracking|ticket|case|incident|issue|bug|invoice|inv"
    r"|bill|ref|reference|transaction|txn|trx|receipt|booking|reservation|confirmation|conf|id|order|po|shipment"
    r"|parcel|package|consignment|awb|waybill|claim|policy|member|membership|customer|client|employee|staff|badge"
    r"|student|patient|mrn|record|file|docket|licen[cs]e|permit|registration|vin|imei|iccid|imsi|asset|batch|lot"
    r"|job|build|run|request|req|session|pid|voucher|coupon|loyalty|points|amount|total|balance|price|cost|fee"
    r"|usd|eur|gbp|inr|aud|cad|chf|jpy|rs|auftrag|rechnung|bestellung|kundennummer|commande|facture|pedido"
    r"|factura|ordine|fattura|bestelling|factuur|ein"
    # shipments and the carriers whose tracking numbers are grouped like phone numbers
    r"|spedizione|sendung|sendungsnummer|paket|envío|envio|colis|expédition|zending|pakket|remessa|encomenda"
    r"|fedex|ups|usps|dhl|dpd|gls|brt|tnt|hermes|colissimo|chronopost|postnl|correos|royal mail|parcelforce)"
    r"(?: ?(?:no\.?|nr\.?|n°|nº|number|num|#|id|code))?(?:[ \t]+(?:is|was))?[:#]? ?\d"  # "booking: +41 79 ..." is a phone
    r"|[$€£¥₹][ \t]?\d")
IPV4_SHAPE = compiled_re2(r"\p{Nd}\.\p{Nd}{1,3}\.\p{Nd}{1,3}\.\p{Nd}")  # what every IPV4 match holds
IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
# a Korean or Japanese particle may follow with no space: "010-4821-7736입니다"
# not ISO dates; two spaces end a number: "vers 01 45 55 02 18   4 min" is a call record's columns
# an escaped newline or tab in a JSON string before it is no letter: "Sabine Lehmann\\n0151 23456789"
PHONE = re.compile(r"(?:(?<=\\n)|(?<=\\t)|(?<![A-Za-z0-9_+\-./#]))(?!\d{4}-\d\d-\d\d(?!\d))(?:\(\+\d{1,3}\)[ ]?)?\+?\(?\d(?:[\d()./-]|[ ](?![ \t])){5,20}\d"
                   r"(?![A-Za-z0-9_-]|\.\d)")
STREET_SUFFIX = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
                 r"Terrace|Parkway|Pkwy|Circle|Highway|Hwy|Square")
US_ADDRESS = (rf"\b\d{{1,6}}(?: [NSEW]\.?)? (?:(?:[A-Z][a-z]+|\d+(?:st|nd|rd|th)) ){{1,3}}(?:{STREET_SUFFIX})\b"
              r"(?:,? (?:Apt|Apartment|Suite|Ste|Unit)\.? ?#?[A-Za-z0-9-]+|,? #\d+[A-Za-z]?)?"
              r"(?:, (?:[A-Z][a-z]+ ){0,2}[A-Z][a-z]+,? [A-Z]{2} \d{5}(?:-\d{4})?)?")
# Addresses that end in a postcode: a street (number first, "12 rue de la Paix"; or name first,
# "Hauptstraße 5"), up to three more lines or comma-separated parts, then the postcode
# (UK "NW1 6XE", US "IL 62704", AU "NSW 2000", IN "400050") or postcode and city (DE/FR/ES/IT
# "10115 Berlin", NL "3511 NK Utrecht", PT "1100-053 Lisboa").
PLACE_WORD = rf"[{UPPER}][\w'’-]*\.?"
LINK = r"(?:upon|on|de|la|le|du|des|di|del|della|da|do|dos|das|van|der|den|am|an|im|y|e|sur|en|sous)"
PLACE = rf"{PLACE_WORD}(?:[ \t]+(?:{LINK}[ \t]+)*{PLACE_WORD}){{0,4}}"
HOUSE = r"(?!0)\d{1,5}[A-Za-z]?(?:(?:[-/]\d{1,4}[A-Za-z]?){1,2}|-[IVX]{1,4})?\b(?:[ \t]+(?:m\.|bus)[ \t]?\d{1,4}\b)?"
CITY = rf"[{UPPER}][\w'’-]*(?:[ \t]+(?:{LINK}[ \t]+)*[{UPPER}][\w'’-]*){{0,2}}"
FLOOR = r"\d{1,3}\.?[º°ª]\.?(?:[ \t]*\w{1,5}\.?)?"  # Spanish "3º B", "2º izq.", Portuguese "2.º Esq."
UNIT = (r"(?:(?:st|\d{1,2})\.(?:[ \t]*(?:tv|th|mf|sal))?\.?"  # Danish floors and sides: "st. tv.", "2. th.", "1. sal"
        r"|(?:(?i:flat|unit|apt|apartment|suite|ste|room|floor"
        # Portuguese, Spanish, French, German, Italian: "apto 31", "Dpto. 4B", "appt 12", "Whg. 5", "interno 7"
        r"|apto|ap|apartamento|bloco|andar|sala|piso|depto|dpto|departamento|appt|appartement|étage|bât|whg|wohnung"
        r"|interno|int|scala|boîte|boite|daire)\.?|#)[ \t]*[\w-]+)")
PART_SEP = r"(?:,[ \t]*\n?[ \t]*|[ \t]*\n[ \t]*)"
STREET = (rf"(?:{UNIT}{PART_SEP}(?:{HOUSE},?[ \t]+)?{PLACE}"
          rf"|{HOUSE},?[ \t]+(?:[{LOWER}.]+[ \t]+){{0,3}}{PLACE}"
          rf"|(?:C/[ \t]*)?{PLACE}[ \t]+(?:(?:No|Nr|N[º°o])\.?:?[ \t]*)?{HOUSE})")
UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}\b"
#: DE/FR/ES/IT "10115", NL "3511 NK", PT "1100-053", BR "01060-970", SE "411 38", PL "31-019"
POSTCODE_BEFORE_CITY = r"(?:\d{5}(?:-\d{3})?|\d{4}[ \t]?[A-Z]{2}\b|\d{4}-\d{3}|\d{3}[ \t]\d{2}|\d{2}-\d{3})"
# AT/CH/BE/DK postcodes have four digits, like a year: "Sprint 14, 2025 Planning" is no address, so the
# street must say it is one ("Kirchgasse 8, 8001 Zürich", "Rue Royale 120, 1000 Bruxelles")
STREET_WORD_END = (r"gasse|stra(?:ss|ß)e|str\.|weg|platz|allee|damm|ufer|gade|vej|gata|gatan|vägen|veien|straat|laan"
                   r"|gracht|plein|kade|dreef|singel|steeg|markt|utca")
STREET_WORD = re.compile(rf"\w(?:{STREET_WORD_END})\b")  # a street written as one word, for ``named_place``
STREET_PREFIX = (r"rue|avenue|av|boulevard|bd|chaussée|place|quai|via|viale|piazza|corso|rua|calle|c/|avenida|plaza"
                 r"|paseo|carrer|ulica|ul|travessa|largo|praça")
POSTAL_ADDRESS = (rf"{STREET}(?:{PART_SEP}(?:{UNIT}|{FLOOR}|{PLACE})){{0,3}}?"
                  rf"(?:{PART_SEP}(?:[A-Z]{{1,2}}-)?{POSTCODE_BEFORE_CITY}[ \t]+{CITY}"
                  rf"|{PART_SEP}{CITY}[ \t]+-[ \t]+[A-Z]{{2}},?[ \t]+\d{{5}}-\d{{3}}\b"
                  rf"|(?:{PART_SEP}|[ \t]+)(?:{UK_POSTCODE}|[A-Z]{{2,3}}[ \t]+\d{{4,5}}(?:-\d{{4}})?\b|\d{{6}}\b))")
NAMED_STREET = (rf"(?:(?:{PLACE}[ \t]+)?(?=[{UPPER}])[\w'’-]*(?i:{STREET_WORD_END})"
                # the street word apart, as Norwegian and Danish write it: "Thorvald Meyers gate 19"
                rf"|{PLACE}[ \t]+(?:gate|vei|veg|gata|gade|vej|allé)"
                rf"|(?i:{STREET_PREFIX})\.?[ \t]+(?:[{LOWER}.']+[ \t]+){{0,3}}{PLACE}"
                rf"|{PLACE}[ \t]+(?:{STREET_SUFFIX})\.?)[ \t]+{HOUSE}"
                rf"|{HOUSE},?[ \t]+(?i:{STREET_PREFIX})\.?[ \t]+(?:[{LOWER}.']+[ \t]+){{0,3}}{PLACE}")
FOUR_DIGIT_ADDRESS = rf"(?:{NAMED_STREET})(?:{PART_SEP}(?:{UNIT}|{FLOOR})){{0,2}}{PART_SEP}\d{{4}}[ \t]+{CITY}"
PO_BOX = (r"(?:P\.?[ \t]?O\.?[ \t]?[Bb]ox|Post[ \t]Office[ \t]Box|Postfach|Postbus|Apartado(?: de [Cc]orreos)?|Apdo\."
          r"|Boîte [Pp]ostale|Caixa [Pp]ostal|Casella [Pp]ostale)[ \t]+\d+(?:[ \t]\d+){0,3}"
          rf"(?:{PART_SEP}(?:{PLACE},?[ \t]+[A-Z]{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?"
          rf"|(?:{POSTCODE_BEFORE_CITY}|\d{{4}})[ \t]+{CITY}|{PLACE}[ \t]+{UK_POSTCODE}))?")
# Japanese: block numbers "3-14-2", the district, the ward or city ("Shibuya-ku"), the postcode "150-0001"
JP_ADDRESS = (rf"\d{{1,2}}-\d{{1,3}}(?:-\d{{1,3}})?[ \t]+{PLACE}(?=[^\n]{{0,80}}?-(?:ku|shi|ken|cho|machi|gun)\b)"
              rf"(?:{PART_SEP}{PLACE}){{1,3}},?[ \t]+(?:〒[ \t]?)?\d{{3}}-\d{{4}}\b")
# a four-digit address starts with a capital or a house number: other places fail at once
#: what says an address follows, whatever its country's grammar: a label with a colon, or "I live at"
ADDRESS_CUE = (r"(?i:(?:(?:delivery|shipping|billing|home|postal|mailing|new|registered|correspondence)[ \t]+)?address"
               r"|adres\w*|adresse|adresa|direcci[óo]n(?: de (?:env[íi]o|entrega))?|endere[çc]o(?: de entrega)?"
               r"|indirizzo|anschrift|lieferadresse|adr|c[íi]m|teslimat adresi|domicilio|адрес|διεύθυνση|alamat"
               r"|địa chỉ|العنوان)[ \t]*[:=][ \t]*|(?:地址|住址|收货地址)[:：]?[ \t]*"
               # a verb instead of a colon: "your new address is ...", Turkish "yeni adresiniz ... olarak"
               r"|(?i:(?:(?:new|current|delivery|shipping|billing|home)[ \t]+)?address[ \t]+(?:is now|is|was)"
               r"|adres(?:iniz|im|i)|nueva dirección es|nouvelle adresse est|neue adresse ist)[ \t]+"
               r"|(?i:i live at|i moved to|we moved to|i'm now at|moro na|moro em|moro no|vivo en|vivo a|vivo na"
               r"|wohne in der|wohne im|wohne am|j'habite au|j'habite à|j'habite|mieszkam (?:na|przy)|bor på"
               r"|locuiesc (?:pe|la)|eu sunt la|oturuyorum)[ \t]+")
#: the address after a cue runs to the end of its line or sentence: not past a "." that ends an
#: abbreviation ("Av. Corrientes", "depto. B"), and not into the sentence that goes on ("... 15074 and need")
CUED_ADDRESS = re.compile(rf"(?:{ADDRESS_CUE})"
                # who it is for, before a street with its number: "Leveransadress: Astrid Nyström, Storgatan 12, ..."
                rf"(?:[{UPPER}][{LOWER}'’-]+(?:[ \t]+(?:[{UPPER}][\w'’-]+|d[aeo]s?|van|von|de|der|den|la|le))+,[ \t]*"
                rf"(?=[^\n,\d]*[{UPPER}{LOWER}]{{3}}[^\n,]*\d))?"
                # a capitalised word, or words of a script without capitals
                rf"(?P<value_cued>(?=[^\n]{{0,80}}?(?:[{UPPER}][{LOWER}]{{2}}|[^\x00-\u024f\d\s\W]{{2}}))(?=[^\n]{{0,80}}?\d)"
                r"[^\n!?]{4,120}?\w)"
                r"(?=[ \t]*(?:$|\n|[!?]|[.;,]?[ \t]*\Z|[，。；]|(?<!\bAv)(?<!\bStr)(?<!\bSt)(?<!\bNr)(?<!\bnr)(?<!\bNo)"
                r"(?<!\bCad)(?<!\bMah)(?<!\bdepto)(?<!\bdpto)(?<!\bapt)(?<!\bapto)(?<!\bul)(?<!\bal)(?<!\bpl)(?<!\bap)(?<!\bbl)(?<!\bsc)"
                # a sentence that goes on after it: "... Buenos Aires. A nombre de", "... Göteborg. Ring +46"; not
                # an abbreviation before a number or a name ("Hauptstr. 27", "д. 88", "TP. Hồ Chí Minh")
                r"[.;][ \t]+(?=[A-Z][a-z]*(?:[ \t]+[a-z0-9+(]|[,.:!?]|\Z))|,[ \t]*(?i:gsm|t[eé]l|tlf|phone|mobile?|mobil|festnetz)\b|[ \t]+(?:and|und|et|e|y|och|og|ve|but|mais|pero|was|is|until|până|bis|hasta|até|jusqu'au|olarak)[ \t]))")

CUED_ADDRESS_HINT = (r"address|adres|adresse|adresa|direcci|endere|indirizzo|anschrift|adr|cím|cim|domicilio|live at"
                     r"|адрес|διεύθυνση|alamat|địa chỉ|العنوان|地址|住址"
                     r"|moved to|now at|moro n|vivo |wohne|habite|mieszkam|bor på|locuiesc|sunt la|oturuyorum")
#: Japanese and Korean addresses, written from the prefecture or province down: "大阪府大阪市北区梅田3-1-3",
#: "서울특별시 강남구 테헤란로 152, 12층 (역삼동)"
KANJI = "\u4e00-\u9fff\u3040-\u30ff"
EAST_ASIAN_ADDRESS = re.compile(
    # Chinese, from the province or city down to the number: "北京市朝阳区建国路88号SOHO现代城B座1706"
    rf"(?:[\u4e00-\u9fff]{{2,3}}(?:省|自治区))?[\u4e00-\u9fff]{{2,4}}市[\u4e00-\u9fff]{{1,5}}(?:区|县)"
    rf"[\u4e00-\u9fff0-9]{{1,20}}?(?:路|街|道|大道)[ ]?\d+[ ]?号(?:[\u4e00-\u9fffA-Za-z0-9 ]{{0,24}}\d)?|"
    rf"(?:東京都|北海道|(?:大阪|京都)府|[{KANJI}]{{1,3}}県)[{KANJI}]{{1,12}}?[市区町村郡][{KANJI}0-9０-９ー−－-]{{0,24}}\d"
    rf"(?:[ 　][{KANJI}A-Za-z]{{2,20}}(?:[ 　]\d{{1,5}})?)?"
    r"|[가-힣]{2,6}(?:특별시|광역시|특별자치시|도)[ ][가-힣]{1,6}(?:시|군|구)(?:[ ][가-힣]{1,6}(?:구|군))?"
    r"[ ][가-힣0-9]{1,12}(?:로|길)(?:[ ]?\d+(?:번?길))?[ ]\d+(?:-\d+)?(?:,[ ]?\d+(?:층|호))?(?:[ ]?\([가-힣0-9]+\))?")
CYRILLIC_WORD = r"[А-ЯЁІЇЄ][\w'’-]+"
#: street addresses in the grammars of Russian, Ukrainian, Greek, Hebrew, Arabic, Hindi, Thai, Vietnamese,
#: Indonesian, Colombian Spanish and Québec French, each by its street word and the parts that follow it
SCRIPT_ADDRESS = re.compile(
    # "м. Київ, вул. Хрещатик, 15, кв. 42, 01001", "Лиговском пр., д. 44, кв. 12", "наб. реки Мойки, д. 58, оф. 305"
    rf"(?:\d{{6}},[ ])?(?:(?:г\.|м\.)?[ ]?{CYRILLIC_WORD}(?:[ -]{CYRILLIC_WORD})?,[ ])?"
    rf"(?:(?:ул|вул|пр|просп|наб|пер|бул|пл|ш)\.(?:[ ]реки)?[ ]?{CYRILLIC_WORD}(?:[ ]{CYRILLIC_WORD})?"
    rf"|{CYRILLIC_WORD}[ ](?:ул|вул|пр|просп|наб|пер|бул)\.),[ ](?:д\.|буд\.)?[ ]?\d+[\w/-]*"
    rf"(?:,[ ](?:кв|корп|стр|оф|под)\.[ ]?\d+\w*)*(?:,[ ](?:м\.[ ]|г\.[ ])?{CYRILLIC_WORD})?(?:,[ ]\d{{5,6}})?"
    # "Τσιμισκή 45, 546 23 Θεσσαλονίκη", "Λεωφ. Βασιλίσσης Σοφίας 72, 115 21 Αθήνα"
    r"|(?:Λεωφ\.[ ]|Οδός[ ])?[Α-ΩΆ-Ώ][α-ωά-ώς.]+(?:[ ][Α-ΩΆ-Ώ][α-ωά-ώς]+){0,2}[ ]\d{1,4}[Α-Ωα-ω]?,[ ]\d{3}[ ]\d{2}"
    r"(?:[ ][Α-ΩΆ-Ώ][α-ωά-ώς]+)?"
    # "רחוב הרצל 42, דירה 7, רמת גן 5226311", "דרך מנחם בגין 132, תל אביב-יפו"
    r"|(?:רחוב|רח'|שדרות|שד'|דרך|סמטת)[ ][\u05d0-\u05ea\"' ]{2,30}?[ ]\d{1,4}(?:,[ ](?:דירה|קומה)[ ]\d+)*"
    r"(?:,[ ][\u05d0-\u05ea -]{2,25}?(?:[ ]\d{5,7})?)?(?=[.,\n\"]|$)"
    # "حي النرجس، شارع الأمير سلطان 4128، الرياض 13327", "ص.ب. 11452، عمّان 11118، الأردن"
    r"|(?:(?:حي|فيلا|شقة|مبنى|بناية)[ ][^\n،,]{1,25}،[ ])*(?:شارع|ص\.ب\.)[ ][^\n،,]{1,30}(?:،[ ][^\n،,.]{1,25}){0,3}"
    # "12, एम.जी. रोड, बेंगलुरु, कर्नाटक 560001"
    r"|\d{1,4},[ ][^\n]{2,40}?(?:रोड|मार्ग|नगर|गली)[^\n]{0,40}?\d{6}"
    # "88 ถนนรัชดาภิเษก แขวงดินแดง เขตดินแดง กรุงเทพฯ 10400"
    r"|\d{1,4}(?:/\d+)?[ ](?:ถนน|ซอย)[^\n]{2,80}?\d{5}"
    # "235 Nguyễn Văn Cừ, Phường 4, Quận 5, TP. Hồ Chí Minh"
    r"|(?:(?:Tầng|Lô|Số)[ ]\w+,?[ ])?[^\n,]{2,40},[ ](?:[Pp]hường|[Xx]ã)[ ][^\n,]{1,25},[ ](?:[Qq]uận|[Hh]uyện)[ ][^\n,]{1,25}"
    r"(?:,[ ](?:TP\.[ ]|Tp\.[ ]|Thành phố[ ])?[^\n,.]{2,20})?"
    # "Jl. Jend. Gatot Subroto Kav. 21, Jakarta Selatan 12930", "Perumahan Griya Asri Blok C2 No. 8, Bekasi Utara 17121"
    r"|(?:Jl\.|Jalan|Perumahan|Gedung)[ ][^\n]{3,80}?\d{5}\b"
    # "Carrera 7 # 71-21, Torre B, Of. 902, Bogotá D.C."
    r"|(?:Carrera|Calle|Cra\.|Cl\.|Avenida|Diagonal|Transversal)[ ]\d+[A-Z]?[ ]?#[ ]?\d+[A-Z]?-\d+(?:,[ ][^\n,]{2,25}){0,3}"
    # "4521, rue Saint-Denis, app. 3, Montréal (Québec) H2J 2L4"
    r"|\d{1,5},[ ](?:rue|avenue|boulevard|boul\.|chemin)[ ][^\n]{3,60}?[A-Z]\d[A-Z][ ]?\d[A-Z]\d")
#: what each of those grammars holds, for RE2 to find the windows the regex runs in
SCRIPT_ADDRESS_HINT = (r"(?:ул|вул|пр|просп|наб|пер|бул)\.|, д\.|\d{3} \d{2} [Α-Ω]|Λεωφ|רחוב|רח'|שדרות|דרך|شارع|ص\.ب"
                       r"|रोड|मार्ग|नगर|ถนน|ซอย|[Pp]hường|[Xx]ã |Jl\.|Jalan|Perumahan|Gedung|\d+[ ]?#[ ]?\d"
                       r"|\d, (?:rue|avenue|boul|chemin)")
ADDRESS = re.compile(rf"\b(?:{PO_BOX})|\b(?:{POSTAL_ADDRESS})|\b(?=[{UPPER}\d])(?:{FOUR_DIGIT_ADDRESS})"
                     rf"|{US_ADDRESS}|\b{JP_ADDRESS}")
#: what every match of ADDRESS holds, by its ends: a PO box's word and number; a postcode after a comma or a
#: line break ("..., 10115 Berlin", "\nNW1 6XE") or a space (" IL 62704", " 400050", "- SP, 01304-001"); a
#: US street's number, words and suffix; a Japanese ward or city ("-ku")
ADDRESS_ENDS = compiled_re2(
    r"(?:[Bb]ox|Postfach|Postbus|Apartado|[Cc]orreos|Apdo\.|[Pp]ostale?)[ \t]+\p{Nd}"
    r"|[,\n][ \t\n]*(?:[A-Z]{1,2}-)?\p{Nd}{2}|[A-Z]{2},?[ \t]+\p{Nd}{5}-\p{Nd}{3}"
    r"|[ \t\n,](?:[A-Z]{1,2}\p{Nd}[A-Z\p{Nd}]?[ \t]?\p{Nd}[A-Z]{2}|[A-Z]{2,3}[ \t]+\p{Nd}{4}|\p{Nd}{6})"
    rf"|\p{{Nd}}(?: [NSEW]\.?)? (?:(?:[A-Z][a-z]+|\p{{Nd}}+(?:st|nd|rd|th)) ){{1,3}}(?:{STREET_SUFFIX})"
    r"|-(?:ku|shi|ken|cho|machi|gun)")
# "=" only as padding: "charge=ch_3PqX8n2eZvKYlo2C0a1b2c3d" is a name and a short id, not one token
GENERIC_SECRET = re.compile(r"(?<![\w+/$-])(?<!SHA256:)(?<!SHA1:)[A-Za-z0-9_+]{32,}={0,2}(?![\w+=/-])")  # "$": a bcrypt hash's salt


KEY_RUN = r"[A-Za-z0-9_.:=+/$-]{20,}"  # every vendor key is a run of these, 20 or more
KEY_WORDS = ("key", "secret", "token", "clé", "clave", "chiave", "schlüssel", "anahtar")  # every KEYWORD_KEY holds one
SECRET_WORDS = ("pin", "otp", "code")  # every KEYWORD_SECRET holds one
PASSWORD_WORDS = ("pass", "pw", "docker", "wifi", "wi-fi", "パスワード", "비밀번호", "पासवर्ड", "wlan", "mysql", "mariadb", "redis-cli", "curl", "mdp",
                  "gaml", "gamle", "vanha", "stare", "eskisi", "alte", "mot de passe", "contraseña", "senha", "wachtwoord", "kennwort", "clave", "://",
                  "login", "logon", "cred", "sign-in", "sign in", "basic_auth", "basic auth", "basic-auth",
                  "parola d", "hasło", "haslo", "lösenord", "losenord",
                  "adgangskode", "salasana", "şifre", "sifre", "heslo", "jelszó", "jelszav", "parola mea", "palavra",
                  "пароль", "密码", "密碼", "كلمة", "סיסמה", "mật khẩu", "credential", "tried", "tentei")
ADDRESS_HINT = rf"{STREET_SUFFIX}|\d{{4,6}}\b|\b\d{{3}} \d{{2}}\b|\b\d{{2}}-\d{{3}}\b|{UK_POSTCODE}|Box|Post|Apartado|Apdo|Casella|Caixa"
ADDRESS_REACH = 200


def built_in_detectors(phone_regions: tuple[str, ...], entropy_bits: float) -> list[Detector]:
    return [
        Detector("pem_key", "private_key", PEM_KEY, where=containing("PRIVATE KEY")),
        # before: the field name a key of hex digits needs ("DD-API-KEY 7819...")
        Detector("api_key", "api_key", API_KEY, not_an_example, where=after_keyword(KEY_RUN, before=24, after=0, lower=False)),
        Detector("token", "token", TOKEN, where=containing("eyJ")),
        Detector("bearer_token", "api_key", BEARER_TOKEN, where=near("bearer", before=0, after=400, lower=True)),
        Detector("aws_secret", "secret", AWS_SECRET, aws_secret, where=whole_if(
            lambda text: text.has_digit and text.has(LONG_RUN) and text.has(AWS_HINT), (LONG_RUN, False))),
        # before passwords: "Failed password for dawn from 2001:0db8:..." has none
        Detector("ip", "ip", IPV4, ip_address, where=needing(IPV4_SHAPE, whole_if(lambda text: True)), veto=VERSION_WORD),
        Detector("ipv6", "ip", IPV6, ipv6_candidate,
                 where=after_keyword(r"[0-9a-f]{0,4}:[0-9a-f]{0,4}:", before=40, after=40)),
        Detector("password", "password", PASSWORD, stated_password, fields=True,
                 where=near(*PASSWORD_WORDS, before=24, after=200, lower=True)),  # before: "temporary_password"
        Detector("keyword_key", "api_key", KEYWORD_KEY, not_an_example, where=near(*KEY_WORDS, before=24, after=120, lower=True)),
        Detector("secret", "secret", KEYWORD_SECRET, where=near(*SECRET_WORDS, before=24, after=120, lower=True)),
        Detector("email", "email", EMAIL, email_address, where=near("@", before=100, after=260)),
        Detector("iban", "iban", IBAN, iban_number, where=needing(IBAN_SHAPE, after_keyword(r"[a-z]{2} ?\d\d", after=50)),
                 shrink=True),
        Detector("order", "order", ORDER, compact, where=near("order", before=0, after=100, lower=True)),
        Detector("account", "account", ACCOUNT, account_number, where=near("account", "acct", "a/c", before=0, after=100,
                                                                        lower=True)),
        Detector("card", "card", CARD, card_number, where=needing(CARD_DIGITS, around_digit_runs()), shrink=True),
        Detector("ssn", "ssn", SSN, digits_only, fields=True, where=after_keyword(SSN_HINT, before=70, after=2, lower=False)),
        # the digits, and the keyword up to 40 characters before them
        Detector("uk_nino", "nino", UK_NINO, compact, fields=True, where=after_keyword(NINO_HINT, before=60, after=4, lower=False)),
        Detector("national_id", "national_id", CHECKED_ID, checked_id,
                 where=needing(CHECKED_ID_SHAPE, either(
                     around_digit_runs(before=12),  # a codice fiscale and a PAN hold no run of seven digits
                     after_keyword(r"[A-Z]{6}\d{2}[A-Z]|[A-Z]{5}\d{4}[A-Z]", after=10, lower=False)))),
        SeriesDetector("national_id", "national_id", NATIONAL_ID, compact, fields=True, field_value=re.compile(NATIONAL_ID_NUMBER),
                 where=after_keyword(NATIONAL_ID_WORD, after=90, lower=False)),
        SeriesDetector("passport", "passport", PASSPORT, compact, fields=True, field_value=re.compile(PASSPORT_NUMBER),
                         where=either(
                             # PASSPORT_WORD's stems as plain substrings, a cheaper first test than its regex
                             near("pass", "paspoort", "pasaporte", "pasz", "pasnummer", "pas č", "pasnr", "pasaport",
                                  "pasu", "ppt", "パスポート", "여권", "паспорт", "护照", "paspor", "διαβατήρ", "tlevél",
                                  "tlevel", "جواز", "hộ chiếu", "पासपोर्ट", "pașaport", "旅券", "דרכון", before=10, after=100,
                                  lower=True),
                             after_keyword(r"(?:type|kind|doc|document)[\"']?\s*[:=]\s*[\"']?p\b", after=260),
                             after_keyword(MANIFEST_NAME, after=120, lower=False))),
        Detector("dob", "dob", DATE_OF_BIRTH, fields=True, field_value=re.compile(rf"(?<!\d)(?:{DATE})(?!\d)"), where=after_keyword(BIRTH_WORD, before=30, after=75)),
        # an address ends in its postcode and may start a few lines before it
        # the same detector twice (one name: ``disable: [address]`` turns both off): after a word that announces
        # an address, whatever its grammar, then the grammars of street addresses
        Detector("address", "address", CUED_ADDRESS, compact, fields=True,
                 where=after_keyword(CUED_ADDRESS_HINT, before=16, after=ADDRESS_REACH)),
        Detector("address", "address", ADDRESS, compact, where=needing(
            ADDRESS_ENDS, after_keyword(ADDRESS_HINT, before=ADDRESS_REACH, after=ADDRESS_REACH, lower=False))),
        Detector("address", "address", SCRIPT_ADDRESS, compact,
                 where=after_keyword(SCRIPT_ADDRESS_HINT, before=120, after=120, lower=False)),
        Detector("address", "address", EAST_ASIAN_ADDRESS, compact,
                 where=containing("県", "東京都", "北海道", "府", "특별시", "광역시", "도 ", "市")),
        PhoneDetector("phone", "phone", PHONE, where=around_digit_runs(), veto=PRODUCT_NUMBER, regions=phone_regions),
        NameDetector("name", "name", NAME_PATTERN, fields=True, rules=NAME_RULES, keyword_hint=keyword_automaton(NAME_RULES)),
        Detector("high_entropy", "secret", GENERIC_SECRET, high_entropy(entropy_bits),
                 where=Where(outside_public_blocks, (LONG_RUN, False))),
    ]


def outside_public_blocks(text: Text) -> list[Window]:
    """The text around PEM public keys and certificates: their base64 is meant to be shared."""
    if not (text.has_digit and text.has(LONG_RUN)):
        return []
    windows, position = [], 0
    for block in PUBLIC_BLOCK.finditer(text.value) if "-----BEGIN" in text.value or " AAAA" in text.value else ():
        windows.append((position, block.start()))
        position = block.end()
    return windows + [(position, len(text.value))]


PUBLIC_BLOCK = re.compile(r"-----BEGIN (?:PUBLIC KEY|CERTIFICATE|[A-Z ]*PUBLIC KEY)-----.*?(?:-----END[A-Z ]*-----|\Z)"
                          r"|\b(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-nistp\d+) AAAA[A-Za-z0-9+/=]+",
                          re.DOTALL)
NINO_HINT = r"(?i)\d\d[ -]?\d\d[ -]?\d\d[ -]?[A-D]\b"
SSN_HINT = rf"\d{{3}}[{SSN_SEPARATOR}]?\d{{2}}[{SSN_SEPARATOR}]?\d{{4}}"
NAME_PATTERN = NAME_WORD  # what ``patterns: {name: ...}`` replaces; the rules hold the real patterns
NAME_RULES = tuple(name_rules())
LONG_RUN = compiled_re2(r"[A-Za-z0-9_+=/]{32}")
#: what says a 40-character secret is AWS's: the service, its key ids, its SDKs and its errors
AWS_HINT = compiled_re2(r"(?i)aws|amazon|secret_?access|boto|\bs3\b|\biam\b|signaturedoesnotmatch|(?:put|get)object"
                       r"|\b(?-i:AKIA|ASIA)[A-Z0-9]{16}\b")
PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")
DETECTOR_NAMES = list(dict.fromkeys(d.name for d in built_in_detectors(DEFAULT_PHONE_REGIONS, 4.0)))
PII_TAG = "pii:scrubbed"  # set by the mine stage on every record the scrubber has seen
#: ids dataprep made itself: content hashes (``-2`` for a repeat within a file) and keyed hashes
GENERATED_ID = re.compile(r"rec-[0-9a-f]{20}(?:-\d+)?|anon-[0-9a-f]{16}")


def tag_scrubbed(record: Record, stage: str, found: dict[str, int]) -> None:
    """Note what ``stage`` found in a record it scrubbed, and tag the record scrubbed."""
    if found:
        record.note(stage, "scrubbed_pii", counts=dict(sorted(found.items())))
    if PII_TAG not in record.tags:
        record.tags.append(PII_TAG)


def unscrubbed_ids(records: Iterable[Record]) -> list[str]:
    return [record.id for record in records if PII_TAG not in record.tags]


def refuse_unscrubbed(record_ids: list[str], where: str, hint: str) -> None:
    """Nothing leaves the machine before the PII scrubber has seen it, unless the user says so."""
    if record_ids:
        raise UsageError(f"{where}: {len(record_ids)} record(s) are not PII-scrubbed (no '{PII_TAG}' tag, "
                         f"first {record_ids[0]}); run the mine stage first, or {hint} to send them as they are")
FIND_CACHE_TEXTS = 4096
HINT_COMBINATIONS_REMEMBERED = 4096
TOOL_LISTS_REMEMBERED = 64  # a run sees a few lists of tool definitions; each may be tens of KB


# -- placeholders consistent within one record ---------------------------------------------------
class Placeholders:
    """Hands out ``<KIND_n>`` per distinct value, numbering each kind from 1 within one record,
    and remembers each value as written so every occurrence of it can be replaced, in any case
    and spacing ("LF-960195" and "lf 960195"; names only as written: "Mark" is not "mark").

    Values are learned in reading order and numbered once the whole record has been read
    (``number``), after any numbers already used in it are known (``reserve``): one pass over
    the record instead of two."""

    def __init__(self) -> None:
        self.by_identity: dict[tuple[str, str], str] = {}  # (kind, identity) -> placeholder, once numbered
        self.by_key: dict[str, tuple[str, str]] = {}  # occurrence_key(value) -> (kind, identity)
        self.last: Counter[str] = Counter()
        self.replaced: Counter[str] = Counter()
        self._order: list[tuple[str, str]] | None = None  # learned values, longest first

    def reserve(self, text: str) -> None:
        """Numbers already used in the text (a record scrubbed before) are not handed out again."""
        if "<" in text:
            for kind, number in PLACEHOLDER.findall(text):
                self.last[kind] = max(self.last[kind], int(number))

    def learn(self, raw: str, kind: str, identity: str) -> None:
        key = (kind, identity)
        self.by_identity.setdefault(key, "")
        raw_key = occurrence_key(raw, kind)
        if raw_key and raw_key not in self.by_key:
            self.by_key[raw_key] = key
            self._order = None

    def number(self) -> None:
        """Give each value learned its placeholder, in the order the values were first read. A name
        found alone that is the first or last word of exactly one full name in the record is that
        person ("Hi, I'm Omar Okafor" ... "Thanks Omar!"): one person, one placeholder."""
        same_person = full_names_of_lone_names(self.by_identity)
        for kind, identity in self.by_identity:
            if (kind, identity) not in same_person:
                upper = kind.upper()
                self.last[upper] += 1
                self.by_identity[(kind, identity)] = f"<{upper}_{self.last[upper]}>"
        for alone, full in same_person.items():
            self.by_identity[alone] = self.by_identity[full]

    def occurrences(self, text: str) -> Iterator[tuple[int, int]]:
        """Where learned values stand alone in ``text`` (not inside a longer word or number),
        longest value first."""
        if self._order is None:
            learned = [(key, kind) for key, (kind, _) in self.by_key.items()]
            self._order = sorted(learned, key=lambda item: -len(item[0]))
        folded = squeezed = None
        for key, kind in self._order:
            # a value is looked for only where it stands as a substring (a name as written, any other value
            # in the text lowered without separators): a search in C, where most values are not
            if kind == "name":
                if key in text:
                    yield from loose_occurrences(text, text, key, separators="")
                continue
            squeezed = squeezed if squeezed is not None else lowered_without_separators(text)
            if key in squeezed:
                folded = folded if folded is not None else lower_in_place(text)
                yield from loose_occurrences(text, folded, key, separators=SEPARATOR_CHARS)

    def substitute(self, raw: str) -> str:
        kind, identity = self.by_key.get(raw) or self.by_key[occurrence_key(raw, "")]
        self.replaced[kind] += 1
        return self.by_identity[(kind, identity)]


def full_names_of_lone_names(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """(kind, identity) of each one-word name -> that of the one full name it begins or ends."""
    names = [identity for kind, identity in keys if kind == "name"]
    holders: dict[str, set[str]] = {}
    for full in (identity for identity in names if " " in identity):
        words = full.split()
        for word in {words[0], words[-1]}:
            holders.setdefault(word, set()).add(full)
    return {("name", alone): ("name", next(iter(holders[alone]))) for alone in names
            if len(holders.get(alone, ())) == 1}


def occurrence_key(raw: str, kind: str) -> str:
    """Names as written; every other value in lower case without separators."""
    return raw if kind == "name" else lower_in_place(SEPARATORS.sub("", raw))


def lowered_without_separators(text: str) -> str:
    """The text as an ``occurrence_key`` of it: every value written another way in it is one run here.
    System prompts and tool definitions come with every call: those up to a size are kept."""
    return _kept_lowered_without_separators(text) if len(text) <= KEPT_TEXT_CHARS else _lowered_without_separators(text)


def _lowered_without_separators(text: str) -> str:
    return SEPARATORS.sub("", lower_in_place(text))


KEPT_TEXT_CHARS = 1 << 16
_kept_lowered_without_separators = lru_cache(maxsize=FIND_CACHE_TEXTS)(_lowered_without_separators)


#: a terminal's escape sequence (a colour, a cursor move, a window title), raw or as JSON or a shell writes it
TERMINAL_ESCAPE = re.compile(r"(?:\x1b|\\u001[bB]|\\x1[bB]|\\033)"
                             r"(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def escapes_blanked(text: str) -> str:
    """``text`` with each terminal escape sequence as spaces of its length: a value coloured in a pasted log
    ("Passport: \\x1b[31mC01X00T47\\x1b[0m") is read as if plain, and every offset still holds."""
    if "\x1b" not in text and "\\u001" not in text and "\\x1" not in text and "\\033" not in text:
        return text
    return TERMINAL_ESCAPE.sub(lambda match: " " * len(match.group()), text)


def lower_in_place(text: str) -> str:
    """``text.lower()`` with every character where it was (a few, like "İ", lower to two)."""
    lower = text.lower()
    return lower if len(lower) == len(text) else "".join(char.lower()[:1] for char in text)


def loose_occurrences(text: str, folded: str, key: str, separators: str) -> Iterator[tuple[int, int]]:
    """Where ``key`` stands alone in ``folded`` (``text`` lowered, or ``text`` itself) with any of
    ``separators`` between its characters. ``str.find`` of its first character and a short walk
    from there: compiling a regex per learned value costs more than scrubbing the record."""
    head, second = key[0], key[1:2]
    start = folded.find(head)
    while start >= 0:
        following = folded[start + 1:start + 2]
        # most places where the first character stands are not the value: tell from the next one
        end = end_of_key(folded, start, key, separators) if following == second or following in separators else 0
        if end and not (is_word_char(text, start - 1) or is_word_char(text, end)):
            yield start, end
            start = folded.find(head, end)
        else:
            start = folded.find(head, start + 1)


def end_of_key(folded: str, start: int, key: str, separators: str) -> int:
    matched, position = 0, start
    while matched < len(key):
        if position == len(folded):
            return 0
        if folded[position] == key[matched]:
            matched += 1
        elif not (matched and folded[position] in separators):
            return 0
        position += 1
    return position


def is_word_char(text: str, index: int) -> bool:
    return 0 <= index < len(text) and (text[index].isalnum() or text[index] == "_")


# -- the scrubber --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Found:
    start: int
    end: int
    kind: str
    identity: str
    detector: str = ""


class Taken:
    """Non-overlapping spans by start, so checking or adding a span costs a binary search
    (a text with 20,000 e-mail addresses must not cost 20,000² comparisons). Two plain lists: most
    texts hold a few spans, and a ``SortedDict`` costs more to make than such a text costs to scrub;
    inserting in a list moves its tail in C, 70 ms for 20,000 spans each added before all the others."""

    __slots__ = ("starts", "ends")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []  # the end of the span at the same index of ``starts``

    def free(self, start: int, end: int) -> bool:
        index = bisect_right(self.starts, start)
        if index and self.ends[index - 1] > start:
            return False
        return index == len(self.starts) or self.starts[index] >= end

    def add(self, start: int, end: int) -> None:
        index = bisect_right(self.starts, start)
        if index and self.starts[index - 1] == start:  # one span a start, the last one added
            self.ends[index - 1] = end
        else:
            self.starts.insert(index, start)
            self.ends.insert(index, end)

    def spans(self) -> Iterable[tuple[int, int]]:
        """(start, end) of every span, in text order."""
        return zip(self.starts, self.ends)


class Scrubber:
    """Built-in detectors minus ``disable``, plus named ``patterns`` (a built-in name replaces that
    detector's regex and keeps its validator; a new name adds a detector that runs first).
    Values listed in ``keep`` (e.g. the company's own support address) are never scrubbed.
    Phone numbers without a country code are read as numbers of ``phone_regions``, in order."""

    def __init__(self, disable: Iterable[str] = (), patterns: dict[str, str] | None = None,
                 keep: Iterable[str] = (), phone_regions: Iterable[str] = DEFAULT_PHONE_REGIONS,
                 entropy_bits: float = 4.0):
        patterns = dict(patterns or {})
        off = set(disable)
        detectors = []
        for detector in built_in_detectors(tuple(phone_regions), entropy_bits):
            if detector.name in off:
                continue
            if detector.name in patterns:
                # where to look was worked out for the built-in regex
                detector = replace(detector, pattern=re.compile(patterns.pop(detector.name)), where=None)
                if isinstance(detector, NameDetector):  # a replaced name regex is a plain detector
                    detector = Detector(detector.name, detector.kind, detector.pattern)
            detectors.append(detector)
        custom = [Detector(name, name, re.compile(regex)) for name, regex in patterns.items()]
        self.detectors = custom + detectors
        # a person's record on one line: what follows a name there ("Nils Hoffmann, 08.05.1979, 79110228091")
        names = {detector.name for detector in detectors}
        self.record_values = [(kind, values) for kind, values in (("dob", person_record_dates),
                                                                  ("national_id", person_record_ids))
                              if "name" in names and kind in names]
        self.keep = frozenset(value.casefold() for value in keep)
        # system prompts, tool results and few-shot examples repeat across records
        self._find_cached = lru_cache(maxsize=FIND_CACHE_TEXTS)(self._find)
        # which hints occur repeats across texts, and telling each detector's from them costs a few µs of
        # Python per detector: one lookup instead
        self._passes_cached = lru_cache(maxsize=HINT_COMBINATIONS_REMEMBERED)(self._passes)
        self._quiet_tools_cached = lru_cache(maxsize=TOOL_LISTS_REMEMBERED)(self._quiet_tools)

    def find(self, text: str) -> tuple[Found, ...]:
        """Every PII span in ``text``, non-overlapping, in text order; earlier detectors win overlaps."""
        return self._find_cached(text)

    def _find(self, text: str) -> tuple[Found, ...]:
        taken, spans = Taken(), []
        text = escapes_blanked(text)
        view = Text(text, taken)
        # a value under a key or column that names its kind is that kind first ({"nir": "2 77 06 33 659 326 68"}
        # is no card), then each detector's own matches, in priority order
        for detector, spans_of in self._passes_cached(view.occurring(False), view.occurring(True), bool(view.labeled)):
            for start, end, identity in spans_of(view):
                if text[start:end].casefold() in self.keep or not taken.free(start, end):
                    continue
                taken.add(start, end)
                spans.append(Found(start, end, detector.kind, identity, detector.name))
        name_ends = [found.end for found in spans if found.kind == "name"]
        for kind, record_values in self.record_values:
            for start, end in record_values(text, name_ends):
                if taken.free(start, end):
                    taken.add(start, end)
                    spans.append(Found(start, end, kind, compact(text[start:end]), kind))
        return tuple(sorted(spans, key=lambda found: found.start))

    def _passes(self, in_text: frozenset[int], in_lower: frozenset[int],
                labeled: bool) -> list[tuple[Detector, Callable[[Text], Any]]]:
        """The detectors to run on a text whose hints ``in_text`` and ``in_lower`` occur, in priority order:
        every detector with fields on the labeled values if the text holds some, then each detector's own
        matches where some hint of it occurs."""
        return [(detector, detector.field_spans) for detector in self.detectors if detector.fields and labeled] + [
            (detector, detector.spans) for detector in self.detectors
            if detector.where is None or detector.where.may_find(in_text, in_lower)]

    def scrub_record(self, record: Record) -> Counter[str]:
        """Scrub every string field of ``record`` (``dataprep.record_fields`` says which are left as
        structure), in place, and turn identity fields into keyed hashes; returns counts by kind.

        Pass one finds PII in each text, in reading order; pass two replaces what
        it found plus every other standalone occurrence of a found value anywhere in the record,
        so an order number the user wrote after "order #" is scrubbed in the reply too, where
        nothing marks it as one."""
        placeholders = Placeholders()
        found: dict[str, tuple[Found, ...]] = {}
        # an app sends the same tool definitions with every call, often thousands of strings: when
        # they hold nothing to scrub, they are read once a run, and left alone where no value found
        # elsewhere in the record stands in them
        quiet_tools = self.quiet_tools(record.tools) if record.tools else None
        has_identity = map_record_texts(record, lambda text: self._learn_text(text, placeholders, found),
                                        tools=quiet_tools is None)
        if not (placeholders.by_identity or has_identity):
            return placeholders.replaced  # nothing found, nothing to hash: the record stays as it is
        placeholders.number()
        map_record_texts(record, lambda text: each_json_string(
            text, lambda leaf: replace_spans(leaf, found.get(leaf, ()), placeholders)), identity=pseudonym,
            tools=quiet_tools is None or next(placeholders.occurrences(quiet_tools), None) is not None)
        return placeholders.replaced

    def quiet_tools(self, tools: list[Any]) -> str | None:
        """The tool definitions as JSON when they hold no PII, no identity field, no placeholder and no
        escape (a value found elsewhere then stands in that text wherever it stands in one of theirs);
        else None, and they are scrubbed like the rest of the record."""
        try:
            return self._quiet_tools_cached(orjson.dumps(tools).decode("utf-8"))
        except orjson.JSONEncodeError:  # an integer JSON allows and orjson does not: read them as they are
            return None

    def _quiet_tools(self, text: str) -> str | None:
        placeholders, found = Placeholders(), {}
        walker = Walker(lambda value: self._learn_text(value, placeholders, found), None)
        walker.tools(orjson.loads(text))
        quiet = not (placeholders.by_key or placeholders.by_identity or placeholders.last or walker.identities
                     or "\\" in text)
        return text if quiet else None

    def scrub_reply(self, prompt: list[dict[str, Any]], reply: str) -> str:
        """A reply a person wrote for ``prompt`` (a reviewer's correction), scrubbed as the conversation
        would be: a value new to it gets the next placeholder of its kind."""
        conversation = Record(messages=[*prompt, {"role": "assistant", "content": reply}])
        self.scrub_record(conversation)
        return conversation.messages[-1]["content"]

    def scrub_id(self, record_id: str) -> str:
        """A record's id as it may leave the machine. A record file's own ids are the user's
        strings ("maria@example.com-3"): one the scrubber finds anything in becomes a keyed hash,
        which, unlike a placeholder, stays unique, so pointers to it (``keeper_id``) still hold."""
        if GENERATED_ID.fullmatch(record_id) or self.scrub_text(record_id) == record_id:
            return record_id
        return pseudonym(record_id)

    def scrub_text(self, text: str) -> str:
        """One text on its own (placeholders numbered within it)."""
        record = Record(messages=[{"role": "user", "content": text}])
        self.scrub_record(record)
        return record.messages[0]["content"]

    def _learn_text(self, text: str, placeholders: Placeholders, found: dict[str, tuple[Found, ...]]) -> str:
        """Pass one over a text: its placeholders' numbers reserved, its PII found and learned. A JSON text
        is read whole, a value's only clue may be its key ({"dob": "1984-07-09"}, {"first_name": "Ana"}), and
        each string in it on its own; what is found whole is replaced in each value like any learned value."""
        placeholders.reserve(text)
        if text not in found:  # else read before, with every string in it
            self._learn(text, placeholders, found)
            for leaf in json_strings(text):
                if leaf not in found:
                    self._learn(leaf, placeholders, found)
        return text

    def _learn(self, leaf: str, placeholders: Placeholders, found: dict[str, tuple[Found, ...]]) -> None:
        found[leaf] = self.find(leaf)
        for item in found[leaf]:
            placeholders.learn(leaf[item.start:item.end], item.kind, item.identity)


def replace_spans(text: str, found: tuple[Found, ...], placeholders: Placeholders) -> str:
    """Replace the spans found in ``text`` and any other standalone occurrence of a found value."""
    occurrences = list(placeholders.occurrences(text))
    if not (found or occurrences):
        return text
    taken = Taken()
    for item in found:
        taken.add(item.start, item.end)
    for start, end in occurrences:
        if taken.free(start, end):
            taken.add(start, end)
    pieces, position = [], 0
    for start, end in taken.spans():
        pieces += [text[position:start], placeholders.substitute(text[start:end])]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def each_json_string(text: str, change: Callable[[str], str]) -> str:
    """Apply ``change`` to the text, or to each string in it when it is a JSON object or array
    (tool arguments, tool results, a reply in JSON), so a placeholder never breaks the JSON or an
    escape in it. The document keeps its exact text but for the values that changed: its spacing,
    indentation and key order are what a model trained on it learns."""
    if not json_document(text):
        return change(text)
    return JSON_STRING.sub(lambda token: _string_token(token, change), text)


def json_strings(text: str) -> Iterable[str]:
    """The strings ``each_json_string`` changes in a JSON object or array, in order; none in other text."""
    return _document_strings(text) if json_document(text) else ()


def _document_strings(document: str) -> Iterator[str]:
    for token in JSON_STRING.finditer(document):
        if not token.group(1):
            value = string_value(token)
            if json_document(value):
                yield from _document_strings(value)
            else:
                yield value


def json_document(text: str) -> bool:
    if text[:1] in ("{", "[") and text[-1:] in ("}", "]"):
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
        return True
    return False


#: a JSON string, and the colon after it when it is a key (outside strings, JSON holds no quote)
JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?')


def string_value(token: re.Match) -> str:
    """The value of a JSON string token of a valid document: without an escape, what stands between its quotes."""
    written = token.group()
    return written[1:-1] if "\\" not in written else orjson.loads(written)


def _string_token(token: re.Match, change: Callable[[str], str]) -> str:
    """A JSON document's string value as written, or changed and written again; keys are kept."""
    if token.group(1):
        return token.group()
    value = string_value(token)
    changed = each_json_string(value, change)
    if changed == value:
        return token.group()
    return json.dumps(changed) if "\\u" in token.group() else orjson.dumps(changed).decode("utf-8")
