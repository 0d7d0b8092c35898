"""Helpers shared by the benchmark scripts: timing a function in a fresh process with its peak memory."""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from queue import Empty
from typing import Any, Callable

from rich.console import Console
from rich.table import Table


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
    Console().print(table)
