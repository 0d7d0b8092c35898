"""JSONL reading that reports every bad line, and atomic writing.

Readers never raise on a bad line: they yield a ``BadLine`` carrying the file, the
line number and a reason a person understands, so the caller can route it to
``rejected.jsonl`` instead of losing it.
"""

from __future__ import annotations

import bz2
import gzip
import io
import os
import re
import shutil
import tempfile
import zlib
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

import orjson
import zstandard

from .errors import InputError, OutputError

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


def line_excerpt(raw: bytes) -> str:
    """The start of a bad line, for rejected.jsonl."""
    return excerpt_of(raw[:RAW_EXCERPT_CHARS * 4].decode("utf-8", errors="backslashreplace"), RAW_EXCERPT_CHARS)


def excerpt_of(text: str, limit: int) -> str:
    """The start of logged text, cut between tokens: half an email or key at the cut would be
    missed by the PII scrubber and kept."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    boundary = max(cut.rfind(char) for char in ' ",:\t{}[]')
    return cut[:boundary] if boundary > limit // 2 else cut[:limit // 2]


def parse_line(raw: bytes, file: str, line_no: int) -> Line | BadLine | None:
    """Parse one physical line; ``None`` for a blank line (blank lines are not records)."""
    stripped = raw.strip()
    if not stripped:
        return None
    try:
        stripped.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadLine(file, line_no, f"not UTF-8 (byte 0x{stripped[exc.start]:02x} at column {exc.start + 1})", line_excerpt(stripped))
    try:
        return Line(file, line_no, orjson.loads(stripped))
    except orjson.JSONDecodeError as exc:
        return BadLine(file, line_no, f"not valid JSON ({exc.msg} at column {exc.colno})", line_excerpt(stripped))


# -- opening inputs: compressed or not, judged by their first bytes rather than their names ---------
DEFAULT_MAX_LINE_BYTES = 64 * 2**20
BOM = b"\xef\xbb\xbf"
BZIP2_MAGIC = re.compile(rb"BZh[1-9](\x31\x41\x59\x26\x53\x59|\x17\x72\x45\x38\x50\x90)")  # a block or the end
DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, zstandard.ZstdError)


def _zstd_stream(path: str | os.PathLike[str]) -> BinaryIO:
    raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    return io.BufferedReader(raw, buffer_size=1 << 20)


DECOMPRESSORS: dict[str, Callable[[Any], BinaryIO]] = {
    "gzip": partial(gzip.open, mode="rb"), "bz2": partial(bz2.open, mode="rb"), "zstd": _zstd_stream}


def compression_of(path: str | os.PathLike[str]) -> str | None:
    """``"gzip"``, ``"zstd"``, ``"bz2"`` or ``None``, from the file's magic bytes; a file that only starts
    like one (a log line beginning with those bytes) and does not decompress to anything is plain: its
    line is read, and rejected if it is no record, never lost."""
    with open(path, "rb") as handle:
        head = handle.read(10)
    kind = ("gzip" if head.startswith(b"\x1f\x8b") else "zstd" if head.startswith(b"\x28\xb5\x2f\xfd")
            else "bz2" if BZIP2_MAGIC.match(head) else None)
    if kind is None:
        return None
    try:
        with DECOMPRESSORS[kind](path) as stream:
            decompresses = bool(stream.read(1))  # a cut zstd frame reads as empty rather than failing
    except DECOMPRESS_ERRORS:
        return None
    return kind if decompresses else None


def open_input(path: str | os.PathLike[str]) -> BinaryIO:
    """A binary stream of the file's content, decompressed on the fly (never whole in memory)."""
    try:
        kind = compression_of(path)
        return DECOMPRESSORS[kind](path) if kind else open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", file=str(path)) from None


def raw_lines(handle: BinaryIO, file: str, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, first_line: int = 1
              ) -> Iterator[tuple[int, int, bytes | BadLine]]:
    """``(line number, byte offset, bytes)`` of each physical line of a stream, a UTF-8 BOM dropped;
    a stream that starts at line ``first_line`` of its file (a ``Piece``) numbers its lines from there.

    A line over ``max_line_bytes`` comes as a BadLine instead, read past in chunks so it is never held
    whole; a damaged compressed stream ends with a BadLine saying so (the rest cannot be read)."""
    offset, line_no = 0, first_line - 1
    try:
        if first_line == 1 and handle.peek(len(BOM)).startswith(BOM):
            offset = len(handle.read(len(BOM)))
        for line_no, raw in enumerate(iter(partial(handle.readline, max_line_bytes + 1), b""), start=first_line):
            start = offset
            offset += len(raw)
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                rest, newline = _rest_of_line(handle)
                offset += rest
                raw = BadLine(file, line_no, f"line is {_size(offset - start - newline)}, over the "
                                             f"{_size(max_line_bytes)} limit (max_line_bytes)", line_excerpt(raw))
            yield line_no, start, raw
    except DECOMPRESS_ERRORS as exc:
        yield line_no + 1, offset, BadLine(file, line_no + 1, f"the compressed data is damaged or cut short here "
                                                              f"({exc}); nothing after this line can be read", "")


def _rest_of_line(handle: BinaryIO) -> tuple[int, int]:
    """Read past the rest of an over-long line a chunk at a time: (bytes read, of which newline)."""
    read = 0
    while True:
        chunk = handle.readline(1 << 20)
        read += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return read, len(chunk) - len(chunk.rstrip(b"\r\n"))


def _size(count: int) -> str:
    return f"{count / 2**20:,.0f} MB" if count >= 2**20 else f"{count:,} bytes"


def iter_lines(path: str | os.PathLike[str], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
               ) -> Iterator[Line | BadLine]:
    """Stream a JSONL file (plain or compressed) as parsed lines or bad lines, in order, with 1-based
    line numbers of its (decompressed) text."""
    for _, parsed in located_lines(path, max_line_bytes):
        yield parsed


def located_lines(path: str | os.PathLike[str], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
                  ) -> Iterator[tuple[int, Line | BadLine]]:
    """``iter_lines`` with each line's byte offset in the decompressed text, for ``SeekableLines``."""
    with open_input(path) as handle:
        yield from _parsed(raw_lines(handle, str(path), max_line_bytes), str(path))


def _parsed(lines: Iterable[tuple[int, int, bytes | BadLine]], name: str) -> Iterator[tuple[int, Line | BadLine]]:
    for line_no, offset, raw in lines:
        parsed = raw if isinstance(raw, BadLine) else parse_line(raw, name, line_no)
        if parsed is not None:
            yield offset, parsed


# -- pieces: a big plain file read by several workers at once ---------------------------------------
@dataclass(frozen=True, slots=True)
class Piece:
    """Whole lines of a plain file: the bytes from ``start`` to ``end``, the first of them line ``first_line``."""

    path: str
    start: int
    end: int
    first_line: int


SPLIT_BLOCK = 16 * 2**20  # bytes read at a time while looking for where pieces start


def split_file(path: str | os.PathLike[str], piece_bytes: int) -> list[Piece]:
    """The file cut into pieces of about ``piece_bytes`` at line ends, each with the number of its first
    line (newlines counted, a few GB/s); one piece for a file no bigger, none for a compressed one
    (it cannot be entered midway)."""
    name = str(path)
    size = os.path.getsize(path)
    if compression_of(path) is not None:
        return []
    pieces, start, first_line, cut = [], 0, 1, piece_bytes  # the piece being cut: where it starts, its first line
    position, line = 0, 1  # where the block starts in the file; the line reached in it
    with open(path, "rb") as handle:
        while cut < size and (block := handle.read(SPLIT_BLOCK)):
            counted = 0  # the block's newlines before here are counted in ``line``
            while cut < position + len(block):
                end = block.find(b"\n", max(cut - position, 0))
                if end < 0:
                    break  # this line ends in a later block: cut there
                line += block.count(b"\n", counted, end + 1)
                pieces.append(Piece(name, start, position + end + 1, first_line))
                counted, start, first_line, cut = end + 1, position + end + 1, line, position + end + 1 + piece_bytes
            line += block.count(b"\n", counted)
            position += len(block)
    return [*pieces, Piece(name, start, size, first_line)] if start < size else pieces


def piece_lines(piece: Piece, data: bytes, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[Line | BadLine]:
    """The parsed lines of a piece, from its bytes (``data``), numbered as in the whole file."""
    stream = io.BufferedReader(io.BytesIO(data))
    for _, parsed in _parsed(raw_lines(stream, piece.path, max_line_bytes, piece.first_line), piece.path):
        yield parsed


def piece_bytes(path: str | os.PathLike[str], pieces: Iterable[Piece]) -> Iterator[tuple[Piece, bytes]]:
    """Each piece with its bytes, read in order: what a worker gets, so none reads the user's files."""
    with open(path, "rb") as handle:
        for piece in pieces:
            handle.seek(piece.start)
            yield piece, handle.read(piece.end - piece.start)


class SeekableLines:
    """Lines read back by byte offset, for readers that index a file and return to it: a compressed
    file is decompressed once into a temporary file (on disk, not in memory) to seek in."""

    def __init__(self) -> None:
        self.handles: dict[str, BinaryIO] = {}

    def line_at(self, file: str, offset: int, line_no: int) -> Line | BadLine | None:
        handle = self.handles.get(file) or self.handles.setdefault(file, self.open_file(file))
        handle.seek(offset)
        return parse_line(handle.readline(), file, line_no)

    @staticmethod
    def open_file(file: str) -> BinaryIO:
        """The file, or for a compressed one a seekable temporary copy of its content."""
        if compression_of(file) is None:
            return open(file, "rb")
        copy = tempfile.TemporaryFile()
        with open_input(file) as source:
            shutil.copyfileobj(source, copy, 1 << 20)
        return copy

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()


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
        self.write_raw(dumps(value) + b"\n")
        self.count += 1

    def write_line(self, line: bytes) -> None:
        """A value already dumped (``dumps(value) + b"\\n"``), elsewhere."""
        self.write_raw(line)
        self.count += 1

    def write_raw(self, data: bytes) -> None:
        try:  # a plain try on this hot path: a context manager per record costs three times the write
            self._handle.write(data)
        except OSError as exc:
            raise self._failed(exc) from None

    def commit(self) -> None:
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            os.replace(self._tmp, self.path)
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> OutputError:
        """A full disk or a size limit surfaces as an error naming the file being written."""
        return OutputError(f"cannot write {self.path}: {exc.strerror or exc}")

    def abort(self) -> None:
        with suppress(OSError):  # the buffer's last flush fails again on a full disk: it is discarded anyway
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
