"""Export speed: ``openai`` chat rows from N records, against a plain loop over the same file.

    python benchmarks/bench_export.py              # 50,000 records
    python benchmarks/bench_export.py --n 200000 --ray

Each way runs in its own process (its peak memory is its own) on the same generated record file
(multi-turn support chats, a third with a tool call): the baseline only ``orjson.loads`` each line
and ``orjson.dumps`` its messages back; dataprep reads each record, converts it, checks the row
(``validate``'s rules, token count) and writes it, in this process (what a local run does), with
the rows made in a pool of worker processes (what a local run would pay if it shipped records to
its workers) and, with ``--ray``, as tasks on a local Ray (what ``--engine ray`` does; its time
includes starting Ray, a few seconds).
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import orjson

from _common import measure, print_table

TOPICS = ["order status", "returns", "shipping cost", "warranty", "store hours", "billing", "login", "refund"]


def generate(path: Path, n: int) -> int:
    rng = random.Random(3)
    with open(path, "wb") as handle:
        for i in range(n):
            topic = rng.choice(TOPICS)
            messages = [{"role": "system", "content": "You are the support assistant of an outdoor gear shop."},
                        {"role": "user", "content": f"Hi, question {i} about {topic}: " + " ".join(rng.choices(TOPICS, k=8))}]
            if i % 3 == 0:
                messages += [{"role": "assistant", "content": None, "tool_calls": [
                    {"id": f"call_{i}", "type": "function",
                     "function": {"name": "lookup_order", "arguments": orjson.dumps({"order": f"A{i}"}).decode()}}]},
                             {"role": "tool", "tool_call_id": f"call_{i}", "content": '{"status": "shipped"}'}]
            messages.append({"role": "assistant", "content": f"About {topic}: " + " ".join(rng.choices(TOPICS, k=20))})
            handle.write(orjson.dumps({"id": f"r{i}", "messages": messages}) + b"\n")
    return path.stat().st_size


def baseline(source: Path, out: Path) -> int:
    with open(source, "rb") as reader, open(out, "wb") as writer:
        count = 0
        for line in reader:
            writer.write(orjson.dumps({"messages": orjson.loads(line)["messages"]}) + b"\n")
            count += 1
    return count


def dataprep_export(source: Path, out: Path, way: str) -> int:
    from dataprep import engine
    from dataprep.exporters.core import ExportOptions, ExportSummary, export_rows
    from dataprep.jsonl import AtomicWriter

    class Pool(engine.LocalEngine):
        distributed = True  # ship every batch to the pool, as Ray is shipped to

    chosen = {"in this process": None, "pool of 2 processes": Pool(workers=2, pool_after=0),
              "local Ray (2 CPUs)": engine.RayEngine()}[way]
    if way.startswith("local Ray"):
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    summary = ExportSummary("openai", str(out))
    with AtomicWriter(out) as writer:
        for _, row in export_rows([source], "openai", ExportOptions(), summary, chosen):
            writer.write(row)
    return summary.written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000, help="records to export")
    parser.add_argument("--ray", action="store_true", help="also export as tasks on a local Ray")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "records.jsonl"
        mb = generate(source, args.n) / 1e6
        ways = ["in this process", "pool of 2 processes", *(["local Ray (2 CPUs)"] if args.ray else [])]
        seconds, peak, written = measure(baseline, source, Path(folder) / "baseline.jsonl")
        rows = [["baseline: orjson loads + dumps", f"{written:,}", f"{seconds:.2f}", f"{written / seconds:,.0f}",
                 f"{mb / seconds:.1f}", "1.00x", f"{peak:.0f}"]]
        base = written / seconds
        for way in ways:
            seconds, peak, written = measure(dataprep_export, source, Path(folder) / f"{way}.jsonl", way)
            rows.append([f"dataprep export, {way}", f"{written:,}", f"{seconds:.2f}", f"{written / seconds:,.0f}",
                         f"{mb / seconds:.1f}", f"{written / seconds / base:.2f}x", f"{peak:.0f}"])
    print_table(f"export to openai chat rows ({args.n:,} records, {mb:.0f} MB)",
                ["way", "rows", "seconds", "rows / s", "MB / s", "vs baseline", "peak MiB (this process)"], rows)


if __name__ == "__main__":
    main()
