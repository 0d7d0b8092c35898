"""Where the text of a record lives, and which of its strings are safe to leave as they are.

The PII scrubber must see every string a record carries: message content, tool-call
arguments, tool descriptions and parameter schemas, feedback, the app's metadata, reasons,
tags. ``map_record_texts`` walks all of them. Only a short allow-list of structural fields is
passed over, each for a reason given beside it. Fields that carry someone's identity
(``source.user``, session and conversation ids, a message's ``name``) are not text to scrub
but keys to group by: they become keyed hashes (``anon-…``), so grouping still works and
the value is gone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Callable

from .record import Record

Change = Callable[[str], str]

# -- strings that are structure, not content ------------------------------------------------------
#: message keys: the role is one of a fixed set; tool_call_id is the provider's generated call id
MESSAGE_STRUCTURE = frozenset({"role", "tool_call_id"})
#: tool-call keys: the provider's call id and "function"; the function name is the app's own tool name
CALL_STRUCTURE = frozenset({"id", "type"})
CALL_STRUCTURE_AND_FUNCTION = CALL_STRUCTURE | {"function"}  # the function is walked on its own
FUNCTION_STRUCTURE = frozenset({"name"})
#: content-part keys: the part type ("text", "image_url") and the image detail level are enums
PART_STRUCTURE = frozenset({"type", "detail"})
#: JSON Schema keywords whose values are keywords or property names the app's developers chose
SCHEMA_STRUCTURE = frozenset({"type", "required", "format", "$ref", "$schema", "$id"})
#: source keys dataprep or the provider filled: the input file's path (the operator's own) and
#: reader name, line numbers, timestamps, and the provider's random request/trace/response ids
#: (a secret detector could mangle them, and they identify a call, not a person). The model name
#: and finish reason come from the app's log like any text, so they are scrubbed.
SOURCE_STRUCTURE = frozenset({"file", "output_file", "format", "timestamp", "line", "trace_id", "request_id",
                              "response_id", "previous_response_id", "span_id", "run_id", "observation_id",
                              "custom_id"})
#: stage bookkeeping dataprep writes itself: which stage, what it did, where a record went,
#: which generated record id kept it
BOOKKEEPING = frozenset({"stage", "action", "place", "keeper_id", "cluster", "verdict", "thumbs"})

#: keys that name a person, a session or a conversation: hashed, never scrubbed as text
IDENTITY_KEY = re.compile(
    r"(?i)(?:^|[_\-.])(?:end[_-]?)?(?:user|session|conversation|thread|customer|client|member|visitor|device|"
    r"account|participant|author|sender|recipient)(?:[_\-.]?(?:id|name|key))?$")


@lru_cache(maxsize=4096)
def identity_key(key: Any) -> bool:
    """Whether a key names a person, a session or a conversation: a record's few keys repeat in every record."""
    return IDENTITY_KEY.search(str(key)) is not None


PSEUDONYM = re.compile(r"anon-[0-9a-f]{16}")
INLINE_IMAGE = re.compile(r"data:image/[\w.+-]+;base64,[A-Za-z0-9+/=\s]*")
#: ``"session_id": "sess_priya-raman"`` in the text of a line no reader could parse
IDENTITY_IN_TEXT = re.compile(r'"(?P<key>[^"\\]{1,64})"\s*:\s*"(?P<value>[^"\\]{1,256})"')


def map_record_texts(record: Record, change: Change, identity: Change | None = None, tools: bool = True) -> bool:
    """Apply ``change`` to every text of ``record`` in reading order (messages first, so
    placeholders number the way a person reads the conversation), and ``identity`` (when
    given, else ``change``) to the strings that identify a person, session or conversation;
    the tool definitions are left alone when not ``tools``. Returns whether the record has
    any such identity field."""
    walker = Walker(change, identity)
    record.messages = [walker.message(m) for m in record.messages]
    if record.rejected_reply:
        record.rejected_reply = walker.message(record.rejected_reply)
    if record.tools and tools:
        record.tools = walker.tools(record.tools)
    record.source = walker.mapping(record.source, keep=SOURCE_STRUCTURE)
    record.groups = walker.mapping(record.groups)
    correction = record.feedback.get("correction")
    record.feedback = walker.mapping(record.feedback, keep=BOOKKEEPING)
    if isinstance(correction, dict):
        record.feedback["correction"] = walker.message(correction)
    record.review = walker.mapping(record.review, keep=BOOKKEEPING)
    record.meta = walker.mapping(record.meta)
    record.tags = [walker.value(tag) for tag in record.tags]
    record.reasons = walker.mapping(record.reasons)
    record.provenance = [walker.mapping(item, keep=BOOKKEEPING) for item in record.provenance]
    if record.disposition:
        record.disposition = walker.mapping(record.disposition, keep=BOOKKEEPING)
    return walker.identities > 0


class Walker:
    def __init__(self, change: Change, identity: Change | None):
        self.change = change
        self.identity = identity
        self.identities = 0  # identity fields seen

    def message(self, message: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in message.items():
            if key in MESSAGE_STRUCTURE or not value:
                out[key] = value
            elif type(value) is str and key != "name":  # most of a conversation: one test, then its text
                out[key] = self.change(value)
            elif key == "name" and message.get("role") not in ("tool", "function"):
                out[key] = self.identify(value)  # a participant's name: one person keeps one pseudonym
            elif key == "content" and isinstance(value, list):
                out[key] = [self.mapping(part, keep=PART_STRUCTURE) if isinstance(part, dict) and part.get("type") != "image_url"
                            else self.image_part(part) for part in value]
            elif key == "tool_calls" and isinstance(value, list):
                out[key] = [self.tool_call(call) for call in value]
            else:
                out[key] = self.value(value)
        return out

    def tool_call(self, call: Any) -> Any:
        if not isinstance(call, dict):
            return self.value(call)
        out = self.mapping(call, keep=CALL_STRUCTURE_AND_FUNCTION)
        if isinstance(call.get("function"), dict):
            out["function"] = self.mapping(call["function"], keep=FUNCTION_STRUCTURE)  # the app's own tool name
        return out

    def image_part(self, part: Any) -> Any:
        """An inline image (a base64 ``data:image/…`` URL) is left as it is: bytes, not text. Any
        other URL (a link, a ``data:text/plain,…``) may carry a name or an email: scrubbed as text."""
        image = part.get("image_url") if isinstance(part, dict) else None
        if isinstance(image, dict) and INLINE_IMAGE.fullmatch(str(image.get("url", ""))):
            return {**part, "image_url": {**image}}
        return self.mapping(part, keep=PART_STRUCTURE) if isinstance(part, dict) else self.value(part)

    def tools(self, tools: list[Any]) -> list[Any]:
        return [self.tool(tool) for tool in tools]

    def tool(self, tool: Any) -> Any:
        if not isinstance(tool, dict):
            return self.value(tool)
        out = self.mapping(tool, keep={"type", "function", "name"})
        function = tool.get("function")
        if isinstance(function, dict):
            out["function"] = {key: (value if key in ("name", "strict") else
                                     self.schema(value) if key == "parameters" else self.value(value))
                               for key, value in function.items()}
        return out

    def schema(self, value: Any) -> Any:
        """A JSON Schema: keywords and property names are structure; descriptions, titles,
        enums, defaults and examples are text someone wrote."""
        if isinstance(value, dict):
            return {key: item if key in SCHEMA_STRUCTURE else self.schema(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.schema(item) for item in value]
        return self.value(value)

    def mapping(self, value: Any, keep: frozenset[str] | set[str] = frozenset()) -> Any:
        if not isinstance(value, dict):
            return self.value(value)
        out = {}
        for key, item in value.items():
            if key in keep:
                out[key] = item
            elif identity_key(key) and isinstance(item, (str, int)) and not isinstance(item, bool):
                out[key] = self.identify(item)
            else:
                out[key] = self.value(item)
        return out

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.change(value) if value else value
        if isinstance(value, list):
            return [self.mapping(item) for item in value]
        if isinstance(value, dict):
            return self.mapping(value)
        return value

    def identify(self, value: Any) -> Any:
        self.identities += 1
        if self.identity is None:
            return self.value(value)
        return self.identity(str(value)) if value != "" else value


def pseudonymize_identity_text(text: str) -> str:
    """Identity fields in the raw text of an unreadable line (broken JSON keeps its key-value
    pairs): their values become keyed hashes, as they would in a parsed record."""
    def swap(match: re.Match) -> str:
        if not IDENTITY_KEY.search(match["key"]):
            return match.group()
        return f'"{match["key"]}": "{pseudonym(match["value"])}"'
    return IDENTITY_IN_TEXT.sub(swap, text) if '"' in text else text


# -- keyed hashes for identity fields ----------------------------------------------------------------
def pseudonym(value: str) -> str:
    """A keyed hash of ``value``: the same value always gives the same pseudonym (with the same
    key), and without the key a short user id cannot be recovered by hashing guesses."""
    if PSEUDONYM.fullmatch(value):  # already a pseudonym: scrubbing twice changes nothing
        return value
    digest = hmac.new(_shipped_key or pseudonym_key(), value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"anon-{digest[:16]}"


_shipped_key: bytes | None = None  # the run's key, as an engine worker received it with its work


def use_pseudonym_key(key: bytes) -> None:
    """Hash identities with ``key`` in this process (a worker on another machine has no key file)."""
    global _shipped_key
    _shipped_key = key


@cache
def pseudonym_key() -> bytes:
    """``DATAPREP_PSEUDONYM_KEY`` if set (share it to get the same pseudonyms on several
    machines), else a random key made once per user and kept in their config folder."""
    given = os.environ.get("DATAPREP_PSEUDONYM_KEY")
    if given:
        return given.encode("utf-8")
    folder = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "dataprep"
    path = folder / "pseudonym.key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".pseudonym.key.{os.getpid()}.tmp"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:  # two processes starting at once: the first key linked in wins, the other is dropped
            os.link(partial, path)
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return path.read_text().strip().encode("utf-8")
