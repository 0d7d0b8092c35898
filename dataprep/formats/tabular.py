"""Tables: CSV, TSV and Parquet files (and JSONL when the format is forced to ``table``), one
record per row, with a column mapping from the recipe input's ``mapping``::

    inputs:
      - path: tickets.csv
        mapping: {input: question, output: agent_answer, category: category, score: csat}

Mapping keys (each names the column that holds it):

- ``input``: the user's message (required, unless ``messages`` is given);
- ``output``: the assistant's reply (required, unless ``messages`` is given);
- ``messages``: a whole conversation, a JSON list of OpenAI chat messages (a JSON string or a list);
- ``system``: a system prompt, put first;
- ``conversation_id``, ``model``: the same ``source`` fields;
- ``id``: the row's own id, kept as ``source.trace_id`` (and part of the record id);
- ``timestamp``: ISO 8601 or unix time, kept as ISO 8601 UTC ``source.timestamp``;
- ``thumbs``: up/down, 👍/👎, true/false, 1/0/-1 -> ``feedback.thumbs``;
- ``score``: a number -> ``feedback.scores[<column name>]``;
- ``comment``: -> ``feedback.comments``;
- ``correction``: a better reply -> ``feedback.correction`` (the mine stage makes it the target);
- ``category``: -> ``source.category`` and the tag ``category:<value>``;
- ``delimiter`` (not a column): the CSV delimiter, one character or comma/semicolon/tab/pipe; without
  it the delimiter is sniffed among , ; tab | from the file's start (else tab for .tsv, comma otherwise).

Without a mapping, columns named like the keys are used. A mapped column the file does not have is
an error naming the file, the column and the columns it has. A row with an empty required cell is
rejected at its line (CSV/TSV: the physical line the row starts on, the header being line 1;
Parquet: the row number, from 1). A thumbs or score cell that cannot be read is kept in ``meta``.
A CSV row the parser cannot read (an opening quote never closed, so the cell would run to the end of the
file or past MAX_ROW_LINES lines) is rejected at its first line and reading resumes on the line after it.
Files stream (CSV row by row, Parquet in record batches), so memory stays bounded; gzip, zstd and bz2
files are read through (``tickets.csv.gz``).
"""

from __future__ import annotations

import csv
import io
import itertools
import os
from pathlib import Path
from typing import Any, Iterator

import orjson
import pyarrow
import pyarrow.parquet as parquet

from ..errors import InputError
from ..jsonl import RAW_EXCERPT_CHARS, BadLine, SeekableLines, compression_of, iter_lines, open_input
from ..record import Record, derived_id
from . import TABLE_SUFFIXES, Item, ReadOptions, Reader, register, table_suffix
from .common import ShapeError, excerpt, iso_timestamp, thumbs_of
from .openai_chat import chat_message
from .records import problem_with

KEYS = ("input", "output", "messages", "system", "conversation_id", "id", "timestamp", "model", "thumbs", "score",
        "comment", "correction", "category")
PARQUET_BATCH_ROWS = 4096
csv.field_size_limit(2**31 - 1)  # long replies exceed the default 128 KiB cell limit


def resolve_mapping(mapping: dict[str, str], columns: list[str], file: str) -> dict[str, str]:
    """The mapping checked against the file's columns (key -> column), or an InputError saying what is wrong."""
    unknown = sorted(set(mapping) - set(KEYS) - {"delimiter"})
    if unknown:
        raise InputError(f"unknown mapping key {unknown[0]!r}; use {', '.join(KEYS)} or delimiter", file=file)
    mapping = {key: column for key, column in mapping.items() if key != "delimiter"}  # not a column
    resolved = dict(mapping) if mapping else {key: key for key in KEYS if key in columns}
    missing = [column for column in resolved.values() if column not in columns]
    if missing:
        raise InputError(f"mapped column {missing[0]!r} is not in the table; its columns are: {', '.join(columns)}",
                         file=file)
    if "messages" not in resolved and not {"input", "output"} <= set(resolved):
        raise InputError(f"the mapping needs 'input' and 'output' columns (or 'messages'); the table's columns are: "
                         f"{', '.join(columns)}; add e.g. mapping: {{input: <column>, output: <column>}} to the recipe input",
                         file=file)
    return resolved


def row_record(row: dict[str, Any], mapping: dict[str, str], file: str, line: int) -> Item:
    """One row as a record, or a BadLine naming the empty or unreadable cell."""
    cell = {key: _cell(row.get(column)) for key, column in mapping.items()}
    messages = _messages(cell, mapping, row)
    if isinstance(messages, str):
        return BadLine(file, line, messages, excerpt(fields_of(row, mapping)))
    source = {"format": TableReader.name, "file": file, "line": line, "trace_id": _text(cell.get("id")),
              "conversation_id": _text(cell.get("conversation_id")), "model": _text(cell.get("model")),
              "timestamp": iso_timestamp(_number_or_text(cell.get("timestamp"))), "category": _text(cell.get("category"))}
    record = Record(messages=messages, id=derived_id(TableReader.name, os.path.basename(file), line, source.get("trace_id")),
                    source={key: value for key, value in source.items() if value is not None})
    if cell.get("category"):
        record.tags.append(f"category:{cell['category']}")
    _add_feedback(record, cell, mapping)
    return record


def _messages(cell: dict[str, Any], mapping: dict[str, str], row: dict[str, Any]) -> list[dict[str, Any]] | str:
    """The row's messages, or the reason there are none."""
    if "messages" in mapping:
        value = row.get(mapping["messages"])
        try:
            messages = orjson.loads(value) if isinstance(value, (str, bytes)) else value
        except orjson.JSONDecodeError:
            return f"column {mapping['messages']!r} is not a JSON list of messages"
        problem = problem_with({"messages": messages})
        if problem:
            return f"column {mapping['messages']!r}: {problem}"
        try:
            return [chat_message(message, f"messages[{index}]") for index, message in enumerate(messages)]
        except ShapeError as exc:
            return f"column {mapping['messages']!r}: {exc}"
    for key in ("input", "output"):
        if cell.get(key) is None:
            return f"the {key} cell (column {mapping[key]!r}) is empty"
    system = [{"role": "system", "content": _text(cell["system"])}] if cell.get("system") is not None else []
    return [*system, {"role": "user", "content": _text(cell["input"])},
            {"role": "assistant", "content": _text(cell["output"])}]


def _add_feedback(record: Record, cell: dict[str, Any], mapping: dict[str, str]) -> None:
    feedback = record.feedback
    if cell.get("thumbs") is not None:
        thumbs = thumbs_of(cell["thumbs"])
        if thumbs:
            feedback["thumbs"] = thumbs
        else:
            record.meta[mapping["thumbs"]] = cell["thumbs"]
    if cell.get("score") is not None:
        score = _number_or_text(cell["score"])
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            feedback["scores"] = {mapping["score"]: score}
        else:
            record.meta[mapping["score"]] = cell["score"]
    if cell.get("comment") is not None:
        feedback["comments"] = [_text(cell["comment"])]
    if cell.get("correction") is not None:
        feedback["correction"] = _text(cell["correction"])


def _cell(value: Any) -> Any:
    """A cell as text (stripped; empty -> None), numbers and booleans kept as they are, lists and
    structs as JSON, anything else (dates, decimals) as its text."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, dict)):
        return orjson.dumps(value, default=str).decode("utf-8")
    return str(value).strip() or None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number_or_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value


# -- files ----------------------------------------------------------------------------------------
DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
SNIFF_CHARS = 64 * 1024
MAX_ROW_LINES = 10_000  # a quoted cell running longer than this is an unclosed quote, not a long reply


def csv_rows(path: Path, mapping: dict[str, str]) -> Iterator[Item]:
    """Rows of a CSV/TSV file (plain or compressed), delimiter from the mapping or sniffed. A row that
    cannot be parsed (an unclosed quote) is rejected at its first line and reading resumes on the next."""
    name = str(path)
    # surrogateescape keeps bytes that are not UTF-8 so that only their row is rejected
    with io.TextIOWrapper(open_input(path), encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        sample = handle.read(SNIFF_CHARS) + handle.readline()
        lines = PhysicalLines(itertools.chain(io.StringIO(sample, newline=""), handle))
        delimiter = _delimiter(mapping.get("delimiter"), sample, path, name)
        try:
            header = next(csv.reader(lines, delimiter=delimiter, strict=True), None)
        except (csv.Error, RowTooLong) as exc:
            raise InputError(f"unreadable header row: {exc}", file=name, line=1) from None
        if not header:
            raise InputError("the table is empty: no header row", file=name, line=1)
        header = [column.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for column in header]
        resolved = resolve_mapping(mapping, header, name)
        yield from _csv_body(lines, delimiter, header, resolved, name)


def _csv_body(lines: "PhysicalLines", delimiter: str, header: list[str], mapping: dict[str, str],
              name: str) -> Iterator[Item]:
    reader = csv.reader(lines, delimiter=delimiter, strict=True)  # a stray quote is an error, not a merged row
    while True:
        lines.start_row()
        try:
            row = next(reader)
        except StopIteration:
            return
        except (csv.Error, RowTooLong) as exc:
            start = lines.row_start()
            yield BadLine(name, start, f"unreadable CSV row: {exc}; reading resumed at line {start + 1}",
                          lines.row_excerpt())
            lines.reread_after_row_start()
            reader = csv.reader(lines, delimiter=delimiter, strict=True)  # a fresh parser: no half-read quote
        else:
            if row:
                yield csv_row(row, header, mapping, name, lines.row_start())


class RowTooLong(Exception):
    def __str__(self) -> str:
        return f"a quoted cell runs over {MAX_ROW_LINES:,} lines (an opening quote that is never closed?)"


class PhysicalLines:
    """The lines the CSV parser reads, numbered, with the lines of the row being parsed kept so that a
    row that turns out unreadable can be read again from its second line."""

    def __init__(self, lines: Iterator[str]):
        self.lines = lines
        self.number = 0
        self.row: list[tuple[int, str]] = []
        self.pending: list[tuple[int, str]] = []  # lines to read again, last first

    def __iter__(self) -> "PhysicalLines":
        return self

    def __next__(self) -> str:
        if len(self.row) >= MAX_ROW_LINES:
            raise RowTooLong()
        if self.pending:
            line = self.pending.pop()
        else:
            self.number += 1
            line = (self.number, next(self.lines))
        self.row.append(line)
        return line[1]

    def start_row(self) -> None:
        self.row.clear()

    def row_start(self) -> int:
        return self.row[0][0] if self.row else self.number + 1

    def row_excerpt(self) -> str:
        return "".join(text for _, text in self.row[:3])[:RAW_EXCERPT_CHARS].encode(
            "utf-8", "surrogateescape").decode("utf-8", "backslashreplace")

    def reread_after_row_start(self) -> None:
        self.pending.extend(reversed(self.row[1:]))
        self.row.clear()


def _delimiter(given: str | None, sample: str, path: Path, file: str) -> str:
    """The mapping's ``delimiter`` (a character, or comma/semicolon/tab/pipe), else sniffed from the sample."""
    if given is not None:
        delimiter = DELIMITERS.get(given, given)
        if len(delimiter) != 1:
            raise InputError(f"mapping delimiter {given!r} should be one character or one of: {', '.join(DELIMITERS)}",
                             file=file)
        return delimiter
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS.values())).delimiter
    except csv.Error:  # one column, or too little to tell: go by the name
        return "\t" if table_suffix(path) == ".tsv" else ","


def csv_row(row: list[str], header: list[str], mapping: dict[str, str], file: str, line: int) -> Item:
    for index, cell in enumerate(row):
        if not cell.isascii() and _not_utf8(cell):
            column = repr(header[index]) if index < len(header) else f"{index + 1}"
            return BadLine(file, line, f"not UTF-8 (a byte that is not UTF-8 in column {column})",
                           _row_excerpt(row, header, mapping))
    if len(row) > len(header):
        return BadLine(file, line, f"the row has {len(row)} cells but the header has {len(header)} (a stray "
                                   f"delimiter or quote?)", _row_excerpt(row, header, mapping))
    return row_record(dict(zip(header, row)), mapping, file, line)


def _not_utf8(cell: str) -> bool:
    try:
        cell.encode("utf-8")
    except UnicodeEncodeError:  # a byte kept by surrogateescape
        return True
    return False


def _row_excerpt(row: list[str], header: list[str], mapping: dict[str, str]) -> str:
    cells = [cell.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") for cell in row]
    names = header + [f"column {index + 1}" for index in range(len(header), len(cells))]
    return excerpt(fields_of(dict(zip(names, cells)), mapping))


def fields_of(row: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """A row with its mapped columns named for what they hold ("conversation_id", not "thread"):
    a rejected row's text then shows which cell was what, and its identities get hashed like a
    record's (``record_fields.pseudonymize_identity_text``)."""
    field_of = {column: field for field, column in mapping.items()}
    return {field_of.get(column, column): value for column, value in row.items()}


def parquet_rows(path: Path, mapping: dict[str, str]) -> Iterator[Item]:
    name = str(path)
    try:
        table = parquet.ParquetFile(path if compression_of(path) is None else SeekableLines.open_file(name))
    except (pyarrow.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file: {exc}", file=name) from None
    resolved = resolve_mapping(mapping, table.schema_arrow.names, name)
    row_number = 0
    try:
        for batch in table.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=sorted(set(resolved.values()))):
            for row in batch.to_pylist():
                row_number += 1
                yield row_record(row, resolved, name, row_number)
    except pyarrow.ArrowException as exc:
        raise InputError(f"unreadable Parquet data after row {row_number}: {exc}", file=name) from None


def jsonl_rows(path: Path, options: ReadOptions) -> Iterator[Item]:
    resolved = None
    for line in iter_lines(path, options.max_line_bytes):
        if isinstance(line, BadLine):
            yield line
        elif not isinstance(line.value, dict):
            yield BadLine(line.file, line.line, "a table row must be a JSON object", excerpt(line.value))
        else:
            resolved = resolved or resolve_mapping(options.mapping, list(line.value), line.file)
            yield row_record(line.value, resolved, line.file, line.line)


@register
class TableReader(Reader):
    name = "table"
    priority = 10

    def sniff(self, first: Any, path: Path) -> bool:
        return table_suffix(path) in TABLE_SUFFIXES

    def read_file(self, path: Path, options: ReadOptions) -> Iterator[Item]:
        suffix = table_suffix(path)
        try:
            if suffix in (".jsonl", ".json"):
                yield from jsonl_rows(path, options)
            else:
                yield from (parquet_rows if suffix == ".parquet" else csv_rows)(path, options.mapping)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
