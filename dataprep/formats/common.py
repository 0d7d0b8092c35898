"""Conversions every log reader needs: OpenAI-shape messages and tool calls, repaired arguments."""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import count
from typing import Any, Callable, Iterable, Iterator

import orjson

from ..jsonl import BadLine, Line, line_excerpt
from ..record import Record


def repair_arguments(arguments: Any) -> str:
    """Tool-call arguments as one JSON string, as OpenAI's format wants.

    Logs hold them as a dict (Anthropic ``input``, LangChain ``args``), as a JSON string,
    or double-encoded (a JSON string whose value is itself a JSON string): all become
    the JSON text of the object. A string that is not JSON is kept as it is.
    """
    value = arguments
    for _ in range(3):
        if not isinstance(value, str):
            break
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if value is None:
        return "{}"
    return orjson.dumps(value).decode("utf-8")


def tool_call(call_id: str | None, name: str, arguments: Any) -> dict[str, Any]:
    call = {"type": "function", "function": {"name": name, "arguments": repair_arguments(arguments)}}
    if call_id:
        call["id"] = call_id
    return call


def linked_calls(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Legacy function calling as tool calls end to end: a call logged without an id (a
    ``function_call``) gets one by its place in the conversation (``call_1``, ``call_2``, …), and
    the ``function`` message answering it becomes the ``tool`` message naming that id; without
    both, a fine-tuning file would hold a call nothing can answer."""
    if not has_legacy_calls(messages):
        return messages  # nearly every record: nothing legacy to link
    taken = {call.get("id") for message in messages for call in message.get("tool_calls") or ()}
    fresh = (name for name in (f"call_{number}" for number in count(1)) if name not in taken)
    asked: list[tuple[str, str]] = []  # (function name, call id) not answered yet, in order
    linked = []
    for message in messages:
        calls = [call if call.get("id") else {"id": next(fresh), **call} for call in message.get("tool_calls") or ()]
        if calls:
            message = {**message, "tool_calls": calls}
            asked += [(call["function"]["name"], call["id"]) for call in calls]
        if message["role"] == "function":
            answered = next((call_id for name, call_id in asked if name == message.get("name")), None)
            if answered:
                message = {"role": "tool", "tool_call_id": answered, "content": message.get("content")}
        asked = [pair for pair in asked if pair[1] != message.get("tool_call_id")]
        linked.append(message)
    return linked


def has_legacy_calls(messages: list[dict[str, Any]]) -> bool:
    """A function message or a tool call without an id (loops, not nested generators: every record asks)."""
    for message in messages:
        if message["role"] == "function":
            return True
        for call in message.get("tool_calls") or ():
            if not call.get("id"):
                return True
    return False


def text_of(content: Any) -> str | None:
    """Plain text of message content given as a string, a list of text parts, or None; any other
    value (an SDK wrapper that logged a dict) as its JSON text, never Python's repr."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list) and all(_is_text_part(part) for part in content):
        return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in content)
    return orjson.dumps(content, default=str).decode("utf-8")


def _is_text_part(part: Any) -> bool:
    return isinstance(part, str) or (isinstance(part, dict) and part.get("type") in (None, "text", "input_text", "output_text"))


def openai_message(message: dict[str, Any]) -> dict[str, Any]:
    """Normalize an OpenAI chat message: text content as a string, tool-call arguments repaired,
    only the keys the fine-tuning format knows."""
    content = message.get("content")
    if not isinstance(content, str):  # most messages hold text
        content = text_of(content) if not _has_non_text_parts(content) else content
    out: dict[str, Any] = {"role": message["role"], "content": content}
    if message.get("name"):
        out["name"] = message["name"]
    calls = message.get("tool_calls")
    if calls:
        out["tool_calls"] = [tool_call(c.get("id"), c["function"]["name"], c["function"].get("arguments"))
                             for c in calls]
    if message.get("tool_call_id"):
        out["tool_call_id"] = message["tool_call_id"]
    if message.get("function_call"):  # the legacy single function call becomes a tool call
        legacy = message["function_call"]
        out["tool_calls"] = [tool_call(None, legacy["name"], legacy.get("arguments"))]
    return out


def _has_non_text_parts(content: Any) -> bool:
    """A list with an image, a file or another part a fine-tuning file keeps as a part."""
    return isinstance(content, list) and any(isinstance(part, dict) and not _is_text_part(part) for part in content)


def parse_moment(value: Any) -> datetime | None:
    """A time as an aware date-time, from unix seconds, milliseconds, microseconds or
    nanoseconds, or an ISO 8601 string (a naive one is taken as UTC); ``None`` if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
        while abs(seconds) > 1e11:  # milliseconds, microseconds or nanoseconds since the epoch
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return None


def iso_timestamp(value: Any) -> str | None:
    """A log's time as ISO 8601 UTC (``2026-11-02T08:00:00Z``); ``None`` if unreadable."""
    moment = parse_moment(value)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


THUMBS_UP = frozenset({"up", "thumbs_up", "thumbsup", "\U0001f44d", "+1", "1", "true", "yes", "positive", "good", "like"})
THUMBS_DOWN = frozenset({"down", "thumbs_down", "thumbsdown", "\U0001f44e", "-1", "0", "false", "no", "negative", "bad",
                         "dislike"})
THUMBS_KEYS = ("thumbs", "thumb", "rating", "vote")


def thumbs_of(value: Any) -> str | None:
    """``"up"``/``"down"`` from the ways apps log a thumb (``"up"``, ``"👎"``, ``true``, ``1``, ``-1``, ``0``);
    ``None`` for anything else, e.g. a 1-5 rating, which is a score rather than a thumb."""
    if isinstance(value, bool):
        return "up" if value else "down"
    if isinstance(value, (int, float)):
        return {1: "up", 0: "down", -1: "down"}.get(value)
    if isinstance(value, str):
        key = value.strip().lower()
        return "up" if key in THUMBS_UP else "down" if key in THUMBS_DOWN else None
    return None


def feedback_from(value: Any) -> dict[str, Any]:
    """An app's own ``feedback`` field (an object, a list of them, or a bare thumb) as ``record.feedback``:
    ``thumbs``, ``scores``, ``comments``, ``correction``; only the parts present."""
    feedback: dict[str, Any] = {}
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            _merge_feedback(feedback, item)
        elif thumbs_of(item):
            feedback["thumbs"] = thumbs_of(item)
    return feedback


def _merge_feedback(feedback: dict[str, Any], item: dict[str, Any]) -> None:
    for key in THUMBS_KEYS:
        if item.get(key) is None:
            continue
        if thumbs_of(item[key]):
            feedback["thumbs"] = thumbs_of(item[key])
        elif isinstance(item[key], (int, float)) and not isinstance(item[key], bool):
            feedback.setdefault("scores", {})[key] = item[key]
    if isinstance(item.get("score"), (int, float)) and not isinstance(item["score"], bool):
        feedback.setdefault("scores", {})["score"] = item["score"]
    if isinstance(item.get("scores"), dict):
        feedback.setdefault("scores", {}).update(item["scores"])
    comments = item.get("comments") if isinstance(item.get("comments"), list) else [item.get("comment")]
    comments = [text for text in comments if isinstance(text, str) and text.strip()]
    if comments:
        feedback.setdefault("comments", []).extend(comments)
    if isinstance(item.get("correction"), (str, dict)) and item["correction"]:
        feedback["correction"] = item["correction"]


# -- helpers the observability readers share (added with the anthropic/langsmith/langfuse/otel/litellm/helicone readers)
class ShapeError(ValueError):
    """A line that is not the shape its format promises; the message says what is wrong, for a person."""


JSON_KINDS = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number", bool: "true/false"}


def expect(value: Any, kind: type, what: str) -> Any:
    """``value`` if it is a ``kind``; otherwise a ShapeError naming the field and what it held."""
    if isinstance(value, kind):
        return value
    got = "nothing" if value is None else JSON_KINDS.get(type(value), type(value).__name__)
    raise ShapeError(f"{what} should be {JSON_KINDS.get(kind, kind.__name__)}, got {got}")


def excerpt(value: Any) -> str:
    """A parsed line that did not convert, as text for rejected.jsonl (cut like any bad line)."""
    return line_excerpt(orjson.dumps(value, default=str))


def guarded(line: Line, convert: Callable[[Line], Iterable[Record | BadLine]]) -> Iterator[Record | BadLine]:
    """A reader's conversion of one line, all or nothing: a line of the wrong shape becomes one BadLine saying why."""
    try:
        items = list(convert(line))
    except ShapeError as exc:
        items = [BadLine(line.file, line.line, str(exc), excerpt(line.value))]
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        # Wrong types deep inside a value (fuzzed or hand-edited logs): say so rather than crash.
        detail = f"missing field {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
        items = [BadLine(line.file, line.line, f"unexpected shape: {detail}", excerpt(line.value))]
    yield from items

