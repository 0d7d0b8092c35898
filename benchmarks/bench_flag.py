"""The fact-heavy scorer: precision, recall and F1 on the labeled set, and its speed.

    python benchmarks/bench_flag.py                 # the dev sets, the old set, speed
    python benchmarks/bench_flag.py --holdout       # also the fourteen sets never tuned on and the held-out Bitext rows
    python benchmarks/bench_flag.py --n 100000 --threshold 0.5
    OPENAI_API_KEY=... python benchmarks/bench_flag.py --judge-model gpt-4.1-mini   # the flag with its LLM judge

Thirty-four labeled sets and two sets of labels of real replies, reported apart:

- ``benchmarks/labeled/facts/dev.jsonl``: written from the labeling guide
  (/work/shared/notes/labeling-guides.md, "Fact-heavy") by someone who had not seen the
  scorer; the scorer is tuned on it;
- ``benchmarks/labeled/facts/holdout.jsonl``: written the same way and first kept blind; its
  aggregate was seen once (F1 0.81, hard 0.77), so from the second round of tuning on it is a
  second dev set, tuned on like the first: its figures are no longer the ones to quote;
- ``benchmarks/labeled/facts/holdout2.jsonl``: written the same way after that round, and scored
  blind once (F1 0.825, hard 0.750); from the next round on it is a third dev set;
- ``benchmarks/labeled/facts/holdout3.jsonl``: written the same way after that round, and scored
  blind once with the same scorer (F1 0.844, hard 0.818); from the next round on it is a fourth
  dev set;
- ``benchmarks/labeled/facts/holdout4.jsonl``: written the same way, and scored blind once with
  that same scorer (F1 0.804, hard 0.758). Its writer reused about a dozen structures across
  domains and paired grounded and ungrounded versions of one reply: a sharper, less varied set.
  Its errors have since been read: it is a fifth dev set;
- ``benchmarks/labeled/facts/holdout5.jsonl``: written the same way (498 examples, 18 domains,
  84% hard), scored blind with the round-four scorer (F1 0.829, hard 0.826) and once after the
  next round (0.833, 0.830); its errors have since been read: it is a sixth dev set;
- ``benchmarks/labeled/facts/holdout6.jsonl``: written the same way (516 examples, 22 domains, 78% hard),
  scored blind once (F1 0.772, hard 0.703; the round-five scorer: 0.770, 0.701); its errors have since
  been read: it is a seventh dev set;
- ``benchmarks/labeled/facts/holdout7.jsonl``: written the same way (508 examples, 23 domains, 75% hard),
  scored blind once (F1 0.846, hard 0.825; the round-five scorer: 0.843, 0.825); its errors have since
  been read: it is an eighth dev set;
- ``benchmarks/labeled/facts/holdout8.jsonl``: written the same way (517 examples, 16 domains, 79% hard),
  scored blind once (F1 0.798, hard 0.749); its errors have since been read: it is a ninth dev set;
- ``benchmarks/labeled/facts/holdout9.jsonl``: written the same way (414 examples, 16 domains, 49% hard),
  scored blind once (F1 0.829, hard 0.788); its errors have since been read: it is a tenth dev set;
- ``benchmarks/labeled/facts/holdout10.jsonl``: written the same way (432 examples, 16 domains, 54% hard,
  16% not in English), scored blind with the round-nine scorer (F1 0.858, hard 0.771) and once after
  round ten (0.863, 0.777); read and tuned on in round eleven: an eleventh dev set;
- ``benchmarks/labeled/facts/holdout11.jsonl``: written the same way (429 examples, 16 domains, 51% hard,
  17% not in English), scored before and after round eleven (0.840, 0.809; 0.838, 0.809), never tuned
  on or read example by example;
- ``benchmarks/labeled/facts/holdout12.jsonl``: written the same way in round twelve (466 examples, 19
  domains, 48% hard, 12% not in English), scored once with the scorer as it stood (0.864, 0.841), never
  tuned on or read;
- ``benchmarks/labeled/facts/holdout13.jsonl``: written the same way at the end of round twelve
  (443 examples, 20 domains, 50% hard), scored first thing in round thirteen with the scorer as round
  twelve left it (0.872, 0.861), never tuned on or read;
- ``benchmarks/labeled/facts/holdout14.jsonl``: written the same way in round thirteen (444 examples, 22
  domains, 52% hard, 14% not in English, 20% with tools), scored once with the scorer as it stood
  (round twelve's: 0.883, 0.847), never tuned on or read;
- ``benchmarks/labeled/facts/holdout15.jsonl``: written the same way in round fourteen (342 examples, 26
  domains, 54% hard, 14% not English, 17% with tools; its writer stopped short of 440 to keep to its
  time), scored once with the scorer as it stood (0.834, 0.769), never tuned on or read;
- ``benchmarks/labeled/facts/holdout16.jsonl``: written the same way in round fifteen (420 examples, 22
  domains, 64% hard, 16% not English, 19% with tools), scored once with the scorer as it stood (round
  fourteen's: 0.840, 0.790), never tuned on or read;
- ``benchmarks/labeled/facts/holdout17.jsonl``: written the same way in round twenty (440 examples, 22
  domains, 51% hard, 15% not English, 20% with tools; its writer leaned the hard cases on numbers derived
  from the input and on single added facts), scored once with the scorer as it stood (unchanged since round
  fifteen: 0.810, 0.690), never tuned on or read;
- ``benchmarks/labeled/facts/holdout18.jsonl``: written the same way in round twenty-two (440 examples, 33
  domains, 53% hard, 16% not English, 21% with tools; its writer counted command-line flags, config keys and
  third-party API parameters in code as facts, core syntax as behaviour), scored first with the model's
  first version (rules alone 0.798, 0.755; rules + model 0.852, 0.817), then with the one shipped (0.837,
  0.800), never tuned on or read;
- ``benchmarks/labeled/facts/holdout21.jsonl``: written the same way in round twenty-three (440 examples,
  22 domains, 58% hard; its writer counted general facts of the world as facts too: drug dose limits, tax
  bands, ISO and airport codes, capitals), scored once, with the model that round shipped (rules alone
  0.704, 0.711; rules + model 0.783, 0.801; round twenty-two's model 0.795, 0.800), never tuned on or
  read;
- ``benchmarks/labeled/facts/holdout25.jsonl``: written the same way in round twenty-five (440 examples, 22
  domains, 55% hard, 10% not English, 15% with tools; its writer counted recalled commands, flags and
  conversion-like lookups, such as airport codes or a carrier's volumetric divisor, as facts), scored once,
  at the end of that round, with round twenty-four's model (0.828, 0.765), the round's first (0.844,
  0.777) and the one shipped (0.842, 0.775), never tuned on or read;
- ``benchmarks/labeled/facts/holdout30.jsonl``: written the same way in round twenty-six with no emphasis
  (400 examples, 25 domains, 50% hard, 11% not English, 12% with tools), scored once, at the end of that
  round, with round twenty-five's model (0.916, 0.911) and the one shipped (0.909, 0.905), never tuned on
  or read; ``holdout30_second.jsonl``, its second blind labeling;
- ``benchmarks/labeled/facts/holdout31.jsonl``: written the same way in round twenty-seven with no emphasis
  (400 examples, 25 domains, 56% hard, 12% not English, 22% with tools), scored once, at the end of that
  round, with round twenty-six's model (0.936, 0.931) and the one shipped (0.923, 0.911), never tuned on
  or read; ``holdout31_second.jsonl``, its second blind labeling;
- ``benchmarks/labeled/facts/holdout32.jsonl``: written the same way in round twenty-eight with no emphasis
  (400 examples, 25 domains, 59% hard, 12% not English, 14% with tools), after that round's model was
  chosen and the twelve sets above scored; scored once with round twenty-seven's model (0.929, 0.899) and
  the one shipped (0.926, 0.903), never tuned on or read; ``holdout32_second.jsonl``, its second blind
  labeling (99.0% agreement, kappa 0.98);
- ``benchmarks/labeled/facts/holdout33.jsonl``: written the same way in round thirty-five with no emphasis
  (400 examples, 25 domains, 62% hard, 12% not English, 15% with tools), scored once with the scorer
  unchanged since round twenty-eight (0.936, hard 0.955), never tuned on or read. ``--holdout`` scores
  these fourteen at the end;
- ``benchmarks/labeled/facts/dev19.jsonl`` and ``dev20.jsonl``: written the same way in round twenty-three
  as training data for the model (440 each, 22 domains each; ``dev19`` a third long templated how-tos with
  one buried claim or none, ``dev20`` a third tool calls, a sixth pasted documents, a sixth code);
- ``benchmarks/labeled/facts/dev25.jsonl`` and ``dev26.jsonl``: written the same way in round twenty-five as
  training data (440 each, 22 and 25 domains, 61% and 74% hard; ``dev25`` leaning on facts with no digit
  buried in generic replies and on many numbers all derived from the input, ``dev26`` on tool results,
  long system prompts, pasted documents and code), and ``dev27`` and ``dev28`` (320 each, 20 domains
  each: recalled commands, flags, API names and lookups beside code written from the user's spec; short
  customer-facing replies decided by one small claim); ``dev29`` and ``dev30``, written the same way in
  round twenty-six as training data (360 each, 25 domains each, 76% hard each: faithful extractions,
  summaries and tool calls that add one recalled value; recalled names and rules with no digit, 29% not
  English);
- ``benchmarks/labeled/facts/dev31.jsonl`` and ``dev32.jsonl``: written the same way in round twenty-seven
  as training data (360 each, 25 and 24 domains, 74% and 70% hard: rules and availability stated in plain
  lowercase words, beside replies as confident whose every claim the conversation holds; replies full of
  numbers, labels and names all supported, beside look-alikes that slip in one value). Not trained on: a
  rule fixed before they existed asked ``--cv`` over the nineteen written sets to gain 0.002, and it
  gained 0.001. Never read; the shipped model scores them 0.903 (0.887) and 0.916 (0.887), round
  twenty-six's 0.884 (0.861) and 0.918 (0.890);
- ``tests/data/fact_heavy_labeled.jsonl``: the old set, written alongside the old scorer.

- ``benchmarks/labeled/facts/bitext_labels.jsonl``: labels for every 15th row of the real Bitext support
  corpus in ``../shared`` (301 rows; the rows themselves stay there), written from the guide in round
  twenty-two by a helper that had not seen the scorer, and ``bitext_labels_second.jsonl``, the same rows
  labeled again by another; ``--holdout`` scores the first, rules and model apart, and prints how often the
  two agree. None of these rows is trained on; rows of the same intent share templates, so the figures
  are printed apart for the intents the model trained on and the thirteen it never saw;
- ``benchmarks/labeled/facts/bitext_unseen.jsonl``: labels for 286 more rows, rows 7 and 11 of every 15
  of the thirteen intents the model never trained on, written in round twenty-three by a helper that had
  not seen the scorer, scored once (``--holdout``), never trained on;
- ``benchmarks/labeled/facts/bitext_train.jsonl``: labels for 642 other rows of the corpus (rows 3, 6, 9
  and 12 of every 15, of fourteen of its 27 intents, every other one in alphabetical order), written in
  round twenty-three by two helpers that had not seen the scorer, as training data.
- ``benchmarks/labeled/facts/holdout18_second.jsonl`` and ``holdout21_second.jsonl``: those two never-tuned
  sets labeled again in round twenty-four, blind, by helpers given the examples without their labels and
  the guide only; ``holdout25_second.jsonl`` the same, in round twenty-five. ``--holdout`` ends with a
  table of every set labeled twice: how often the labelings agree, the second's F1 against the first
  (what a careful reader reaches), and rules and stage against each.
Since round twenty-two the score is the rules' evidence weighed with the reply's words by a model
(``dataprep/fact_model.py``) trained on the dev sets: its figures on those sets are training figures
(``train_fact_model.py --cv`` scores each held out). ``--holdout`` prints the never-tuned sets pooled,
rules alone beside rules + model.

Each is scored overall, on its hard cases only, and per domain, as the flag stage scores: every
reply a trainer learns from. Until round twenty-one this script scored the final reply only, and
the figures above are those; the README gives the seven never-tuned sets of that round both ways.

With ``--judge-model``, the whole flag stage runs with its LLM judge (``--judge-scope``, default
``kept``: every reply the offline scorer would keep for training) on the sets never tuned on (or
``--sets``), and prints, per set, the offline and the judged F1, overall and on hard cases, beside
the replies judged, the calls sent, the answers taken from the cache and what they cost. Answers are
cached (``--cache``), so a rerun sends nothing. The examples are invented ones, written from the
guide, so they are sent as they are (``allow_unscrubbed``); nothing else of this machine's is.

Speed: the offline scorer alone in CPU seconds of this process (examples per second on one
core, whatever else the machine runs), and the whole ``flag`` stage on a record file
(reading, scoring, writing) in wall-clock seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson

from _common import BITEXT, add_judge_arguments, bitext_rows, judge_cost, judge_option, print_table

ROOT = Path(__file__).resolve().parent.parent
LABELED = ROOT / "tests" / "data" / "fact_heavy_labeled.jsonl"
FACT_SETS = ROOT / "benchmarks" / "labeled" / "facts"
#: real replies for training: labels for rows of half the Bitext corpus's intents (its rows stay in ../shared)
BITEXT_TRAINING = FACT_SETS / "bitext_train.jsonl"
#: the dev sets the model is trained on, in the order they were written: the first eleven were each a
#: blind holdout once; dev19, dev20, dev25 to dev30 and bitext_train were written as training data
DEV_SETS = [FACT_SETS / f"{name}.jsonl" for name in ("dev", "holdout", *(f"holdout{n}" for n in range(2, 11)),
                                                    "dev19", "dev20", "dev25", "dev26", "dev27", "dev28", "dev29", "dev30",
                                                    BITEXT_TRAINING.stem)]
#: never tuned on, never read example by example
CLEAN_SETS = [FACT_SETS / f"holdout{n}.jsonl" for n in (11, 12, 13, 14, 15, 16, 17, 18, 21, 25, 30, 31, 32, 33)]
#: real replies held out: labels for every 15th row of the Bitext corpus, none of them trained on
BITEXT_LABELS = FACT_SETS / "bitext_labels.jsonl"
BITEXT_SECOND_LABELS = FACT_SETS / "bitext_labels_second.jsonl"  # the same rows, labeled again by another helper
#: sets labeled a second time, blind, by a helper given the examples without their labels: how far the
#: labels are from what another careful reader of the guide decides, the ceiling a scorer can reach
SECOND_LABELINGS = {BITEXT_LABELS: BITEXT_SECOND_LABELS,
                    **{FACT_SETS / f"{name}.jsonl": FACT_SETS / f"{name}_second.jsonl" for name in ("holdout18", "holdout21", "holdout25", "holdout30", "holdout31", "holdout32")}}
#: real replies held out: labels for two more rows of every 15, of the intents the model never trained on
BITEXT_UNSEEN_LABELS = FACT_SETS / "bitext_unseen.jsonl"


@dataclass
class Scores:
    n: int
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def cells(self) -> list[Any]:
        """Examples, precision, recall and F1, as a table prints them."""
        return [self.n, f"{self.precision:.3f}", f"{self.recall:.3f}", f"{self.f1:.3f}"]


def read_labels(path: Path) -> list[dict[str, Any]]:
    """A labeled set's lines as written (a Bitext label holds a row number, not the row)."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def load_labeled(path: Path = LABELED) -> list[dict[str, Any]]:
    """A labeled set's examples; a Bitext label (a row number) is joined with its row in ../shared."""
    return [with_bitext_messages(row) if "row" in row else row for row in read_labels(path)]


def with_bitext_messages(label: dict[str, Any]) -> dict[str, Any]:
    """A labeled Bitext row as an example: the customer's instruction and the support reply."""
    row = bitext_rows()[label["row"]]
    return {**label, "domain": label["intent"], "messages": [{"role": "user", "content": row["instruction"]},
                                                           {"role": "assistant", "content": row["response"]}]}


def available(paths: list[Path]) -> list[Path]:
    """The sets that can be read here: ``bitext_train``'s rows are in ../shared, beside the project."""
    if not BITEXT.exists() and BITEXT_TRAINING in paths:
        print(f"{BITEXT_TRAINING.stem} is left out: its rows are in {BITEXT}, which is not here")
    return [path for path in paths if BITEXT.exists() or path != BITEXT_TRAINING]


def scorer_of(rules_only: bool) -> Callable[[list[dict[str, Any]]], Any]:
    """The stage's scorer (the rules' evidence weighed by the learned model), or the rules' own."""
    from dataprep.fact_model import weighed_assessment
    from dataprep.facts import assess_trained_replies

    return assess_trained_replies if rules_only else weighed_assessment


def evaluate(rows: list[dict[str, Any]], threshold: float = 0.5, rules_only: bool = False) -> Scores:
    """Precision and recall of "score >= threshold" against the ``fact_heavy`` labels, scored as the
    flag stage scores: every reply a trainer learns from, the rules' evidence weighed by the learned
    model (``rules_only``: the rules' own score, which the dev-set floors guard)."""
    scorer = scorer_of(rules_only)
    return scores_of(rows, [(assessment := scorer(row["messages"])) is not None
                            and assessment.score >= threshold for row in rows])


def scores_of(rows: list[dict[str, Any]], predicted: list[bool]) -> Scores:
    actual = [row["label"] == "fact_heavy" for row in rows]
    hits = sum(p and a for p, a in zip(predicted, actual))
    return Scores(len(rows), hits / max(1, sum(predicted)), hits / max(1, sum(actual)))


def slices(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    named = {"all": rows, "hard": [r for r in rows if r["hard"]]}
    for domain in sorted({r["domain"] for r in rows}):
        named[f"domain {domain}"] = [r for r in rows if r["domain"] == domain]
    return named


def report_set(path: Path, threshold: float) -> list[dict[str, Any]]:
    rows = load_labeled(path)
    table = []
    for name, subset in slices(rows).items():
        table.append([name, *evaluate(subset, threshold).cells()])
    trained = " (the model was trained on it: train_fact_model.py --cv scores it held out)" if path in DEV_SETS else ""
    print_table(f"fact-heavy scorer on {path.relative_to(ROOT)} (threshold {threshold}){trained}",
                ["slice", "examples", "precision", "recall", "F1"], table)
    return rows


def report_bitext(threshold: float) -> None:
    """The held-out Bitext rows: all, those of intents the model trained on (other rows, often of the
    same template, were in training) and those of intents it never saw."""
    rows, trained = load_labeled(BITEXT_LABELS), {row["intent"] for row in read_labels(BITEXT_TRAINING)}
    for part, subset in (("", rows), (", intents trained on", [row for row in rows if row["intent"] in trained]),
                         (", intents never trained on", [row for row in rows if row["intent"] not in trained])):
        report_rules_and_model(f"real support replies{part} (every 15th row of the shared Bitext corpus)", subset,
                               threshold)
    report_rules_and_model("more real support replies of intents never trained on (rows 7 and 11 of every 15)",
                           load_labeled(BITEXT_UNSEEN_LABELS), threshold)


def labelers_agree(threshold: float) -> None:
    """For each set labeled twice: how often the two blind labelings agree, Cohen's kappa, the second
    labeling's F1 against the first (a careful reader's score: the ceiling), and the rules' and the
    stage's F1 against each labeling."""
    table = []
    for first_path, second_path in SECOND_LABELINGS.items():
        if first_path == BITEXT_LABELS and not BITEXT.exists():  # its rows are in ../shared
            continue
        rows = load_labeled(first_path)
        second = {label_key(row): row["label"] for row in read_labels(second_path)}
        relabeled = [{**row, "label": second[label_key(row)]} for row in rows]
        first_heavy, second_heavy = ([row["label"] == "fact_heavy" for row in labeled] for labeled in (rows, relabeled))
        agree = sum(a == b for a, b in zip(first_heavy, second_heavy)) / len(rows)
        chance = (sum(first_heavy) * sum(second_heavy) + (len(rows) - sum(first_heavy)) * (len(rows) - sum(second_heavy))) \
            / len(rows) ** 2
        table.append([first_path.stem, len(rows), f"{agree:.1%}", f"{(agree - chance) / (1 - chance):.2f}",
                      f"{scores_of(rows, second_heavy).f1:.3f}",
                      *(f"{evaluate(labeled, threshold, rules_only).f1:.3f}" for rules_only in (True, False)
                        for labeled in (rows, relabeled))])
    print_table("two blind labelings of the same examples (F1 of fact_heavy)",
                ["set", "examples", "agree", "kappa", "second vs first", "rules vs first", "rules vs second",
                 "stage vs first", "stage vs second"], table)


def label_key(row: dict[str, Any]) -> Any:
    """What names an example in both labelings: its id, or a Bitext row's number."""
    return row["row"] if "row" in row else row["id"]


def report_rules_and_model(title: str, rows: list[dict[str, Any]], threshold: float) -> None:
    table = []
    for name, subset in (("all", rows), ("hard", [row for row in rows if row["hard"]])):
        for scorer, rules_only in (("rules alone", True), ("rules + model (the stage)", False)):
            table.append([f"{name}: {scorer}", *evaluate(subset, threshold, rules_only).cells()])
    print_table(f"{title} (threshold {threshold})", ["slice", "examples", "precision", "recall", "F1"], table)


def scorer_speed(rows: list[dict[str, Any]], n: int, rules_only: bool = False) -> tuple[float, float]:
    """Examples per second of the offline scorer (every trained reply; ``rules_only``: without the
    model): per CPU second (one core) and per wall-clock second."""
    scorer = scorer_of(rules_only)
    examples = [rows[i % len(rows)]["messages"] for i in range(n)]
    scorer(examples[0])  # the weights read before the clock starts
    cpu, wall = time.process_time(), time.perf_counter()
    for messages in examples:
        scorer(messages)
    return n / (time.process_time() - cpu), n / (time.perf_counter() - wall)


def stage_speed(rows: list[dict[str, Any]], n: int) -> float:
    """Records per wall-clock second through the flag stage, file in, files out."""
    from dataprep.recipe import InputSpec
    from dataprep.runner import run_single_stage
    from dataprep.stages.flag import Flag

    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "records.jsonl", Path(tmp) / "out.jsonl"
        with open(path, "wb") as handle:
            for i in range(n):
                handle.write(orjson.dumps({"id": f"r{i}", "messages": rows[i % len(rows)]["messages"]}) + b"\n")
        started = time.perf_counter()
        run_single_stage(Flag(), [InputSpec(str(path), "records")], out, {"rag_candidates": out.with_suffix(".rag.jsonl")})
        return n / (time.perf_counter() - started)


@dataclass
class Judged:
    """The flag stage with its judge on labeled rows: each row's offline and judged decision, and the calls."""
    rows: list[dict[str, Any]]
    offline: list[bool]
    judged: list[bool]
    stats: list[int]  # replies judged, overturned, calls sent, answers from the cache
    cost_usd: float

    def row(self, name: str) -> list[Any]:
        hard = [i for i, row in enumerate(self.rows) if row["hard"]]
        f1s = [scores_of([self.rows[i] for i in subset], [predicted[i] for i in subset]).f1
               for predicted in (self.offline, self.judged) for subset in (range(len(self.rows)), hard)]
        return [name, len(self.rows), *(f"{f1:.3f}" for f1 in f1s), *self.stats, f"{self.cost_usd:.2f}"]

    def __add__(self, other: "Judged") -> "Judged":
        return Judged(self.rows + other.rows, self.offline + other.offline, self.judged + other.judged,
                      [a + b for a, b in zip(self.stats, other.stats)], self.cost_usd + other.cost_usd)


def judged_set(path: Path, judge: dict[str, Any], scope: str, threshold: float, cache: Path) -> Judged:
    from dataprep.recipe import InputSpec
    from dataprep.runner import run_single_stage
    from dataprep.stages.flag import Flag

    rows = load_labeled(path)
    with tempfile.TemporaryDirectory() as tmp:
        source, sides = Path(tmp) / "records.jsonl", {place: Path(tmp) / f"{place}.jsonl" for place in ("rag", "rejected")}
        source.write_bytes(b"".join(orjson.dumps({"id": f"row{i}", "messages": row["messages"]}) + b"\n"
                                    for i, row in enumerate(rows)))
        outcome = run_single_stage(Flag(threshold=threshold, judge=judge, judge_scope=scope),
                                   [InputSpec(str(source), "records")], Path(tmp) / "kept.jsonl",
                                   {"rag_candidates": sides["rag"], "rejected": sides["rejected"]}, cache_dir=cache)
        scores = {record["id"]: record["scores"] for written in outcome.paths.values()
                  for record in map(orjson.loads, written.read_bytes().splitlines())}
    final = [scores[f"row{i}"] for i in range(len(rows))]
    stats = outcome.results[1].stats
    calls = stats["judge_calls"]
    return Judged(rows, [score.get("fact_heavy_offline", score["fact_heavy"]) >= threshold for score in final],
                  [score["fact_heavy"] >= threshold for score in final],
                  [stats["judged"], stats["judge_overturned"], calls["calls_sent"], calls["cache_hits"]], judge_cost(calls))


def report_judged(args: argparse.Namespace, judge: dict[str, Any]) -> None:
    paths = args.sets or CLEAN_SETS
    results = [judged_set(path, judge, args.judge_scope, args.threshold, args.cache) for path in paths]
    rows = [result.row(path.stem) for path, result in zip(paths, results)]
    if len(results) > 1:
        rows.append(sum(results[1:], results[0]).row(f"all {len(results)} sets"))
    print_table(f"the flag stage with a judge ({args.judge_provider} {args.judge_model}, scope {args.judge_scope}, "
                f"threshold {args.threshold})",
                ["set", "examples", "offline F1", "offline hard F1", "judged F1", "judged hard F1", "judged",
                 "overturned", "calls sent", "cached answers", "cost $"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="examples for the speed runs")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--holdout", action="store_true",
                        help=f"also score the sets never tuned on ({', '.join(p.stem for p in CLEAN_SETS)}), "
                             "once, at the end of tuning")
    add_judge_arguments(parser, "flag", ("uncertain", "kept", "all"), "kept")
    parser.add_argument("--sets", type=Path, nargs="+", help="labeled sets for the judge (default: the never-tuned ones)")
    args = parser.parse_args()
    judge = judge_option(args)
    if judge:
        report_judged(args, judge)
        return
    for path in available(DEV_SETS):
        report_set(path, args.threshold)
    if args.holdout:
        report_rules_and_model(f"the {len(CLEAN_SETS)} sets never tuned on, pooled",
                               [row for path in CLEAN_SETS for row in report_set(path, args.threshold)], args.threshold)
    if args.holdout and BITEXT.exists():
        report_bitext(args.threshold)
    if args.holdout:
        labelers_agree(args.threshold)
    report_set(LABELED, args.threshold)
    rows = load_labeled()
    rules_cpu, _ = scorer_speed(rows, args.n, rules_only=True)
    per_cpu, per_wall = scorer_speed(rows, args.n)
    stage = stage_speed(rows, args.n)
    print_table(f"speed ({args.n:,} examples)", ["what", "examples / s"],
                [["rules alone, per CPU second (one core): the baseline", round(rules_cpu)],
                 ["scorer (rules + model), per CPU second (one core)", round(per_cpu)],
                 ["scorer, per wall-clock second", round(per_wall)],
                 ["flag stage end to end (read, score, write), wall-clock", round(stage)]])


if __name__ == "__main__":
    main()
