"""OpenAI Batch API files: the input file joined with its output (and error) files on ``custom_id``.

Input lines are ``{"custom_id", "method", "url", "body"}``; output and error file lines are
``{"id", "custom_id", "response": {"status_code", "request_id", "body"} | null, "error": {"code",
"message"} | null}``, in an order that differs from the input's. Give all of a batch's files in
one input (a folder or a glob, or several files on the command line): they are read together.

Bodies of ``/v1/chat/completions`` and ``/v1/responses`` calls are converted like the live logs of
those APIs. A failed request (an ``error``, or a status code other than 200) is rejected at its
output line with the error; an input without an output, an output without an input, a repeated
``custom_id`` and a call to another endpoint (embeddings) are rejected at their line.

Memory stays bounded by the number of requests: the output files are indexed as
``custom_id -> (file, line, byte offset)`` and each output line is read back when its input comes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..jsonl import BadLine, Line, SeekableLines, iter_lines, located_lines
from . import Item, ReadOptions, Reader, register
from .common import ShapeError, excerpt, expect, guarded
from .openai_chat import CallConverter, chat_calls, error_text, record_of
from .openai_responses import response_calls

CONVERTERS: dict[str, CallConverter] = {"/v1/chat/completions": chat_calls, "/v1/responses": response_calls}
Where = tuple[str, int, int]  # file, line, byte offset


def line_kind(value: Any) -> str | None:
    if not isinstance(value, dict) or not isinstance(value.get("custom_id"), str):
        return None
    if "body" in value and "url" in value:
        return "input"
    if ("response" in value or "error" in value) and "result" not in value:  # Anthropic results have "result"
        return "output"
    return None


class _Outputs:
    """The output lines of a batch, found by custom_id and read back from disk when needed."""

    def __init__(self) -> None:
        self.where: dict[str, Where] = {}
        self.lines = SeekableLines()
        self.files_with_other_lines: set[Path] = set()  # the rest need no second pass

    def index(self, path: Path, max_line_bytes: int) -> Iterator[BadLine]:
        """Index a file's output lines; yields a BadLine for each repeated custom_id."""
        name = str(path)
        for offset, parsed in located_lines(name, max_line_bytes):
            if isinstance(parsed, BadLine) or line_kind(parsed.value) != "output":
                self.files_with_other_lines.add(path)
                continue
            custom_id = parsed.value["custom_id"]
            if custom_id in self.where:
                first = self.where[custom_id]
                yield BadLine(name, parsed.line, f"custom_id {custom_id!r} already has an output at "
                                                 f"{first[0]}:{first[1]}", excerpt(parsed.value))
            else:
                self.where[custom_id] = (name, parsed.line, offset)

    def take(self, custom_id: str) -> Line | None:
        where = self.where.pop(custom_id, None)
        if where is None:
            return None
        name, line_no, offset = where
        return self.lines.line_at(name, offset, line_no)  # parsed fine when indexed

    def leftovers(self) -> Iterator[BadLine]:
        for custom_id, (name, line_no, _) in self.where.items():
            yield BadLine(name, line_no, f"no batch input line has custom_id {custom_id!r}; "
                                         "give the input file together with its output files", "")

    def close(self) -> None:
        self.lines.close()


def paired(line: Line, output: Line | None) -> list[Item]:
    """The record of an input line and its output line, or a BadLine saying why there is none."""
    request = line.value
    custom_id = request["custom_id"]
    if output is None:
        raise ShapeError(f"no batch output line has custom_id {custom_id!r}; give the output and error "
                         "files together with the input file")
    result = output.value
    response = result.get("response") if isinstance(result.get("response"), dict) else {}
    status = response.get("status_code")
    body = response.get("body")
    if result.get("error") or status != 200:
        error = result.get("error") or (body.get("error") if isinstance(body, dict) else None) or f"HTTP {status}"
        failed = "failed" if status in (None, 200) else f"failed (HTTP {status})"
        return [BadLine(output.file, output.line, f"batch request {custom_id!r} {failed}: {error_text(error)} "
                                                  f"(input at {line.file}:{line.line})", excerpt(result))]
    try:
        url = expect(request.get("url"), str, "url")
        convert = CONVERTERS.get(url.split("?")[0])
        if convert is None:
            raise ShapeError(f"batch url {url} is not a chat call; only {', '.join(CONVERTERS)} become records")
        body_in = expect(request.get("body"), dict, "body")
        return [record_of(OpenAIBatchReader.name, line, call, request, body_in, trace_id=custom_id,
                          request_id=response.get("request_id"), output_file=output.file, output_line=output.line)
                for call in convert(body_in, body)]
    except ShapeError as exc:  # the output line is used up too: say where it was
        raise ShapeError(f"{exc} (output at {output.file}:{output.line})") from None


@register
class OpenAIBatchReader(Reader):
    name = "openai-batch"
    priority = 20

    def sniff(self, first: Any, path: Path) -> bool:
        return line_kind(first) is not None

    def read_files(self, paths: list[Path], options: ReadOptions) -> Iterator[Item]:
        outputs = _Outputs()
        try:
            for path in paths:
                yield from outputs.index(path, options.max_line_bytes)
            seen: dict[str, str] = {}
            for path in paths:
                if path in outputs.files_with_other_lines:
                    yield from self._inputs(path, outputs, seen, options.max_line_bytes)
            yield from outputs.leftovers()
        finally:
            outputs.close()

    def _inputs(self, path: Path, outputs: _Outputs, seen: dict[str, str], max_line_bytes: int) -> Iterator[Item]:
        """Every line of a file but the output lines (already indexed): inputs paired, the rest rejected."""
        for line in iter_lines(path, max_line_bytes):
            if isinstance(line, BadLine):
                yield line
                continue
            kind = line_kind(line.value)
            if kind == "output":  # indexed in the first pass; paired with its input or reported there
                continue
            if kind is None:
                yield BadLine(line.file, line.line, "neither a batch input line (custom_id, method, url, body) "
                                                    "nor an output line (custom_id, response, error)", excerpt(line.value))
                continue
            if kind == "input":
                custom_id = line.value["custom_id"]
                if custom_id in seen:
                    yield BadLine(line.file, line.line, f"custom_id {custom_id!r} repeats the input at {seen[custom_id]}",
                                  excerpt(line.value))
                    continue
                seen[custom_id] = f"{line.file}:{line.line}"
                yield from guarded(line, lambda input_line: paired(input_line, outputs.take(custom_id)))
