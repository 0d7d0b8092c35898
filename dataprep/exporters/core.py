"""The export loop every format shares: read records, convert, validate each row, count.

A row that would fail its format's check stops the export with an error naming the
record (nothing is written: callers write through ``AtomicWriter`` or a temp folder).
The one exception is an example over the target's context limit: it is skipped and
counted, since a long conversation is a property of the data, not a bug in it. Provider
limits on a whole file (too few or too many examples) are warnings in the summary's ``limits``.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import schemas
from ..engine import Engine, batched
from ..errors import DataprepError, RecipeError
from ..formats.records import read_strict
from ..record import Record
from ..tokens import count_strings
from ..validate import (OPENAI_FORMATS, RULES, Checked, Checker, Settings, as_numpy, dataset_limits, model_context,
                        schema_problems, training_cost)
from .rows import CONVERTERS, Row, RowOptions, Skip, convert, left_out_turns

FORMATS = tuple(CONVERTERS)
TOO_LONG = "over the context limit"


class ExportInvalid(DataprepError):
    """A row would fail its format's validation."""


@dataclass(frozen=True)
class ExportOptions:
    """A recipe's ``export.options`` (schema: ``schemas/export/options.schema.json``)."""

    rows: RowOptions = field(default_factory=RowOptions)
    settings: dict[str, Any] = field(default_factory=dict)  # model, context_limit, price_per_million_tokens, epochs

    @classmethod
    def parse(cls, options: dict[str, Any] | None, where: str = "export.options") -> "ExportOptions":
        options = options or {}
        for path, message in schemas.errors("export/options", options, prefix=where):
            raise RecipeError(f"{path}: {message}")
        row_keys = RowOptions.__dataclass_fields__
        return cls(RowOptions(**{k: v for k, v in options.items() if k in row_keys}),
                   {k: v for k, v in options.items() if k not in row_keys})


@dataclass
class ExportSummary:
    format: str
    path: str
    records_in: int = 0
    written: int = 0
    skipped: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    splits: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    review: Counter = field(default_factory=Counter)
    tokens: array = field(default_factory=lambda: array("q"))

    def wrote(self, record: Record, checked: Checked) -> None:
        self.written += 1
        self.splits[record.split] += 1
        self.sources[record.source.get("format", "unknown")] += 1
        self.review[(record.review or {}).get("status", "not picked")] += 1
        self.warnings.update(p.cls for p in checked.warnings)
        self.tokens.append(checked.tokens or 0)

    def to_dict(self, options: ExportOptions) -> dict[str, Any]:
        counts = as_numpy(self.tokens)
        out = {"format": self.format, "path": self.path, "records_in": self.records_in, "written": self.written,
               "splits": dict(sorted(self.splits.items())), "skipped": dict(self.skipped.most_common()),
               "warnings": dict(self.warnings.most_common()), "tokens": int(counts.sum()),
               "sources": dict(self.sources.most_common()), "review": dict(self.review.most_common()),
               "limits": [{"class": p.cls, "message": p.message, "split": split} for split, count in sorted(self.splits.items())
                          for p in dataset_limits(self.format, count, split)] + self.model_limits(options)}
        if self.format in RULES and RULES[self.format].priced:
            out["training_cost"] = training_cost(counts, Settings.for_format(self.format, options.settings))
        return out

    def model_limits(self, options: ExportOptions) -> list[dict[str, Any]]:
        """A warning when the target model's training context is not known for this format."""
        model = options.settings.get("model")
        if not model or self.format not in (*OPENAI_FORMATS, "bedrock") or model_context(model, self.format):
            return []
        limit = Settings.for_format(self.format, options.settings).context_limit
        return [{"class": "unknown_model", "message": f"no known training context for model {model!r} "
                 f"as {self.format}; examples were checked against {limit:,} tokens (set context_limit)"}]


class RowCheck:
    """The check a row must pass before it is written: ``validate``'s rules for the formats it
    knows, the format's JSON Schema (``schemas/export/<format>.schema.json``) for the others."""

    def __init__(self, fmt: str, options: ExportOptions):
        self.fmt = fmt
        self.checker = Checker.for_format(fmt, options.settings) if fmt in RULES else None

    def check(self, row: Row, line: int) -> Checked:
        if self.checker:
            return self.checker.check(row, line)
        errors = schema_problems(f"export/{self.fmt}", row, line)
        return Checked(errors, [], None if errors else count_strings(row))


class NothingToExport(DataprepError):
    """Every record was skipped (e.g. no preference pairs for a DPO export), or there were none."""

    def __init__(self, message: str, *, records_in: int, **where: Any):
        super().__init__(message, **where)
        self.records_in = records_in


def export_rows(inputs: list[Path], fmt: str, options: ExportOptions, summary: ExportSummary,
                engine: Engine | None = None) -> Iterator[tuple[Record, Row]]:
    """Valid rows of ``inputs`` in format ``fmt``; skips are counted in ``summary``. On a
    distributed engine (Ray) records are converted and checked in batches as its tasks; elsewhere
    in this process, one by one: a row costs less to make than a record costs to ship to another
    process (benchmarks/bench_export.py). This process reads, counts and yields them in file order."""
    check = RowCheck(fmt, options)  # here: its limits may come from this process's environment
    for path in inputs:
        if engine is not None and engine.distributed:
            batches = engine.map_batches(converted_rows, batched(read_strict(path)), fmt, options.rows, check)
            converted = (item for batch in batches for item in batch)
        else:
            converted = (converted_row(line, record, fmt, options.rows, check) for line, record in read_strict(path))
        for line, record, row, checked in converted:
            summary.records_in += 1
            if isinstance(row, Skip):
                summary.skipped[row.reason] += 1
                continue
            if isinstance(row, str):
                raise ExportInvalid(row, file=str(path), line=line)
            if checked.errors and checked.errors[0].cls == "example_too_long":
                summary.skipped[TOO_LONG] += 1
                continue
            if checked.errors:
                first = checked.errors[0]
                raise ExportInvalid(f"record {record.id} would fail {fmt} validation: {first.cls}: {first.message}; "
                                    "nothing was written", file=str(path), line=line)
            summary.wrote(record, checked)
            summary.warnings.update(left_out_turns(fmt, record))
            yield record, row
    if not summary.written:
        reasons = ", ".join(f"{reason} ({n})" for reason, n in summary.skipped.most_common()) or "the input holds no records"
        raise NothingToExport(f"no record could be exported as {fmt}: {reasons}; nothing was written",
                              records_in=summary.records_in, file=", ".join(map(str, inputs)))


Converted = tuple[int, Record, "Row | Skip | str", "Checked | None"]


def converted_rows(batch: list[tuple[int, Record]], fmt: str, options: RowOptions, check: RowCheck) -> list[Converted]:
    return [converted_row(line, record, fmt, options, check) for line, record in batch]


def converted_row(line: int, record: Record, fmt: str, options: RowOptions, check: RowCheck) -> Converted:
    """(line, record, its row, the row's check): the row is a Skip for a record the format leaves
    out, and for one whose messages break the record schema, what is wrong, to be raised where the
    file is known (an exception with arguments of its own may not cross processes)."""
    row = convert_record(fmt, record, options)
    return line, record, row, check.check(row, line) if isinstance(row, dict) else None


def convert_record(fmt: str, record: Record, options: RowOptions) -> Row | Skip | str:
    try:
        return convert(fmt, record, options)
    except (KeyError, TypeError, AttributeError) as exc:  # a record that breaks the record schema
        return (f"record {record.id} has a malformed message ({type(exc).__name__}: {exc}); "
                "check it with the record schema")
