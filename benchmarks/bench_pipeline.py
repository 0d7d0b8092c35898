"""The offline stages end to end on a generated input: time per stage and peak memory.

    python benchmarks/bench_pipeline.py              # 1,000,000 model calls
    python benchmarks/bench_pipeline.py --n 100000
    python benchmarks/bench_pipeline.py --n 200000 --engine ray   # local and Ray, side by side

Input: OpenAI chat request/response logs like sample_data's (multi-turn calls re-sending
their history, near-duplicate questions, PII, fact-heavy and behaviour replies), made by
repeating sample_data/generate.py's conversation generators. Target: under 5 minutes and
4 GB for a million records on a 2-core machine. Baseline in the same run: reading the same
file line by line with plain json (the least any pipeline must do). With ``--engine ray`` the
run is made twice, on the local engine and on Ray (RAY_ADDRESS's cluster, else a local Ray);
Ray's peak is the driver's only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _common import measure, print_table

REPO = Path(__file__).resolve().parent.parent
OFFLINE_STAGES = ["mine", "dedup", "flag", "split", "review"]


def generate(path: Path, n: int) -> int:
    """Write at least ``n`` logged calls; returns the number written."""
    sys.path.insert(0, str(REPO / "sample_data"))
    import generate as sample  # the sample data's own generators

    written = 0
    with open(path, "w", encoding="utf-8") as handle:
        index = 0
        while written < n:
            conv_id = f"conv_{index:08d}" if index % 10 < 7 else None
            for log in sample.openai_calls(sample.pick_conversation(), conv_id, sample.datetime(2026, 11, 2)):
                handle.write(json.dumps(log) + "\n")
                written += 1
            index += 1
    return written


def run_pipeline(path: Path, run_dir: Path, stages: list[str], engine: str = "local") -> dict:
    from dataprep.recipe import load_recipe
    from dataprep.runner import run_recipe

    recipe = run_dir.parent / "bench.yaml"
    recipe.write_text(json.dumps({"name": "bench", "inputs": [{"path": str(path)}],
                                  "stages": [{name: {}} for name in stages]}), encoding="utf-8")
    manifest = run_recipe(load_recipe(recipe), run_dir, engine=engine).manifest
    return {"stages": [(s["stage"], s["seconds"], s["in"]) for s in manifest["stages"]], "counts": manifest["counts"]}


def plain_read(path: Path, run_dir: Path, stages: list[str]) -> dict:
    with open(path, encoding="utf-8") as handle:
        calls = sum(1 for line in handle if json.loads(line))
    return {"stages": [("plain json read", 0.0, calls)], "counts": {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="ray: run on the local engine and on Ray, and print both.")
    args = parser.parse_args()
    import dataprep.stages  # noqa: F401  (registers the built stages)
    from dataprep.pipeline import STAGES

    stages = [name for name in OFFLINE_STAGES if name in STAGES]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "calls.jsonl"
        written = generate(path, args.n)
        size_mib = path.stat().st_size / 2**20
        rows = []
        base_seconds, base_peak, _ = measure(plain_read, path, Path(tmp) / "base", stages)
        rows.append(["baseline: plain json.loads per line", base_seconds, written / base_seconds, base_peak, ""])
        for engine in dict.fromkeys(("local", args.engine)):
            seconds, peak, result = measure(run_pipeline, path, Path(tmp) / f"run-{engine}", stages, engine)
            for stage, stage_seconds, count in result["stages"]:
                rows.append([f"  {stage}", stage_seconds, count / stage_seconds if stage_seconds else 0.0, "",
                             f"{count:,} in"])
            rows.append([f"dataprep run --engine {engine} ({' → '.join(stages)})", seconds, written / seconds, peak,
                         ", ".join(f"{k} {v:,}" for k, v in result["counts"].items())])
        print_table(f"pipeline on {written:,} calls ({size_mib:,.0f} MiB)",
                    ["step", "seconds", "records/s", "peak MiB", "records"], rows)


if __name__ == "__main__":
    main()
