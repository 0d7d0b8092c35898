"""Split speed at scale: the split stage on N generated records vs a plain pandas random group split.

    python benchmarks/bench_split.py            # 1,000,000 records
    python benchmarks/bench_split.py --n 100000

Records carry dedup cluster ids and conversation ids, as they do after the dedup stage.
The stage's decontamination pass (MinHash over every record) is measured separately.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import orjson

from _common import measure, print_table

TOPICS = ["order status", "returns", "shipping cost", "warranty", "tent weight", "store hours", "billing", "login"]


def generate(path: Path, n: int) -> int:
    rng = random.Random(1)
    with open(path, "wb") as handle:
        for i in range(n):
            cluster = i // rng.choice((1, 1, 1, 2, 5))
            topic = TOPICS[cluster % len(TOPICS)]
            row = {"id": f"r{i}", "messages": [
                {"role": "user", "content": f"customer {i} asks about {topic} for order {cluster} with some detail"},
                {"role": "assistant", "content": f"here is what we know about {topic}"}],
                "groups": {"cluster": f"c{cluster}", "cluster_size": 1 + (cluster % 4)},
                "source": {"conversation_id": f"conv{i // 3}", "category": topic if i % 1000 else "rare"}}
            if i % 50 == 0:
                row["feedback"] = {"thumbs": "down"}
            handle.write(orjson.dumps(row) + b"\n")
    return path.stat().st_size


def run_stage(path: Path, out: Path, decontaminate: bool) -> int:
    from dataprep.recipe import InputSpec
    from dataprep.runner import run_single_stage
    from dataprep.stages.split import Split

    outcome = run_single_stage(Split(eval_size=0.01, eval_cap=5000, decontaminate=decontaminate),
                               [InputSpec(str(path), "records")], out, {"duplicates": out.with_suffix(".dup.jsonl")},
                               eval_out=out.with_suffix(".eval.jsonl"))
    return outcome.counts["eval"]


def pandas_group_split(path: Path, out: Path) -> int:
    """The plain baseline: pick random whole groups (by cluster) until 1% of the rows, with pandas."""
    import pandas as pd

    frame = pd.read_json(path, lines=True)
    frame["group"] = frame["groups"].map(lambda g: g["cluster"])
    groups = frame["group"].drop_duplicates().sample(frac=1.0, random_state=0)
    sizes = frame.groupby("group").size().loc[groups].cumsum()
    chosen = set(sizes[sizes <= len(frame) * 0.01].index)
    held = frame["group"].isin(chosen)
    frame[~held].to_json(out, orient="records", lines=True)
    frame[held].to_json(out.with_suffix(".eval.jsonl"), orient="records", lines=True)
    return int(held.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--skip-decontaminate", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.jsonl"
        size = generate(path, args.n)
        rows = []
        runs = [("pandas random group split (baseline)", pandas_group_split, ()),
                ("dataprep split, no decontamination", run_stage, (False,))]
        if not args.skip_decontaminate:
            runs.append(("dataprep split + decontamination", run_stage, (True,)))
        for label, target, extra in runs:
            seconds, peak, held = measure(target, path, Path(tmp) / f"{len(rows)}.jsonl", *extra)
            rows.append([label, seconds, args.n / seconds, peak, held])
        print_table(f"split on {args.n:,} records ({size / 2**20:,.0f} MiB)",
                    ["method", "seconds", "records/s", "peak MiB", "eval records"], rows)


if __name__ == "__main__":
    main()
