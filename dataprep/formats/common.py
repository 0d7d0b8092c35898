"""Conversions every log reader needs: OpenAI-shape messages and tool calls, repaired arguments."""

from __future__ import annotations

from typing import Any

import orjson


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


def text_of(content: Any) -> str | None:
    """Plain text of message content given as a string, a list of parts, or None."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [part if isinstance(part, str) else part.get("text", "") for part in content
                 if isinstance(part, str) or (isinstance(part, dict) and part.get("type") in (None, "text", "input_text", "output_text"))]
        return "".join(texts)
    return str(content)


def openai_message(message: dict[str, Any]) -> dict[str, Any]:
    """Normalize an OpenAI chat message: text content as a string, tool-call arguments repaired,
    only the keys the fine-tuning format knows."""
    out: dict[str, Any] = {"role": message["role"]}
    content = message.get("content")
    out["content"] = text_of(content) if not _has_non_text_parts(content) else content
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
    return isinstance(content, list) and any(
        isinstance(part, dict) and part.get("type") not in (None, "text", "input_text", "output_text") for part in content)
