"""Run steps over records: a recipe end to end, or one stage alone from the CLI.

The runner owns ordering, progress, timing, the run folder, resume and the
nothing-lost accounting; stages only transform records.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

import orjson
import xxhash
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import __version__
from .engine import make_engine
from .errors import AccountingError
from .formats import expand_paths, read_inputs
from .jsonl import AtomicWriter, write_json
from .pipeline import (ASIDE_PLACES, RecordSource, Stage, StageContext, StageResult, concat_files, default_scrubber,
                       execute, files_fingerprint, fingerprint, get_stage, output_paths, stage_dir_name, versions)
from .recipe import InputSpec, Recipe
from .report import write_report
from .run_folder import RunFolder
from .terminal import SafeConsole, error_line
from .run_facts import gather
from .pii import PII_TAG, Scrubber, tag_scrubbed
from .record import Record, Serialized, renamed


class ReadInputs(Stage):
    """Step 0: the readers turn log files into records; unreadable lines go to rejected."""

    name = "read"

    def __init__(self, inputs: list[InputSpec], limit: int | None = None):
        super().__init__(inputs=[{"path": s.path, "format": s.format, "mapping": s.mapping,
                                  "max_line_bytes": s.max_line_bytes} for s in inputs], limit=limit)
        self.inputs = inputs
        self.limit = limit  # a plan's sample: the first lines only
        self.lines_seen = 0

    def run(self, records: Any, ctx: StageContext) -> Iterator[Record]:
        """Records of every input; files skipped in a folder (not logs, or empty) are listed in
        ``ctx.stats["skipped"]`` (the runner warns about them); the run's own folder is never read back."""
        unique = UniqueIds()
        skipped = ctx.stats.setdefault("skipped", [])
        # a plan's sample reads a few lines here; a run reads big files in pieces on its engine
        engine = None if self.limit else ctx.engine
        for item in read_inputs(self.inputs, exclude=[ctx.run_dir], on_skip=lambda file: skipped.append(file.to_dict()),
                                engine=engine):
            if self.lines_seen == self.limit:
                break
            self.lines_seen += 1
            if isinstance(item, (Record, Serialized)):
                yield unique.claim(item)
            else:
                ctx.reject_line(item)

    def fingerprint_extra(self, ctx: StageContext) -> str:
        return files_fingerprint(path for spec in self.inputs for path in expand_paths(spec.path, [ctx.run_dir]))


class UniqueIds:
    """Ids are unique within a run: readers derive them from file name and line (stable across
    runs), so two exports both named tickets.csv would collide; a repeat gets a suffix."""

    def __init__(self) -> None:
        self.seen: set[int] = set()  # 64-bit hashes: a million ids cost tens of MB, not hundreds
        self.repeats: dict[str, int] = {}

    def claim(self, record: Record | Serialized) -> Record | Serialized:
        """The record, or under a new id if its id was met before."""
        key = xxhash.xxh64_intdigest(record.id.encode())
        if key in self.seen:
            number = self.repeats[record.id] = self.repeats.get(record.id, 1) + 1
            record = renamed(record, f"{record.id}~{number}")
            key = xxhash.xxh64_intdigest(record.id.encode())
        self.seen.add(key)
        return record


@dataclass
class Step:
    """One step of a run: the input reader (index 0) or a stage, with its folder under ``.work``."""

    index: int
    stage: Stage
    folder: Path

    @property
    def records_path(self) -> Path:
        return self.folder / "records.jsonl"

    @property
    def done_path(self) -> Path:
        return self.folder / "done.json"

    def aside_paths(self) -> dict[str, Path]:
        return {place: self.folder / f"{place}.jsonl" for place in ASIDE_PLACES}


@dataclass
class RunSettings:
    seed: int = 0
    recipe_dir: Path = field(default_factory=Path.cwd)
    cache_dir: Path | None = None
    resume: bool = False
    budget_usd: float | None = None  # the whole run's LLM budget, shared by its LLM stages
    planning: bool = False  # `run --plan`: LLM stages estimate instead of calling
    sample_records: int | None = None  # read only this many input lines (the plan's sample)
    engine: str = "local"  # where per-record work runs: engine.ENGINES
    scrubber: Any = field(default_factory=default_scrubber)  # for records stages make (None: text kept as logged)


class Runner:
    def __init__(self, stages: list[Stage], inputs: list[InputSpec], run_dir: Path, settings: RunSettings,
                 console: Console | None = None):
        self.run_dir = run_dir
        self.settings = settings
        self.console = console or SafeConsole(stderr=True)
        work = run_dir / ".work"
        steps = [ReadInputs(inputs, settings.sample_records), *stages]
        self.steps = [Step(i, stage, work / stage_dir_name(i, stage.name)) for i, stage in enumerate(steps)]
        self.first_mine = next((step.index for step in self.steps if step.stage.name == "mine"), None)
        self.reused: list[bool] = []  # per step: taken whole from a previous run (--resume)
        self.engine = make_engine(settings.engine)
        self.run_budget = None
        if settings.budget_usd is not None:
            from .providers.pricing import Budget

            self.run_budget = Budget(settings.budget_usd)

    def execute(self) -> list[StageResult]:
        """Run every step in order, reusing completed steps whose inputs did not change (on resume)."""
        results: list[StageResult] = []
        previous_fp = fingerprint(__version__)
        with self._progress() as progress:
            for step in self.steps:
                ctx = self._context(step)
                step_fp = fingerprint(previous_fp, step.stage.name, step.stage.options, step.stage.fingerprint_extra(ctx))
                result = self._reuse(step, step_fp) if self.settings.resume else None
                self.reused.append(result is not None)
                if result is None:
                    result = self._execute(step, ctx, results, progress)
                    write_json(step.done_path, {"fingerprint": step_fp, "result": result.to_dict()})
                results.append(result)
                previous_fp = step_fp
                if step.index == self.first_mine:
                    self._drop_records_before(step)
        for file in results[0].stats.get("skipped", []):  # after the progress bars: a warning never cuts through one
            self.console.print(error_line("warning", f"skipped {file['path']}: {file['reason']}"), soft_wrap=True)
        return results

    def _context(self, step: Step) -> StageContext:
        step.folder.mkdir(parents=True, exist_ok=True)
        return StageContext(stage=step.stage.name, run_dir=self.run_dir, work_dir=step.folder,
                            seed=self.settings.seed, recipe_dir=self.settings.recipe_dir,
                            cache_dir=self.settings.cache_dir or self.run_dir / "cache",
                            run_budget=self.run_budget, planning=self.settings.planning, engine=self.engine,
                            scrubber=self.settings.scrubber)

    def _drop_records_before(self, mine: Step) -> None:
        """The records the steps before the first mine stage wrote are the logs' text as logged, and
        only that stage reads them: once it is done, none is kept, so a run that stops later leaves no
        copy of them (a --resume reads the inputs again). Their set-aside files stay for the outputs."""
        for step in self.steps[: mine.index]:
            step.records_path.unlink(missing_ok=True)

    @staticmethod
    def _reuse(step: Step, step_fp: str) -> StageResult | None:
        if not step.done_path.exists() or not step.records_path.exists():
            return None
        done = orjson.loads(step.done_path.read_bytes())
        if done.get("fingerprint") != step_fp:
            return None
        return StageResult.from_dict(done["result"])

    def _execute(self, step: Step, ctx: StageContext, results: list[StageResult], progress: Progress) -> StageResult:
        for path in step.aside_paths().values():  # a re-run writes only the places it uses this time
            path.unlink(missing_ok=True)
        expected = results[-1].produced if results else None
        task = progress.add_task(step.stage.name, total=expected)
        if step.index == 0:
            source, consumed = None, lambda: step.stage.lines_seen
        else:
            source, consumed = RecordSource(self.steps[step.index - 1].records_path, expected), lambda: expected
        result = execute(step.stage, lambda c: step.stage.run(source, c), consumed, step.records_path,
                         step.aside_paths(), ctx, lambda n: progress.advance(task, n))
        done = result.produced + sum(result.set_aside.values())
        progress.update(task, total=done, completed=done)
        return result

    def _progress(self) -> Progress:
        return Progress(TextColumn("[bold]{task.description:<8}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=self.console, disable=not self.console.is_terminal)

    # -- placing records -----------------------------------------------------------------
    def gather_asides(self, targets: dict[str, Path], guard: "OutputGuard") -> dict[str, int]:
        """Concatenate every step's set-aside records per place into ``targets``."""
        return {place: concat_files((step.aside_paths()[place] for step in self.steps), path, guard.line)
                for place, path in targets.items()}

    def place_flowing(self, train_path: Path, eval_path: Path | None, guard: "OutputGuard") -> tuple[int, int]:
        """Records that made it through every stage go to train, or to eval by their ``split``
        when an eval file is given."""
        writers = {"train": AtomicWriter(train_path)}
        if eval_path is not None:
            writers["eval"] = AtomicWriter(eval_path)
        try:
            with open(self.steps[-1].records_path, "rb") as handle:
                for line in handle:
                    row = orjson.loads(line) if eval_path is not None else None  # parsed once, for the guard too
                    writer = writers[row.get("split", "train") if row else "train"]
                    writer.write_raw(guard.line(line, row))
                    writer.count += 1
        except BaseException:
            for writer in writers.values():
                writer.abort()
            raise
        for writer in writers.values():
            writer.commit()
        return writers["train"].count, writers["eval"].count if "eval" in writers else 0

    def remove_unscrubbed_work(self, guard: "OutputGuard") -> None:
        """The work folders of the steps before the first mine stage hold the text as logged: a
        finished run keeps none of them (a --resume reads the inputs again). Without a mine stage,
        so do every step's, unless no record needed scrubbing on output (the inputs came scrubbed)."""
        if guard.pii is None:
            return
        unscrubbed = len(self.steps) if guard.scrubbed else 0
        for step in self.steps[: unscrubbed if self.first_mine is None else self.first_mine]:
            shutil.rmtree(step.folder, ignore_errors=True)


class OutputGuard:
    """Nothing reaches an output unscrubbed: a record no stage scrubbed (a recipe without a mine
    stage, or a record a stage before mine set aside) is scrubbed as it is written, with the first
    mine stage's options (the defaults without one), its id and its keeper's id included, and
    tagged as mine tags. A recipe that turns scrubbing off (``mine: {pii: {enabled: false}}``)
    keeps the text as logged."""

    def __init__(self, pii: dict[str, Any] | None):
        self.pii = pii  # None: the text stays as logged
        self.scrubbed = 0  # records scrubbed here

    @classmethod
    def of(cls, stages: list[Stage]) -> "OutputGuard":
        mines = [stage for stage in stages if stage.name == "mine"]
        return cls(mines[0].pii if mines else {})

    @cached_property
    def scrubber(self) -> Scrubber:
        from .stages.mine import scrubber_for

        return scrubber_for(self.pii or {})

    def line(self, line: bytes, row: dict[str, Any] | None = None) -> bytes:
        """``line`` as it may be written (``row``: the line already parsed, when the caller has it)."""
        if self.pii is None:
            return line
        row = orjson.loads(line) if row is None else row
        if "messages" not in row or PII_TAG in (row.get("tags") or ()):
            return line  # scrubbed by a stage, or a line no reader could parse (scrubbed when set aside)
        record = Record.from_dict(row)
        record.id = self.scrubber.scrub_id(record.id)
        if (record.disposition or {}).get("keeper_id"):
            record.disposition["keeper_id"] = self.scrubber.scrub_id(record.disposition["keeper_id"])
        tag_scrubbed(record, "run", self.scrubber.scrub_record(record))
        self.scrubbed += 1
        return Serialized.of(record).line


def check_accounting(counts: dict[str, int], input_count: int, created: int, where: Path) -> None:
    placed = sum(counts.values())
    if placed != input_count + created:
        raise AccountingError(f"records placed ({placed}) != input ({input_count}) + created ({created}) in {where}")


@dataclass
class RunOutcome:
    run_dir: Path
    manifest: dict[str, Any]
    reused: list[bool] = field(default_factory=list)  # per manifest stage: reused by --resume, not re-run


def run_recipe(recipe: Recipe, run_dir: Path, *, resume: bool = False, console: Console | None = None,
               engine: str | None = None) -> RunOutcome:
    """Run a recipe into ``run_dir``: train/eval/rag_candidates/duplicates/rejected JSONL and manifest.json;
    ``engine`` (local or ray) overrides the recipe's."""
    with RunFolder(run_dir) as folder:
        if not resume:
            folder.remove_previous_outputs()
        folder.clear_stale_temp_files()
        return _run_in_folder(recipe, run_dir, resume, console, engine or recipe.engine)


def _run_in_folder(recipe: Recipe, run_dir: Path, resume: bool, console: Console | None, engine: str) -> RunOutcome:
    stages = [get_stage(spec.name)(**spec.options) for spec in recipe.stages]
    cache = os.environ.get("DATAPREP_CACHE_DIR")  # share paid LLM answers across run folders
    guard = OutputGuard.of(stages)
    settings = RunSettings(recipe.seed, recipe.folder, Path(cache) if cache else None, resume=resume,
                           budget_usd=recipe.budget_usd, engine=engine,
                           scrubber=guard.scrubber if guard.pii is not None else None)
    runner = Runner(stages, recipe.inputs, run_dir, settings, console)
    results = runner.execute()
    paths = output_paths(run_dir)
    counts = runner.gather_asides({place: paths[place] for place in ASIDE_PLACES}, guard)
    counts["train"], counts["eval"] = runner.place_flowing(paths["train"], paths["eval"], guard)
    input_count, created = results[0].consumed, sum(r.created for r in results[1:])
    manifest = {
        "dataprep_version": __version__,
        "recipe": {"path": str(recipe.path), "sha256": recipe.sha256, "content": recipe.data},
        "versions": versions(),
        "inputs": {"skipped": results[0].stats.get("skipped", [])},  # files of input folders no reader reads
        "counts": {"input": input_count, "created": created,
                   **{place: counts[place] for place in ("train", "eval", "rag_candidates", "duplicates", "rejected")}},
        "stages": [result.to_dict() for result in results],
        "outputs": {place: path.name for place, path in paths.items()},
        # records no stage had scrubbed, scrubbed as they were written (None: the recipe turned scrubbing off)
        "scrubbed_on_output": guard.scrubbed if guard.pii is not None else None,
    }
    check_accounting(counts, input_count, created, run_dir)
    facts = gather(run_dir, manifest)
    manifest["verdicts"] = facts.verdicts()
    if recipe.export.get("formats"):
        from .export import export_run

        manifest["exports"] = export_run(run_dir, recipe.export["formats"], recipe.export.get("options"), manifest=manifest,
                                         console=runner.console, engine=runner.engine)
    write_json(run_dir / "manifest.json", manifest)
    write_report(facts)
    runner.remove_unscrubbed_work(guard)
    return RunOutcome(run_dir, manifest, runner.reused)


@dataclass
class SingleOutcome:
    results: list[StageResult]
    counts: dict[str, int]
    paths: dict[str, Path]


def run_single_stage(stage: Stage, inputs: list[InputSpec], out: Path, sides: dict[str, Path], *,
                     eval_out: Path | None = None, seed: int = 0, cache_dir: Path | None = None,
                     console: Console | None = None) -> SingleOutcome:
    """Run one stage on the user's files, as ``dataprep dedup IN --out FILE`` does.

    Records that go on land in ``out`` (or ``eval_out`` for held-out ones); each place the
    stage sets records aside lands in ``sides[place]``. Side files are written only when
    something went there.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".dataprep-", dir=out.parent) as tmp:
        settings = RunSettings(seed=seed, cache_dir=cache_dir or out.parent / ".dataprep-cache")
        runner = Runner([stage], inputs, Path(tmp), settings, console)
        results = runner.execute()
        used = {place: path for place, path in sides.items()
                if any(step.aside_paths()[place].exists() for step in runner.steps)}
        guard = OutputGuard(None)  # one stage on the user's own file: its records leave as scrubbed as they came
        counts = runner.gather_asides(used, guard)
        counts["out"], counts["eval"] = runner.place_flowing(out, eval_out, guard)
    input_count, created = results[0].consumed, results[1].created
    check_accounting(counts, input_count, created, out)
    return SingleOutcome(results, counts, {"out": out, **used, **({"eval": eval_out} if eval_out else {})})
