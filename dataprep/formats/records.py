"""Record JSONL, which includes plain OpenAI chat fine-tuning JSONL (``{"messages": [...]}``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator


from .. import schemas
from ..errors import InputError
from ..jsonl import BadLine, Line, iter_lines
from ..record import Record, Serialized, content_id, renamed
from . import READERS, Item, ReadOptions, Reader, register
from .common import excerpt, linked_calls


def problem_with(value: Any) -> str | None:
    """Why ``value`` is not a record (checked against schemas/record.schema.json), in words a
    person understands; ``None`` if it is one."""
    if not isinstance(value, dict):
        return f"expected a JSON object with 'messages', got {type(value).__name__}"
    if schemas.is_valid("record", value):
        return None
    path, message = next(schemas.errors("record", value))
    return f"{path}: {message}"


@register
class RecordReader(Reader):
    name = "records"
    priority = 90  # the most general shape: let specific log formats claim a file first
    splittable = True

    def sniff(self, first: Any, path: Path) -> bool:
        return isinstance(first, dict) and isinstance(first.get("messages"), list) and "response" not in first

    def in_order(self, items: Iterator[Item | Serialized]) -> Iterator[Item | Serialized]:
        """Identical examples in one file must stay distinguishable (the second is a duplicate *of* the
        first), so repeats of an id made from the content get a suffix."""
        seen: dict[str, int] = {}
        for item in items:
            if isinstance(item, (Record, Serialized)):
                occurrence = seen[item.id] = seen.get(item.id, 0) + 1
                if occurrence > 1:
                    record = item.record() if isinstance(item, Serialized) else item
                    if item.id == content_id(record.messages, record.tools):
                        item = renamed(item, f"{item.id}-{occurrence}")
            yield item

    def convert(self, line: Line, options: ReadOptions) -> Iterator[Item]:
        problem = problem_with(line.value)
        if problem:
            yield BadLine(line.file, line.line, problem, excerpt(line.value))
            return
        try:  # calls logged without an id get one here, before the id made from the content is
            record = Record.from_dict({**line.value, "messages": linked_calls(line.value["messages"])})
        except TypeError as exc:
            yield BadLine(line.file, line.line, f"field of the wrong type: {exc}", excerpt(line.value))
            return
        # A record file from an earlier run keeps its original source; a plain file gets one, and a
        # source that does not say where the record was read (a conversation id alone) gets where.
        if "file" not in record.source:
            record.source = {"format": "records", **record.source, "file": line.file, "line": line.line}
        yield record


def read_strict(path: Path) -> Iterator[tuple[int, Record]]:
    """Records of a record file with their line numbers, for inputs that must be whole (a
    reference set, a review queue, an export): a line that is not a record is an error
    naming its file and line, not a rejected line."""
    reader, options = READERS["records"], ReadOptions()
    for line in iter_lines(path):
        items = [line] if isinstance(line, BadLine) else list(reader.convert(line, options))
        for item in items:
            if isinstance(item, BadLine):
                raise InputError(f"not a record: {item.reason}", file=item.file, line=item.line)
            yield line.line, item
