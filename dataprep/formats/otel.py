"""OpenTelemetry GenAI spans in OTLP JSON: one export per line, or one export as the whole file.

Each chat/generate span is one model call. Both conventions are read: the current one
(``gen_ai.input.messages``, ``gen_ai.output.messages``, ``gen_ai.system_instructions``: JSON
with ``parts``) and the older flattened one (``gen_ai.prompt.N.role/content``,
``gen_ai.completion.N.*``, as OpenLLMetry writes it).

An export line holds many spans, most of them not model calls (HTTP, database, tool
execution). The line is the unit of accounting: a line gives a record per model-call span
(or a BadLine for a model call that failed), and a line with no model call at all is one
BadLine listing its spans.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any, Iterator

import orjson

from ..jsonl import Line, open_input, raw_lines
from ..record import Record, derived_id
from . import Item, ReadOptions, Reader, register, whole_document
from .anthropic import finish_reason, function_tools
from .common import ShapeError, expect, guarded, iso_timestamp, openai_message, text_of, tool_call
from .langsmith import checked_record

CALL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "completion"})
FLAT_KEY = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(.+)$")
FLAT_FUNCTION_KEY = re.compile(r"^llm\.request\.functions\.(\d+)\.(.+)$")
STATUS_ERROR = (2, "STATUS_CODE_ERROR")
CURRENT_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")


# -- OTLP JSON ---------------------------------------------------------------------------------
def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` (``{"stringValue": ...}``, ``{"intValue": "3"}``, arrays, kv lists) as plain JSON."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(item) for item in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(pairs: Any) -> dict[str, Any]:
    return {pair["key"]: any_value(pair.get("value")) for pair in expect(pairs or [], list, "attributes")}


def spans(export: Any) -> Iterator[dict[str, Any]]:
    """Every span of an export: ``resourceSpans[].scopeSpans[].spans[]`` (``instrumentationLibrarySpans`` before)."""
    for resource in expect(expect(export, dict, "the line").get("resourceSpans"), list, "resourceSpans"):
        scopes = resource.get("scopeSpans") or resource.get("instrumentationLibrarySpans") or []
        for scope in expect(scopes, list, "scopeSpans"):
            for span in expect(scope.get("spans") or [], list, "spans"):
                yield expect(span, dict, "span")


def is_model_call(attrs: dict[str, Any]) -> bool:
    operation = attrs.get("gen_ai.operation.name")
    if operation is not None:
        return operation in CALL_OPERATIONS
    return "gen_ai.input.messages" in attrs or "gen_ai.output.messages" in attrs or any(
        key.startswith("gen_ai.prompt.") or key.startswith("gen_ai.completion.") for key in attrs)


# -- current convention: messages with parts -------------------------------------------------------
def json_attribute(attrs: dict[str, Any], key: str) -> Any:
    """GenAI message attributes are JSON text (some exporters write them as structured values)."""
    value = attrs.get(key)
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ShapeError(f"{key} is not valid JSON") from None
    return value


def parts_messages(message: Any, where: str) -> list[dict[str, Any]]:
    """One semconv message (``{role, parts}``) as OpenAI messages; tool responses become ``tool`` messages."""
    message = expect(message, dict, where)
    parts = expect(message.get("parts") or [], list, f"{where}.parts")
    responses = [{"role": "tool", "tool_call_id": str(part.get("id") or ""), "content": _text(part.get("response"))}
                 for part in parts if _kind(part) == "tool_call_response"]
    if responses:
        return responses
    calls = [tool_call(part.get("id"), expect(part.get("name"), str, f"{where} tool_call.name"), part.get("arguments"))
             for part in parts if _kind(part) == "tool_call"]
    content = [part_content(part) for part in parts if _kind(part) not in ("tool_call", "reasoning")]
    out: dict[str, Any] = {"role": expect(message.get("role"), str, f"{where}.role"),
                           "content": text_of(content) if all(_kind(p) == "text" for p in content) else content}
    if message.get("name"):
        out["name"] = message["name"]
    if calls:
        out["tool_calls"] = calls
        if not out["content"]:
            out["content"] = None
    return [out]


def part_content(part: Any) -> Any:
    """A semconv part as an OpenAI content part: text as text, an image URI as ``image_url``, others kept."""
    if _kind(part) == "text":
        return {"type": "text", "text": part.get("content", "")}
    if _kind(part) == "uri" and part.get("modality") == "image":
        return {"type": "image_url", "image_url": {"url": part.get("uri")}}
    return part


def semconv_call(attrs: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None, str | None]:
    messages: list[dict[str, Any]] = []
    system = json_attribute(attrs, "gen_ai.system_instructions")
    if system:
        parts = expect(system, list, "gen_ai.system_instructions")
        messages.append({"role": "system", "content": text_of([part_content(part) for part in parts])})
    inputs = expect(json_attribute(attrs, "gen_ai.input.messages") or [], list, "gen_ai.input.messages")
    for index, message in enumerate(inputs):
        messages.extend(parts_messages(message, f"gen_ai.input.messages[{index}]"))
    outputs = expect(json_attribute(attrs, "gen_ai.output.messages") or [], list, "gen_ai.output.messages")
    if not outputs:
        return messages, None, None
    reply = parts_messages(outputs[0], "gen_ai.output.messages[0]")[0]
    return messages, reply, outputs[0].get("finish_reason")


# -- older convention: flattened gen_ai.prompt.N.* / gen_ai.completion.N.* --------------------------
def flattened(attrs: dict[str, Any], pattern: re.Pattern[str]) -> dict[str, dict[int, dict[str, Any]]]:
    """``{"prompt": {0: {"role": ..., "tool_calls.0.name": ...}}, ...}`` from flattened attribute keys."""
    grouped: dict[str, dict[int, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    for key, value in attrs.items():
        match = pattern.match(key)
        if match:
            *group, field = match.groups()
            grouped[group[0] if len(group) == 2 else "functions"][int(group[-1])][field] = value
    return grouped


def flat_message(fields: dict[str, Any], default_role: str) -> dict[str, Any]:
    calls: dict[int, dict[str, Any]] = defaultdict(dict)
    for key, value in fields.items():
        match = re.match(r"^tool_calls\.(\d+)\.(\w+)$", key)
        if match:
            calls[int(match.group(1))][match.group(2)] = value
    content = fields.get("content")
    if isinstance(content, str) and content.startswith("[{"):  # OpenLLMetry writes content parts as JSON text
        try:
            content = text_of(orjson.loads(content))
        except orjson.JSONDecodeError:
            pass
    message = {"role": fields.get("role") or default_role, "content": content,
               "tool_call_id": fields.get("tool_call_id"),
               "tool_calls": [{"id": call.get("id"),
                               "function": {"name": call["name"], "arguments": call.get("arguments")}}
                              for _, call in sorted(calls.items())] or None}
    if "function_call.name" in fields:
        message["function_call"] = {"name": fields["function_call.name"],
                                    "arguments": fields.get("function_call.arguments")}
    return openai_message(message)


def flattened_call(attrs: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None, str | None]:
    grouped = flattened(attrs, FLAT_KEY)
    messages = [flat_message(fields, "user") for _, fields in sorted(grouped["prompt"].items())]
    completions = grouped["completion"]
    if not completions:
        return messages, None, None
    first = completions[min(completions)]
    return messages, flat_message(first, "assistant"), first.get("finish_reason")


def flattened_tools(attrs: dict[str, Any]) -> list[dict[str, Any]] | None:
    functions = flattened(attrs, FLAT_FUNCTION_KEY)["functions"]
    return function_tools([{"name": fields.get("name"), "description": fields.get("description"),
                            "parameters": json_attribute(fields, "parameters")}
                           for _, fields in sorted(functions.items())])


# -- the reader ----------------------------------------------------------------------------------
@register
class OtelGenAIReader(Reader):
    name = "otel-genai"
    priority = 20

    def sniff(self, first: Any, path: Path) -> bool:
        return isinstance(first, dict) and isinstance(first.get("resourceSpans"), list)

    def read_file(self, path: Path, options: ReadOptions) -> Iterator[Item]:
        document = _whole_document(path)
        if document is None:
            yield from super().read_file(path, options)
        else:
            yield from self.convert(Line(str(path), 1, document), options)

    def convert(self, line: Line, options: ReadOptions) -> Iterator[Item]:
        return from_line(line, self.name)


def from_line(line: Line, reader: str) -> Iterator[Item]:
    """The records (and failed calls) of one export line; one BadLine if it holds no model call."""
    return guarded(line, partial(_line_items, reader=reader))


def _line_items(line: Line, reader: str) -> Iterator[Item]:
    calls, others = [], []
    for span in spans(line.value):
        attrs = attributes(span.get("attributes"))
        (calls if is_model_call(attrs) else others).append((span, attrs))
    if not calls:
        names = ", ".join(repr(str(span.get("name"))) for span, _ in others[:5]) + (", ..." if len(others) > 5 else "")
        raise ShapeError(f"no model call in this OTLP export ({len(others)} spans{': ' + names if names else ''})")
    for span, attrs in calls:
        yield from guarded(line, partial(span_records, span=span, attrs=attrs, reader=reader))


def span_records(line: Line, span: dict[str, Any], attrs: dict[str, Any], reader: str) -> Iterator[Record]:
    """The record of one model-call span (one span, one call)."""
    current = any(key in attrs for key in CURRENT_KEYS)
    messages, reply, reason = semconv_call(attrs) if current else flattened_call(attrs)
    status = span.get("status") or {}
    failed = status.get("code") in STATUS_ERROR
    error = (status.get("message") or attrs.get("error.type") or "error") if failed else None
    if reply is None:
        raise ShapeError(f"the call failed: {error}" if error else f"span {span.get('name')!r} has no output messages")
    reasons = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(reasons, list):
        reasons = reasons[0] if reasons else None
    source = {"format": reader, "file": line.file, "line": line.line, "trace_id": span.get("traceId"),
              "conversation_id": _str(attrs.get("gen_ai.conversation.id") or attrs.get("session.id")),
              "timestamp": iso_timestamp(int(span["startTimeUnixNano"])) if span.get("startTimeUnixNano") else None,
              "model": attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model"),
              "finish_reason": finish_reason(reason or reasons), "error": error}
    tools = function_tools(json_attribute(attrs, "gen_ai.tool.definitions")) if current else flattened_tools(attrs)
    record_id = derived_id(reader, os.path.basename(line.file), line.line, span.get("traceId"), span.get("spanId"))
    yield checked_record([*messages, reply], tools, source, record_id)


def _whole_document(path: Path) -> Any:
    """The export, if the file is one pretty-printed OTLP export (``{`` alone on its first line); None for JSONL."""
    with open_input(path) as handle:
        first = next((raw for _, _, raw in raw_lines(handle, str(path)) if isinstance(raw, bytes) and raw.strip()), b"")
    if first.strip() != b"{":
        return None
    try:
        value = whole_document(path)
    except orjson.JSONDecodeError:
        return None  # read line by line: each broken line is reported
    return value if isinstance(value, dict) else None


def _kind(part: Any) -> str | None:
    return part.get("type") if isinstance(part, dict) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode("utf-8")


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None
