"""Helpers shared by the benchmark scripts: timing a function in a fresh process with its peak memory,
printing a table, the options of a stage's LLM judge, and the real support corpus in ../shared."""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import resource
import sys
import time
from functools import cache
from pathlib import Path
from queue import Empty
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

#: real support exchanges (CDLA-Sharing: read from ../shared, never copied into the project)
BITEXT = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bitext-customer-support" / "bitext_customer_support.csv"


@cache
def bitext_rows() -> tuple[dict[str, str], ...]:
    """The Bitext corpus's rows, in file order (a row's number is its index); read once a process."""
    with open(BITEXT, newline="", encoding="utf-8") as handle:
        return tuple(csv.DictReader(handle))


def _child(target: Callable[..., Any], args: tuple, queue: "mp.Queue") -> None:
    started = time.perf_counter()
    result = target(*args)
    seconds = time.perf_counter() - started
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, result))


def measure(target: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """Run ``target(*args)`` in a fresh process: (seconds, peak RSS in MiB, its return value).
    A child that dies (out of memory, say) is reported, not waited for forever."""
    queue: mp.Queue = mp.get_context("fork").Queue()
    process = mp.get_context("fork").Process(target=_child, args=(target, args, queue))
    process.start()
    while True:
        try:
            seconds, peak_mib, result = queue.get(timeout=1.0)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(f"{getattr(target, '__name__', target)} died (exit code {process.exitcode})")
    process.join()
    return seconds, peak_mib, result


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*(f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    # piped to a file or a log, rich would fit the table to 80 columns and cut the cells short
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def add_judge_arguments(parser: argparse.ArgumentParser, stage: str, scopes: tuple[str, ...], scope: str) -> None:
    """The options of ``stage``'s LLM judge, for a benchmark that runs the stage with one."""
    from platformdirs import user_cache_dir

    parser.add_argument("--judge-model", help=f"run the {stage} stage with this LLM judge on the labeled sets (key from "
                                              "OPENAI_API_KEY or ANTHROPIC_API_KEY)")
    parser.add_argument("--judge-provider", choices=("openai", "anthropic"), default="openai")
    parser.add_argument("--judge-base-url", help="any API-compatible endpoint, e.g. a local vLLM (default: the provider's)")
    parser.add_argument("--judge-scope", choices=scopes, default=scope)
    parser.add_argument("--judge-budget", type=float, help="stop sending before spending more, in USD")
    parser.add_argument("--cache", type=Path, default=Path(user_cache_dir("dataprep")) / f"bench_{stage}",
                        help="where the judge's answers are kept (a rerun sends nothing)")


def judge_option(args: argparse.Namespace) -> dict[str, Any] | None:
    """The stage's ``judge`` option from those arguments; none without a model. The labeled examples are
    invented ones, written from a guide, so they are sent as they are."""
    if not args.judge_model:
        return None
    judge = {"model": args.judge_model, "provider": args.judge_provider, "base_url": args.judge_base_url,
             "budget_usd": args.judge_budget, "allow_unscrubbed": True}
    return {key: value for key, value in judge.items() if value is not None}


def judge_cost(calls: dict[str, Any]) -> float:
    """What the judge's answers cost, those taken from the cache included (``judge_calls`` in a stage's stats)."""
    return calls["cost_usd"] + calls["cost_usd_cached"]
