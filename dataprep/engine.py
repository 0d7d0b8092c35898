"""Where the Python-bound per-record work of a stage runs: in this process, in a pool of
processes on every core, or as Ray tasks on a cluster.

A stage hands ``Engine.map_batches`` a picklable top-level function and an iterator of
batches (lists of records, record dicts or JSON lines); results come back in input order.
Every decision that spans records (collapse, clusters, placement) stays in the stage, in this
process, so every engine places every record the same way by construction.

Memory stays bounded: at most two batches per worker are in flight, never the whole input.
Pool workers import the main module as Python's ``spawn`` does: a script that calls
``run_recipe`` needs the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from itertools import chain, islice
from typing import Any, Callable, Iterable, Iterator, TypeVar

from .errors import UsageError

ENGINES = ("local", "ray")
BATCH_RECORDS = 1000  # records per batch: large enough that shipping it costs little next to its work
POOL_AFTER_BATCHES = 8  # inputs of fewer batches run in this process: starting workers would cost more
#: what workers import, imported once by the fork server that starts them (a second or more per
#: worker otherwise, for every pool a run starts): the main module, as Python's default does, and
#: the packages whose functions run on workers
WORKER_MODULES = ["__main__", "dataprep.stages", "dataprep.exporters", "dataprep.formats", "datasketch"]
RAY_MISSING = "--engine ray needs Ray: pip install 'dataprep[ray]'"

Batch = TypeVar("Batch")
Result = TypeVar("Result")


def batched(items: Iterable[Batch], size: int | None = None) -> Iterator[list[Batch]]:
    """Consecutive lists of ``size`` items (the last one shorter)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size or BATCH_RECORDS)):
        yield chunk


class Engine:
    """Runs ``fn(batch, *args)`` over batches; subclasses decide where."""

    name = "engine"
    #: whether ``args`` are shared with the workers rather than copied to each (Ray's object store):
    #: work that needs the whole input's arrays (dedup's LSH bands) goes to it only then
    distributed = False

    def map_batches(self, fn: Callable[..., Result], batches: Iterable[Any], *args: Any) -> Iterator[Result]:
        raise NotImplementedError

    def runs_elsewhere(self, batches: int) -> bool:
        """Whether ``batches`` batches would run on other processes (work that pays only there, like
        reading a file in pieces, is done here otherwise)."""
        return False


class InProcessEngine(Engine):
    name = "in-process"

    def map_batches(self, fn: Callable[..., Result], batches: Iterable[Any], *args: Any) -> Iterator[Result]:
        return (fn(batch, *args) for batch in batches)


class LocalEngine(Engine):
    """This machine, every core: a process pool for inputs of many batches, this process otherwise.

    Workers are started with ``forkserver`` (``spawn`` where there is none): forking next to rich's
    progress thread could copy a held lock into the child. ``DATAPREP_WORKERS`` sets how many."""

    name = "local"

    def __init__(self, workers: int | None = None, pool_after: int | None = None):
        self.workers = workers or int(os.environ.get("DATAPREP_WORKERS") or os.cpu_count() or 1)
        self.pool_after = POOL_AFTER_BATCHES if pool_after is None else pool_after

    def runs_elsewhere(self, batches: int) -> bool:
        return self.workers > 1 and batches >= self.pool_after

    def map_batches(self, fn: Callable[..., Result], batches: Iterable[Any], *args: Any) -> Iterator[Result]:
        iterator = iter(batches)
        first = list(islice(iterator, self.pool_after))
        batches = chain(first, iterator)
        if self.workers <= 1 or len(first) < self.pool_after:
            yield from InProcessEngine().map_batches(fn, batches, *args)
            return
        from concurrent.futures import Future, ProcessPoolExecutor

        pool = ProcessPoolExecutor(self.workers, mp_context=worker_context(), initializer=ignore_interrupts)
        try:
            yield from in_order(lambda batch: pool.submit(fn, batch, *args), Future.result, batches, 2 * self.workers)
        finally:  # on Ctrl-C or an error, batches not started yet are dropped, not worked through
            pool.shutdown(cancel_futures=True)


def worker_context() -> Any:
    """How workers are started: by the fork server, which imports WORKER_MODULES once, where there is one."""
    import multiprocessing  # here, not at the top: every command would pay for it at start

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_MODULES)
    return context


def ignore_interrupts() -> None:
    """Ctrl-C reaches the whole process group: the main process stops the run, workers stay quiet."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class RayEngine(Engine):
    """Ray tasks: on the cluster ``RAY_ADDRESS`` names, else on a local Ray started as ``ray.init()`` does."""

    name = "ray"
    distributed = True

    def runs_elsewhere(self, batches: int) -> bool:
        return True

    def __init__(self) -> None:
        try:  # said before any stage runs, not after the first
            import ray  # noqa: F401
        except ImportError:
            raise UsageError(RAY_MISSING) from None

    def map_batches(self, fn: Callable[..., Result], batches: Iterable[Any], *args: Any) -> Iterator[Result]:
        ray = connected_ray()
        window = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        task = ray.remote(fn)
        shared = [ray.put(arg) for arg in args]  # shipped once, not with every batch
        return in_order(lambda batch: task.remote(batch, *shared), ray.get, batches, window)


def connected_ray() -> Any:
    """Ray, joined to ``RAY_ADDRESS``'s cluster or to a local one it starts (once per process)."""
    import logging

    import ray

    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), log_to_driver=False,
                 include_dashboard=False, logging_level=logging.WARNING)
    return ray


def in_order(submit: Callable[[Any], Any], wait: Callable[[Any], Result], batches: Iterable[Any],
             window: int) -> Iterator[Result]:
    """Submit batches keeping at most ``window`` in flight; yield their results in input order."""
    pending: deque[Any] = deque()
    for batch in batches:
        pending.append(submit(batch))
        if len(pending) >= window:
            yield wait(pending.popleft())
    while pending:
        yield wait(pending.popleft())


def make_engine(name: str) -> Engine:
    if name == "local":
        return LocalEngine()
    if name == "ray":
        return RayEngine()
    raise UsageError(f"unknown engine '{name}'; use one of: {', '.join(ENGINES)}")
