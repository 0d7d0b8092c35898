"""OpenAI Chat Completions logs: one record per model call.

Shapes read, one JSON object per line:

- what apps log around ``client.chat.completions.create``: ``{"request": {create params: model,
  messages, tools...}, "response": ChatCompletion}``, or the create params at the top level beside
  ``response``; wrapper keys ``timestamp``/``created_at``, ``metadata``, ``user``,
  ``session_id``/``conversation_id``/``thread_id``, ``feedback``, ``error``;
- HTTP-level logs of the same call: ``{"request": {"body": {...}}, "response": {"status_code", "body"}}``;
- streamed calls: ``response`` is the list of ``chat.completion.chunk`` objects (or the raw
  server-sent-events text): content deltas are joined and tool-call argument fragments joined by index;
- stored completions (``store=True``): the ChatCompletion objects of ``GET /v1/chat/completions``,
  one per line or as whole list pages (``{"object": "list", "data": [...]}``), each with its input
  messages attached under ``messages`` (the ``data`` of ``GET /v1/chat/completions/{id}/messages``,
  or that list page itself). The API keeps the inputs apart, so an export without them has no prompt
  and its lines are rejected saying so.

A call with several choices (``n > 1``) gives one record per choice. ``user`` (an end-user id) is
kept as ``source.user``, not as the conversation: one user has many conversations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from types import NoneType
from typing import Any, Callable, Iterator

import orjson

from ..jsonl import Line, excerpt_of
from ..record import ROLES, Record, derived_id
from . import Item, ReadOptions, Reader, register
from .common import ShapeError, expect, feedback_from, guarded, iso_timestamp, linked_calls, openai_message

CONVERSATION_KEYS = ("conversation_id", "session_id", "thread_id", "conversationId", "sessionId", "threadId")
TIME_KEYS = ("timestamp", "created_at", "createdAt", "time", "start_time", "startTime")
TRACE_KEYS = ("trace_id", "request_id", "id")
USER_KEYS = ("user", "user_id")
SOURCE_TEXT_FIELDS = ("trace_id", "conversation_id", "timestamp", "model", "finish_reason")
MESSAGE_TEXT_FIELDS = ("name", "tool_call_id", "refusal")
TEXT_OR_PARTS = (str, list, NoneType)


@dataclass(slots=True)
class Call:
    """One model call in OpenAI chat shape, before it becomes a record."""

    messages: list[dict[str, Any]]  # the prompt and, last, the reply
    tools: list[dict[str, Any]] | None
    source: dict[str, Any]  # what the response says: trace_id, model, timestamp, finish_reason...
    #: the call continued a conversation kept by the server, so it sent only its new turn
    stateful: bool = False


CallConverter = Callable[[dict[str, Any], Any], list[Call]]


# -- the request ------------------------------------------------------------------------------
def has_body(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("body"), (dict, list, str))


def http_body(value: Any) -> Any:
    """The JSON body of an HTTP-level log entry (``{"status_code", "body"}``), else ``value`` itself."""
    if not has_body(value):
        return value
    status = value.get("status_code", value.get("status", 200))
    if isinstance(status, int) and status >= 400:
        raise ShapeError(f"the call failed (HTTP {status}): {error_text(_error_of(value['body']) or value['body'])}")
    return value["body"]


def prompt_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    messages = expect(request.get("messages"), list, "request.messages")
    if not messages:
        raise ShapeError("request.messages is empty")
    return [chat_message(message, f"request.messages[{index}]") for index, message in enumerate(messages)]


def chat_message(message: Any, what: str) -> dict[str, Any]:
    expect(message, dict, what)
    if not isinstance(message.get("role"), str):
        raise ShapeError(f"{what}.role is missing")
    for call in message.get("tool_calls") or ():
        if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
            raise ShapeError(f"{what}.tool_calls holds a call without 'function'")
    return openai_message(message)


def function_tools(request: dict[str, Any]) -> tuple[list[dict[str, Any]] | None, list[str] | None]:
    """Request ``tools`` (and the legacy ``functions``) in OpenAI's ``{"type": "function", "function"}``
    shape, and the types of other tools (custom, hosted) that the record cannot hold."""
    specs = [*expect(request.get("tools") or [], list, "request.tools"),
             *({"type": "function", "function": spec} for spec in expect(request.get("functions") or [], list,
                                                                           "request.functions"))]
    tools, others = [], []
    for index, tool in enumerate(specs):
        expect(tool, dict, f"request.tools[{index}]")
        if tool.get("type") != "function":
            others.append(str(tool.get("type")))
            continue
        function = expect(tool.get("function"), dict, f"request.tools[{index}].function")
        if None in function.values():  # SDK model dumps write unset fields as null
            tool = {"type": "function", "function": {key: value for key, value in function.items() if value is not None}}
        tools.append(tool)
    return tools or None, others or None


# -- the response -----------------------------------------------------------------------------
def chat_calls(request: dict[str, Any], response: Any) -> list[Call]:
    """A Chat Completions call (request params + ChatCompletion, chunk list or SSE text) as one Call per choice."""
    streamed = isinstance(response, (list, str))
    completion = assemble_stream(response) if streamed else expect(response, dict, "response")
    if _error_of(completion):
        raise ShapeError(f"the call failed: {error_text(_error_of(completion))}")
    choices = expect(completion.get("choices"), list, "response.choices")
    if not choices:
        raise ShapeError("response.choices is empty: the call produced no reply")
    prompt, (tools, other_tools) = prompt_messages(request), function_tools(request)
    calls = []
    for choice in choices:
        expect(choice, dict, "response.choices[]")
        message = expect(choice.get("message"), dict, "response.choices[].message")
        reply = chat_message({"role": "assistant", **message}, "response.choices[].message")
        if message.get("refusal"):
            reply["refusal"] = message["refusal"]
        source = {"trace_id": completion.get("id"), "model": completion.get("model") or request.get("model"),
                  "timestamp": iso_timestamp(completion.get("created")), "finish_reason": choice.get("finish_reason"),
                  "skipped_tools": other_tools}
        if len(choices) > 1:
            source["choice"] = choice.get("index", len(calls))
        if streamed:
            source["streamed"] = True
        calls.append(Call([*prompt, reply], tools, source))
    return calls


@dataclass(slots=True)
class _StreamedChoice:
    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None

    def add(self, delta: dict[str, Any]) -> None:
        if delta.get("content"):
            self.content.append(delta["content"])
        if delta.get("refusal"):
            self.refusal.append(delta["refusal"])
        fragments = list(delta.get("tool_calls") or [])
        if delta.get("function_call"):  # the legacy single function call streams the same way
            fragments.append({"index": 0, "function": delta["function_call"]})
        for fragment in fragments:
            call = self.calls.setdefault(fragment.get("index", 0), {"id": None, "name": None, "arguments": []})
            function = fragment.get("function") or {}
            call["id"] = call["id"] or fragment.get("id")
            call["name"] = call["name"] or function.get("name")  # sent whole, in the first fragment
            if function.get("arguments"):
                call["arguments"].append(function["arguments"])

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content) if self.content else None}
        if self.refusal:
            message["refusal"] = "".join(self.refusal)
        if self.calls:
            message["tool_calls"] = [{"id": call["id"], "type": "function",
                                      "function": {"name": call["name"] or "", "arguments": "".join(call["arguments"])}}
                                     for _, call in sorted(self.calls.items())]
        return message


def assemble_stream(stream: list[Any] | str) -> dict[str, Any]:
    """A streamed call's ``chat.completion.chunk`` objects (or raw SSE text) joined back into one ChatCompletion."""
    chunks = sse_events(stream) if isinstance(stream, str) else stream
    head: dict[str, Any] = {}
    choices: dict[int, _StreamedChoice] = {}
    for chunk in chunks:
        expect(chunk, dict, "a response chunk")
        if _error_of(chunk):
            return {"error": _error_of(chunk)}
        for key in ("id", "model", "created"):
            if head.get(key) is None and chunk.get(key) is not None:
                head[key] = chunk[key]
        for choice in expect(chunk.get("choices") or [], list, "chunk.choices"):
            state = choices.setdefault(choice.get("index", 0), _StreamedChoice())
            state.add(expect(choice.get("delta") or {}, dict, "chunk.choices[].delta"))
            state.finish_reason = choice.get("finish_reason") or state.finish_reason
    return {**head, "choices": [{"index": index, "message": state.message(), "finish_reason": state.finish_reason}
                                for index, state in sorted(choices.items())]}


def sse_events(text: str) -> list[Any]:
    """The JSON payloads of a raw server-sent-events body (``data: {...}`` lines, ``[DONE]`` ignored)."""
    events = []
    for raw in text.splitlines():
        payload = raw[5:].strip() if raw.startswith("data:") else ""
        if payload and payload != "[DONE]":
            try:
                events.append(orjson.loads(payload))
            except orjson.JSONDecodeError:
                raise ShapeError(f"the streamed response holds an event that is not JSON: {excerpt_of(payload, 80)!r}") from None
    if not events:
        raise ShapeError("response is text without server-sent events ('data: {...}' lines), not a ChatCompletion")
    return events


def _error_of(value: Any) -> Any:
    return value.get("error") if isinstance(value, dict) else None


def error_text(error: Any) -> str:
    """An API error object (``{"message", "type", "code"}``) or string in one line."""
    if isinstance(error, dict):
        kind = error.get("code") or error.get("type")
        message = error.get("message") or orjson.dumps(error).decode("utf-8")
        return f"{kind}: {message}" if kind else str(message)
    return str(error)


# -- the log line around a call ---------------------------------------------------------------
def record_of(fmt: str, line: Line, call: Call, log: dict[str, Any], request: dict[str, Any],
              **fixed: Any) -> Record:
    """A record from a converted call plus what the log line around it says (ids, time, feedback);
    the response's own word wins over the app's wrapper, and ``fixed`` source fields over both."""
    check_call(call)
    source = {"format": fmt, "file": line.file, "line": line.line}
    source.update((key, value) for key, value in call.source.items() if value is not None)
    source.update(wrapper_source(log, request, source))
    source.update((key, value) for key, value in fixed.items() if value is not None)
    groups = {}
    if call.stateful and "conversation_id" in source:
        # Only the new turn was sent, so calls of this conversation are not prefixes of each
        # other: group them (kept together in splits) rather than collapse them to the longest.
        groups["conversation"] = source.pop("conversation_id")
    parts = [fmt, os.path.basename(line.file), line.line, source.get("trace_id")]
    if "choice" in source:
        parts.append(source["choice"])
    return Record(messages=linked_calls(call.messages), tools=call.tools, id=derived_id(*parts), source=source, groups=groups,
                  feedback=feedback_from(log["feedback"]) if log.get("feedback") is not None else {},
                  meta=app_metadata(log, request))


def app_metadata(log: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The app's own metadata (intent, app, tenant...) is kept, never dropped: later stages read
    a category from it."""
    found = {}
    for holder in (request.get("metadata"), log.get("metadata")):
        if isinstance(holder, dict):
            found.update(holder)
    return {"metadata": found} if found else {}


def check_call(call: Call) -> None:
    """A ShapeError if a converted call would break the record contract (schemas/record.schema.json):
    logs with wrong types deep inside must be rejected here, not break a later stage."""
    for number, message in enumerate(call.messages, start=1):
        if message.get("role") not in ROLES:
            raise ShapeError(f"message {number} has role {message.get('role')!r}; expected one of {', '.join(sorted(ROLES))}")
        if not isinstance(message.get("content"), TEXT_OR_PARTS):
            raise ShapeError(f"message {number} content should be text or a list of parts, "
                             f"got {type(message['content']).__name__}")
        for key in MESSAGE_TEXT_FIELDS:
            if key in message and not isinstance(message[key], str):
                raise ShapeError(f"message {number} {key} should be text, got {type(message[key]).__name__}")
        for tool_call_ in message.get("tool_calls") or ():
            name = tool_call_["function"]["name"]
            if not name or not isinstance(name, str) or not isinstance(tool_call_.get("id", ""), str):
                raise ShapeError(f"message {number} has a tool call without a name or with an id that is not text")
    for tool in call.tools or ():
        function = tool["function"]
        if not function.get("name") or not isinstance(function["name"], str) \
                or not isinstance(function.get("description", ""), str) \
                or not isinstance(function.get("parameters", {}), dict):
            raise ShapeError(f"tool {function.get('name')!r} needs a name, a text description and object parameters")
    for key in SOURCE_TEXT_FIELDS:
        if not isinstance(call.source.get(key), (str, NoneType)):
            raise ShapeError(f"the response's {key} should be text, got {type(call.source[key]).__name__}")


def wrapper_source(log: dict[str, Any], request: dict[str, Any], known: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Source fields the app's wrapper gives where the response gave none: its trace id, the
    conversation, the time, the user."""
    for key, find in WRAPPER_FINDERS.items():
        if key not in known:
            value = find(log, request)
            if value is not None:
                yield key, value


#: how each source field is read from an app's wrapper (log line, request), made once rather than per line
WRAPPER_FINDERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Any]] = {
    "trace_id": lambda log, request: _first_text(log, TRACE_KEYS),
    "conversation_id": lambda log, request: _conversation(log, request),
    "timestamp": lambda log, request: next((iso_timestamp(log[key]) for key in TIME_KEYS if key in log), None),
    "user": lambda log, request: _first_text(log, USER_KEYS) or _first_text(request, ("user",))}


def log_source(log: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """Every source field an app's wrapper gives (trace_id, conversation_id, timestamp, user; None if absent)."""
    return {"trace_id": None, "conversation_id": None, "timestamp": None, "user": None,
            **dict(wrapper_source(log, request, {}))}


def _conversation(log: dict[str, Any], request: dict[str, Any]) -> str | None:
    for holder in (log, log.get("metadata"), request.get("metadata")):
        found = _first_text(holder, CONVERSATION_KEYS) if isinstance(holder, dict) else None
        if found:
            return found
    return None


def _first_text(mapping: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
            return str(value)
    return None


def request_response(log: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The request params and the response body of an app's log line, or a ShapeError saying what is missing."""
    request = expect(http_body(log["request"]) if "request" in log else log, dict, "request")
    response = http_body(log.get("response"))
    if response is None:
        if log.get("error") is not None:
            raise ShapeError(f"the call failed: {error_text(log['error'])}")
        raise ShapeError("'response' is missing: the log has no reply for this call")
    return request, response


def convert_log(fmt: str, line: Line, to_calls: CallConverter) -> Iterator[Item]:
    """Records of one request/response log line, with ``to_calls`` turning the pair into calls."""
    def convert(line: Line) -> list[Record]:
        log = expect(line.value, dict, "the line")
        request, response = request_response(log)
        return [record_of(fmt, line, call, log, request) for call in to_calls(request, response)]
    return guarded(line, convert)


# -- stored completions -----------------------------------------------------------------------
def stored_records(line: Line) -> list[Record]:
    value = line.value
    completions = expect(value.get("data"), list, "data") if value.get("object") == "list" else [value]
    if not completions:
        raise ShapeError("the list page holds no stored completions")
    return [record for completion in completions for record in stored_completion(line, completion)]


def stored_completion(line: Line, completion: Any) -> list[Record]:
    expect(completion, dict, "a stored completion")
    messages = completion.get("messages")
    if isinstance(messages, dict):  # the list page of GET /chat/completions/{id}/messages
        messages = messages.get("data")
    if messages is None:
        raise ShapeError(f"stored completion {completion.get('id')!r} has no input messages: attach them "
                         "from GET /v1/chat/completions/{id}/messages as 'messages'")
    request = {"messages": messages, "model": completion.get("model"), "tools": completion.get("tools")}
    return [record_of(OpenAIChatReader.name, line, call, completion, request)
            for call in chat_calls(request, completion)]


def _is_stored_completion(value: Any) -> bool:
    return isinstance(value, dict) and value.get("object") == "chat.completion" and "request" not in value


def _is_completion(value: Any) -> bool:
    """Whether a logged response is a ChatCompletion, its chunks, or their SSE text (for sniffing)."""
    value = value["body"] if has_body(value) else value
    if isinstance(value, list):
        return bool(value) and isinstance(value[0], dict) and value[0].get("object") == "chat.completion.chunk"
    if isinstance(value, str):
        return "chat.completion.chunk" in value[:2000]
    if not isinstance(value, dict):
        return False
    choices = value.get("choices")
    if isinstance(choices, list) and choices:
        return isinstance(choices[0], dict) and "message" in choices[0]
    return value.get("object") == "chat.completion"


@register
class OpenAIChatReader(Reader):
    name = "openai-chat"
    priority = 40  # generic request/response pairs: proxies' own shapes (LiteLLM, Helicone) go first
    splittable = True

    def sniff(self, first: Any, path: Path) -> bool:
        if not isinstance(first, dict):
            return False
        if _is_stored_completion(first):
            return "choices" in first
        if first.get("object") == "list" and first.get("data"):
            return _is_stored_completion(first["data"][0])
        return "response" in first and _is_completion(first["response"])

    def convert(self, line: Line, options: ReadOptions) -> Iterator[Item]:
        value = line.value
        if isinstance(value, dict) and (value.get("object") == "list" or _is_stored_completion(value)):
            return guarded(line, stored_records)
        return convert_log(self.name, line, chat_calls)
