"""Langfuse traces, observations and scores, from the public API (camelCase) or a blob-storage export (snake_case).

Each ``GENERATION`` observation is one model call. Other observations (SPAN, EVENT, TOOL, ...)
are BadLines ("not a model call"), so every line ends somewhere. Trace lines give their
generations the ``sessionId`` (the conversation) and are listed in those records'
``source.joined``; a trace with no generation in the input is a BadLine. A trace fetched
with its details (``observations`` and ``scores`` as objects) is read the same way.

Scores join to their observation (``observationId``), or, for a trace-level score, to the
trace's last generation. A ``CORRECTION`` score (or one named ``correction``) becomes
``feedback.correction``; a thumbs score (``user-feedback``, ``thumbs``) becomes ``feedback.thumbs``.
"""

from __future__ import annotations

import os
import re
from functools import cache, partial
from pathlib import Path
from typing import Any, Iterator

import orjson

from ..jsonl import BadLine, Line
from ..record import derived_id
from . import Item, ReadOptions, Reader, register
from .anthropic import finish_reason, function_tools
from .common import ShapeError, excerpt, expect, guarded, iso_timestamp, thumbs_of
from .langsmith import THUMBS_KEYS, FeedbackIndex, chat_message, checked_record, join_line, parsed_lines

OBSERVATION_TYPES = frozenset({"GENERATION", "SPAN", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EVALUATOR",
                               "EMBEDDING", "GUARDRAIL"})
SCORE_THUMBS = THUMBS_KEYS | {"user-feedback", "user_feedback", "thumbs-up", "thumbs_down"}


def pick(value: dict[str, Any], name: str) -> Any:
    """A field by its API name (``traceId``) or its export name (``trace_id``)."""
    return value[name] if name in value else value.get(snake_case(name))


@cache
def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def is_observation(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("type"), str) and value["type"] in OBSERVATION_TYPES
            and pick(value, "traceId") is not None
            and pick(value, "startTime") is not None)


def is_score(value: Any) -> bool:
    return (isinstance(value, dict) and "name" in value and "value" in value
            and (pick(value, "dataType") is not None or "source" in value) and "type" not in value)


def is_trace(value: Any) -> bool:
    return (isinstance(value, dict) and "id" in value and "timestamp" in value and "type" not in value
            and ("sessionId" in value or "session_id" in value) and ("userId" in value or "user_id" in value))


# -- one generation ------------------------------------------------------------------------------
def decoded(value: Any) -> Any:
    """Exports hold ``input``/``output`` as JSON text; the API as JSON. Plain text stays text."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{", '"'):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def prompt_messages(value: Any) -> tuple[list[dict[str, Any]], Any]:
    """The generation's input as messages (and tools when the input carried them)."""
    value = decoded(value)
    if isinstance(value, str):
        return [{"role": "user", "content": value}], None
    tools = None
    if isinstance(value, dict):
        tools = value.get("tools") or value.get("functions")
        value = value.get("messages")
    messages = expect(value, list, "input")
    return [chat_message(message, f"input[{index}]") for index, message in enumerate(messages)], tools


def reply_message(value: Any) -> dict[str, Any]:
    value = decoded(value)
    if isinstance(value, str):
        return {"role": "assistant", "content": value}
    if isinstance(value, dict) and isinstance(value.get("choices"), list) and value["choices"]:
        value = value["choices"][0].get("message")
    expect(value, dict, "output")
    if "role" not in value and value.get("lc") != 1 and "type" not in value:
        value = {"role": "assistant", **value}
    return chat_message(value, "output")


# -- scores ----------------------------------------------------------------------------------------
def score_part(score: dict[str, Any]) -> dict[str, Any]:
    """One score as a piece of ``record.feedback``."""
    name = str(score.get("name") or "")
    data_type = str(pick(score, "dataType") or "").upper()
    text = pick(score, "stringValue")
    value = score.get("value")
    part: dict[str, Any] = {}
    if data_type == "CORRECTION" or name.lower() == "correction":
        correction = text if isinstance(text, str) else value
        part["correction"] = expect(correction, str, "the correction score's value")
    elif name.lower() in SCORE_THUMBS and thumbs_of(value if value is not None else text):
        part["thumbs"] = thumbs_of(value if value is not None else text)
    else:
        part["scores"] = {name: text if data_type == "CATEGORICAL" and isinstance(text, str) else value}
    if isinstance(score.get("comment"), str) and score["comment"].strip():
        part["comments"] = [score["comment"]]
    return part


def score_target(score: dict[str, Any]) -> str:
    target = pick(score, "observationId") or pick(score, "traceId") or pick(score, "sessionId")
    if target is None:
        raise ShapeError("the score names no observation, trace or session")
    return str(target)


# -- the reader ------------------------------------------------------------------------------------
class Traces:
    """Trace id -> session id and where its trace lines are (an export may hold a trace twice),
    and which traces ended up in a record (the rest are BadLines). Only ids are kept, not the
    traces' content."""

    def __init__(self) -> None:
        self.sessions: dict[str, str | None] = {}
        self.lines: dict[str, list[tuple[str, int]]] = {}
        self.used: set[str] = set()

    def add(self, line: Line, trace: dict[str, Any]) -> None:
        trace_id = str(trace["id"])
        self.sessions[trace_id] = _str(pick(trace, "sessionId"))
        self.lines.setdefault(trace_id, []).append((line.file, line.line))

    def unused(self) -> Iterator[BadLine]:
        for trace_id, places in self.lines.items():
            if trace_id not in self.used:
                for file, line in places:
                    yield BadLine(file, line, f"trace {trace_id!r} has no answered model call (GENERATION with "
                                              "output) in the input", "")


@register
class LangfuseReader(Reader):
    name = "langfuse"
    priority = 20

    def sniff(self, first: Any, path: Path) -> bool:
        return is_observation(first) or is_score(first) or is_trace(first)

    def read_files(self, paths: list[Path], options: ReadOptions) -> Iterator[Item]:
        feedback, traces = FeedbackIndex(), Traces()
        for line in parsed_lines(paths, options.max_line_bytes):
            if isinstance(line, BadLine):
                yield line
            elif is_score(line.value):
                yield from guarded(line, partial(index_score, score=line.value, feedback=feedback))
            elif is_trace(line.value):
                traces.add(line, line.value)
                for score in _embedded(line.value, "scores"):
                    yield from guarded(line, partial(index_score, score=score, feedback=feedback))
            elif not is_observation(line.value):
                yield BadLine(line.file, line.line, "not a Langfuse observation, score or trace", excerpt(line.value))
        if feedback.waiting:
            for _, observation in self._observations(paths, options.max_line_bytes):
                if answered(observation):
                    feedback.note_call(str(observation.get("id")), _str(pick(observation, "traceId")),
                                       iso_timestamp(pick(observation, "startTime")))
        for line, observation in self._observations(paths, options.max_line_bytes):
            yield from guarded(line, partial(self._convert, observation=observation, feedback=feedback, traces=traces))
        yield from feedback.leftovers("score")
        yield from traces.unused()

    @staticmethod
    def _observations(paths: list[Path], max_line_bytes: int) -> Iterator[tuple[Line, dict[str, Any]]]:
        """Every observation with its line: observation lines, and those inside a trace fetched with details."""
        for line in parsed_lines(paths, max_line_bytes):
            if isinstance(line, Line):
                if is_observation(line.value):
                    yield line, line.value
                elif is_trace(line.value):
                    # Inside a trace line only generations matter: the line is accounted for by their records.
                    for observation in _embedded(line.value, "observations"):
                        if answered(observation):
                            yield line, observation

    def _convert(self, line: Line, observation: dict[str, Any], feedback: FeedbackIndex,
                 traces: Traces) -> Iterator[Item]:
        kind, name = observation.get("type"), observation.get("name")
        if kind != "GENERATION":
            raise ShapeError(f"not a model call ({kind} observation{f' {name}' if name else ''})")
        error = pick(observation, "statusMessage") if observation.get("level") == "ERROR" else None
        output = observation.get("output")
        if output is None or output == "":
            raise ShapeError(f"the call failed: {error}" if error else "the generation has no output")
        messages, tools = prompt_messages(observation.get("input"))
        reply = reply_message(output)
        trace_id, call_id = _str(pick(observation, "traceId")), str(observation.get("id"))
        metadata = observation.get("metadata") if isinstance(observation.get("metadata"), dict) else {}
        source = {"format": self.name, "file": line.file, "line": line.line, "trace_id": trace_id,
                  "conversation_id": _str(pick(observation, "sessionId")) or traces.sessions.get(trace_id or ""),
                  "timestamp": iso_timestamp(pick(observation, "startTime")),
                  "model": observation.get("model") or pick(observation, "providedModelName"),
                  "finish_reason": finish_reason(metadata.get("finish_reason")), "error": error}
        record_id = derived_id(self.name, os.path.basename(line.file), line.line, call_id)
        record = checked_record([*messages, reply], function_tools(tools), source, record_id, metadata=metadata)
        if trace_id in traces.lines:
            traces.used.add(trace_id)
            for place in traces.lines[trace_id]:
                join_line(record, *place)
        feedback.attach(record, call_id, trace_id)
        yield record


def answered(observation: dict[str, Any]) -> bool:
    """A generation with an output: a model call that can become a record."""
    return observation.get("type") == "GENERATION" and observation.get("output") not in (None, "")


def index_score(line: Line, score: Any, feedback: FeedbackIndex) -> Iterator[Item]:
    """Hold one score for its observation or trace. It yields nothing; a wrong-shaped score fails in ``guarded``."""
    score = expect(score, dict, "score")
    feedback.add(score_target(score), score_part(score), line, score)
    return iter(())


def _embedded(trace: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = trace.get(key)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None
