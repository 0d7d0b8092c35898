"""Synth throughput: 1,000 generations against the local fake server answering each call after
300 ms, through the real openai SDK, then the same run again from the cache.

    python benchmarks/bench_synth.py [--n 1000] [--latency 0.3] [--concurrency 32]

Targets (issue 6): the first run under 30 s (concurrency), the rerun under 2 s (cache).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fake_llm_server import FakeLLMServer  # noqa: E402

from dataprep.recipe import load_recipe  # noqa: E402
from dataprep.runner import run_recipe  # noqa: E402

SYSTEM = "You are the support assistant for Acme Cloud Storage."


def write_inputs(folder: Path, n: int, concurrency: int, base_url: str) -> Path:
    seeds = folder / "seeds.jsonl"
    with open(seeds, "w") as handle:
        for i in range(50):
            handle.write(json.dumps({"tags": ["pii:scrubbed"], "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"My upload number {i} keeps failing at 99%, what should I do?"},
                {"role": "assistant", "content": "Try pausing sync, clearing the upload queue, and retrying."}]}) + "\n")
    recipe = folder / "bench.yaml"
    recipe.write_text(yaml.safe_dump({"name": "bench-synth", "inputs": [{"path": "seeds.jsonl", "format": "records"}],
                                      "stages": [{"synth": {"model": "gpt-4.1-mini", "n": n, "base_url": base_url,
                                                            "concurrency": concurrency}}]}))
    return recipe


def timed_run(recipe: Path, out: Path, quiet: Console) -> tuple[float, dict]:
    started = time.perf_counter()
    manifest = run_recipe(load_recipe(recipe), out, console=quiet).manifest
    return time.perf_counter() - started, manifest["stages"][1]["stats"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    os.environ["OPENAI_API_KEY"] = "sk-bench-not-a-real-key"
    quiet = Console(file=open(os.devnull, "w"))
    table = Table(title=f"synth: {args.n} generations, {args.latency * 1000:.0f} ms per call, "
                        f"concurrency {args.concurrency}", title_justify="left")
    for column in ("run", "calls sent", "cache hits", "seconds", "per second", "target", "met"):
        table.add_column(column, justify="left" if column == "run" else "right")
    with FakeLLMServer(latency=args.latency) as server, tempfile.TemporaryDirectory() as tmp:
        recipe = write_inputs(Path(tmp), args.n, args.concurrency, server.openai_url)
        for label, target in (("first run (calls)", 30.0), ("rerun (cache)", 2.0)):
            seconds, stats = timed_run(recipe, Path(tmp) / "run", quiet)
            table.add_row(label, str(stats["calls_sent"]), str(stats["cache_hits"]), f"{seconds:.2f}",
                          f"{stats['generated'] / seconds:,.0f}", f"< {target:.0f} s", "yes" if seconds < target else "NO")
        table.caption = f"{len(server.model_calls())} requests reached the server in total"
    Console().print(table)


if __name__ == "__main__":
    main()
