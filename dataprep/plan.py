"""``dataprep run RECIPE --plan``: what a whole run would do and cost, before it does anything.

The recipe runs for real on a sample of its input (the first ``sample`` lines) in a scratch
folder, with every LLM stage estimating instead of calling (calls, tokens and dollars for
what is not already cached, batch discount included). Counts and seconds are scaled from
the sample to the whole input, whose lines are counted (decompressed where needed). LLM
work is not scaled: synth asks for a fixed number of examples, and the judge and probe see
only the records a stage sends them, which the sample shows. Review hours come from the
review stage's queue. Near-duplicates are undercounted from a sample (a larger input holds
more pairs), so the plan says train is at most what it shows.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from .formats import expand_paths
from .jsonl import open_input
from .pipeline import get_stage
from .recipe import Recipe
from .runner import Runner, RunSettings

DEFAULT_SAMPLE = 2000


@dataclass
class StagePlan:
    name: str
    records_in: int
    records_out: int
    set_aside: dict[str, int]
    seconds: float
    llm: dict[str, Any] = field(default_factory=dict)  # calls, tokens and dollars (LLM stages only)
    review_hours: float | None = None


@dataclass
class RunPlan:
    input_records: int  # what was read, or its estimate from the input's line count
    input_lines: int
    sampled: int
    whole: bool  # the sample was the whole input: the figures are the run's own
    stages: list[StagePlan]
    budget_usd: float | None

    @property
    def cost_usd(self) -> float | None:
        costs = [stage.llm.get("cost_usd_estimated") for stage in self.stages if stage.llm]
        return None if any(cost is None for cost in costs) else round(sum(costs), 4)

    @property
    def cost_usd_max(self) -> float | None:
        costs = [stage.llm.get("cost_usd_max") for stage in self.stages if stage.llm]
        return None if any(cost is None for cost in costs) else round(sum(costs), 4)

    @property
    def seconds(self) -> float:
        return sum(stage.seconds for stage in self.stages)


def count_lines(paths: list[Path]) -> int:
    """Lines in every input file (decompressed), counted in 1 MiB blocks: a close measure of
    records (a Parquet file's rows come from its footer)."""
    total = 0
    for path in paths:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            total += pq.ParquetFile(path).metadata.num_rows
            continue
        with open_input(path) as handle:
            last = b"\n"
            while block := handle.read(1 << 20):
                total += block.count(b"\n")
                last = block[-1:]
            total += last != b"\n"
    return total


def plan_recipe(recipe: Recipe, run_dir: Path, sample: int = DEFAULT_SAMPLE, console: Console | None = None) -> RunPlan:
    """Run ``recipe`` on a sample with LLM stages estimating; scale to the whole input."""
    paths = sorted({path for spec in recipe.inputs for path in expand_paths(spec.path, [run_dir])})
    input_lines = count_lines(paths)
    cache = os.environ.get("DATAPREP_CACHE_DIR")
    stages = [get_stage(spec.name)(**spec.options) for spec in recipe.stages]
    with tempfile.TemporaryDirectory(prefix="dataprep-plan-") as scratch:
        # the run's own cache: answers already paid for are free in the estimate too
        settings = RunSettings(recipe.seed, recipe.folder, Path(cache) if cache else run_dir / "cache",
                               planning=True, sample_records=sample)
        results = Runner(stages, recipe.inputs, Path(scratch), settings, console).execute()
    sampled = results[0].consumed
    # the sample was the whole input: the figures are the run's own, not an estimate
    scale = 1.0 if sampled < sample else input_lines / sampled
    planned = [StagePlan(r.name, round(r.consumed * scale), round(r.produced * scale),
                         {place: round(n * scale) for place, n in r.set_aside.items()}, r.seconds * scale,
                         llm=r.stats.get("estimate") or {}, review_hours=review_hours(r.stats, scale))
               for r in results]
    return RunPlan(round(sampled * scale), input_lines, sampled, sampled < sample, planned, recipe.budget_usd)


def review_hours(stats: dict[str, Any], scale: float) -> float | None:
    """The review stage's reviewer-hours at full scale: its queue grows with the input up to the
    task budget the recipe sets (``max_tasks``; the default budget is a share, so it grows too)."""
    if "reviewer_hours" not in stats:
        return None
    hours = stats["reviewer_hours"] * scale
    if stats.get("max_tasks"):
        hours = min(hours, stats["max_tasks"] * stats["minutes_per_task"] / 60)
    return round(hours, 1)
