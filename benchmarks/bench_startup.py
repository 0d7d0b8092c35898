"""How long each command takes to start: ``dataprep COMMAND --help``, each run in a fresh process.

The target is under 0.3 s for ``dataprep --help`` and every command. Beside dataprep, in the same
run, two baselines: the interpreter alone (``python -c pass``) and a plain typer app of one command
with one option, rich help, asked for its ``--help`` (what any typer CLI pays). Prints, in seconds,
the median and the best of ``--repeat`` starts and what dataprep adds to the plain app's median.
The starts are taken in rounds, one of each command a round, so that a slow spell of a shared
machine (a start's time varies by half from one minute to the next here) falls on every command.

    python benchmarks/bench_startup.py
    python benchmarks/bench_startup.py --repeat 21
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from _common import print_table

COMMANDS = [[], ["run"], ["mine"], ["dedup"], ["flag"], ["synth"], ["split"], ["export"], ["validate"],
            ["report"], ["review", "push"], ["review", "pull"]]
PLAIN_TYPER_APP = """
import typer
app = typer.Typer(rich_markup_mode="rich")
@app.command()
def main(path: str, out: str = typer.Option("out.jsonl", help="Where to write.")) -> None:
    "Read [bold]PATH[/bold] and write it."
app()
"""
TARGET_SECONDS = 0.3


def start_times(commands: list[list[str]], repeat: int) -> list[list[float]]:
    """Each command's wall seconds in each of ``repeat`` rounds."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(repeat):
        for argv, seconds in zip(commands, times):
            started = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            seconds.append(time.perf_counter() - started)
    return times


def row(label: str, seconds: list[float], plain: float | None = None) -> list[str]:
    median = statistics.median(seconds)
    cells = [label, f"{median:.3f}", f"{min(seconds):.3f}"]
    if plain is None:
        return [*cells, "", ""]
    return [*cells, f"{median - plain:+.3f}", "yes" if median < TARGET_SECONDS else "NO"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=9, help="rounds: starts of each command (median and best reported)")
    args = parser.parse_args()
    python = sys.executable
    dataprep = [str(Path(python).with_name("dataprep"))]  # the console script a user runs
    subprocess.run([*dataprep, "--help"], check=True, stdout=subprocess.DEVNULL)  # warm the disk cache
    commands = {"python -c pass": [python, "-c", "pass"],
                "plain typer app --help (baseline)": [python, "-c", PLAIN_TYPER_APP, "--help"],
                **{" ".join(["dataprep", *command, "--help"]): [*dataprep, *command, "--help"] for command in COMMANDS}}
    times = dict(zip(commands, start_times(list(commands.values()), args.repeat)))
    plain = statistics.median(times["plain typer app --help (baseline)"])
    rows = [row(label, seconds, None if index < 2 else plain) for index, (label, seconds) in enumerate(times.items())]
    print_table(f"Start-up, {args.repeat} rounds of fresh processes (typer {version('typer')}, rich {version('rich')})",
                ["command", "median s", "best s", "vs plain typer app", f"under {TARGET_SECONDS} s"], rows)


if __name__ == "__main__":
    main()
