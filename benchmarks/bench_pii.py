"""Precision and recall of the PII scrubber on the labeled fixture, per type and overall.

A found span counts as right when it overlaps a labeled span of the same type ("overlap");
"exact" also wants the same start and end. Every labeled text is scanned as one message.

    python benchmarks/bench_pii.py [--fixture tests/data/pii_labeled.jsonl] [--show-errors]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from dataprep.pii import Scrubber

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii_labeled.jsonl"
Span = tuple[int, int, str]


@dataclass
class Tally:
    true_pos: Counter = field(default_factory=Counter)
    false_pos: Counter = field(default_factory=Counter)
    false_neg: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def precision(self, kind: str | None = None) -> float:
        tp, fp = self._sum(self.true_pos, kind), self._sum(self.false_pos, kind)
        return tp / (tp + fp) if tp + fp else 1.0

    def recall(self, kind: str | None = None) -> float:
        tp, fn = self._sum(self.true_pos, kind), self._sum(self.false_neg, kind)
        return tp / (tp + fn) if tp + fn else 1.0

    def kinds(self) -> list[str]:
        return sorted(set(self.true_pos) | set(self.false_pos) | set(self.false_neg))

    @staticmethod
    def _sum(counter: Counter, kind: str | None) -> int:
        return counter[kind] if kind else sum(counter.values())


def load(path: Path = FIXTURE) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def matches(found: Span, gold: Span, exact: bool) -> bool:
    if found[2] != gold[2]:
        return False
    return found[:2] == gold[:2] if exact else found[0] < gold[1] and gold[0] < found[1]


def score(rows: list[dict], scrubber: Scrubber, exact: bool = False) -> Tally:
    tally = Tally()
    for row in rows:
        text = row["text"]
        gold = [(s["start"], s["end"], s["type"]) for s in row["spans"]]
        found = [(f.start, f.end, f.kind) for f in scrubber.find(text)]
        unmatched = list(gold)
        for span in found:
            hit = next((g for g in unmatched if matches(span, g, exact)), None)
            if hit is None:
                tally.false_pos[span[2]] += 1
                tally.errors.append(f"false {span[2]}: {text[span[0]:span[1]]!r} in {text!r}")
            else:
                unmatched.remove(hit)
                tally.true_pos[span[2]] += 1
        for span in unmatched:
            tally.false_neg[span[2]] += 1
            tally.errors.append(f"missed {span[2]}: {text[span[0]:span[1]]!r} in {text!r}")
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixture", type=Path, default=FIXTURE)
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    rows = load(args.fixture)
    scrubber = Scrubber()
    overlap, exact = score(rows, scrubber), score(rows, scrubber, exact=True)
    print(f"{len(rows)} texts, {sum(len(r['spans']) for r in rows)} labeled spans, "
          f"{sum(not r['spans'] for r in rows)} texts with none")
    print(f"{'type':<10} {'gold':>5} {'P overlap':>10} {'R overlap':>10} {'P exact':>8} {'R exact':>8}")
    for kind in overlap.kinds():
        gold = overlap.true_pos[kind] + overlap.false_neg[kind]
        print(f"{kind:<10} {gold:>5} {overlap.precision(kind):>10.3f} {overlap.recall(kind):>10.3f} "
              f"{exact.precision(kind):>8.3f} {exact.recall(kind):>8.3f}")
    print(f"{'overall':<10} {'':>5} {overlap.precision():>10.3f} {overlap.recall():>10.3f} "
          f"{exact.precision():>8.3f} {exact.recall():>8.3f}")
    texts, rounds = [row["text"] for row in rows], 50
    started = time.perf_counter()
    for _ in range(rounds):
        fresh = Scrubber()  # an empty cache: every text is scanned
        for text in texts:
            fresh.find(text)
    seconds = time.perf_counter() - started
    megabytes = sum(len(t.encode()) for t in texts) * rounds / 1e6
    print(f"speed: {megabytes / seconds:.1f} MB/s of fixture text ({len(texts) * rounds / seconds:,.0f} texts/s)")
    if args.show_errors:
        print("\n".join(overlap.errors))


if __name__ == "__main__":
    main()
