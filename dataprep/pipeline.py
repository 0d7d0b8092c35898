"""The pipeline runner: stages register by name; the runner owns ordering, progress,
timing, the run folder, the manifest, resume and the nothing-lost accounting.

A stage is a small object whose ``run`` takes a re-iterable stream of records and
yields the records that go on. A record it routes out of training goes to
``ctx.set_aside`` (rag_candidates, duplicates or rejected) and never to nowhere.
Every stage's output is written to ``<run>/.work/NN-stage/`` atomically, so a run
killed at any point resumes from the last completed stage with identical results.
"""

from __future__ import annotations

import hashlib
import time
from functools import cache, lru_cache
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator, Sequence

import orjson

from .engine import InProcessEngine
from .errors import AccountingError, UsageError
from .jsonl import AtomicWriter, BadLine
from .record import PLACES, Record, Serialized

ASIDE_PLACES = ("rag_candidates", "duplicates", "rejected")
PROGRESS_EVERY = 512  # records between progress-bar updates: per-record updates cost more than the work
STAGES: dict[str, type["Stage"]] = {}


@cache
def default_scrubber() -> Any:
    from .pii import Scrubber

    return Scrubber()


@lru_cache(maxsize=4096)
def scrubbed_reason(reason: str, scrubber: Any = None) -> str:
    """A set-aside reason, PII-scrubbed by ``scrubber`` (the run's; None: the built-in detectors);
    reasons repeat ("absorbed by a longer call..."), and scrubbing each anew cost a fifth of the
    mine stage."""
    return (scrubber or default_scrubber()).scrub_text(reason)


def register(cls: type["Stage"]) -> type["Stage"]:
    """Class decorator: make a stage available to recipes under ``cls.name``."""
    STAGES[cls.name] = cls
    return cls


def get_stage(name: str) -> type["Stage"]:
    from . import stages  # noqa: F401  (importing the package registers every stage)

    if name not in STAGES:
        raise UsageError(f"unknown stage '{name}'; use one of: {', '.join(sorted(STAGES))}")
    return STAGES[name]


class Stage:
    """Base class. Subclasses set ``name`` and implement ``run``."""

    name: ClassVar[str]
    #: JSON Schema of the options, for stages without a file in schemas/stages/ (plugins)
    options_schema: ClassVar[dict[str, Any] | None] = None

    def __init__(self, **options: Any):
        self.options = options

    def run(self, records: "RecordSource", ctx: "StageContext") -> Iterator[Record]:
        raise NotImplementedError

    def fingerprint_extra(self, ctx: "StageContext") -> str:
        """Anything outside the records and options that changes this stage's result
        (e.g. review verdicts pulled since the last run); a change re-runs it on resume."""
        return ""


class RecordSource:
    """A re-iterable stream of records from a record JSONL file (stages may pass over it twice)."""

    def __init__(self, path: Path, count: int):
        self.path = path
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Record]:
        return map(Record.from_json, self.lines())

    def lines(self) -> Iterator[bytes]:
        """The records as their lines, unparsed: for work that parses them elsewhere."""
        with open(self.path, "rb") as handle:
            yield from handle

    def select(self, wanted: Sequence[int]) -> Iterator[tuple[int, Record]]:
        """(index, record) of the wanted records (indices sorted and unique, e.g. a numpy
        array from flatnonzero); the lines of the others are skipped unparsed, so a pass for a
        few records costs a read, not a parse of every line."""
        return ((index, Record.from_json(line)) for index, line in self.selected_lines(wanted))

    def selected_lines(self, wanted: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """(index, line) of the wanted records, unparsed (see ``select``)."""
        if not len(wanted):
            return
        with open(self.path, "rb") as handle:
            position = 0
            for index, line in enumerate(handle):
                if index == wanted[position]:
                    yield index, line
                    position += 1
                    if position == len(wanted):
                        return


def aside_disposition(place: str, stage: str, reason: str, detail: dict[str, Any], scrubber: Any = None) -> dict[str, Any]:
    """Where a record set aside goes and why (``StageContext.set_aside``), made wherever the record is."""
    if place not in ASIDE_PLACES:
        raise ValueError(f"unknown place {place!r}; use one of {ASIDE_PLACES}")
    # a reason can quote the data ("error: no account for maria@example.com"): scrubbed like it
    return {"place": place, "stage": stage, "reason": scrubbed_reason(reason, scrubber), **detail}


def write_to(writer: AtomicWriter, value: "dict[str, Any] | Serialized") -> None:
    if isinstance(value, Serialized):
        writer.write_line(value.line)
    else:
        writer.write(value)


@dataclass
class StageContext:
    """What a stage may use: its scratch folder, the run's shared cache, the seed, and the aside writer."""

    stage: str
    run_dir: Path
    work_dir: Path
    seed: int = 0
    recipe_dir: Path = field(default_factory=Path.cwd)
    cache_dir: Path | None = None
    run_budget: Any = None  # providers.pricing.Budget shared by every LLM stage of a run (recipe budget_usd)
    planning: bool = False  # `run --plan`: LLM stages estimate their calls and cost, and send nothing
    stats: dict[str, Any] = field(default_factory=dict)
    engine: Any = field(default_factory=InProcessEngine)  # engine.Engine: where per-record work runs
    #: the run's PII scrubber (the first mine stage's; None when the recipe turned scrubbing off), for
    #: records a stage makes: the same values are scrubbed in them as in the logs
    scrubber: Any = field(default_factory=default_scrubber)
    _aside: Callable[[str, "dict[str, Any] | Serialized"], None] | None = None

    def scrubbed_text(self, text: str) -> str:
        """Text a stage puts in a record from outside the logs (a model's words, a reviewer's, a
        passage of the team's documents), scrubbed with the run's scrubber: the output guard passes
        over records a stage has scrubbed. As it is when the recipe turned scrubbing off."""
        return self.scrubber.scrub_text(text) if self.scrubber is not None else text

    def scrubbed_record(self, record: Record) -> Record:
        """A record a stage makes with text from outside the logs (a model's examples, a passage of
        the team's documents), scrubbed with the run's scrubber and tagged so: it holds one form of
        each value the logs hold ("order <ORDER_1>", never "order LF-582114" beside it), and a later
        stage that sends records off the machine takes it. As it is when the recipe turned
        scrubbing off."""
        if self.scrubber is not None:
            from .pii import tag_scrubbed

            tag_scrubbed(record, self.stage, self.scrubber.scrub_record(record))
        return record

    def set_aside(self, record: Record, place: str, reason: str, **detail: Any) -> None:
        """Route ``record`` out of training to ``place`` with a reason a person understands."""
        record.disposition = aside_disposition(place, self.stage, reason, detail, self.scrubber)
        self._aside(place, record.to_dict())

    def set_aside_serialized(self, place: str, record: Serialized) -> None:
        """A record set aside where the work ran (its disposition made by ``aside_disposition``)."""
        self._aside(place, record)

    def reject_line(self, bad: BadLine) -> None:
        """Route an unreadable input line to rejected.jsonl with its file and line; its text and
        the reason (which may quote it) are PII-scrubbed first (a failed call's log line can hold
        keys and customers' details), with the run's scrubber, so a recipe's own patterns and
        regions count here too; with the defaults when the recipe keeps records as logged, as a
        line no reader could parse is no record."""
        from .record_fields import pseudonymize_identity_text

        value = bad.to_dict()
        value["raw"] = (self.scrubber or default_scrubber()).scrub_text(pseudonymize_identity_text(value["raw"]))
        value["disposition"]["reason"] = scrubbed_reason(value["disposition"]["reason"], self.scrubber)
        self._aside("rejected", value)

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n


@dataclass
class StageResult:
    name: str
    consumed: int
    produced: int
    set_aside: dict[str, int]
    seconds: float
    stats: dict[str, Any]

    @property
    def created(self) -> int:
        """Records a stage added (e.g. synthetic examples): what came out minus what went in."""
        return self.produced + sum(self.set_aside.values()) - self.consumed

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> "StageResult":
        return cls(saved["stage"], saved["in"], saved["out"], saved["set_aside"], saved["seconds"], saved["stats"])

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.name, "in": self.consumed, "out": self.produced, "set_aside": self.set_aside,
                "created": self.created, "seconds": round(self.seconds, 3), "stats": self.stats}


class AsideWriters:
    """One atomic writer per place, opened on first use."""

    def __init__(self, paths: dict[str, Path]):
        self.paths = paths
        self.writers: dict[str, AtomicWriter] = {}

    def write(self, place: str, value: "dict[str, Any] | Serialized") -> None:
        writer = self.writers.get(place)
        if writer is None:
            writer = self.writers[place] = AtomicWriter(self.paths[place])
        write_to(writer, value)

    def counts(self) -> dict[str, int]:
        return {place: writer.count for place, writer in self.writers.items()}

    def commit(self) -> None:
        for writer in self.writers.values():
            writer.commit()

    def abort(self) -> None:
        for writer in self.writers.values():
            writer.abort()


def execute(stage: Stage, produce: Callable[[StageContext], Iterable[Record | Serialized]], consumed: Callable[[], int],
            out_path: Path, aside_paths: dict[str, Path], ctx: StageContext,
            tick: Callable[[int], None] = lambda n: None) -> StageResult:
    """Run one stage: stream its output to ``out_path`` and its set-asides to ``aside_paths``, atomically.

    Checks the stage lost nothing: every record it consumed came out, went aside, or
    the stage says it created more than it consumed (never fewer).
    """
    asides = AsideWriters(aside_paths)
    ctx._aside = asides.write
    started = time.perf_counter()
    writer = AtomicWriter(out_path)
    try:
        for record in produce(ctx):
            write_to(writer, record if isinstance(record, Serialized) else record.to_dict())
            if writer.count % PROGRESS_EVERY == 0:
                tick(PROGRESS_EVERY)
        result = StageResult(stage.name, consumed(), writer.count, asides.counts(), time.perf_counter() - started, ctx.stats)
        if result.created < 0:
            raise AccountingError(f"stage '{stage.name}' lost {-result.created} record(s): "
                                  f"{result.consumed} in, {result.produced} out, {sum(result.set_aside.values())} set aside")
        writer.commit()
        asides.commit()
    except BaseException:
        writer.abort()
        asides.abort()
        raise
    return result


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def files_fingerprint(paths: Iterable[Path]) -> str:
    """Changes when any of the files changes (name, size or modification time)."""
    return fingerprint([(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths if p.is_file()])


def concat_files(paths: Iterable[Path], target: Path, change: Callable[[bytes], bytes] | None = None) -> int:
    """Concatenate JSONL files into ``target`` atomically, each line through ``change`` when
    given; returns the number of lines."""
    with AtomicWriter(target) as writer:
        for path in paths:
            if path.exists():
                with open(path, "rb") as handle:
                    for line in handle:
                        writer.write_raw(change(line) if change else line)
                        writer.count += 1
    return writer.count


def output_paths(run_dir: Path) -> dict[str, Path]:
    return {place: run_dir / f"{place}.jsonl" for place in PLACES}


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("dataprep", "datasketch", "openai", "anthropic", "label-studio-sdk", "datasets", "tiktoken"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def stage_dir_name(index: int, name: str) -> str:
    return f"{index:02d}-{name}"
