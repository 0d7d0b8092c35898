"""The offline stages end to end on a generated input: time and peak memory per stage.

    python benchmarks/bench_pipeline.py              # 1,000,000 model calls
    python benchmarks/bench_pipeline.py --n 100000
    python benchmarks/bench_pipeline.py --n 200000 --engine ray   # local and Ray, side by side
    python benchmarks/bench_pipeline.py --records --stages dedup --n 1000000   # dedup's memory, projected to 10M
    python benchmarks/bench_pipeline.py --records --stages dedup --n 10000000  # measured at 10M: 14.6 GiB, 55 min

Input: OpenAI chat request/response logs like sample_data's (multi-turn calls re-sending
their history, near-duplicate questions, PII, fact-heavy and behaviour replies), made by
repeating sample_data/generate.py's conversation generators. Target: under 5 minutes and
4 GB for a million records on a 2-core machine, and the pipeline on 10 million records within
24 GB. Baseline in the same run: reading the same file line by line with plain json (the least
any pipeline must do). With ``--engine ray`` the run is made twice, on the local engine and on
Ray (RAY_ADDRESS's cluster, else a local Ray); Ray's peak is the driver's only.

Peak memory is measured per stage: the process's high-water mark is reset as each stage
starts, so a stage's peak is its own (plus what the process already held, the RSS at its
start). "grew" is the peak above that start; bytes per record and the projected peak at 10
million records are from "grew", linearly: run two sizes to see what grows faster (on these
templated logs, dedup's LSH candidate pairs per distinct text rise with the input). ``--records`` writes records straight (one per
conversation, the whole conversation, as mine's collapse keeps it) instead of logs, so the
stages after mine can be measured at sizes mining would take an hour to reach.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import orjson

from _common import measure, print_table

REPO = Path(__file__).resolve().parent.parent
OFFLINE_STAGES = ["mine", "dedup", "flag", "split", "review"]
PROJECTED = 10_000_000
MIB = 2**20


def generate(path: Path, n: int, records: bool = False) -> int:
    """Write at least ``n`` logged calls (or, with ``records``, n records); returns the number written."""
    sys.path.insert(0, str(REPO / "sample_data"))
    import generate as sample  # the sample data's own generators

    written = 0
    with open(path, "wb") as handle:
        index = 0
        while written < n:
            conv_id = f"conv_{index:08d}" if index % 10 < 7 else None
            calls = sample.openai_calls(sample.pick_conversation(), conv_id, sample.datetime(2026, 11, 2))
            for log in calls[-1:] if records else calls:
                handle.write(orjson.dumps(_record(log, index) if records else log) + b"\n")
                written += 1
            index += 1
    return written


def _record(log: dict, index: int) -> dict:
    """The record mine makes of a conversation's last call; tagged scrubbed though it is not (memory
    does not care, and the review stage refuses unscrubbed records)."""
    reply = log["response"]["choices"][0]["message"]
    return {"id": f"r{index}", "messages": [*log["request"]["messages"], {k: v for k, v in reply.items() if v}],
            "source": {"timestamp": log["timestamp"], **log["metadata"]}, "feedback": log.get("feedback", {}),
            "tags": ["pii:scrubbed"]}


def _status_kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1))


def _with_stage_peaks(peaks: dict[str, tuple[float, float]]) -> None:
    """Record each stage's (RSS at its start, peak during it) in MiB: the kernel's high-water
    mark is reset as a stage starts (writing 5 to clear_refs)."""
    import dataprep.runner as runner

    plain = runner.execute

    def execute(stage, *args, **kwargs):
        Path("/proc/self/clear_refs").write_text("5")
        start = _status_kib("VmRSS") / 1024
        result = plain(stage, *args, **kwargs)
        peaks[stage.name] = (start, _status_kib("VmHWM") / 1024)
        return result

    runner.execute = execute


def run_pipeline(path: Path, run_dir: Path, stages: list[str], engine: str = "local") -> dict:
    from dataprep.recipe import load_recipe
    from dataprep.runner import run_recipe

    peaks: dict[str, tuple[float, float]] = {}
    _with_stage_peaks(peaks)
    recipe = run_dir.parent / "bench.yaml"
    recipe.write_text(orjson.dumps({"name": "bench", "inputs": [{"path": str(path)}],
                                    "stages": [{name: {}} for name in stages]}).decode(), encoding="utf-8")
    manifest = run_recipe(load_recipe(recipe), run_dir, engine=engine).manifest
    return {"stages": [(s["stage"], s["seconds"], s["in"], *peaks.get(s["stage"], (0.0, 0.0)))
                       for s in manifest["stages"]], "counts": manifest["counts"]}


def plain_read(path: Path, run_dir: Path, stages: list[str]) -> dict:
    with open(path, encoding="utf-8") as handle:
        calls = sum(1 for line in handle if orjson.loads(line))
    return {"stages": [("plain json read", 0.0, calls, 0.0, 0.0)], "counts": {}}


def stage_row(stage: str, seconds: float, count: int, start: float, peak: float) -> list:
    """A stage's time and memory: bytes per record of what it grew, and that projected to 10M."""
    per_record = (peak - start) * MIB / count if count else 0.0
    return [f"  {stage}", seconds, count / seconds if seconds else 0.0, peak, peak - start, per_record,
            (start * MIB + per_record * PROJECTED) / 2**30, f"{count:,} in"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="ray: run on the local engine and on Ray, and print both.")
    parser.add_argument("--stages", default=",".join(OFFLINE_STAGES), help="comma-separated subset, in order")
    parser.add_argument("--records", action="store_true",
                        help="write n records straight instead of logs (for the stages after mine)")
    args = parser.parse_args()
    import dataprep.stages  # noqa: F401  (registers the built stages)
    from dataprep.pipeline import STAGES

    stages = [name for name in args.stages.split(",") if name in STAGES]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "calls.jsonl"
        written = generate(path, args.n, args.records)
        size_mib = path.stat().st_size / MIB
        rows = []
        base_seconds, base_peak, _ = measure(plain_read, path, Path(tmp) / "base", stages)
        rows.append(["baseline: plain json.loads per line", base_seconds, written / base_seconds, base_peak,
                     "", "", "", ""])
        for engine in dict.fromkeys(("local", args.engine)):
            seconds, peak, result = measure(run_pipeline, path, Path(tmp) / f"run-{engine}", stages, engine)
            rows += [stage_row(*stage) for stage in result["stages"]]
            rows.append([f"dataprep run --engine {engine} ({' → '.join(stages)})", seconds, written / seconds, peak,
                         "", "", "", ", ".join(f"{k} {v:,}" for k, v in result["counts"].items())])
        kind = "records" if args.records else "calls"
        print_table(f"pipeline on {written:,} {kind} ({size_mib:,.0f} MiB)",
                    ["step", "seconds", "records/s", "peak MiB", "grew MiB", "bytes/record",
                     f"GiB at {PROJECTED // 1_000_000}M", "records"], rows)


if __name__ == "__main__":
    main()
