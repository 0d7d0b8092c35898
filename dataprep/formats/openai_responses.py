"""OpenAI Responses API logs: one record per ``client.responses.create`` call.

A line is ``{"request": {create params: model, input, instructions, tools, previous_response_id,
conversation, metadata...}, "response": Response}`` with the same wrapper keys as Chat Completions
logs (timestamp, session/conversation id, user, feedback). A streamed call's ``response`` is the
list of its events; the final ``response.completed`` (or ``.incomplete`` / ``.failed``) event holds
the whole Response.

Conversion to chat shape:

- ``instructions`` -> a system message; ``input`` as a string -> a user message;
- input and output items: ``message`` (text parts joined; images and files kept as chat content
  parts), ``function_call`` -> an assistant ``tool_calls`` entry with the ``call_id`` as its id
  (joined with the assistant text before it into one message), ``function_call_output`` -> a
  ``tool`` message; ``reasoning`` items are left out (hidden reasoning is not a training target);
  other items (hosted tools such as ``web_search_call``) have no chat form and are listed in
  ``source.skipped_items``;
- function tools -> ``record.tools``; hosted tools are listed in ``source.skipped_tools``;
- ``status`` -> ``finish_reason``: completed -> ``stop`` (``tool_calls`` when the reply calls a
  tool), incomplete -> ``length`` for ``max_output_tokens``, else the incomplete reason; failed,
  cancelled or unfinished calls are rejected with their error.

Calls chained with ``previous_response_id`` sent only their new turn (the server holds the history).
When the earlier call is in the input, the history is rebuilt: the call's messages become the earlier
call's whole conversation (its input and output, and so on up the chain) followed by its own input
and reply, under its own instructions (instructions are not carried over by the API). Every call of a
chain is still a record; each earlier one is a prefix of the later ones, so the mine stage absorbs it
into the longest (into duplicates, accounted for) and branches of a chain stay. Memory stays bounded:
a first pass indexes response ids by byte offset, and earlier calls are read back from disk.

A call whose history is not in the input (``previous_response_id`` of a call not logged, or a server
``conversation``) keeps only its new turn; its conversation goes to ``groups.conversation``, not
``source.conversation_id`` (the key the mine stage collapses re-sent histories by), and
``source.previous_response_id`` is kept.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

from ..jsonl import BadLine, Line, SeekableLines, iter_lines, located_lines
from . import Item, ReadOptions, Reader, register
from .common import ShapeError, expect, iso_timestamp, text_of, tool_call
from .openai_chat import Call, convert_log, error_text, has_body, request_response

TEXT_PARTS = ("input_text", "output_text", "text")
FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")
INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def response_calls(request: dict[str, Any], response: Any) -> list[Call]:
    """A Responses API call (create params + Response or its stream events) as one Call."""
    response = final_response(response)
    status = response.get("status")
    if response.get("error") or status == "failed":
        raise ShapeError(f"the call failed: {error_text(response.get('error') or 'status failed')}")
    if status not in (None, "completed", "incomplete"):
        raise ShapeError(f"the call has no final reply (status {status})")
    skipped: list[str] = []
    instructions = request.get("instructions", response.get("instructions"))
    prompt = [*instruction_messages(instructions, skipped), *input_messages(request.get("input"), skipped)]
    if not prompt:
        raise ShapeError("request.input is missing")
    reply = merged_reply(items_to_messages(expect(response.get("output"), list, "response.output"), skipped))
    tools, hosted = function_tools(request.get("tools", response.get("tools")))
    conversation = request.get("conversation") or response.get("conversation")
    previous = request.get("previous_response_id") or response.get("previous_response_id")
    source = {"trace_id": response.get("id"), "model": response.get("model") or request.get("model"),
              "timestamp": iso_timestamp(response.get("created_at")), "finish_reason": finish_reason(response, reply),
              "conversation_id": conversation.get("id") if isinstance(conversation, dict) else conversation,
              "previous_response_id": previous, "skipped_items": sorted(set(skipped)) or None, "skipped_tools": hosted}
    return [Call([*prompt, reply], tools, source, stateful=bool(conversation or previous))]


def final_response(response: Any) -> dict[str, Any]:
    """The Response object, from itself or from the final event of its stream."""
    if isinstance(response, list):
        finals = [event.get("response") for event in response if isinstance(event, dict)
                  and event.get("type") in FINAL_EVENTS]
        if not finals:
            raise ShapeError("the streamed response has no response.completed event (was the stream cut short?)")
        response = finals[-1]
    return expect(response, dict, "response")


def instruction_messages(instructions: Any, skipped: list[str]) -> list[dict[str, Any]]:
    if isinstance(instructions, list):  # a reusable prompt's instructions arrive as input items
        return items_to_messages(instructions, skipped)
    return [{"role": "system", "content": instructions}] if instructions else []


def input_messages(value: Any, skipped: list[str]) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return items_to_messages(expect(value, list, "request.input"), skipped) if value is not None else []


def items_to_messages(items: list[Any], skipped: list[str]) -> list[dict[str, Any]]:
    """Responses items (input or output) as chat messages; items with no chat form are named in ``skipped``."""
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        expect(item, dict, f"item {index}")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            messages.append(message_of(item))
        elif kind == "function_call":
            call = tool_call(item.get("call_id"), expect(item.get("name"), str, f"item {index} name"),
                             item.get("arguments"))
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant":  # parallel calls, or text then a call: one assistant turn
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            message = {"role": "tool", "content": output if isinstance(output, str) else text_of(output)}
            if item.get("call_id") is not None:
                message["tool_call_id"] = item["call_id"]
            messages.append(message)
        elif kind != "reasoning":
            skipped.append(str(kind))
    return messages


def message_of(item: dict[str, Any]) -> dict[str, Any]:
    role = expect(item.get("role"), str, "message role")
    content = item.get("content")
    if not isinstance(content, list):
        return {"role": role, "content": text_of(content)}
    parts, refusals = [], []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in TEXT_PARTS:
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "refusal":
            refusals.append(part.get("refusal", ""))
        elif kind == "input_image":
            parts.append({"type": "image_url", "image_url": {"url": part.get("image_url") or part.get("file_id")}})
        elif kind == "input_file":
            parts.append({"type": "file", "file": {k: part[k] for k in ("file_id", "file_data", "filename") if k in part}})
        else:
            parts.append(part)
    text_only = all(isinstance(part, dict) and part.get("type") == "text" for part in parts)
    message = {"role": role, "content": "".join(p["text"] for p in parts) if text_only else parts}
    if refusals:
        message["refusal"] = "".join(refusals)
    return message


def merged_reply(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The output items as one assistant message: texts joined, tool calls in order."""
    if not messages:
        raise ShapeError("response.output holds no message or function call: the call produced no reply")
    if any(message["role"] != "assistant" for message in messages):
        raise ShapeError("response.output holds a message that is not the assistant's")
    texts = [message["content"] for message in messages if isinstance(message.get("content"), str) and message["content"]]
    reply: dict[str, Any] = {"role": "assistant", "content": "\n\n".join(texts) if texts else None}
    calls = [call for message in messages for call in message.get("tool_calls", [])]
    if calls:
        reply["tool_calls"] = calls
    refusals = [message["refusal"] for message in messages if message.get("refusal")]
    if refusals:
        reply["refusal"] = "\n\n".join(refusals)
    return reply


def function_tools(tools: Any) -> tuple[list[dict[str, Any]] | None, list[str] | None]:
    """Function tools in chat shape, and the types of hosted tools (web search, file search...) that have none."""
    functions, hosted = [], []
    for tool in expect(tools or [], list, "request.tools"):
        expect(tool, dict, "a tool")
        if tool.get("type") == "function":
            functions.append({"type": "function", "function": {key: tool[key] for key in
                                                               ("name", "description", "parameters", "strict")
                                                               if tool.get(key) is not None}})
        else:
            hosted.append(str(tool.get("type")))
    return functions or None, hosted or None


def finish_reason(response: dict[str, Any], reply: dict[str, Any]) -> str:
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return INCOMPLETE_REASONS.get(reason, reason or "incomplete")
    return "tool_calls" if reply.get("tool_calls") else "stop"


def _is_response(value: Any) -> bool:
    value = value["body"] if has_body(value) else value
    if isinstance(value, list):
        return bool(value) and isinstance(value[0], dict) and str(value[0].get("type", "")).startswith("response.")
    return isinstance(value, dict) and value.get("object") == "response"


SYSTEM_ROLES = ("system", "developer")
HISTORY_CACHE = 256  # rebuilt conversations kept for the calls that continue them (logs are mostly in order)
Where = tuple[str, int, int]  # file, line, byte offset


class Chains:
    """Calls linked by ``previous_response_id``: the response ids of the input indexed by where their
    line is, and each call's whole conversation rebuilt on demand by reading earlier calls back."""

    def __init__(self) -> None:
        self.where: dict[str, Where] = {}
        self.lines = SeekableLines()
        self.history_cache: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def index(self, located: Iterator[tuple[int, Line | BadLine]]) -> None:
        for offset, line in located:
            response_id = _ids(line.value)[0] if isinstance(line, Line) else None
            if response_id is not None:
                self.where.setdefault(response_id, (line.file, line.line, offset))

    def joined(self, call: Call) -> Call:
        """The call with the conversation it continues put before its new turn, when that is in the input."""
        history = self.conversation(call.source.get("previous_response_id"))
        if history is None:
            return call
        return replace(call, messages=continued(history, call.messages), stateful=bool(call.source.get("conversation_id")))

    def conversation(self, response_id: str | None) -> list[dict[str, Any]] | None:
        """The whole conversation up to and including a call's reply; None if the call is not in the input
        or cannot be read (a failed call: what follows it keeps only its new turn)."""
        chain: list[tuple[str, Call]] = []  # from the call asked for up towards the first call
        history, seen = None, set()
        while response_id in self.where and response_id not in self.history_cache and response_id not in seen:
            seen.add(response_id)  # a loop of ids (a hand-edited log) ends the walk
            call = self._call_at(self.where[response_id])
            if call is None:
                return None
            chain.append((response_id, call))
            response_id = call.source.get("previous_response_id")
        if response_id in self.history_cache:
            history = self.history_cache[response_id]
            self.history_cache.move_to_end(response_id)
        elif not chain:
            return None
        for chain_id, call in reversed(chain):
            history = call.messages if history is None else continued(history, call.messages)
            self._remember(chain_id, history)
        return history

    def _call_at(self, where: Where) -> Call | None:
        file, line_no, offset = where
        line = self.lines.line_at(file, offset, line_no)
        try:
            return response_calls(*request_response(line.value))[0]
        except (ShapeError, KeyError, TypeError, AttributeError, IndexError, ValueError):
            return None

    def _remember(self, response_id: str, history: list[dict[str, Any]]) -> None:
        self.history_cache[response_id] = history
        if len(self.history_cache) > HISTORY_CACHE:
            self.history_cache.popitem(last=False)

    def close(self) -> None:
        self.lines.close()


def continued(history: list[dict[str, Any]], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A call's messages after the conversation it continues: its own instructions (system messages)
    replace the earlier ones when it has some; the history otherwise keeps its own."""
    own_system = _leading_system(messages)
    past = history[_leading_system(history):] if own_system else history
    return [*messages[:own_system], *past, *messages[own_system:]]


def _leading_system(messages: list[dict[str, Any]]) -> int:
    count = 0
    while count < len(messages) and messages[count].get("role") in SYSTEM_ROLES:
        count += 1
    return count


def _ids(value: Any) -> tuple[str | None, str | None]:
    """A log line's response id and the id it continues, or Nones for a line that is not a readable call."""
    try:
        request, response = request_response(value)
        response = final_response(response)
    except (ShapeError, KeyError, TypeError, AttributeError, IndexError):
        return None, None
    previous = request.get("previous_response_id") or response.get("previous_response_id")
    response_id = response.get("id")
    return (response_id if isinstance(response_id, str) else None), previous


@register
class OpenAIResponsesReader(Reader):
    name = "openai-responses"
    priority = 40

    def sniff(self, first: Any, path: Path) -> bool:
        return isinstance(first, dict) and "response" in first and _is_response(first["response"])

    def read_files(self, paths: list[Path], options: ReadOptions) -> Iterator[Item]:
        chains = Chains()
        try:
            for path in paths:
                chains.index(located_lines(path, options.max_line_bytes))
            for path in paths:
                for line in iter_lines(path, options.max_line_bytes):
                    if isinstance(line, BadLine):
                        yield line
                    else:
                        yield from convert_log(self.name, line, lambda request, response: [
                            chains.joined(call) for call in response_calls(request, response)])
        finally:
            chains.close()
