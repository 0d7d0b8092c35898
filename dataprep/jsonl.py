"""JSONL reading that reports every bad line, and atomic writing.

Readers never raise on a bad line: they yield a ``BadLine`` carrying the file, the
line number and a reason a person understands, so the caller can route it to
``rejected.jsonl`` instead of losing it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from .errors import InputError

RAW_EXCERPT_CHARS = 2000
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@dataclass(slots=True)
class BadLine:
    file: str
    line: int
    reason: str
    raw: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "disposition": {"place": "rejected", "stage": "read", "reason": self.reason},
            "source": {"file": self.file, "line": self.line},
            "raw": self.raw,
        }


@dataclass(slots=True)
class Line:
    file: str
    line: int
    value: Any


def _excerpt(raw: bytes) -> str:
    return raw[:RAW_EXCERPT_CHARS].decode("utf-8", errors="backslashreplace")


def parse_line(raw: bytes, file: str, line_no: int) -> Line | BadLine | None:
    """Parse one physical line; ``None`` for a blank line (blank lines are not records)."""
    stripped = raw.strip()
    if not stripped:
        return None
    try:
        stripped.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadLine(file, line_no, f"not UTF-8 (byte 0x{stripped[exc.start]:02x} at column {exc.start + 1})", _excerpt(stripped))
    try:
        return Line(file, line_no, orjson.loads(stripped))
    except orjson.JSONDecodeError as exc:
        return BadLine(file, line_no, f"not valid JSON ({exc.msg} at column {exc.colno})", _excerpt(stripped))


def iter_lines(path: str | os.PathLike[str]) -> Iterator[Line | BadLine]:
    """Stream a JSONL file as parsed lines or bad lines, in order, with 1-based line numbers."""
    name = str(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", file=name) from None
    with handle:
        for line_no, raw in enumerate(handle, start=1):
            parsed = parse_line(raw, name, line_no)
            if parsed is not None:
                yield parsed


def dumps(value: Any) -> bytes:
    """Canonical JSON for output files: sorted keys, so identical runs give identical bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


class AtomicWriter:
    """Write a file through a temp file in the same folder and rename it into place on success.

    A crash never leaves a half-written file that looks whole: until ``commit`` the
    target either does not exist or still holds the previous complete version.
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
        self._tmp = Path(tmp)
        self._handle = os.fdopen(fd, "wb", buffering=1 << 20)
        self.count = 0

    def write(self, value: Any) -> None:
        self._handle.write(dumps(value))
        self._handle.write(b"\n")
        self.count += 1

    def write_raw(self, data: bytes) -> None:
        self._handle.write(data)

    def commit(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "AtomicWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_jsonl(path: str | os.PathLike[str], values: Iterable[Any]) -> int:
    with AtomicWriter(path) as writer:
        for value in values:
            writer.write(value)
    return writer.count


def write_json(path: str | os.PathLike[str], value: Any) -> None:
    with AtomicWriter(path) as writer:
        writer.write_raw(orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
        writer.write_raw(b"\n")
