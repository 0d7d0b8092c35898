"""Review round trip at scale against a real local Label Studio: push N records, pull N annotations.

    python benchmarks/bench_review.py            # 10,000 records
    python benchmarks/bench_review.py --n 2000

Starts Label Studio the way the tests do (its own environment in .ls-venv, installed on
first use). Push times ``dataprep review push`` into a new project, then again (the
idempotent re-push that finds every record already there). Pull times ``dataprep review
pull`` on a project whose N tasks each carry a reviewer's annotation (80% accept, 10%
reject, 10% needs edit); they are loaded with Label Studio's import-with-annotations,
which is setup, not measured.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _common import print_table  # noqa: E402
from labelstudio_server import LabelStudioServer  # noqa: E402

from dataprep.jsonl import write_jsonl  # noqa: E402
from dataprep.review import pull, push  # noqa: E402
from dataprep.review.server import Connection  # noqa: E402
from dataprep.review.tasks import task_data  # noqa: E402
from dataprep.record import Record  # noqa: E402


def records(n: int) -> list[Record]:
    return [Record(messages=[{"role": "system", "content": "You are the support assistant of an outdoor store."},
                             {"role": "user", "content": f"Where is my order #{i:06d}? It was due last week."},
                             {"role": "assistant", "content": f"Order #{i:06d} left our warehouse on Monday; "
                                                              "tracking shows delivery within two days."}],
                   tags=["pii:scrubbed"], review={"status": "pending", "picked_because": ["random_sample"]})
            for i in range(n)]


def annotation(i: int) -> dict:
    verdict = "Reject" if i % 10 == 0 else "Needs edit" if i % 10 == 1 else "Accept"
    result = [{"from_name": "verdict", "to_name": "reply", "type": "choices", "value": {"choices": [verdict]}}]
    if verdict != "Accept":
        result.append({"from_name": "reason", "to_name": "reply", "type": "choices", "value": {"choices": ["Off-tone"]}})
    if verdict == "Needs edit":
        result.append({"from_name": "edited_reply", "to_name": "reply", "type": "textarea",
                       "value": {"text": ["Your order left on Monday; it should arrive within two days."]}})
    return {"result": result}


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    n = parser.parse_args().n
    quiet = Console(file=io.StringIO())
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        started = time.perf_counter()
        server = LabelStudioServer.start(Path(tmp))
        start_seconds = time.perf_counter() - started
        try:
            os.environ.update(LABEL_STUDIO_URL=server.url, LABEL_STUDIO_API_KEY=server.token)
            batch = records(n)
            queue = Path(tmp) / "queue.jsonl"
            write_jsonl(queue, (record.to_dict() for record in batch))
            push_seconds = timed(lambda: push(queue, "bench push", None, quiet))
            repush_seconds = timed(lambda: push(queue, "bench push", None, quiet))

            connection = Connection.from_env()
            project_id, _ = connection.project("bench pull", create=True)
            connection.import_tasks(project_id, [{"data": task_data(r), "annotations": [annotation(i)]}
                                                 for i, r in enumerate(batch)])
            verdicts = Path(tmp) / "verdicts.jsonl"
            pull_seconds = timed(lambda: pull(verdicts, "bench pull", None, quiet))
            pulled = sum(1 for _ in open(verdicts, "rb"))
        finally:
            server.stop()
    assert pulled == n, f"pulled {pulled} verdicts for {n} annotations"
    print_table(f"review round trip, {n:,} records, Label Studio on 127.0.0.1 (server start {start_seconds:.1f} s)",
                ["step", "seconds", "records/s"],
                [["push (new project)", push_seconds, int(n / push_seconds)],
                 ["re-push (all already there)", repush_seconds, int(n / repush_seconds)],
                 ["pull (export snapshot -> verdicts)", pull_seconds, int(n / pull_seconds)]])


if __name__ == "__main__":
    main()
