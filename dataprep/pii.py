"""PII scrubbing: find personal data and secrets in a record's text and replace each with a
typed placeholder that stays the same everywhere in that record (``<EMAIL_1>`` is one
address in every message, tool-call argument, rejected reply and feedback comment).

Detection is regular expressions plus validators, in priority order (the first detector
to claim a span keeps it): phone numbers are confirmed by ``phonenumbers`` (Google's
libphonenumber metadata), card numbers by Luhn (``stdnum.luhn``) and a card-network
prefix, IBANs by their mod-97 check (``stdnum.iban``), IPs by ``ipaddress``, generic
secrets by character mix and Shannon entropy. Order and account numbers need a keyword
next to them ("order #A-10293"), which is what tells them apart from phone numbers.
We chose this over presidio-analyzer and scrubadub: both want spaCy/NLTK models that
cannot be downloaded offline, and their pattern recognizers are the same regexes at a
fraction of the speed. Personal names are not detected (that needs an NER model).

Text that is a JSON object or array (tool arguments, tool results) is scrubbed value by
value, so a placeholder never breaks the JSON or swallows an escape sequence.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator

import orjson
import phonenumbers
from stdnum import iban, luhn

from .errors import UsageError
from .record import Record

#: A validator turns a matched value into the form that identifies it (so "+1 415 555 0123"
#: and "(415) 555-0123" get one placeholder), or None when the match is not really PII.
Validator = Callable[[str], "str | None"]


class Text:
    """A text and the cheap facts about it that tell detectors where to look, each worked out once."""

    __slots__ = ("value", "_lower", "_digit", "_digit_runs")

    def __init__(self, value: str):
        self.value = value
        self._lower: str | None = None
        self._digit: bool | None = None
        self._digit_runs: list[Window] | None = None

    @property
    def lower(self) -> str:
        if self._lower is None:
            self._lower = self.value.lower()
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
            self._digit_runs = [m.span() for m in DIGIT_RUN.finditer(self.value)] if self.has_digit else []
        return self._digit_runs


#: Where in a text a detector's regex is worth running. Scanning every text whole with every
#: regex is what makes scrubbing slow; most texts hold no PII, and a detector's matches can only
#: be near what it needs (an "@", a keyword, a run of digits).
Window = tuple[int, int]
Where = Callable[[Text], Iterable[Window]]
DIGIT, DIGIT_RUN = re.compile(r"\d"), re.compile(r"\d[\d ().-]{5,}\d")


def whole_if(test: Callable[[Text], bool]) -> Where:
    return lambda text: [(0, len(text.value))] if test(text) else []


def containing(*needles: str) -> Where:
    hint = re.compile("|".join(map(re.escape, needles)))
    return whole_if(lambda text: hint.search(text.value) is not None)


def near(*needles: str, before: int, after: int, lower: bool = False) -> Where:
    """Windows around each occurrence of a needle (found in the lowercased text if ``lower``)."""
    def windows(text: Text) -> list[Window]:
        haystack = text.lower if lower else text.value
        found = []
        for needle in needles:
            index = haystack.find(needle)
            while index >= 0:
                found.append((max(index - before, 0), index + len(needle) + after))
                index = haystack.find(needle, index + 1)
        return merged(found)
    return windows


def merged(windows: list[Window]) -> list[Window]:
    out: list[Window] = []
    for start, end in sorted(windows):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def around_digit_runs(text: Text) -> list[Window]:
    # "+(" may open a phone number before its first digit; lookaheads look two characters past the run
    return [(max(start - 2, 0), end + 2) for start, end in text.digit_runs]


@dataclass(frozen=True, slots=True)
class Detector:
    name: str
    kind: str  # the placeholder's type: <KIND_n>
    pattern: re.Pattern[str]
    validate: Validator | None = None
    where: Where | None = None  # None: the whole text
    shrink: bool = False  # on a failed validation, retry without the last space-separated group

    def candidates(self, text: Text) -> Iterable[Window]:
        """Spans the regex matches; a ``value`` group narrows the span to the value."""
        has_value = "value" in self.pattern.groupindex
        windows = self.where(text) if self.where is not None else [(0, len(text.value))]
        for start, end in windows:
            # finditer from pos to endpos: lookbehinds still see the text before the window
            for match in self.pattern.finditer(text.value, start, end):
                # a pattern may have alternatives with and without a value group
                yield match.span("value") if has_value and match.start("value") >= 0 else match.span()

    def spans(self, text: Text) -> Iterable[tuple[int, int, str]]:
        """(start, end, identity) of each validated match."""
        for start, end in self.candidates(text):
            value = text.value[start:end]
            if self.validate is None:
                yield start, end, value
                continue
            identity = self.validate(value)
            while identity is None and self.shrink and (cut := value.rfind(" ")) > 0:
                value = value[:cut]
                identity = self.validate(value)
            if identity is not None:
                yield start, start + len(value), identity


@dataclass(frozen=True, slots=True)
class PhoneDetector(Detector):
    """libphonenumber's matcher looks inside each digit run: it finds "415-555-0123" in
    "415-555-0123 2" and nothing in "2024-03-15 10:30". A run written the way phone numbers
    are written ("+1 692-604-7232", "(692) 604-7232") counts when it has a possible length,
    even if its area code is not assigned: made-up and mistyped numbers are still someone's."""

    region: str = "US"

    def spans(self, text: Text) -> Iterable[tuple[int, int, str]]:
        for start, end in self.candidates(text):
            run = text.value[start:end]
            if sum(ch.isdigit() for ch in run) < 7:
                continue
            found = False
            for match in phonenumbers.PhoneNumberMatcher(run, self.region, leniency=phonenumbers.Leniency.VALID):
                found = True
                yield start + match.start, start + match.end, e164(match.number)
            if not found and PHONE_SHAPED.fullmatch(run):
                number = possible_number(run, self.region)
                if number is not None:
                    yield start, end, e164(number)


PHONE_SHAPED = re.compile(r"\+\d{1,3}[ .-]\(?\d{1,4}\)?(?:[ .-]\d{2,4}){2,4}|(?:\+?1[ .-])?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}")


def possible_number(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def e164(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# -- validators ------------------------------------------------------------------------------
CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|3[068]|6(?:011|5|4[4-9]|2)|35")


def card_number(value: str) -> str | None:
    digits = re.sub(r"[ -]", "", value)
    if 13 <= len(digits) <= 19 and CARD_PREFIX.match(digits) and luhn.is_valid(digits):
        return digits
    return None


def iban_number(value: str) -> str | None:
    compact = value.replace(" ", "").upper()
    return compact if iban.is_valid(compact) else None


def ip_address(value: str) -> str | None:
    try:
        return ipaddress.ip_address(value).compressed
    except ValueError:
        return None


def ipv6_candidate(value: str) -> str | None:
    # "::" alone, "a::b" or times like 10:30:00 are not addresses worth a placeholder
    if ("::" not in value and value.count(":") != 7) or sum(1 for g in value.split(":") if g) < 3:
        return None
    return ip_address(value)


def casefolded(value: str) -> str:
    return value.casefold()


def high_entropy(min_bits: float) -> Validator:
    """Random-looking tokens: upper, lower and digits mixed often (not CamelCase words), not hex
    (hashes, UUIDs), and with high Shannon entropy."""
    def validate(value: str) -> str | None:
        classes = [char_class(c) for c in value]
        if not {"upper", "lower", "digit"} <= set(classes) or HEXISH.fullmatch(value):
            return None
        switches = sum(a != b for a, b in zip(classes, classes[1:])) / (len(value) - 1)
        counts = Counter(value)
        bits = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
        return value if switches >= 0.35 and bits >= min_bits else None
    return validate


def char_class(char: str) -> str:
    return "upper" if char.isupper() else "lower" if char.islower() else "digit" if char.isdigit() else "other"


HEXISH = re.compile(r"[0-9a-fA-F-]+")


def digits_only(value: str) -> str:
    return re.sub(r"\D", "", value)


# -- the built-in detectors, in priority order -------------------------------------------------
API_KEY = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{20,}"                      # OpenAI sk-, sk-proj-; Anthropic sk-ant-
    r"|[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}"           # Stripe
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"  # GitHub
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"                   # Slack
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"                       # AWS access key id
    r"|AIza[0-9A-Za-z_-]{35}"                           # Google
    r"|glpat-[A-Za-z0-9_-]{20,}|hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36}"
    r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})")
TOKEN = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
                   r"|(?i:\bbearer\s+)(?P<value>[A-Za-z0-9._~+/-]{16,}=*)")
KEYWORD_SECRET = re.compile(
    r"(?i)(?<![a-z])(?:api[_ -]?key|secret(?:[_ -]?(?:access[_ -]?)?key)?|token|password|passwd|passcode|pwd|pin|otp"
    r"|access[_ -]?key|(?:verification|security|confirmation|one[- ]time|login|sms|2fa) code|the code)"
    r"(?![a-z])[\"']?"
    r"\s*(?:[:=]|is)\s*[\"']?(?P<value>(?=[^\s\"',;]*\d)[^\s\"',;]{3,}[^\s\"',;.!?)])")
EMAIL = re.compile(r"(?<![\w.%+'-])[A-Za-z0-9][A-Za-z0-9._%+'-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)\b")
ORDER = re.compile(r"(?i)\border\s*(?:number|no\.?|num|id|#)?(?:\s+is)?\s*[:#]?\s*#?(?P<value>(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,})\b")
ACCOUNT = re.compile(r"(?i)\b(?:account|acct|a/c)\s*(?:number|no\.?|num|#)?(?:\s+is)?\s*[:#]?\s*(?:ending in\s*)?"
                     r"(?P<value>\d(?:[ -]?\d){5,})\b")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
IPV4 = re.compile(r"(?<![\w.])(?<!\bversion )(?<!\bver )(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}"
                  r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\w|\.\d)")
IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
PHONE = re.compile(r"(?<![\w+\-./])(?!\d{4}-\d\d-\d\d(?!\d))\+?\(?\d[\d ().-]{5,20}\d(?![\w-]|\.\d)")  # not ISO dates
STREET_SUFFIX = (r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
                 r"Terrace|Parkway|Pkwy|Circle|Highway|Hwy|Square")
ADDRESS = re.compile(
    rf"\b\d{{1,6}}(?: [NSEW]\.?)? (?:(?:[A-Z][a-z]+|\d+(?:st|nd|rd|th)) ){{1,3}}(?:{STREET_SUFFIX})\b"
    r"(?:,? (?:Apt|Apartment|Suite|Ste|Unit)\.? ?#?[A-Za-z0-9-]+|,? #\d+[A-Za-z]?)?"
    r"(?:, (?:[A-Z][a-z]+ ){0,2}[A-Z][a-z]+,? [A-Z]{2} \d{5}(?:-\d{4})?)?")
GENERIC_SECRET = re.compile(r"(?<![\w+=/-])[A-Za-z0-9_+=]{32,}(?![\w+=/-])")


API_KEY_PREFIXES = ("sk-", "k_live_", "k_test_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox",
                    "AKIA", "ASIA", "AIza", "glpat-", "hf_", "npm_", "SG.")
SECRET_WORDS = ("key", "secret", "token", "pass", "pwd", "pin", "otp", "code")  # every KEYWORD_SECRET holds one


def built_in_detectors(phone_region: str, entropy_bits: float) -> list[Detector]:
    return [
        Detector("api_key", "api_key", API_KEY, where=containing(*API_KEY_PREFIXES)),
        Detector("token", "token", TOKEN, where=whole_if(lambda text: "eyJ" in text.value or "bearer" in text.lower)),
        Detector("secret", "secret", KEYWORD_SECRET, where=near(*SECRET_WORDS, before=24, after=120, lower=True)),
        Detector("email", "email", EMAIL, casefolded, where=near("@", before=100, after=260)),
        Detector("iban", "iban", IBAN, iban_number, where=whole_if(lambda text: IBAN_START.search(text.value)),
                 shrink=True),
        Detector("order", "order", ORDER, where=near("order", before=0, after=100, lower=True)),
        Detector("account", "account", ACCOUNT, digits_only, where=near("account", "acct", "a/c", before=0, after=100,
                                                                        lower=True)),
        Detector("card", "card", CARD, card_number, where=around_digit_runs, shrink=True),
        Detector("ssn", "ssn", SSN, where=around_digit_runs),
        Detector("ip", "ip", IPV4, ip_address, where=whole_if(lambda text: IPV4_HINT.search(text.value))),
        Detector("ipv6", "ip", IPV6, ipv6_candidate,
                 where=whole_if(lambda text: "::" in text.value or text.value.count(":") >= 7)),
        PhoneDetector("phone", "phone", PHONE, where=around_digit_runs, region=phone_region),
        Detector("address", "address", ADDRESS,
                 where=whole_if(lambda text: text.has_digit and STREET_HINT.search(text.value))),
        Detector("high_entropy", "secret", GENERIC_SECRET, high_entropy(entropy_bits),
                 where=whole_if(lambda text: text.has_digit and LONG_RUN.search(text.value))),
    ]


IBAN_START, IPV4_HINT = re.compile(r"[A-Z]{2}\d\d"), re.compile(r"\d\.\d{1,3}\.\d")
STREET_HINT = re.compile(STREET_SUFFIX)
LONG_RUN = re.compile(r"[A-Za-z0-9_+=]{32}")
DETECTOR_NAMES = [d.name for d in built_in_detectors("US", 4.0)]
PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")
PII_TAG = "pii:scrubbed"  # set by the mine stage on every record the scrubber has seen


def unscrubbed_ids(records: Iterable[Record]) -> list[str]:
    return [record.id for record in records if PII_TAG not in record.tags]


def refuse_unscrubbed(record_ids: list[str], where: str, hint: str) -> None:
    """Nothing leaves the machine before the PII scrubber has seen it, unless the user says so."""
    if record_ids:
        raise UsageError(f"{where}: {len(record_ids)} record(s) are not PII-scrubbed (no '{PII_TAG}' tag, "
                         f"first {record_ids[0]}); run the mine stage first, or {hint} to send them as they are")
FIND_CACHE_TEXTS = 4096


# -- placeholders consistent within one record ---------------------------------------------------
class Placeholders:
    """Hands out ``<KIND_n>`` per distinct value, numbering each kind from 1 within one record,
    and remembers each value as written so every occurrence of it can be replaced."""

    def __init__(self) -> None:
        self.by_identity: dict[tuple[str, str], str] = {}
        self.by_raw: dict[str, tuple[str, str]] = {}  # value as written -> (placeholder, kind)
        self.last: Counter[str] = Counter()
        self.replaced: Counter[str] = Counter()

    def reserve(self, text: str) -> str:
        """Numbers already used in the text (a record scrubbed before) are not handed out again."""
        if "<" in text:
            for kind, number in PLACEHOLDER.findall(text):
                self.last[kind] = max(self.last[kind], int(number))
        return text

    def learn(self, raw: str, kind: str, identity: str) -> None:
        key = (kind, identity)
        if key not in self.by_identity:
            upper = kind.upper()
            self.last[upper] += 1
            self.by_identity[key] = f"<{upper}_{self.last[upper]}>"
        self.by_raw.setdefault(raw, (self.by_identity[key], kind))

    def occurrences(self, text: str) -> Iterator[tuple[int, int]]:
        """Where learned values stand alone in ``text`` (not inside a longer word or number), longest first."""
        for raw in sorted(self.by_raw, key=len, reverse=True):
            start = text.find(raw)
            while start >= 0:
                end = start + len(raw)
                if not (is_word_char(text, start - 1) or is_word_char(text, end)):
                    yield start, end
                start = text.find(raw, end)

    def substitute(self, raw: str) -> str:
        placeholder, kind = self.by_raw[raw]
        self.replaced[kind] += 1
        return placeholder


# -- the scrubber --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Found:
    start: int
    end: int
    kind: str
    identity: str


class Scrubber:
    """Built-in detectors minus ``disable``, plus named ``patterns`` (a built-in name replaces that
    detector's regex and keeps its validator; a new name adds a detector that runs first).
    Values listed in ``keep`` (e.g. the company's own support address) are never scrubbed."""

    def __init__(self, disable: Iterable[str] = (), patterns: dict[str, str] | None = None,
                 keep: Iterable[str] = (), phone_region: str = "US", entropy_bits: float = 4.0):
        patterns = dict(patterns or {})
        off = set(disable)
        detectors = []
        for detector in built_in_detectors(phone_region, entropy_bits):
            if detector.name in off:
                continue
            if detector.name in patterns:
                # where to look was worked out for the built-in regex
                detector = replace(detector, pattern=re.compile(patterns.pop(detector.name)), where=None)
            detectors.append(detector)
        custom = [Detector(name, name, re.compile(regex)) for name, regex in patterns.items()]
        self.detectors = custom + detectors
        self.keep = frozenset(value.casefold() for value in keep)
        # system prompts, tool results and few-shot examples repeat across records
        self._find_cached = lru_cache(maxsize=FIND_CACHE_TEXTS)(self._find)

    def find(self, text: str) -> tuple[Found, ...]:
        """Every PII span in ``text``, non-overlapping, in text order; earlier detectors win overlaps."""
        return self._find_cached(text)

    def _find(self, text: str) -> tuple[Found, ...]:
        taken: list[Found] = []
        view = Text(text)
        for detector in self.detectors:
            for start, end, identity in detector.spans(view):
                if text[start:end].casefold() in self.keep:
                    continue
                if all(end <= other.start or start >= other.end for other in taken):
                    taken.append(Found(start, end, detector.kind, identity))
        return tuple(sorted(taken, key=lambda found: found.start))

    def scrub_record(self, record: Record) -> Counter[str]:
        """Scrub every text a person or model wrote in ``record``, in place; returns counts by kind.

        Pass one finds PII in each text and numbers it in reading order; pass two replaces what
        it found plus every other standalone occurrence of a found value anywhere in the record,
        so an order number the user wrote after "order #" is scrubbed in the reply too, where
        nothing marks it as one."""
        placeholders = Placeholders()
        map_record_texts(record, placeholders.reserve)
        found: dict[str, tuple[Found, ...]] = {}
        map_record_texts(record, lambda text: each_json_string(text, lambda leaf: self._learn(leaf, placeholders, found)))
        if placeholders.by_raw:
            map_record_texts(record, lambda text: each_json_string(
                text, lambda leaf: replace_spans(leaf, found.get(leaf, ()), placeholders)))
        return placeholders.replaced

    def scrub_text(self, text: str) -> str:
        """One text on its own (placeholders numbered within it)."""
        record = Record(messages=[{"role": "user", "content": text}])
        self.scrub_record(record)
        return record.messages[0]["content"]

    def _learn(self, leaf: str, placeholders: Placeholders, found: dict[str, tuple[Found, ...]]) -> str:
        if leaf not in found:
            found[leaf] = self.find(leaf)
            for item in found[leaf]:
                placeholders.learn(leaf[item.start:item.end], item.kind, item.identity)
        return leaf


def is_word_char(text: str, index: int) -> bool:
    return 0 <= index < len(text) and (text[index].isalnum() or text[index] == "_")


def replace_spans(text: str, found: tuple[Found, ...], placeholders: Placeholders) -> str:
    """Replace the spans found in ``text`` and any other standalone occurrence of a found value."""
    spans = [(item.start, item.end) for item in found]
    for start, end in placeholders.occurrences(text):
        if all(end <= other_start or start >= other_end for other_start, other_end in spans):
            spans.append((start, end))
    if not spans:
        return text
    pieces, position = [], 0
    for start, end in sorted(spans):
        pieces += [text[position:start], placeholders.substitute(text[start:end])]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def each_json_string(text: str, change: Callable[[str], str]) -> str:
    """Apply ``change`` to the text, or to each string in it when it is a JSON object or array
    (tool arguments, tool results), so a placeholder never breaks the JSON or an escape in it.
    Unchanged documents keep their exact original text."""
    if text[:1] in ("{", "[") and text[-1:] in ("}", "]"):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return change(text)
        changed = _each_string(value, change)
        return text if changed == value else orjson.dumps(changed).decode("utf-8")
    return change(text)


def _each_string(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return each_json_string(value, change)
    if isinstance(value, list):
        return [_each_string(item, change) for item in value]
    if isinstance(value, dict):
        return {key: _each_string(item, change) for key, item in value.items()}
    return value


# -- where the text of a record lives ---------------------------------------------------------------
def map_record_texts(record: Record, change: Callable[[str], str]) -> None:
    """Apply ``change`` to each text of the record in reading order: the messages (content and
    tool-call arguments), the rejected reply, then feedback comments and correction.
    ``source`` and ``meta`` stay as logged: they never go into training files."""
    for message in record.messages:
        map_message_texts(message, change)
    if record.rejected_reply:
        map_message_texts(record.rejected_reply, change)
    feedback = record.feedback
    if isinstance(feedback.get("comments"), list):
        feedback["comments"] = [change(c) if isinstance(c, str) else c for c in feedback["comments"]]
    correction = feedback.get("correction")
    if isinstance(correction, str):
        feedback["correction"] = change(correction)
    elif isinstance(correction, dict):
        map_message_texts(correction, change)


def map_message_texts(message: dict[str, Any], change: Callable[[str], str]) -> None:
    content = message.get("content")
    if isinstance(content, str):
        message["content"] = change(content)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                part["text"] = change(part["text"])
    if isinstance(message.get("refusal"), str):
        message["refusal"] = change(message["refusal"])
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and isinstance(function.get("arguments"), str):
            function["arguments"] = change(function["arguments"])
