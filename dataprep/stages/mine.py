"""The mine stage: turn what the readers made of the logs into records worth training on.

In order:
1. Collapse re-sent conversations. Stateless APIs re-send the history on every call, so a
   conversation of N turns arrives as N calls, each a prefix of the next. Only the longest
   call is kept: per ``source.conversation_id`` where a record has one, else when a record's
   whole messages (reply included) are a prefix of a longer record's messages. The others go
   to duplicates with ``keeper_id``. Calls the filters (step 3) reject never absorb others.
   Two passes with 64-bit hashes in arrays: memory grows by a few bytes per message, never
   with the records themselves. Both passes parse records on the engine's workers; this
   process moves lines and hashes only.
2. Corrections. ``feedback.correction`` becomes the training target; the logged reply is
   kept as ``rejected_reply`` (a preference pair). Tag ``corrected``.
3. Filters (recipe options): errored calls, empty, truncated and refused replies, feedback,
   models, date range. A corrected record skips the reply checks: a person wrote its reply.
   Always: blank system and user turns are left out, and what no export can hold is rejected (a
   blank tool result, tool-call arguments that are not a JSON object, a name OpenAI refuses, an id
   used twice or answering no call).
4. PII scrubbing (``dataprep.pii``) of every record, those set aside included (they land in
   files people share); each is tagged ``pii:scrubbed``.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from fnmatch import fnmatchcase
from functools import cache, lru_cache
from typing import Any, Iterator

import numpy as np
import orjson
import xxhash

from ..engine import Engine, batched
from ..errors import RecipeError
from ..formats.common import openai_message, parse_moment
from ..pii import DEFAULT_PHONE_REGIONS, TOOL_LISTS_REMEMBERED, Scrubber, tag_scrubbed
from ..pipeline import RecordSource, Stage, StageContext, aside_disposition, default_scrubber, register
from ..record import IdTable, Record, Serialized, message_text
from ..record_fields import pseudonym_key, use_pseudonym_key
from ..validate import Issue, check_messages, check_tools

ABSORBED = "absorbed by a longer call of the same conversation"
PLAIN_ROLES = ("system", "developer", "user", "assistant")
BLANK_DROPPABLE = ("system", "developer", "user")  # a blank one says nothing; a blank tool result or reply does
#: the validator's findings about tool calls and definitions that stop an export
TOOL_STRUCTURE = ("tool_call_malformed", "tool_call_invalid_arguments", "tool_call_missing_id", "tool_call_duplicate_id",
                  "tool_calls_not_assistant", "tool_message_missing_id", "tool_call_id_unknown", "tools_invalid")
REFUSAL_FINISH = frozenset({"content_filter", "refusal"})
# where a record set aside goes: place, reason, detail
Aside = tuple[str, str, dict[str, Any]]
# a record as written: where it goes (None: on), its line, the PII found in it by kind
Scrubbed = tuple[str | None, Serialized, dict[str, int]]
# pass 2's batch: record lines, their keepers' ids, how many records each absorbed, whether pass 1's filters let each through
MineWork = tuple[list[bytes], list["str | None"], np.ndarray, np.ndarray]


@register
class Mine(Stage):
    name = "mine"

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.collapse = options.get("collapse", "auto")
        pii = options.get("pii") or {}
        self.pii = pii if pii.get("enabled", True) else None
        self.filters = Filters.from_options(options, self.pii)
        if self.pii is not None:
            scrubber_for(self.pii)  # a bad pattern fails now, not in a worker

    def run(self, records: RecordSource, ctx: StageContext) -> Iterator[Serialized]:
        # Both passes run where the engine puts them (every core, or a cluster): this process moves
        # lines and hashes, never parses a record, so it keeps up with however many workers there are.
        plan = plan_collapse(records, self.collapse, self.filters, ctx.engine)
        ctx.stats["collapsed"] = plan.absorbed_total
        key = pseudonym_key() if self.pii is not None else b""  # travels with the work, never in a worker's environment
        pii_counts: dict[str, int] = {}
        for mined in ctx.engine.map_batches(mine_batch, mine_work(records, plan), self.filters, self.pii, key, ctx.stage):
            for kind, count in mined.filtered.items():
                filtered = ctx.stats.setdefault("filtered", {})
                filtered[kind] = filtered.get(kind, 0) + count
            ctx.count("corrected", mined.corrected)
            for place, written, found in mined.records:
                if place is not None:
                    ctx.set_aside_serialized(place, written)
                    continue
                if self.pii is not None:
                    ctx.count("pii_records", bool(found))
                for kind, count in found.items():
                    pii_counts[kind] = pii_counts.get(kind, 0) + count
                yield written
        if self.pii is not None:
            ctx.stats["pii"] = dict(sorted(pii_counts.items()))


def screen(record: Record, filters: "Filters", passed: bool = False) -> tuple[bool, tuple[str, str] | None]:
    """Apply the record's correction; say whether it was corrected and why the filters reject it.
    ``passed``: pass 1 saw the filters let this record through, and they are not asked again."""
    try:
        corrected = apply_correction(record)
    except ValueError as exc:
        return False, ("correction", str(exc))
    if without_blank_turns(record) and len(record.messages) <= 1:
        return corrected, ("empty", "every turn before the reply is blank" if record.messages else "every turn is blank")
    return corrected, None if passed else filters.rejection(record, corrected)


def blank(message: dict[str, Any]) -> bool:
    """A turn that says nothing: no text, no image or file, no tool call."""
    if message.get("tool_calls"):
        return False
    content = message.get("content")
    if isinstance(content, list):
        return all(isinstance(part, dict) and part.get("type") == "text" and not str(part.get("text") or "").strip()
                   for part in content)
    return content is None or (isinstance(content, str) and (not content or content.isspace()))  # strip() would copy it


def without_blank_turns(record: Record) -> int:
    """Leave out system, developer and user turns that say nothing (an empty system prompt, a user
    turn whose attachment the log left out): every export refuses them. Returns how many."""
    kept = [m for m in record.messages if not (m.get("role") in BLANK_DROPPABLE and blank(m))]
    dropped = len(record.messages) - len(kept)
    if dropped:
        record.messages = kept
        record.note("mine", "left_out_blank_turns", count=dropped)
    return dropped


# -- 1. collapse ------------------------------------------------------------------------------
@dataclass
class CollapsePlan:
    keeper: np.ndarray  # per record: index of the record that absorbs it, or -1
    absorbed: np.ndarray  # per record: how many records it absorbed
    ids: "IdTable"
    passed: np.ndarray  # per record: whether the filters let it through in pass 1 (pass 2 need not ask them)

    @property
    def absorbed_total(self) -> int:
        return int((self.keeper >= 0).sum())

    def keeper_of(self, index: int) -> str | None:
        keeper = int(self.keeper[index])
        return self.ids[keeper] if keeper >= 0 else None


def message_key(message: dict[str, Any]) -> bytes:
    """What makes two logged messages the same message: a reply and its copy in the next call's
    history may differ in extra fields (refusal: null, annotations) and surrounding whitespace."""
    content = message.get("content")
    content = (content or "").strip() if isinstance(content, str) or content is None else content
    calls = [[call.get("function", {}).get("name"), call.get("function", {}).get("arguments")]
             for call in message.get("tool_calls") or () if isinstance(call, dict) and isinstance(call.get("function"), dict)]
    return orjson.dumps([message.get("role"), content, calls, message.get("tool_call_id")])


@dataclass
class CollapseKeys:
    """Pass 1's hashes of consecutive records (the arrays pack into a few bytes a message)."""

    ids: IdTable = field(default_factory=IdTable)
    lengths: array = field(default_factory=lambda: array("q"))
    full_hash: array = field(default_factory=lambda: array("Q"))
    conv_hash: array = field(default_factory=lambda: array("Q"))
    in_conversation: array = field(default_factory=lambda: array("b"))
    ends_with_reply: array = field(default_factory=lambda: array("b"))
    absorbable: array = field(default_factory=lambda: array("b"))
    passed: array = field(default_factory=lambda: array("b"))
    prefix_hash: array = field(default_factory=lambda: array("Q"))
    prefix_owner: array = field(default_factory=lambda: array("q"))  # index of the record the prefix is of

    def extend(self, more: "CollapseKeys") -> None:
        """Append the keys of the records that follow these (their prefix owners moved past ours)."""
        self.prefix_owner.frombytes((np.frombuffer(more.prefix_owner, dtype=np.int64) + len(self.lengths)).tobytes())
        self.ids.extend(more.ids)
        for name in ("lengths", "full_hash", "conv_hash", "in_conversation", "ends_with_reply", "absorbable",
                     "passed", "prefix_hash"):
            getattr(self, name).extend(getattr(more, name))


def collapse_keys(lines: list[bytes], mode: str, filters: "Filters") -> CollapseKeys:
    """Engine work: pass 1's hashes of a batch of record lines. Records the filters reject take no
    part: a truncated last call must not swallow the complete calls before it. A corrected call is
    never absorbed: its reply is not the logged one."""
    keys = CollapseKeys()
    for index, line in enumerate(lines):
        record = Record.from_json(line)
        keys.ids.append(record.id)
        corrected, rejection = screen(record, filters)
        taking_part = rejection is None
        keys.passed.append(taking_part)
        conversation = record.source.get("conversation_id") if mode == "auto" and taking_part else None
        keys.in_conversation.append(bool(conversation))
        keys.conv_hash.append(xxhash.xxh64_intdigest(str(conversation).encode("utf-8")) if conversation else 0)
        keys.absorbable.append(not corrected)
        digest, messages = 0, record.messages
        for position, message in enumerate(messages):
            # a proper prefix ending in an assistant reply is what a shorter call of the same
            # conversation looks like in full
            if position and messages[position - 1].get("role") == "assistant" and taking_part and not conversation:
                keys.prefix_hash.append(digest)
                keys.prefix_owner.append(index)
            digest = xxhash.xxh64_intdigest(message_key(message), seed=digest)
        keys.lengths.append(len(messages))
        keys.full_hash.append(digest)
        keys.ends_with_reply.append(taking_part and not conversation and bool(messages)
                                    and messages[-1].get("role") == "assistant")
    return keys


def plan_collapse(records: RecordSource, mode: str, filters: "Filters", engine: Engine) -> CollapsePlan:
    """Pass 1: hash every record's messages (corrections applied, on the engine's workers) and
    decide here which records absorb which."""
    if mode == "off":
        return CollapsePlan(np.full(len(records), -1, dtype=np.int64), np.zeros(len(records), dtype=np.int64), IdTable(),
                            np.zeros(len(records), dtype=bool))
    keys = CollapseKeys()
    for batch_keys in engine.map_batches(collapse_keys, batched(records.lines()), mode, filters):
        keys.extend(batch_keys)
    count = len(keys.lengths)
    keeper = np.full(count, -1, dtype=np.int64)
    if count:
        length = np.frombuffer(keys.lengths, dtype=np.int64)
        by_conversation(keeper, np.frombuffer(keys.conv_hash, dtype=np.uint64), flags(keys.in_conversation), length,
                        flags(keys.absorbable))
        by_prefix(keeper, np.frombuffer(keys.full_hash, dtype=np.uint64), flags(keys.ends_with_reply),
                  np.frombuffer(keys.prefix_hash, dtype=np.uint64), np.frombuffer(keys.prefix_owner, dtype=np.int64),
                  length)
    absorbed = np.bincount(keeper[keeper >= 0], minlength=count) if count else np.zeros(0, dtype=np.int64)
    return CollapsePlan(keeper, absorbed, keys.ids, flags(keys.passed))


def mine_work(records: RecordSource, plan: CollapsePlan) -> Iterator[MineWork]:
    """Pass 2's batches: record lines with their keepers' ids (None: not absorbed), how many each absorbed
    and whether the filters let it through in pass 1."""
    start = 0
    for lines in batched(records.lines()):
        end = start + len(lines)
        yield lines, [plan.keeper_of(index) for index in range(start, end)], plan.absorbed[start:end], plan.passed[start:end]
        start = end


def flags(values: array) -> np.ndarray:
    return np.frombuffer(values, dtype=np.int8) > 0


def by_conversation(keeper: np.ndarray, conv: np.ndarray, in_conversation: np.ndarray, length: np.ndarray,
                    absorbable: np.ndarray) -> None:
    """Per conversation id, the latest call with the most messages absorbs the shorter ones (calls
    as long as it are other choices or regenerations, not re-sent history: they stay)."""
    members = np.flatnonzero(in_conversation)
    if not members.size:
        return
    order = members[np.lexsort((members, length[members], conv[members]))]
    conv = conv[order]
    starts = np.append(True, conv[1:] != conv[:-1])
    group_last = np.flatnonzero(np.append(starts[1:], True))  # position of each group's last member
    last_of_group = order[group_last[np.cumsum(starts) - 1]]
    absorbed = (length[order] < length[last_of_group]) & absorbable[order]
    keeper[order[absorbed]] = last_of_group[absorbed]


def by_prefix(keeper: np.ndarray, full: np.ndarray, query: np.ndarray, prefix: np.ndarray, owner: np.ndarray,
              length: np.ndarray) -> None:
    """A record whose whole messages are a prefix of longer records is absorbed by the longest of
    them (the latest on a tie), which is itself never absorbed: anything containing it is longer."""
    if not prefix.size:
        return
    order = np.lexsort((-owner, -length[owner], prefix))
    prefix, owner = prefix[order], owner[order]
    asked = np.flatnonzero(query)
    position = np.searchsorted(prefix, full[asked])
    found = position < prefix.size
    found[found] = prefix[position[found]] == full[asked[found]]
    keeper[asked[found]] = owner[position[found]]


# -- 2. corrections ---------------------------------------------------------------------------
def corrected_reply(correction: Any) -> dict[str, Any] | None:
    """The assistant message a correction stands for; None when there is none to apply."""
    if correction is None or (isinstance(correction, str) and not correction.strip()):
        return None
    if isinstance(correction, str):
        return {"role": "assistant", "content": correction}
    if not isinstance(correction, dict) or correction.get("role", "assistant") != "assistant":
        raise ValueError(f"feedback.correction must be text or an assistant message, got {_kind(correction)}")
    try:
        reply = openai_message({**correction, "role": "assistant"})
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"feedback.correction is not a well-formed assistant message ({exc})") from None
    return reply if message_text(reply).strip() or reply.get("tool_calls") else None


def apply_correction(record: Record) -> bool:
    """Make the correction the target (the old reply becomes ``rejected_reply``); True if applied."""
    reply = corrected_reply(record.feedback.get("correction"))
    if reply is None or (record.target is not None and message_key(reply) == message_key(record.target)):
        return False
    record.replace_target(reply, stage="mine", why="feedback correction")
    if "corrected" not in record.tags:
        record.tags.append("corrected")
    return True


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)


# -- 3. filters -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    feedback: str = "any"
    drop_errors: bool = True
    drop_refusals: bool = True
    refusal_phrases: tuple[str, ...] = ()
    drop_empty: bool = True
    drop_truncated: bool = True
    models: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None  # inclusive
    pii: bytes | None = None  # the recipe's pii options as ``scrubber_for`` keys them, for logged text a reason quotes

    @classmethod
    def from_options(cls, options: dict[str, Any], pii: dict[str, Any] | None) -> "Filters":
        models = options.get("models")
        return cls(pii=None if pii is None else orjson.dumps(pii, option=orjson.OPT_SORT_KEYS),
                   feedback=options.get("feedback", "any"), drop_errors=options.get("drop_errors", True),
                   drop_refusals=options.get("drop_refusals", True),
                   refusal_phrases=tuple(options.get("refusal_phrases", ())),
                   drop_empty=options.get("drop_empty", True), drop_truncated=options.get("drop_truncated", True),
                   models=tuple(models) if models is not None else None,
                   since=bound(options.get("since"), "since"), until=bound(options.get("until"), "until"))

    def rejection(self, record: Record, corrected: bool) -> tuple[str, str] | None:
        """(filter, reason a person understands) for a record the recipe does not want, else None."""
        return ((None if corrected else self._reply(record)) or self._feedback(record, corrected)
                or self._model(record) or self._date(record) or self._unexportable(record))

    def _reply(self, record: Record) -> tuple[str, str] | None:
        source, target = record.source, record.target
        finish = source.get("finish_reason")
        if self.drop_errors and source.get("error"):
            return "error", f"errored call: {_quoted(source['error'], self.pii)}"
        if self.drop_refusals:
            if finish in REFUSAL_FINISH:
                return "refusal", f"refusal (finish_reason {finish})"
            if target is not None and target.get("refusal"):
                return "refusal", f"refusal: {_quoted(target['refusal'], self.pii)}"
            text = message_text(target).casefold() if target is not None else ""
            phrase = next((p for p in self.refusal_phrases if p.casefold() in text), None)
            if phrase:
                return "refusal", f"refusal: reply contains {phrase!r}"
        if self.drop_empty and target is None:
            return "empty", "no assistant reply"
        if self.drop_empty and not message_text(target).strip() and not target.get("tool_calls"):
            return "empty", "empty reply"
        if self.drop_truncated and finish == "length":
            return "truncated", "truncated reply (finish_reason length: the model hit its token limit)"
        return None

    def _feedback(self, record: Record, corrected: bool) -> tuple[str, str] | None:
        thumbs = record.feedback.get("thumbs")
        if corrected:
            return None
        if self.feedback == "positive_only" and thumbs != "up":
            return "feedback", f"feedback filter positive_only: thumbs {thumbs or 'missing'} and no correction"
        if self.feedback == "not_negative" and thumbs == "down":
            return "feedback", "feedback filter not_negative: thumbs down and no correction"
        return None

    def _model(self, record: Record) -> tuple[str, str] | None:
        if self.models is None:
            return None
        model = record.source.get("model")
        if isinstance(model, str) and any(fnmatchcase(model, pattern) for pattern in self.models):
            return None
        return "model", f"model {model or 'unknown'} is not one of the recipe's models ({', '.join(self.models)})"

    @staticmethod
    def _unexportable(record: Record) -> tuple[str, str] | None:
        """What no fine-tuning format can hold, rejected here with what is wrong (in train, one such
        record stopped every export): a blank tool result or earlier reply, a function result no
        call asked for, tool-call arguments that are not a JSON object, a tool name OpenAI refuses,
        a call id used twice or answering no call, a tool defined twice."""
        for index, message in enumerate(record.prompt_messages):  # numbered as the validator's findings below
            if message["role"] == "function":  # linked_calls made every answer to a call a tool message
                return "unexportable", f"messages[{index}] is a function result no call asked for; exports would stop on it"
            if blank(message):
                return "unexportable", f"messages[{index}] ({message['role']}) is blank; exports would stop on it"
        if not record.tools and all(m["role"] in PLAIN_ROLES and not m.get("tool_calls") for m in record.messages):
            return None
        issue = next((issue for issue in check_messages(record.messages, "messages", each_message=False)
                      if issue.cls in TOOL_STRUCTURE), None) or (tools_issue(record.tools) if record.tools else None)
        return ("unexportable", f"{issue.message}; exports would stop on it") if issue else None

    def _date(self, record: Record) -> tuple[str, str] | None:
        if self.since is None and self.until is None:
            return None
        stamp = record.source.get("timestamp")
        when = parse_moment(stamp)
        if when is None:
            what = f"timestamp {stamp!r} is not an ISO 8601 date-time" if stamp else "no timestamp"
            return "date", f"{what}; the recipe keeps only calls in a date range"
        if self.since is not None and when < self.since:
            return "date", f"call at {stamp} is before since {self.since.isoformat()}"
        if self.until is not None and when > self.until:
            return "date", f"call at {stamp} is after until {self.until.isoformat()}"
        return None


def tools_issue(tools: list[Any]) -> Issue | None:
    """The first issue of tool definitions that stops an export. An app sends the same definitions
    with every call: read once a process, by their JSON (a record's values came from JSON)."""
    return _tools_issue(orjson.dumps(tools))


@lru_cache(maxsize=TOOL_LISTS_REMEMBERED)
def _tools_issue(definitions: bytes) -> Issue | None:
    return next((issue for issue in check_tools(orjson.loads(definitions)) if issue.cls in TOOL_STRUCTURE), None)


def _quoted(value: Any, pii: bytes | None, limit: int = 300) -> str:
    """Logged text for a reason, scrubbed before it is cut (with the recipe's ``pii`` options; the
    defaults when it keeps records as logged): half an email at the cut would pass the scrubbing
    every reason gets later."""
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode("utf-8")
    text = (_scrubber(pii) if pii is not None else default_scrubber()).scrub_text(text)
    return text if len(text) <= limit else text[:limit] + "…"


def bound(value: Any, which: str) -> datetime | None:
    """A since/until option (a date, a date-time, or their ISO 8601 text) as an aware date-time;
    a date means the whole day: since its start, until its end."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            raise RecipeError(f"mine.{which}: {value!r} is not an ISO 8601 date or date-time") from None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, date):
        day = datetime.combine(value, time(), tzinfo=timezone.utc)
        return day if which == "since" else day + timedelta(days=1) - timedelta(microseconds=1)
    raise RecipeError(f"mine.{which}: expected an ISO 8601 date or date-time, got {_kind(value)}")


# -- 4. PII -------------------------------------------------------------------------------------
def build_scrubber(options: dict[str, Any]) -> Scrubber:
    patterns = options.get("patterns", {})
    for name, regex in patterns.items():
        try:
            re.compile(regex)
        except re.error as exc:
            raise RecipeError(f"mine.pii.patterns.{name}: not a valid regular expression ({exc})") from None
    return Scrubber(disable=options.get("disable", ()), patterns=patterns, keep=options.get("keep", ()),
                    phone_regions=options.get("phone_regions", DEFAULT_PHONE_REGIONS),
                    entropy_bits=options.get("entropy_bits", 4.0))


@cache
def _scrubber(options_key: bytes) -> Scrubber:
    return build_scrubber(orjson.loads(options_key))


def scrubber_for(options: dict[str, Any]) -> Scrubber:
    """The scrubber built from the pii options, built once per process (engine workers included)."""
    return _scrubber(orjson.dumps(options, option=orjson.OPT_SORT_KEYS))


@dataclass
class Mined:
    """What pass 2 hands back for a batch: each record as its written line, with where it goes
    (None: on) and the PII found in it by kind; and the batch's counts."""

    records: list[Scrubbed] = field(default_factory=list)
    filtered: dict[str, int] = field(default_factory=dict)  # records rejected, by filter
    corrected: int = 0


def mine_batch(work: MineWork, filters: "Filters", pii: dict[str, Any] | None, key: bytes, stage: str) -> Mined:
    """Engine work: decide where each record of a batch goes, scrub it (its id and its keeper's id
    included; identities hashed with the run's key, on whichever machine the batch runs) and write
    it out as its line. Records set aside are scrubbed too: they land in files people share."""
    lines, keepers, absorbed, passed = work
    scrubber = None
    if pii is not None:
        use_pseudonym_key(key)
        scrubber = scrubber_for(pii)
    mined = Mined()
    for line, keeper, absorbed_count, passed_filters in zip(lines, keepers, absorbed.tolist(), passed.tolist()):
        record = Record.from_json(line)
        aside = decide(record, keeper, absorbed_count, passed_filters, filters, mined)
        found: dict[str, int] = {}
        if scrubber is not None:
            record.id = scrubber.scrub_id(record.id)
            if aside is not None and "keeper_id" in aside[2]:
                aside[2]["keeper_id"] = scrubber.scrub_id(aside[2]["keeper_id"])
            found = dict(scrubber.scrub_record(record))
            tag_scrubbed(record, stage, found)
        if aside is not None:
            place, reason, detail = aside
            record.disposition = aside_disposition(place, stage, reason, detail, scrubber)
        mined.records.append((aside and aside[0], Serialized.of(record), found))
    return mined


def decide(record: Record, keeper: str | None, absorbed: int, passed: bool, filters: "Filters",
           mined: Mined) -> Aside | None:
    """Where ``record`` goes (None: on), counted in ``mined``; a record that goes on gets its
    correction, its conversation group and a note of the calls it absorbed."""
    if keeper is not None:
        return "duplicates", ABSORBED, {"keeper_id": keeper}
    corrected, rejection = screen(record, filters, passed)
    if rejection:
        kind, reason = rejection
        mined.filtered[kind] = mined.filtered.get(kind, 0) + 1
        return "rejected", reason, {}
    mined.corrected += corrected
    target = record.target
    if target is not None and target.get("content") is None and isinstance(target.get("refusal"), str) \
            and not target.get("tool_calls"):
        target["content"] = target["refusal"]  # a refusal kept (drop_refusals: false) is trained as said
    if absorbed:
        record.note("mine", "collapsed", absorbed=absorbed)
    if record.source.get("conversation_id") and "conversation" not in record.groups:
        record.groups["conversation"] = record.source["conversation_id"]
    return None
