"""Readers: turn log files of any known shape into records.

Each reader module registers a ``Reader``. ``read_inputs`` expands each input's
path, picks the reader per file (auto-detected from the file's first value, or
forced), and streams records and bad lines. Readers that join several files (batch
input + output, runs + feedback) receive all files of their format at once.
"""

from __future__ import annotations

import glob
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator

import orjson

from ..errors import InputError
from ..jsonl import BadLine, Line, iter_lines
from ..record import Record

Item = Record | BadLine
READERS: dict[str, "Reader"] = {}
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")


class Reader:
    """A log format. ``sniff`` looks at a file's first JSON value; ``read_files`` streams items."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: lower runs first when several readers claim a file
    priority: ClassVar[int] = 50

    def sniff(self, first: Any, path: Path) -> bool:
        return False

    def read_files(self, paths: list[Path], options: "ReadOptions") -> Iterator[Item]:
        for path in paths:
            yield from self.read_file(path, options)

    def read_file(self, path: Path, options: "ReadOptions") -> Iterator[Item]:
        for line in iter_lines(path):
            if isinstance(line, BadLine):
                yield line
            else:
                yield from self.convert(line, options)

    def convert(self, line: Line, options: "ReadOptions") -> Iterator[Item]:
        """Turn one parsed line into zero or more records (or a BadLine saying why not)."""
        raise NotImplementedError


@dataclass(slots=True)
class ReadOptions:
    mapping: dict[str, str] = field(default_factory=dict)


def register(reader_cls: type[Reader]) -> type[Reader]:
    READERS[reader_cls.name] = reader_cls()
    return reader_cls


READER_MODULES = ("records", "openai_chat", "openai_responses", "openai_batch", "anthropic", "langsmith",
                  "langfuse", "otel", "litellm", "helicone", "tabular")


def _load_readers() -> None:
    for module in READER_MODULES:
        importlib.import_module(f"{__name__}.{module}")


def reader_names() -> list[str]:
    _load_readers()
    return sorted(READERS)


def expand_paths(pattern: str) -> list[Path]:
    """A file, a folder (its files, recursively) or a glob; sorted for a deterministic order."""
    path = Path(pattern)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    if path.is_file():
        return [path]
    matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not matches:
        raise InputError("no such file, folder or glob match", file=pattern)
    return matches


SNIFF_LINES = 50  # a broken first line (a crash mid-write) must not hide the file's format
SNIFF_VALUES = 5  # an odd first call (an error, a lone span) must not either


def first_values(path: Path) -> list[Any]:
    """The first few JSON values of a file (parseable lines among the first SNIFF_LINES), or
    the whole file if that is one JSON document (a pretty-printed export)."""
    values = []
    with open(path, "rb") as handle:
        for _, raw in zip(range(SNIFF_LINES), handle):
            if raw.strip():
                try:
                    values.append(orjson.loads(raw))
                except orjson.JSONDecodeError:
                    continue
                if len(values) == SNIFF_VALUES:
                    break
    if values:
        return values
    try:
        return [orjson.loads(path.read_bytes())]
    except (orjson.JSONDecodeError, OSError):
        return []


def detect(path: Path) -> Reader:
    """Pick the reader for a file, or raise an error naming the file and the formats we know."""
    _load_readers()
    table = path.suffix.lower() in TABLE_SUFFIXES
    values = [None] if table else first_values(path)
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
    _load_readers()
    if name not in READERS:
        raise InputError(f"unknown format '{name}'; use auto or one of: {', '.join(reader_names())}")
    return READERS[name]


def read_inputs(inputs: Iterable[Any]) -> Iterator[Item]:
    """Stream records and bad lines from every input: reader by reader (in the order their
    first file appears), files in input order within a reader.

    A reader gets all its files with the same mapping at once, across inputs, so readers that
    join files (batch input + output, runs + feedback) see them together even when they were
    given as separate paths (``dataprep mine batch_in.jsonl batch_out.jsonl``).
    """
    groups: dict[tuple[str, bytes], tuple[list[Path], ReadOptions]] = {}
    for spec in inputs:
        options = ReadOptions(mapping=dict(spec.mapping))
        for path in expand_paths(spec.path):
            reader = detect(path) if spec.format == "auto" else get_reader(spec.format)
            key = (reader.name, orjson.dumps(options.mapping, option=orjson.OPT_SORT_KEYS))
            groups.setdefault(key, ([], options))[0].append(path)
    for (name, _), (paths, options) in groups.items():
        yield from READERS[name].read_files(paths, options)
