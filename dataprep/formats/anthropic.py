"""Anthropic Messages logs: request/response pairs as apps log them, and Message Batches results.

Anthropic's shapes become OpenAI chat: the top-level ``system`` becomes a system message,
``tool_use`` blocks become ``tool_calls`` (arguments = the JSON of ``input``), ``tool_result``
blocks become ``tool`` messages, and tools ``{name, description, input_schema}`` become
functions. The Helicone and LiteLLM readers reuse these conversions for Anthropic calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..jsonl import BadLine, Line, SeekableLines, located_lines
from . import Item, ReadOptions, Reader, register
from .common import ShapeError, excerpt, expect, guarded, text_of, tool_call
from .openai_chat import Call, chat_calls, convert_log, error_text, record_of

STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
                "tool_call": "tool_calls", "model_context_window_exceeded": "length"}


def finish_reason(reason: Any) -> str | None:
    """A stop reason in OpenAI's words (``stop``, ``length``, ``tool_calls``); others, e.g. ``refusal``, kept."""
    if not isinstance(reason, str) or not reason:
        return None
    return STOP_REASONS.get(reason.lower(), reason.lower())


# -- Anthropic -> OpenAI chat -----------------------------------------------------------------
def system_messages(system: Any) -> list[dict[str, Any]]:
    """The top-level ``system`` (a string or text blocks) as a leading system message."""
    if system is None or system == "" or system == []:
        return []
    if not isinstance(system, (str, list)):
        raise ShapeError("request.system should be a string or a list of text blocks")
    return [{"role": "system", "content": text_of(system)}]


def chat_messages(messages: Any) -> list[dict[str, Any]]:
    """Anthropic ``messages`` as OpenAI messages; a user turn's ``tool_result`` blocks become ``tool`` messages."""
    out: list[dict[str, Any]] = []
    for index, message in enumerate(expect(messages, list, "request.messages")):
        where = f"request.messages[{index}]"
        expect(message, dict, where)
        if message.get("role") == "assistant":
            out.append(assistant_message(message.get("content"), where))
        elif message.get("role") == "user":
            out.extend(user_messages(message.get("content"), where))
        else:
            raise ShapeError(f"{where}.role is {message.get('role')!r}; Anthropic messages are 'user' or 'assistant'")
    return out


def user_messages(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    blocks = expect(content, list, f"{where}.content")
    # OpenAI wants tool results right after the assistant's calls, so they come before the user's own words.
    results = [tool_message(block, where) for block in blocks if _kind(block) == "tool_result"]
    parts = [user_part(block) for block in blocks if _kind(block) != "tool_result"]
    if parts:
        results.append({"role": "user", "content": _content(parts)})
    return results


def tool_message(block: dict[str, Any], where: str) -> dict[str, Any]:
    call_id = expect(block.get("tool_use_id"), str, f"{where} tool_result.tool_use_id")
    content = block.get("content")
    return {"role": "tool", "tool_call_id": call_id, "content": text_of(content) if content is not None else ""}


def user_part(block: Any) -> Any:
    """A content block as an OpenAI content part; images become ``image_url`` parts, others are kept as they are."""
    if _kind(block) == "image" and isinstance(block.get("source"), dict):
        source = block["source"]
        url = source.get("url") or f"data:{source.get('media_type')};base64,{source.get('data')}"
        return {"type": "image_url", "image_url": {"url": url}}
    return block


def assistant_message(content: Any, where: str = "response") -> dict[str, Any]:
    """An assistant turn (a string or content blocks) as one OpenAI assistant message.

    Text blocks are joined; ``tool_use`` blocks become ``tool_calls``. Thinking blocks are not
    part of an OpenAI chat example and are left out.
    """
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    blocks = expect(content, list, f"{where}.content")
    texts = [block.get("text", "") for block in blocks if _kind(block) == "text"]
    calls = [tool_call(expect(block.get("id"), str, f"{where} tool_use.id"),
                       expect(block.get("name"), str, f"{where} tool_use.name"), block.get("input"))
             for block in blocks if _kind(block) == "tool_use"]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return message


def function_tools(tools: Any) -> list[dict[str, Any]] | None:
    """Tool definitions as OpenAI function tools, whatever shape the log holds them in: OpenAI's own,
    Anthropic's ``{name, description, input_schema}``, or flat ``{name, description, parameters}``
    (Responses API, OpenTelemetry). Server tools without a schema keep their name only."""
    if not tools:
        return None
    out = []
    for index, tool in enumerate(expect(tools, list, "tools")):
        expect(tool, dict, f"tools[{index}]")
        spec = tool["function"] if isinstance(tool.get("function"), dict) else tool
        function: dict[str, Any] = {"name": expect(spec.get("name"), str, f"tools[{index}].name")}
        if spec.get("description"):
            function["description"] = spec["description"]
        schema = spec.get("parameters", spec.get("input_schema"))
        if isinstance(schema, dict):
            function["parameters"] = schema
        out.append({"type": "function", "function": function})
    return out


def _kind(block: Any) -> str | None:
    return block.get("type") if isinstance(block, dict) else None


def _content(parts: list[Any]) -> Any:
    if all(_kind(part) == "text" for part in parts):
        return text_of(parts)
    return parts


# -- one call ---------------------------------------------------------------------------------
def is_message(value: Any) -> bool:
    """An Anthropic ``Message`` (the response of a Messages call)."""
    return isinstance(value, dict) and value.get("type") == "message" and isinstance(value.get("content"), list)


def is_stream(value: Any) -> bool:
    """Logged stream events of a Messages call (``message_start`` first)."""
    return isinstance(value, list) and bool(value) and _kind(value[0]) == "message_start"


def is_response(value: Any) -> bool:
    """What a Messages call returns: a Message, its stream events, or an error response."""
    return is_message(value) or is_stream(value) or (isinstance(value, dict) and value.get("type") == "error")


def message_from_stream(events: list[Any]) -> dict[str, Any]:
    """Rebuild the ``Message`` from logged stream events (``message_start``, block deltas, ``message_delta``)."""
    message = dict(expect(events[0].get("message"), dict, "message_start.message"))
    blocks: dict[int, dict[str, Any]] = {}
    partial_json: dict[int, str] = {}
    for event in events[1:]:
        kind = _kind(event)
        if kind == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif kind == "content_block_delta" and event["delta"].get("type") == "text_delta":
            block = blocks[event["index"]]
            block["text"] = block.get("text", "") + event["delta"].get("text", "")
        elif kind == "content_block_delta" and event["delta"].get("type") == "input_json_delta":
            index = event["index"]
            partial_json[index] = partial_json.get(index, "") + event["delta"].get("partial_json", "")
        elif kind == "message_delta":
            message.update({key: value for key, value in event.get("delta", {}).items() if value is not None})
        elif kind == "error":
            raise ShapeError(f"the call failed: {error_text(event.get('error'))}")
    for index, text in partial_json.items():
        blocks[index]["input"] = text  # the joined JSON text; tool_call repairs it into arguments
    message["content"] = [blocks[index] for index in sorted(blocks)]
    return message


def call_messages(request: dict[str, Any], reply: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's turns plus the reply; a reply that continues a prefilled assistant turn is joined to it."""
    messages = system_messages(request.get("system")) + chat_messages(request.get("messages"))
    target = assistant_message(reply.get("content"))
    last = messages[-1] if messages else None
    if last and last["role"] == "assistant" and "tool_calls" not in last and isinstance(last["content"], str):
        target["content"] = last["content"] + (target["content"] or "")
        messages.pop()
    return [*messages, target]


def anthropic_call(request: Any, response: Any) -> Call:
    """One Messages call (params + Message, or its logged stream events) as a Call; a failed call raises ShapeError."""
    request = expect(request, dict, "request")
    streamed = is_stream(response)
    if streamed:
        response = message_from_stream(response)
    if isinstance(response, dict) and response.get("error") is not None:
        raise ShapeError(f"the call failed: {error_text(response['error'])}")
    if not is_message(response):
        raise ShapeError("response is not an Anthropic message (type 'message' with content blocks)")
    source = {"trace_id": response.get("id"), "model": response.get("model") or request.get("model"),
              "finish_reason": finish_reason(response.get("stop_reason"))}
    if streamed:
        source["streamed"] = True
    return Call(call_messages(request, response), function_tools(request.get("tools")), source)


def provider_calls(request: Any, response: Any) -> list[Call]:
    """A proxied call in either provider's shape (LiteLLM and Helicone log both): Anthropic Messages or OpenAI chat."""
    if is_response(response):
        return [anthropic_call(request, response)]
    return chat_calls(expect(request, dict, "request"), response)


@register
class AnthropicMessagesReader(Reader):
    """What apps log around ``client.messages.create``: ``{"request", "response"}`` plus the app's own
    keys (time, session, feedback), read like the OpenAI chat logs."""

    name = "anthropic-messages"
    priority = 20
    splittable = True

    def sniff(self, first: Any, path: Path) -> bool:
        return isinstance(first.get("request"), dict) and is_response(first.get("response"))

    def convert(self, line: Line, options: ReadOptions) -> Iterator[Item]:
        return convert_log(self.name, line, lambda request, response: [anthropic_call(request, response)])


# -- Message Batches ----------------------------------------------------------------------------
SKIPPED_RESULTS = {"canceled": "the batch was canceled before this request ran",
                   "expired": "the batch expired before this request ran"}


@register
class AnthropicBatchReader(Reader):
    """Message Batches: the request file (``{custom_id, params}``) joined with the results file
    (``{custom_id, result}``) on ``custom_id``; results come in any order.

    Requests are indexed by byte offset, not held in memory, so a batch of any size reads in bounded memory.
    """

    name = "anthropic-batch"
    priority = 20

    def sniff(self, first: Any, path: Path) -> bool:
        return isinstance(first.get("custom_id"), str) and (
            isinstance(first.get("params"), dict) and isinstance(first["params"].get("messages"), list)
            or isinstance(first.get("result"), dict) and isinstance(first["result"].get("type"), str))

    def read_files(self, paths: list[Path], options: ReadOptions) -> Iterator[Item]:
        requests: dict[str, tuple[str, int, int]] = {}  # custom_id -> (file, byte offset, line)
        for file, offset, parsed in _lines(paths, options.max_line_bytes):
            if isinstance(parsed, BadLine):
                yield parsed
            elif _is_request(parsed.value):
                custom_id = parsed.value["custom_id"]
                if custom_id in requests:
                    yield _bad(parsed, f"custom_id {custom_id!r} is used twice; first at line {requests[custom_id][2]}")
                else:
                    requests[custom_id] = (file, offset, parsed.line)
            elif not _is_result(parsed.value):
                yield _bad(parsed, "neither a batch request ({custom_id, params}) "
                                   "nor a batch result ({custom_id, result})")
        request_lines = SeekableLines()
        try:
            for _, _, parsed in _lines(paths, options.max_line_bytes):
                if isinstance(parsed, Line) and _is_result(parsed.value):
                    yield from self._result(parsed, requests, request_lines)
        finally:
            request_lines.close()
        for custom_id, (file, _, line_no) in requests.items():
            yield BadLine(file, line_no, f"batch request {custom_id!r} has no result in the input", "")

    def _result(self, line: Line, requests: dict[str, tuple[str, int, int]], request_lines: SeekableLines
                ) -> Iterator[Item]:
        """The record of one result line; if the call failed, its request line is rejected too, pointing here."""
        found = requests.pop(line.value["custom_id"], None)
        items = list(guarded(line, lambda line: self._join(line, found, request_lines)))
        yield from items
        if found and isinstance(items[0], BadLine):
            request_file, _, request_line = found
            yield BadLine(request_file, request_line,
                          f"its result ({line.file}:{line.line}) was rejected: {items[0].reason}", "")

    def _join(self, line: Line, found: tuple[str, int, int] | None, request_lines: SeekableLines) -> Iterator[Item]:
        custom_id, result = line.value["custom_id"], line.value["result"]
        if found is None:
            raise ShapeError(f"no request with custom_id {custom_id!r} in the input; add the batch's request file")
        request_file, offset, request_line = found
        kind = result.get("type")
        if kind != "succeeded":
            why = (error_text(_inner_error(result.get("error"))) if kind == "errored"
                   else SKIPPED_RESULTS.get(kind, f"result type {kind!r}"))
            raise ShapeError(f"batch request {custom_id!r} {kind}: {why}")
        params = request_lines.line_at(request_file, offset, request_line).value["params"]  # parsed when indexed
        yield record_of(self.name, line, anthropic_call(params, result.get("message")), line.value, params,
                        trace_id=custom_id, joined=[{"file": request_file, "line": request_line}])


def _lines(paths: list[Path], max_line_bytes: int) -> Iterator[tuple[str, int, Line | BadLine]]:
    """Every non-blank line of every file with its byte offset, parsed."""
    for path in paths:
        name = str(path)  # one string per file, shared by every index entry
        for offset, parsed in located_lines(name, max_line_bytes):
            yield name, offset, parsed


def _inner_error(error: Any) -> Any:
    """The error object inside an ``ErrorResponse`` (``{"type": "error", "error": {type, message}}``)."""
    return error.get("error") if isinstance(error, dict) and isinstance(error.get("error"), dict) else error


def _is_request(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("custom_id"), str) and isinstance(value.get("params"), dict)


def _is_result(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("custom_id"), str) and isinstance(value.get("result"), dict)


def _bad(line: Line, reason: str) -> BadLine:
    return BadLine(line.file, line.line, reason, excerpt(line.value))
