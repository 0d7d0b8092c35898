"""Precision and recall of the PII scrubber per type, its false-positive rate on neutral texts,
and its speed.

Quality is measured on the labeled sets in benchmarks/labeled/pii/, each written blind from the
labeling guide by someone who had not seen the detectors. ``TUNING_SETS`` (dev, holdout,
holdout2 … holdout20) have all been looked at while improving detection: their figures are no
longer a fair estimate, and ``--show-errors`` prints their individual misses and false positives.
``CLEAN_SETS`` (holdout21, holdout22) have never been looked at: they are reported last, each on its own
when its file exists, and their errors are never printed (reading them would make them tuning sets). A found
span counts as right when it overlaps a labeled span of the same type; each detector's spans
carry the labeled type in ``TYPE_OF``. Order numbers are neutral in the guide ("order numbers
the recipe keeps"), yet the order detector is on by default (an order number is the key to a
customer's record): its spans are counted apart, as what a recipe that keeps them would not scrub,
and are neither right nor wrong here. Sets whose writer tagged each name with the context it stands
in (greeting, sign-off, introduction, signature, field, or prose) also print name recall by
context and in the contexts issue 12 sets its target for (all but prose).

Names in real messages, labeled by others: the Bitext support corpus in ``../shared`` annotates the
person's name in 161 of its user messages (``entity_type`` person_name, by the corpus's authors). Only
recall is measured there: the corpus marks one entity per message, so other personal data in it is
not labeled, and a finding outside the annotation is neither right nor wrong.

Speed: texts/s and MB/s over the labeled texts against a plain ``re`` e-mail-only baseline,
then one record holding 20,000 copies of one address, then one 200 MB line.

    python benchmarks/bench_pii.py                     # every set, the clean one last, then speed
    python benchmarks/bench_pii.py --sets dev holdout3 --show-errors --no-speed
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson

from _common import BITEXT, bitext_rows
from dataprep.pii import Found, Scrubber, phones_in
from dataprep.record import Record

LABELED = Path(__file__).resolve().parent / "labeled" / "pii"
TUNING_SETS = ("dev", "holdout", *(f"holdout{n}" for n in range(2, 21)))  # in the order they were written
CLEAN_SETS = ("holdout21", "holdout22")
#: detector name -> labeled type; detectors the sets have no type for keep their own name
TYPE_OF = {"pem_key": "pem_key", "token": "jwt", "high_entropy": "api_key", "secret": "password", "keyword_key": "api_key",
           "bearer_token": "api_key",
           "national_id": "ssn",  # the sets label every personal number "ssn"
           "uk_nino": "uk_nino", "ipv6": "ip"}
#: detectors of values the guide leaves neutral when the recipe keeps them (``pii.disable``)
KEPT_BY_RECIPE = ("order",)
#: where issue 12 asks names to be found: greetings, sign-offs, "my name is", "I'm", signatures, name
#: fields (sets written with a ``context`` on each name span; "prose" is every other place)
ISSUE_CONTEXTS = ("greeting", "sign_off", "intro", "signature", "field")
Span = tuple[int, int, str]
Label = Callable[[Found], str]


def labeled_type(found: Found) -> str:
    return TYPE_OF.get(found.detector, found.detector)


@dataclass
class Tally:
    true_pos: Counter = field(default_factory=Counter)
    false_pos: Counter = field(default_factory=Counter)
    false_neg: Counter = field(default_factory=Counter)
    neutral_texts: int = 0
    neutral_hit: int = 0
    kept_by_recipe: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    #: labeled names by the context their set's writer tagged ("greeting", ..., "prose"), found and missed
    name_found: Counter = field(default_factory=Counter)
    name_missed: Counter = field(default_factory=Counter)

    def name_recall(self, contexts: tuple[str, ...]) -> tuple[float, int]:
        found = sum(self.name_found[context] for context in contexts)
        labeled = found + sum(self.name_missed[context] for context in contexts)
        return (found / labeled if labeled else 1.0), labeled

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


def load(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def overlaps(found: Span, gold: Span) -> bool:
    return found[2] == gold[2] and found[0] < gold[1] and gold[0] < found[1]


def score(rows: list[dict], scrubber: Scrubber, label: Label = labeled_type,
          kept: tuple[str, ...] = KEPT_BY_RECIPE) -> Tally:
    """A found span is right when it overlaps a labeled span of its type; a labeled span is
    found when some found span of its type overlaps it. Spans of the ``kept`` types are only counted."""
    tally = Tally()
    for row in rows:
        text = row["text"]
        gold = [(s["start"], s["end"], s["type"]) for s in row["spans"]]
        found = [(f.start, f.end, label(f)) for f in scrubber.find(text)]
        tally.kept_by_recipe.update(span[2] for span in found if span[2] in kept)
        found = [span for span in found if span[2] not in kept]
        if not gold:
            tally.neutral_texts += 1
            tally.neutral_hit += bool(found)
        for span in found:
            if any(overlaps(span, g) for g in gold):
                tally.true_pos[span[2]] += 1
            else:
                tally.false_pos[span[2]] += 1
                tally.errors.append(f"false {span[2]}: {text[span[0]:span[1]]!r} in {row.get('id')}: {text!r}")
        for span, labeled in zip(gold, row["spans"]):
            hit = any(overlaps(f, span) for f in found)
            if "context" in labeled:
                (tally.name_found if hit else tally.name_missed)[labeled["context"]] += 1
            if not hit:
                tally.false_neg[span[2]] += 1
                tally.errors.append(f"missed {span[2]}: {text[span[0]:span[1]]!r} in {row.get('id')}: {text!r}")
    return tally


def bitext_names() -> list[dict]:
    """The corpus's messages with an annotated person's name, as labeled texts with that one span."""
    annotated = [row for row in bitext_rows() if row["entity_type"] == "person_name"]
    return [{"id": f"bitext-{number}", "text": row["instruction"],
             "spans": [{"start": start, "end": start + len(row["entity_value"]), "type": "name"}]}
            for number, row in enumerate(annotated) if (start := row["instruction"].find(row["entity_value"])) >= 0]


def print_quality(name: str, rows: list[dict], tally: Tally) -> None:
    print(f"\n{name}: {len(rows)} texts, {sum(len(r['spans']) for r in rows)} labeled spans, "
          f"{tally.neutral_texts} neutral texts")
    print(f"{'type':<12} {'labeled':>7} {'found':>6} {'precision':>10} {'recall':>7}")
    for kind in tally.kinds():
        labeled = tally.true_pos[kind] + tally.false_neg[kind]
        found = tally.true_pos[kind] + tally.false_pos[kind]
        print(f"{kind:<12} {labeled:>7} {found:>6} {tally.precision(kind):>10.3f} {tally.recall(kind):>7.3f}")
    print(f"{'overall':<12} {'':>7} {'':>6} {tally.precision():>10.3f} {tally.recall():>7.3f}")
    for kind, count in tally.kept_by_recipe.items():
        print(f"{kind}: {count} spans scrubbed by default that a recipe keeping them leaves (pii.disable: [{kind}])")
    contexts = sorted(set(tally.name_found) | set(tally.name_missed))
    if contexts:
        by_context = {context: tally.name_recall((context,)) for context in contexts}
        print("name recall by context: " + ", ".join(
            f"{context} {recall:.3f} ({labeled})" for context, (recall, labeled) in by_context.items()))
        recall, labeled = tally.name_recall(ISSUE_CONTEXTS)
        print(f"name recall in the contexts issue 12 names (all but prose): {recall:.3f} ({labeled} names)")
    if tally.neutral_texts:
        print(f"neutral texts with a false positive: {tally.neutral_hit}/{tally.neutral_texts} "
              f"({tally.neutral_hit / tally.neutral_texts:.1%})")


# -- speed ---------------------------------------------------------------------------------------
EMAIL_ONLY = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def throughput(texts: list[str], scan: Callable[[str], object], rounds: int) -> tuple[float, float]:
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            scan(text)
    seconds = time.perf_counter() - started
    megabytes = sum(len(t.encode()) for t in texts) * rounds / 1e6
    return len(texts) * rounds / seconds, megabytes / seconds


def uncached_find(text: str) -> object:
    phones_in.cache_clear()
    return Scrubber().find(text)  # empty caches: every text is scanned


def print_speed(texts: list[str], rounds: int, line_mb: int) -> None:
    print(f"\nspeed ({len(texts)} labeled texts x {rounds} rounds)")
    print(f"{'scanner':<28} {'texts/s':>10} {'MB/s':>8}")
    for name, scan in (("re, e-mail only", EMAIL_ONLY.findall), ("Scrubber.find", uncached_find)):
        texts_per_second, mb_per_second = throughput(texts, scan, rounds)
        print(f"{name:<28} {texts_per_second:>10,.0f} {mb_per_second:>8.2f}")
    copies = " ".join(["write to jane.doe@example.com"] * 20_000)
    started = time.perf_counter()
    Scrubber().scrub_record(Record(messages=[{"role": "user", "content": copies}]))
    print(f"one message, 20,000 copies of one e-mail: {time.perf_counter() - started:.2f} s")
    # log text as it comes: mostly prose and numbers, a little PII now and then
    prose = ("The sync job finished in 4.2 s after 3 retries; build 4.2.10.3 logged 1,024 events for tenant acme "
             "and the queue drained without errors. ") * 12
    unit = prose + "Thanks, Maria: call +1 415 555 0123 or mail jane.doe@example.com about order A-10293. "
    line = unit * (line_mb * 1_000_000 // len(unit))
    started = time.perf_counter()
    found = Scrubber().find(line)
    print(f"one {len(line) / 1e6:.0f} MB line: {time.perf_counter() - started:.1f} s, {len(found):,} spans")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sets = [name for name in (*TUNING_SETS, *CLEAN_SETS) if (LABELED / f"{name}.jsonl").exists()]
    parser.add_argument("--sets", nargs="+", default=sets, choices=sets)
    parser.add_argument("--show-errors", action="store_true",
                        help=f"Print the misses and false positives of the tuning sets (never {', '.join(CLEAN_SETS)}'s).")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--rounds", type=int, default=20, help="Passes over the labeled texts for the speed table.")
    parser.add_argument("--line-mb", type=int, default=200, help="Size of the one-line speed test.")
    args = parser.parse_args()
    texts = []
    for name in args.sets:
        rows = load(LABELED / f"{name}.jsonl")
        tally = score(rows, Scrubber())
        print_quality(f"{name} (clean: never tuned on)" if name in CLEAN_SETS else name, rows, tally)
        if args.show_errors and name in TUNING_SETS:
            print("\n".join(tally.errors))
        texts += [row["text"] for row in rows]
    if BITEXT.exists():
        names = bitext_names()
        recall = score(names, Scrubber()).recall("name")
        print(f"\nreal messages, names annotated by the Bitext corpus's authors: {len(names)} names, recall {recall:.3f} "
              "(the one span each message is annotated with; precision cannot be read from it)")
    if not args.no_speed:
        print_speed(texts, args.rounds, args.line_mb)


if __name__ == "__main__":
    main()
