"""The mine stage: turn what the readers made of the logs into records worth training on.

In order:
1. Collapse re-sent conversations. Stateless APIs re-send the history on every call, so a
   conversation of N turns arrives as N calls, each a prefix of the next. Only the longest
   call is kept: per ``source.conversation_id`` where a record has one, else when a record's
   whole messages (reply included) are a prefix of a longer record's messages. The others go
   to duplicates with ``keeper_id``. Calls the filters (step 3) reject never absorb others.
   Two passes with 64-bit hashes in arrays: memory grows by a few bytes per message, never
   with the records themselves.
2. Corrections. ``feedback.correction`` becomes the training target; the logged reply is
   kept as ``rejected_reply`` (a preference pair). Tag ``corrected``.
3. Filters (recipe options): errored calls, empty, truncated and refused replies, feedback,
   models, date range. A corrected record skips the reply checks: a person wrote its reply.
   Always: blank system and user turns are left out, and what no export can hold is rejected (a
   blank tool result, tool-call arguments that are not a JSON object, a name OpenAI refuses, an id
   used twice or answering no call).
4. PII scrubbing (``dataprep.pii``) of every record that goes on; tag ``pii:scrubbed``.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from fnmatch import fnmatchcase
from functools import cache
from itertools import chain
from typing import Any, Callable, Iterator

import numpy as np
import orjson
import xxhash

from ..engine import batched
from ..errors import RecipeError
from ..formats.common import openai_message, parse_moment
from ..pii import DEFAULT_PHONE_REGIONS, PII_TAG, Scrubber
from ..pipeline import RecordSource, Stage, StageContext, aside_disposition, default_scrubber, register
from ..record import IdTable, Record, Serialized, message_text
from ..record_fields import pseudonym_key, use_pseudonym_key
from ..validate import arguments_problem, check_messages, check_tools

ABSORBED = "absorbed by a longer call of the same conversation"
PLAIN_ROLES = ("system", "developer", "user", "assistant")
BLANK_DROPPABLE = ("system", "developer", "user")  # a blank one says nothing; a blank tool result or reply does
#: the validator's findings about tool calls and definitions that stop an export
TOOL_STRUCTURE = ("tool_call_malformed", "tool_call_missing_id", "tool_call_duplicate_id", "tool_calls_not_assistant",
                  "tool_message_missing_id", "tool_call_id_unknown", "tools_invalid")
Screen = Callable[[Record], "tuple[bool, tuple[str, str] | None]"]
REFUSAL_FINISH = frozenset({"content_filter", "refusal"})
# a record and where it goes (None: on; else place, reason, detail)
Decided = tuple[Record, tuple[str, str, dict[str, Any]] | None]
# a scrubbed record as written: where it goes (None: on), its line, the PII found in it by kind
Scrubbed = tuple[str | None, Serialized, dict[str, int]]


@register
class Mine(Stage):
    name = "mine"

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.collapse = options.get("collapse", "auto")
        self.filters = Filters.from_options(options)
        pii = options.get("pii") or {}
        self.pii = pii if pii.get("enabled", True) else None
        if self.pii is not None:
            scrubber_for(self.pii)  # a bad pattern fails now, not in a worker

    def run(self, records: RecordSource, ctx: StageContext) -> Iterator[Record | Serialized]:
        plan = plan_collapse(records, self.collapse, self.screen)
        ctx.stats["collapsed"] = plan.absorbed_total
        decided = (self.decide(index, record, plan, ctx) for index, record in enumerate(records))
        if self.pii is None:
            for record, aside in decided:
                if aside is None:
                    yield record
                else:
                    place, reason, detail = aside
                    ctx.set_aside(record, place, reason, **detail)
            return
        # Scrubbing is most of the work: on every core, results in input order, each record written
        # out where it was scrubbed. The pseudonym key goes with the work (Ray's object store), never
        # into a worker's environment, which a cluster's metadata shows.
        pii_counts: dict[str, int] = {}
        scrubbed = ctx.engine.map_batches(scrub_batch, batched(decided), self.pii, pseudonym_key(), ctx.stage)
        for place, written, found in (item for done in scrubbed for item in done):
            if place is not None:
                ctx.set_aside_serialized(place, written)
                continue
            ctx.count("pii_records", bool(found))
            for kind, count in found.items():
                pii_counts[kind] = pii_counts.get(kind, 0) + count
            yield written
        ctx.stats["pii"] = dict(sorted(pii_counts.items()))

    def decide(self, index: int, record: Record, plan: "CollapsePlan", ctx: StageContext) -> Decided:
        """Where ``record`` goes (``aside`` is None for on), made in this process so every engine
        decides alike; records set aside are scrubbed too: they land in files people share."""
        keeper = plan.keeper_of(index)
        if keeper is not None:
            return record, ("duplicates", ABSORBED, {"keeper_id": keeper})
        corrected, rejection = self.screen(record)
        if rejection:
            kind, reason = rejection
            ctx.stats.setdefault("filtered", {})
            ctx.stats["filtered"][kind] = ctx.stats["filtered"].get(kind, 0) + 1
            return record, ("rejected", reason, {})
        ctx.count("corrected", corrected)
        target = record.target
        if target is not None and target.get("content") is None and isinstance(target.get("refusal"), str) \
                and not target.get("tool_calls"):
            target["content"] = target["refusal"]  # a refusal kept (drop_refusals: false) is trained as said
        if plan.absorbed[index]:
            record.note("mine", "collapsed", absorbed=int(plan.absorbed[index]))
        if record.source.get("conversation_id") and "conversation" not in record.groups:
            record.groups["conversation"] = record.source["conversation_id"]
        return record, None

    def screen(self, record: Record) -> tuple[bool, tuple[str, str] | None]:
        """Apply the record's correction; say whether it was corrected and why the filters reject it."""
        try:
            corrected = apply_correction(record)
        except ValueError as exc:
            return False, ("correction", str(exc))
        if without_blank_turns(record) and len(record.messages) <= 1:
            return corrected, ("empty", "every turn before the reply is blank" if record.messages else "every turn is blank")
        return corrected, self.filters.rejection(record, corrected)


def blank(message: dict[str, Any]) -> bool:
    """A turn that says nothing: no text, no image or file, no tool call."""
    if message.get("tool_calls"):
        return False
    content = message.get("content")
    if isinstance(content, list):
        return all(isinstance(part, dict) and part.get("type") == "text" and not str(part.get("text") or "").strip()
                   for part in content)
    return content is None or (isinstance(content, str) and not content.strip())


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


def plan_collapse(records: RecordSource, mode: str, screen: Screen) -> CollapsePlan:
    """Pass 1: hash every record's messages (corrections applied) and decide which records absorb
    which. Records the filters reject take no part: a truncated last call must not swallow the
    complete calls before it. A corrected call is never absorbed: its reply is not the logged one."""
    if mode == "off":
        return CollapsePlan(np.full(len(records), -1, dtype=np.int64), np.zeros(len(records), dtype=np.int64), IdTable())
    ids = IdTable()
    lengths, full_hash, conv_hash = array("q"), array("Q"), array("Q")
    in_conversation, ends_with_reply, absorbable = array("b"), array("b"), array("b")
    prefix_hash, prefix_owner = array("Q"), array("q")
    for index, record in enumerate(records):
        ids.append(record.id)
        corrected, rejection = screen(record)
        taking_part = rejection is None
        conversation = record.source.get("conversation_id") if mode == "auto" and taking_part else None
        in_conversation.append(bool(conversation))
        conv_hash.append(xxhash.xxh64_intdigest(str(conversation).encode("utf-8")) if conversation else 0)
        absorbable.append(not corrected)
        digest, messages = 0, record.messages
        for position, message in enumerate(messages):
            # a proper prefix ending in an assistant reply is what a shorter call of the same
            # conversation looks like in full
            if position and messages[position - 1].get("role") == "assistant" and taking_part and not conversation:
                prefix_hash.append(digest)
                prefix_owner.append(index)
            digest = xxhash.xxh64_intdigest(message_key(message), seed=digest)
        lengths.append(len(messages))
        full_hash.append(digest)
        ends_with_reply.append(taking_part and not conversation and bool(messages)
                               and messages[-1].get("role") == "assistant")
    count = len(lengths)
    keeper = np.full(count, -1, dtype=np.int64)
    if count:
        length = np.frombuffer(lengths, dtype=np.int64)
        by_conversation(keeper, np.frombuffer(conv_hash, dtype=np.uint64), flags(in_conversation), length,
                        flags(absorbable))
        by_prefix(keeper, np.frombuffer(full_hash, dtype=np.uint64), flags(ends_with_reply),
                  np.frombuffer(prefix_hash, dtype=np.uint64), np.frombuffer(prefix_owner, dtype=np.int64), length)
    absorbed = np.bincount(keeper[keeper >= 0], minlength=count) if count else np.zeros(0, dtype=np.int64)
    return CollapsePlan(keeper, absorbed, ids)


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

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "Filters":
        models = options.get("models")
        return cls(feedback=options.get("feedback", "any"), drop_errors=options.get("drop_errors", True),
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
            return "error", f"errored call: {_quoted(source['error'])}"
        if self.drop_refusals:
            if finish in REFUSAL_FINISH:
                return "refusal", f"refusal (finish_reason {finish})"
            if target is not None and target.get("refusal"):
                return "refusal", f"refusal: {_quoted(target['refusal'])}"
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
        for number, message in enumerate(record.prompt_messages, start=1):
            if message["role"] == "function":  # linked_calls made every answer to a call a tool message
                return "unexportable", f"message {number} is a function result no call asked for; exports would stop on it"
            if blank(message):
                return "unexportable", f"message {number} ({message['role']}) is blank; exports would stop on it"
        if not record.tools and all(m["role"] in PLAIN_ROLES and not m.get("tool_calls") for m in record.messages):
            return None
        for number, message in enumerate(record.messages, start=1):
            for call in message.get("tool_calls") or ():
                arguments = call["function"].get("arguments")
                if arguments_problem(arguments):  # quoted here, scrubbed before it is cut
                    return "unexportable", (f"tool call {call['function']['name']!r} in message {number}: its arguments "
                                            f"are not a JSON object; exports would stop on it: {_quoted(arguments)}")
        issues = chain(check_messages(record.messages, "messages"), check_tools(record.tools) if record.tools else ())
        issue = next((issue for issue in issues if issue.cls in TOOL_STRUCTURE), None)
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


def _quoted(value: Any, limit: int = 300) -> str:
    """Logged text for a reason, scrubbed before it is cut: half an email at the cut would pass
    the scrubbing every reason gets later."""
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode("utf-8")
    text = default_scrubber().scrub_text(text)
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


def scrub_batch(batch: list[Decided], pii: dict[str, Any], key: bytes, stage: str) -> list[Scrubbed]:
    """Engine work: scrub each record of a batch in place, its id and its keeper's id included, and
    write it out as its line, with where it goes and what was found, by kind. Identities are hashed
    with the run's key, on whichever machine the batch runs."""
    use_pseudonym_key(key)
    scrubber = scrubber_for(pii)
    done: list[Scrubbed] = []
    for record, aside in batch:
        record.id = scrubber.scrub_id(record.id)
        if aside is not None and "keeper_id" in aside[2]:
            aside[2]["keeper_id"] = scrubber.scrub_id(aside[2]["keeper_id"])
        found = dict(scrubber.scrub_record(record))
        if aside is None:
            tag_scrubbed(record, found)
        else:
            place, reason, detail = aside
            record.disposition = aside_disposition(place, stage, reason, detail)
        done.append((aside and aside[0], Serialized.of(record), found))
    return done


def tag_scrubbed(record: Record, found: dict[str, int]) -> None:
    """Note what was found in a scrubbed record that goes on, and tag it scrubbed."""
    if found:
        record.note("mine", "scrubbed_pii", counts=dict(sorted(found.items())))
    if PII_TAG not in record.tags:
        record.tags.append(PII_TAG)
