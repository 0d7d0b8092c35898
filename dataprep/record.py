"""The one record type that flows through every stage.

A record is an example in OpenAI chat shape (``messages``, optional ``tools``) plus
where it came from (``source``), what people said of it (``feedback``, ``review``)
and what stages found (``tags``, ``scores``, ``reasons``, ``groups``, ``provenance``).
``schemas/record.schema.json`` is the contract; readers convert into it and
exporters convert out of it.
"""

from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass, field, fields
from typing import Any

import orjson

from .jsonl import dumps

PLACES = ("train", "eval", "rag_candidates", "duplicates", "rejected")
SPLITS = ("train", "eval")
# tags one stage sets and another reads: the record is their only channel
UNCERTAIN_TAG = "fact-heavy-uncertain"  # flag: scored close to its threshold; review: a person should look
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def canonical_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def content_id(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> str:
    """A stable id from the example's content: the same example always gets the same id."""
    digest = hashlib.sha256(canonical_json({"messages": messages, "tools": tools or None})).hexdigest()
    return f"rec-{digest[:20]}"


def derived_id(*parts: Any) -> str:
    """A stable id from any identifying parts (e.g. format, file name, line, trace id)."""
    digest = hashlib.sha256(canonical_json(list(parts))).hexdigest()
    return f"rec-{digest[:20]}"


@dataclass(slots=True)
class Record:
    messages: list[dict[str, Any]]
    id: str = ""
    tools: list[dict[str, Any]] | None = None
    source: dict[str, Any] = field(default_factory=dict)
    feedback: dict[str, Any] = field(default_factory=dict)
    review: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, list[Any]] = field(default_factory=dict)
    groups: dict[str, Any] = field(default_factory=dict)
    provenance: list[dict[str, Any]] = field(default_factory=list)
    split: str = "train"
    rejected_reply: dict[str, Any] | None = None
    disposition: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            self.id = content_id(self.messages, self.tools)

    # -- conversions -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Record":
        """Build a record from a dict; unknown top-level keys are kept under ``meta``."""
        known: dict[str, Any] = {}
        unknown: dict[str, Any] = {}
        for key, value in data.items():
            if key in _FIELD_NAMES:
                if value is not None:
                    known[key] = value
            else:
                unknown[key] = value
        if unknown:
            known["meta"] = {**known.get("meta", {}), **unknown}
        return cls(**known)

    @classmethod
    def from_json(cls, line: bytes | str) -> "Record":
        """A record from its JSON line (as the runner writes records between stages)."""
        return cls.from_dict(orjson.loads(line))

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready dict, leaving out empty optional parts."""
        out: dict[str, Any] = {"id": self.id, "messages": self.messages}
        for name in _OPTIONAL_FIELDS:
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.split != "train":
            out["split"] = self.split
        return out

    # -- views -------------------------------------------------------------------------
    @property
    def target(self) -> dict[str, Any] | None:
        """The assistant message being trained on: the last message, if it is the assistant's."""
        if self.messages and self.messages[-1].get("role") == "assistant":
            return self.messages[-1]
        return None

    @property
    def corrected(self) -> bool:
        """Whether someone fixed the reply: a correction given, the rejected reply kept beside it, or tagged so."""
        return bool(self.feedback.get("correction") or self.rejected_reply or "corrected" in self.tags)

    @property
    def prompt_messages(self) -> list[dict[str, Any]]:
        """Everything before the target: the model's input."""
        return self.messages[:-1] if self.target is not None else list(self.messages)

    def note(self, stage: str, action: str, **detail: Any) -> None:
        """Record in ``provenance`` that a stage changed this record and how."""
        self.provenance.append({"stage": stage, "action": action, **detail})

    def replace_target(self, new_reply: dict[str, Any], *, stage: str, why: str) -> None:
        """Make ``new_reply`` the training target; the old one becomes the rejected side of a preference pair."""
        old = self.target
        if old is not None:
            self.rejected_reply = old
            self.messages = [*self.messages[:-1], new_reply]
        else:
            self.messages = [*self.messages, new_reply]
        self.note(stage, "replaced_target", why=why)


_FIELD_NAMES = frozenset(f.name for f in fields(Record))
_OPTIONAL_FIELDS = ("tools", "source", "feedback", "review", "tags", "scores", "reasons", "groups",
                    "provenance", "rejected_reply", "disposition", "meta")


def readable_text(message: dict[str, Any], call_prefix: str = "") -> str:
    """A message's text with its tool calls as ``name(arguments)`` lines (after ``call_prefix``):
    what a person, a judge or a similarity measure should read of it."""
    calls = [call.get("function", {}) for call in message.get("tool_calls") or [] if isinstance(call, dict)]
    return "\n".join(filter(None, [message_text(message), *(f"{call_prefix}{c.get('name', '')}({c.get('arguments', '')})"
                                                           for c in calls)]))


def record_text(record: "Record", view: str = "auto") -> str:
    """The text of ``record`` that similarity compares, one message per line: its user turns
    (``user``), user turns plus the tool calls and tool results before the reply (``auto``),
    user and assistant turns (``user_assistant``), everything before the reply but the system
    prompt (``input``: user turns, earlier replies, tool results) or every message
    (``conversation``). Tool calls count as text (``name(arguments)``)."""
    if view == "auto":
        return "\n".join(filter(None, map(_user_or_tool_text, record.prompt_messages)))
    if view == "user":
        messages = [m for m in record.messages if m.get("role") == "user"]
    elif view == "user_assistant":
        messages = [m for m in record.messages if m.get("role") in ("user", "assistant")]
    elif view == "input":
        messages = [m for m in record.prompt_messages if m.get("role") not in ("system", "developer")]
    else:
        messages = record.messages
    return "\n".join(filter(None, map(readable_text, messages)))


def _user_or_tool_text(message: dict[str, Any]) -> str:
    """A user turn in full; a tool result, and of an assistant turn only its tool calls (its
    wording says nothing about which example this is), with JSON keys sorted: the same lookup
    logged with its keys in another order is the same example."""
    role = message.get("role")
    if role == "user":
        return readable_text(message)
    if role in ("tool", "function"):
        return _sorted_json(message_text(message))
    if role == "assistant":
        functions = [call.get("function") or {} for call in message.get("tool_calls") or [] if isinstance(call, dict)]
        calls = [{"function": {**f, "arguments": _sorted_json(f.get("arguments"))}} for f in functions]
        return readable_text({"tool_calls": calls})
    return ""


def answer_text(turn: list[dict[str, Any]]) -> str:
    """What follows the last user turn (tool calls, their results, the reply) as dedup compares
    answers: JSON keys sorted, so one lookup logged with its keys in another order is one answer."""
    return "\n".join(filter(None, [*map(_user_or_tool_text, turn[:-1]), *map(readable_text, turn[-1:])]))


def _sorted_json(text: Any) -> str:
    """JSON text with its keys sorted; anything else as it is."""
    try:
        return canonical_json(orjson.loads(text)).decode()
    except (orjson.JSONDecodeError, TypeError):
        return text if isinstance(text, str) else ""


def message_text(message: dict[str, Any]) -> str:
    """The plain text of a message, whether ``content`` is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def category_of(record: Record) -> str | None:
    """A record's category or intent: from its source (a mapped column), the app's own logged
    metadata, or a ``category:``/``intent:`` tag."""
    app = record.meta.get("metadata") if isinstance(record.meta.get("metadata"), dict) else {}
    for value in (record.source.get("category"), record.source.get("intent"), record.meta.get("category"),
                  app.get("intent"), app.get("category")):
        if value:
            return str(value)
    for tag in record.tags:
        if tag.startswith(("category:", "intent:")):
            return tag.split(":", 1)[1]
    return None


class IdTable:
    """Record ids by position, packed in one buffer: ten million cost their bytes plus 8 each,
    not ~70 as strings."""

    def __init__(self) -> None:
        self.data, self.ends = bytearray(), array("q")

    def append(self, record_id: str) -> None:
        self.data += record_id.encode("utf-8", "surrogatepass")
        self.ends.append(len(self.data))

    def extend(self, more: "IdTable") -> None:
        offset = len(self.data)
        self.ends.extend(end + offset for end in more.ends)
        self.data += more.data

    def __getitem__(self, index: int) -> str:
        return self.data[self.ends[index - 1] if index else 0:self.ends[index]].decode("utf-8", "surrogatepass")

    def __len__(self) -> int:
        return len(self.ends)


@dataclass(frozen=True, slots=True)
class Serialized:
    """A record as the line it is written as (``jsonl.dumps(record.to_dict())``), made where the
    work ran: this process copies the bytes, where taking the record back in would cost it about
    what making the record did (a pool's speed-up went into unpickling)."""

    id: str
    line: bytes

    @classmethod
    def of(cls, record: Record) -> "Serialized":
        return cls(record.id, dumps(record.to_dict()) + b"\n")

    def record(self) -> Record:
        return Record.from_json(self.line)


def renamed(item: "Record | Serialized", new_id: str) -> "Record | Serialized":
    """The record (or its line) under another id: a repeat made unique."""
    record = item.record() if isinstance(item, Serialized) else item
    record.id = new_id
    return Serialized.of(record) if isinstance(item, Serialized) else record
