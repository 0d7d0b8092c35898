"""Readers: turn log files of any known shape into records.

Each reader module registers a ``Reader`` named in ``CATALOG``. ``read_inputs`` expands each
input's path, picks the reader per file (auto-detected from the file's first values, or
forced), and streams records and bad lines. Readers that join several files (batch
input + output, runs + feedback) receive all files of their format at once. Files are
opened through ``jsonl.open_input``: gzip, zstd and bz2 are recognised by their magic bytes
and decompressed as they stream; line numbers are those of the decompressed text.

A reader whose lines convert one by one (``splittable``) reads a big plain file in pieces on
the run's engine (a pool of processes, Ray tasks): the pieces' records come back in file order
as the lines they are written as (``record.Serialized``), so every engine reads the same records
and this process only copies them.
"""

from __future__ import annotations

import glob
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator

import orjson

from ..errors import InputError
from ..jsonl import (BOM, DECOMPRESS_ERRORS, DEFAULT_MAX_LINE_BYTES, BadLine, Line, Piece, iter_lines, open_input,
                     piece_bytes, piece_lines, raw_lines, split_file)
from ..record import Record, Serialized

Item = Record | BadLine
READERS: dict[str, "Reader"] = {}
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
PIECE_BYTES = 16 * 2**20  # a piece of a file read on a worker: its records outweigh what shipping them costs
#: a piece this big holds a line far over the usual size: its file is read here, a line at a time
PIECE_BYTES_SHIPPED = 4 * PIECE_BYTES
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".zst", ".zstd", ".bz2")  # names only help find a table's own suffix


#: Every reader: name -> (module, one-line description). The one list behind ``mine --help``, the recipe
#: schema's ``format`` enum and the "unknown format" error; modules load only when files are read.
CATALOG: dict[str, tuple[str, str]] = {
    "anthropic-batch": ("anthropic", "Anthropic Message Batches: request file + results file joined on custom_id"),
    "anthropic-messages": ("anthropic", "Anthropic Messages request/response pairs as apps log them"),
    "helicone": ("helicone", "Helicone request exports (request_body/response_body, feedback, session properties)"),
    "langfuse": ("langfuse", "Langfuse traces, observations (GENERATION) and scores"),
    "langsmith": ("langsmith", "LangSmith run exports (run_type llm runs) with their feedback records"),
    "litellm": ("litellm", "LiteLLM proxy logs: StandardLoggingPayload (callbacks) and spend-log rows"),
    "openai-batch": ("openai_batch", "OpenAI Batch API input file + output/error files, joined on custom_id"),
    "openai-chat": ("openai_chat", "OpenAI Chat Completions request/response logs, streamed chunks, stored completions"),
    "openai-responses": ("openai_responses", "OpenAI Responses API logs; calls chained by previous_response_id joined"),
    "otel-genai": ("otel", "OpenTelemetry GenAI spans in OTLP JSON (gen_ai.* attributes)"),
    "records": ("records", "dataprep records, or plain OpenAI chat fine-tuning JSONL (messages)"),
    "table": ("tabular", "CSV, TSV or Parquet tables (or JSONL rows) with a column mapping"),
}


class Reader:
    """A log format. ``sniff`` looks at a file's first JSON value; ``read_files`` streams items."""

    name: ClassVar[str]
    #: lower runs first when several readers claim a file
    priority: ClassVar[int] = 50
    #: each line converts on its own (``convert``), so a file can be read in pieces, on other processes
    splittable: ClassVar[bool] = False

    @property
    def description(self) -> str:
        return CATALOG[self.name][1]

    def sniff(self, first: Any, path: Path) -> bool:
        return False

    def read_files(self, paths: list[Path], options: "ReadOptions") -> Iterator[Item]:
        for path in paths:
            yield from self.read_file(path, options)

    def read_file(self, path: Path, options: "ReadOptions") -> Iterator[Item]:
        return self.in_order(self.convert_lines(iter_lines(path, options.max_line_bytes), options))

    def convert_lines(self, lines: Iterable[Line | BadLine], options: "ReadOptions") -> Iterator[Item]:
        for line in lines:
            if isinstance(line, BadLine):
                yield line
            else:
                yield from self.convert(line, options)

    def in_order(self, items: Iterator[Item | Serialized]) -> Iterator[Item | Serialized]:
        """What a file's items need in reading order, here, when its pieces were converted elsewhere."""
        return items

    def convert(self, line: Line, options: "ReadOptions") -> Iterator[Item]:
        """Turn one parsed line into zero or more records (or a BadLine saying why not)."""
        raise NotImplementedError


@dataclass(slots=True)
class ReadOptions:
    mapping: dict[str, str] = field(default_factory=dict)
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES


def register(reader_cls: type[Reader]) -> type[Reader]:
    if reader_cls.name not in CATALOG:
        raise ValueError(f"reader {reader_cls.name!r} is not in formats.CATALOG")
    READERS[reader_cls.name] = reader_cls()
    return reader_cls


def _load_readers() -> None:
    for module, _ in CATALOG.values():
        importlib.import_module(f"{__name__}.{module}")


def reader_names() -> list[str]:
    return sorted(CATALOG)


def format_help() -> str:
    """The ``--format`` help: every reader with its one-line description."""
    return "auto (detect per file), or one of: " + "; ".join(f"{name}: {CATALOG[name][1]}" for name in reader_names())


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _inside(path: Path, folders: tuple[Path, ...]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


def expand_paths(pattern: str, exclude: Iterable[Path] = ()) -> list[Path]:
    """A file, a folder (its files, recursively) or a glob; sorted for a deterministic order. Files
    under an ``exclude`` folder (a run's own output folder inside an input folder) are left out."""
    excluded = tuple(_resolved(folder) for folder in exclude)
    path = Path(pattern)
    if path.is_dir():
        # hidden files and folders (.git, .cache, a tool's scratch) are not logs
        found = sorted(p for p in path.rglob("*")
                       if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
    elif path.is_file():
        found = [path]
    else:
        found = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        if not found:
            raise InputError("no such file, folder or glob match", file=pattern)
    return [p for p in found if not _inside(_resolved(p), excluded)] if excluded else found


SNIFF_LINES = 50  # a broken first line (a crash mid-write) must not hide the file's format
SNIFF_VALUES = 5  # an odd first call (an error, a lone span) must not either
WHOLE_DOCUMENT_BYTES = 256 * 2**20  # a pretty-printed export is parsed whole only up to this size


def first_values(path: Path, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> list[Any]:
    """The first few JSON values of a file (parseable lines among the first SNIFF_LINES), or
    the whole file if that is one JSON document (a pretty-printed export)."""
    values: list[Any] = []
    first_byte = b""
    with open_input(path) as handle:
        for line_no, _, raw in raw_lines(handle, str(path), max_line_bytes):
            if line_no > SNIFF_LINES or len(values) == SNIFF_VALUES:
                break
            if isinstance(raw, bytes) and raw.strip():
                first_byte = first_byte or raw.lstrip()[:1]
                try:
                    values.append(orjson.loads(raw))
                except orjson.JSONDecodeError:
                    continue
    if values or first_byte not in (b"{", b"["):
        return values
    try:
        return [whole_document(path)]
    except orjson.JSONDecodeError:
        return []


def whole_document(path: Path) -> Any:
    """A file (plain or compressed) parsed as one JSON document, a BOM dropped; JSONDecodeError if it is not one."""
    with open_input(path) as handle:
        return orjson.loads(handle.read(WHOLE_DOCUMENT_BYTES).removeprefix(BOM))


def table_suffix(path: Path) -> str:
    """The suffix that says a file is a table: ``.csv`` for ``tickets.csv`` and ``tickets.csv.gz``."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if len(suffixes) > 1 and suffixes[-1] in COMPRESSED_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def is_empty(path: Path) -> bool:
    """True for a file with nothing but whitespace in it once decompressed (read in chunks: a big
    binary file without line breaks is not read line by line)."""
    with open_input(path) as handle:
        try:
            chunk = handle.read(1 << 16).removeprefix(BOM)
            while chunk:
                if chunk.strip():
                    return False
                chunk = handle.read(1 << 16)
        except DECOMPRESS_ERRORS:
            return False  # damaged: its reader says where
    return True


def detect(path: Path, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Reader:
    """Pick the reader for a file, or raise an error naming the file and the formats we know."""
    _load_readers()
    table = table_suffix(path) in TABLE_SUFFIXES
    values = [None] if table else first_values(path, max_line_bytes)
    for reader in sorted(READERS.values(), key=lambda r: (r.priority, r.name)):
        if any(_claims(reader, value, path) for value in values):
            return reader
    if not values:
        raise InputError("no line of this file is JSON, so its format cannot be detected; "
                         "pass --format to force one", file=str(path), line=1)
    raise InputError(f"unknown log format; pass --format with one of: {', '.join(reader_names())}",
                     file=str(path), line=1)


def _claims(reader: Reader, value: Any, path: Path) -> bool:
    try:
        return bool(reader.sniff(value, path))
    except (KeyError, TypeError, AttributeError, IndexError):
        return False


def get_reader(name: str) -> Reader:
    if name not in CATALOG:
        raise InputError(f"unknown format '{name}'; use auto or one of: {', '.join(reader_names())}")
    _load_readers()
    return READERS[name]


@dataclass(slots=True)
class Skipped:
    """A file of a folder or glob that no reader reads (a README, an image) or that is empty."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


def read_inputs(inputs: Iterable[Any], exclude: Iterable[Path] = (),
                on_skip: Callable[[Skipped], None] = lambda skipped: None, engine: Any = None
                ) -> Iterator[Item | Serialized]:
    """Stream records and bad lines from every input: reader by reader (in the order their
    first file appears), files in input order within a reader.

    A reader gets all its files with the same options at once, across inputs, so readers that
    join files (batch input + output, runs + feedback) see them together even when they were
    given as separate paths (``dataprep mine batch_in.jsonl batch_out.jsonl``). A file reached
    twice (listed twice, a symlink, overlapping globs) is read once. Files of a folder or glob
    that no reader recognises, and empty files, are passed to ``on_skip``; an explicitly named
    unrecognised file is an error, and so is finding nothing readable at all. With an ``engine``
    (``dataprep.engine``), big plain files of a ``splittable`` reader are read in pieces on it: the
    pieces' bytes go to the workers (which need not see this machine's files), their records come
    back as lines.
    """
    groups: dict[tuple[str, bytes], tuple[list[Path], ReadOptions]] = {}
    seen: set[tuple[int, int]] = set()
    skipped: list[Skipped] = []
    exclude = tuple(exclude)
    for spec in inputs:
        options = ReadOptions(mapping=dict(spec.mapping),
                              max_line_bytes=spec.max_line_bytes or DEFAULT_MAX_LINE_BYTES)
        explicit = Path(spec.path).is_file()
        forced = None if spec.format == "auto" else get_reader(spec.format)
        for path in expand_paths(spec.path, exclude):
            status = path.stat()
            if (status.st_dev, status.st_ino) in seen:
                continue
            seen.add((status.st_dev, status.st_ino))
            reader = _reader_for(path, forced, explicit, options.max_line_bytes, skipped)
            if reader is not None:
                key = (reader.name, orjson.dumps([options.mapping, options.max_line_bytes], option=orjson.OPT_SORT_KEYS))
                groups.setdefault(key, ([], options))[0].append(path)
    if not groups:
        raise InputError(_nothing_readable(skipped), file=", ".join(sorted({s.path for s in skipped})[:3]) or None)
    for item in skipped:
        on_skip(item)
    for (name, _), (paths, options) in groups.items():
        reader = READERS[name]
        if engine is None or not reader.splittable:
            yield from reader.read_files(paths, options)
            continue
        for path in paths:
            pieces = split_file(path, PIECE_BYTES) if engine.runs_elsewhere(path.stat().st_size // PIECE_BYTES) else []
            if len(pieces) < 2 or max(piece.end - piece.start for piece in pieces) > PIECE_BYTES_SHIPPED:
                yield from reader.read_file(path, options)  # small, compressed, holding a huge line, or read here anyway
                continue
            converted = engine.map_batches(read_pieces, ([shipped] for shipped in piece_bytes(path, pieces)), name, options)
            yield from reader.in_order(item for items in converted for item in items)


def read_pieces(pieces: list[tuple[Piece, bytes]], reader: str, options: ReadOptions) -> list[Serialized | BadLine]:
    """Engine work: the items of some pieces of a file, in order, records as their lines."""
    converting = get_reader(reader)
    return [Serialized.of(item) if isinstance(item, Record) else item for piece, data in pieces
            for item in converting.convert_lines(piece_lines(piece, data, options.max_line_bytes), options)]


def _reader_for(path: Path, forced: Reader | None, explicit: bool, max_line_bytes: int,
                skipped: list[Skipped]) -> Reader | None:
    """The file's reader (``forced``, else detected), or None (noted in ``skipped``) for an empty file
    or, in a folder or glob, one no reader recognises."""
    if is_empty(path):
        skipped.append(Skipped(str(path), "empty file"))
        return None
    if forced is not None:
        return forced
    try:
        return detect(path, max_line_bytes)
    except InputError as exc:
        if explicit:
            raise
        skipped.append(Skipped(str(path), exc.message))
        return None


def _nothing_readable(skipped: list[Skipped]) -> str:
    reasons = sorted({s.reason for s in skipped})
    return f"nothing readable: {len(skipped)} file(s) skipped ({'; '.join(reasons)[:300]})"
