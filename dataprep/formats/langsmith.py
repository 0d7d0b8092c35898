"""LangSmith run exports (JSONL of Run objects) joined with their feedback records.

Only ``run_type: "llm"`` runs are model calls. A chain, tool or retriever run becomes a
BadLine ("not a model call (run_type chain)") so every line still ends somewhere. Both run
shapes are read: the raw OpenAI kwargs a wrapped client logs (``inputs.messages`` as OpenAI
dicts, ``outputs.choices``) and LangChain's serialized messages and ``outputs.generations``.

Feedback (``{run_id, key, score, value, comment, correction}``, usually a separate file) joins
by ``run_id``. Feedback on a trace's root run (what a user rates is the app's final answer)
goes to the trace's last model call. Feedback for a run that is not in the input is a BadLine.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..jsonl import BadLine, Line, iter_lines
from ..record import Record, derived_id
from . import Item, ReadOptions, Reader, register
from .anthropic import finish_reason, function_tools
from .common import ShapeError, excerpt, expect, feedback_from, guarded, iso_timestamp, linked_calls, openai_message, \
    text_of, thumbs_of, tool_call
from .openai_chat import Call, check_call, log_source

ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant", "system": "system",
         "developer": "developer", "tool": "tool", "function": "function"}
CLASS_ROLES = {"HumanMessage": "user", "AIMessage": "assistant", "SystemMessage": "system", "ToolMessage": "tool",
               "FunctionMessage": "function"}
THUMBS_KEYS = frozenset({"thumbs", "thumb", "thumbs_up", "user_score", "user_feedback", "user-feedback", "vote",
                         "helpful", "feedback"})
CORRECTION_TEXT_KEYS = ("output", "content", "text", "answer", "response")
EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


# -- shared with the Langfuse (and, for checked_record, OpenTelemetry) reader ------------------
class FeedbackIndex:
    """Feedback lines (LangSmith feedback, Langfuse scores) held until the call they are about is read.

    Feedback is small next to the calls, so it is kept in memory; the calls stream. A key is
    the id of a call, or of a trace: trace-level feedback goes to the trace's last call, which
    ``note_call`` works out in a first pass over the calls.
    """

    def __init__(self) -> None:
        # key -> [(feedback part, file, line, raw excerpt)]: not the parsed line, which may be a whole trace
        self.waiting: dict[str, list[tuple[dict[str, Any], str, int, str]]] = defaultdict(list)
        self.last_call: dict[str, tuple[datetime, str]] = {}  # trace id -> (start time, call id)

    def add(self, key: Any, part: dict[str, Any], line: Line, raw: Any) -> None:
        self.waiting[str(key)].append((part, line.file, line.line, excerpt(raw)))

    def note_call(self, call_id: str, trace_id: str | None, when: str | None) -> None:
        """First pass: note each trace's last call (by start time, then input order) if the trace has feedback."""
        if trace_id and trace_id != call_id and trace_id in self.waiting:
            moment = datetime.fromisoformat(when) if when else EARLIEST
            if trace_id not in self.last_call or moment >= self.last_call[trace_id][0]:
                self.last_call[trace_id] = (moment, call_id)

    def attach(self, record: Record, call_id: str, trace_id: str | None) -> None:
        """Give ``record`` its feedback (its own, and its trace's if it is the trace's last call)."""
        keys = [call_id]
        if trace_id and self.last_call.get(trace_id, (EARLIEST, None))[1] == call_id:
            keys.append(trace_id)
        parts = [record.feedback]
        for key in keys:
            for part, file, line, _ in self.waiting.pop(key, ()):
                parts.append(part)
                join_line(record, file, line)
        if len(parts) > 1:
            record.feedback = feedback_from(parts)

    def leftovers(self, what: str) -> Iterator[BadLine]:
        """Feedback whose call never came: a BadLine each, naming the id it was for."""
        for key, entries in self.waiting.items():
            for _, file, line, raw in entries:
                yield BadLine(file, line, f"{what} for {key!r}, which is not a model call in the input", raw)
        self.waiting.clear()


def join_line(record: Record, file: str, line: int) -> None:
    """Note in ``source.joined`` that another input line (feedback, a trace) went into this record."""
    place = {"file": file, "line": line}
    joined = record.source.setdefault("joined", [])
    if (file, line) != (record.source.get("file"), record.source.get("line")) and place not in joined:
        joined.append(place)
    if not joined:
        del record.source["joined"]


def checked_record(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, source: dict[str, Any],
                   record_id: str, feedback: dict[str, Any] | None = None, metadata: Any = None) -> Record:
    """A record from a reader that builds its own (one line may hold several calls), checked against the
    record contract like every other reader's: a wrong value deep inside is rejected here, not later.
    The app's own ``metadata`` is kept under ``meta``, as the other readers keep it."""
    source = {key: value for key, value in source.items() if value is not None}
    check_call(Call(messages, tools, source))
    return Record(linked_calls(messages), id=record_id, tools=tools, source=source, feedback=feedback or {},
                  meta={"metadata": metadata} if isinstance(metadata, dict) and metadata else {})


def parsed_lines(paths: Iterable[Path], max_line_bytes: int) -> Iterator[Line | BadLine]:
    for path in paths:
        yield from iter_lines(path, max_line_bytes)


# -- LangChain / OpenAI messages ----------------------------------------------------------------
def chat_message(message: Any, where: str) -> dict[str, Any]:
    """A message in any shape LangSmith stores: OpenAI dict, ``{"lc":1, "type":"constructor", ...}``,
    ``{"type":"human","data":{...}}`` or a dumped message ``{"type":"human","content":...}``."""
    expect(message, dict, where)
    if "role" in message:
        return openai_message(message)
    if message.get("lc") == 1 and isinstance(message.get("id"), list):
        name = str(message["id"][-1]).removesuffix("Chunk")
        fields = expect(message.get("kwargs"), dict, f"{where}.kwargs")
        role = CLASS_ROLES.get(name) or fields.get("role")
    elif isinstance(message.get("data"), dict):
        fields = message["data"]
        role = ROLES.get(message.get("type")) or fields.get("role")
    else:
        fields = message
        role = ROLES.get(message.get("type")) or fields.get("role")
    if role not in ROLES.values():
        raise ShapeError(f"{where} is not a chat message (no role or message type)")
    return langchain_message(role, fields)


def langchain_message(role: str, fields: dict[str, Any]) -> dict[str, Any]:
    content = fields.get("content")
    if isinstance(content, list):  # Anthropic-style blocks: tool_use blocks repeat what tool_calls holds
        content = [part for part in content
                   if not (isinstance(part, dict) and part.get("type") in ("tool_use", "tool_call"))]
    out: dict[str, Any] = openai_message({"role": role, "content": content, "name": fields.get("name"),
                                          "tool_call_id": fields.get("tool_call_id")})
    calls = fields.get("tool_calls") or []
    if calls:
        out["tool_calls"] = [tool_call(call.get("id"), call["name"], call.get("args")) for call in calls]
    elif isinstance(fields.get("additional_kwargs"), dict) and fields["additional_kwargs"].get("tool_calls"):
        raw = openai_message({"role": role, "tool_calls": fields["additional_kwargs"]["tool_calls"]})
        out["tool_calls"] = raw["tool_calls"]
    if out.get("tool_calls") and not text_of(out.get("content")):
        out["content"] = None
    return out


# -- one run -------------------------------------------------------------------------------------
def prompts(inputs: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The run's prompts: usually one, a list per prompt when LangChain batched several."""
    messages = inputs.get("messages")
    if isinstance(messages, list) and messages:
        batches = messages if all(isinstance(item, list) for item in messages) else [messages]
        return [[chat_message(m, f"inputs.messages[{i}]") for i, m in enumerate(batch)] for batch in batches]
    if isinstance(inputs.get("prompts"), list):
        return [[{"role": "user", "content": text}] for text in inputs["prompts"]]
    if isinstance(inputs.get("prompt"), str):
        return [[{"role": "user", "content": inputs["prompt"]}]]
    raise ShapeError("inputs has no 'messages' or 'prompts'")


def replies(outputs: Any) -> list[tuple[dict[str, Any], str | None]]:
    """The reply per prompt and its finish reason, from ``generations``, ``choices`` or ``output``."""
    if not isinstance(outputs, dict):
        return []
    if isinstance(outputs.get("generations"), list):
        return [generation_reply(batch[0] if isinstance(batch, list) else batch)
                for batch in outputs["generations"] if batch]
    if isinstance(outputs.get("choices"), list) and outputs["choices"]:
        choice = expect(outputs["choices"][0], dict, "outputs.choices[0]")
        message = choice.get("message") or {"role": "assistant", "content": choice.get("text")}
        return [(openai_message({"role": "assistant", **message}), finish_reason(choice.get("finish_reason")))]
    output = outputs.get("output")
    if isinstance(output, str):
        return [({"role": "assistant", "content": output}, None)]
    if isinstance(output, dict):
        return [(chat_message(output, "outputs.output"), None)]
    return []


def generation_reply(generation: Any) -> tuple[dict[str, Any], str | None]:
    generation = expect(generation, dict, "outputs.generations[0][0]")
    message = generation.get("message")
    reply = (chat_message(message, "generation.message") if message
             else {"role": "assistant", "content": generation.get("text")})
    info = generation.get("generation_info") or {}
    fields = (message.get("kwargs") or message.get("data") or message) if isinstance(message, dict) else {}
    metadata = fields.get("response_metadata") or {}
    reason = info.get("finish_reason") or metadata.get("finish_reason") or metadata.get("stop_reason")
    return reply, finish_reason(reason)


def run_model(run: dict[str, Any]) -> str | None:
    extra = run.get("extra") or {}
    params, metadata = extra.get("invocation_params") or {}, extra.get("metadata") or {}
    outputs = run.get("outputs") or {}
    llm_output = outputs.get("llm_output") or {}
    return (outputs.get("model") or llm_output.get("model_name") or llm_output.get("model") or params.get("model")
            or params.get("model_name") or metadata.get("ls_model_name") or (run.get("inputs") or {}).get("model"))


def run_tools(run: dict[str, Any]) -> list[dict[str, Any]] | None:
    params = (run.get("extra") or {}).get("invocation_params") or {}
    return function_tools((run.get("inputs") or {}).get("tools") or params.get("tools") or params.get("functions"))


def thread_id(run: dict[str, Any]) -> str | None:
    """The LangSmith thread: ``session_id``/``thread_id``/``conversation_id`` in the run's metadata."""
    return log_source(run.get("extra") or {}, {})["conversation_id"]


def stats_feedback(stats: Any) -> dict[str, Any]:
    """Feedback from a run's ``feedback_stats`` (``{key: {n, avg}}``): the fallback when no feedback file came."""
    part: dict[str, Any] = {}
    for key, stat in (stats or {}).items():
        if isinstance(stat, dict) and isinstance(stat.get("avg"), (int, float)):
            if key.lower() in THUMBS_KEYS and stat.get("n") == 1 and thumbs_of(stat["avg"]):
                part["thumbs"] = thumbs_of(stat["avg"])
            else:
                part.setdefault("scores", {})[key] = stat["avg"]
    return part


# -- feedback records --------------------------------------------------------------------------
def feedback_part(value: dict[str, Any]) -> dict[str, Any]:
    """One LangSmith feedback record as a piece of ``record.feedback``."""
    key = str(value.get("key") or "")
    score = value.get("score") if value.get("score") is not None else value.get("value")
    part: dict[str, Any] = {}
    if value.get("correction") is not None:
        part["correction"] = correction(value["correction"])
    if key.lower() == "correction":
        part.setdefault("correction", correction(value.get("value")))
    elif key.lower() in THUMBS_KEYS and thumbs_of(score):
        part["thumbs"] = thumbs_of(score)
    elif score is not None:
        part["scores"] = {key: score}
    if isinstance(value.get("comment"), str) and value["comment"].strip():
        part["comments"] = [value["comment"]]
    return part


def correction(value: Any) -> str | dict[str, Any]:
    """What the reply should have been: text, or an assistant message when the correction has tool calls."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "role" in value or value.get("lc") == 1 or "data" in value:
            message = chat_message(value, "correction")
            return message if message.get("tool_calls") else message.get("content") or ""
        for key in ("outputs", *CORRECTION_TEXT_KEYS):
            if key in value:
                return correction(value[key])
        reply = replies(value)
        if reply:
            return correction(reply[0][0])
    raise ShapeError("correction is neither text nor a message")


def is_run(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("run_type"), str)


def is_feedback(value: Any) -> bool:
    return isinstance(value, dict) and "run_id" in value and "key" in value and "run_type" not in value


@register
class LangSmithReader(Reader):
    name = "langsmith"
    priority = 20

    def sniff(self, first: Any, path: Path) -> bool:
        return (is_run(first) and "inputs" in first) or is_feedback(first)

    def read_files(self, paths: list[Path], options: ReadOptions) -> Iterator[Item]:
        feedback = FeedbackIndex()
        for line in parsed_lines(paths, options.max_line_bytes):
            if isinstance(line, BadLine):
                yield line
            elif is_feedback(line.value):
                yield from guarded(line, partial(index_feedback, feedback=feedback))
            elif not is_run(line.value):
                yield BadLine(line.file, line.line, "neither a LangSmith run (no run_type) nor a feedback record",
                              excerpt(line.value))
        if feedback.waiting:
            for line in parsed_lines(paths, options.max_line_bytes):
                run = line.value if isinstance(line, Line) else None
                if is_run(run) and run["run_type"] == "llm" and run.get("outputs"):
                    feedback.note_call(str(run.get("id")), _str(run.get("trace_id")),
                                       iso_timestamp(run.get("start_time")))
        for line in parsed_lines(paths, options.max_line_bytes):
            if isinstance(line, Line) and is_run(line.value):
                yield from guarded(line, partial(self._convert, feedback=feedback))
        yield from feedback.leftovers("feedback")

    def _convert(self, line: Line, feedback: FeedbackIndex) -> Iterator[Item]:
        run = line.value
        if run["run_type"] != "llm":
            raise ShapeError(f"not a model call (run_type {run['run_type']})")
        calls = prompts(expect(run.get("inputs"), dict, "inputs"))
        answers = replies(run.get("outputs"))
        if not answers:
            raise ShapeError(f"the call failed: {_first_line(run['error'])}" if run.get("error")
                             else "the run has no reply in outputs")
        if len(answers) != len(calls):
            raise ShapeError(f"{len(calls)} prompts but {len(answers)} replies in outputs")
        run_id, trace_id = str(run.get("id")), _str(run.get("trace_id")) or str(run.get("id"))
        for index, (messages, (reply, reason)) in enumerate(zip(calls, answers, strict=True)):
            source = {"format": self.name, "file": line.file, "line": line.line, "trace_id": trace_id,
                      "conversation_id": thread_id(run), "timestamp": iso_timestamp(run.get("start_time")),
                      "model": run_model(run), "finish_reason": reason,
                      "error": _first_line(run["error"]) if run.get("error") else None}
            parts = (os.path.basename(line.file), line.line, run_id) + ((index,) if len(calls) > 1 else ())
            record = checked_record([*messages, reply], run_tools(run), source, derived_id(self.name, *parts),
                                    stats_feedback(run.get("feedback_stats")), (run.get("extra") or {}).get("metadata"))
            if index == 0:
                feedback.attach(record, run_id, trace_id)
            yield record


def index_feedback(line: Line, feedback: FeedbackIndex) -> Iterator[Item]:
    """Hold one feedback line for its run. It yields nothing; a line of the wrong shape fails in ``guarded``."""
    feedback.add(line.value["run_id"], feedback_part(line.value), line, line.value)
    return iter(())


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None


def _first_line(text: Any) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else "error"
