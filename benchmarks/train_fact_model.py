"""Train the fact-heavy model (``dataprep/fact_model.json``) on the eleven dev sets.

    python benchmarks/train_fact_model.py            # writes dataprep/fact_model.json
    python benchmarks/train_fact_model.py --cv       # leave one dev set out, each in turn: rules vs model
    python benchmarks/train_fact_model.py --out F    # writes F instead (the tests compare it with the shipped file)

A logistic regression (scikit-learn, L2, ``C`` below) over ``dataprep.fact_model.features``: the
rules' score, claims and cues, and the reply's words. Only features seen in at least ``MIN_EXAMPLES``
training examples are kept: a word one writer used once says nothing about the next writer's data.
The sets never tuned on (``bench_flag.CLEAN_SETS``) are not read here. ``C``, ``MIN_EXAMPLES`` and the
feature families were chosen by ``--cv`` on the dev sets alone. Retrain after changing the rules in
``dataprep/facts.py``: the model weighs their output, and a test fails while the weights are stale.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from _common import print_table
from bench_flag import DEV_SETS, scores_of

from dataprep.facts import assess_trained_replies
from dataprep.fact_model import WEIGHTS_FILE, features, probability

C = 0.3
MIN_EXAMPLES = 3
THRESHOLD = 0.5


def examples(paths: list[Path]) -> list[tuple[str, dict[str, float], bool, bool]]:
    """(set, features, fact-heavy?, hard?) of every example whose conversation has a reply to score."""
    found = []
    for path in paths:
        for line in path.read_bytes().splitlines():
            row = orjson.loads(line)
            if (assessment := assess_trained_replies(row["messages"])) is not None:
                found.append((path.stem, features(row["messages"], assessment), row["label"] == "fact_heavy",
                              bool(row.get("hard"))))
    return found


def fit(training: list[tuple[str, dict[str, float], bool, bool]]) -> dict[str, Any]:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    seen = Counter(name for _, found, _, _ in training for name in found)
    kept = [{name: value for name, value in found.items() if seen[name] >= MIN_EXAMPLES} for _, found, _, _ in training]
    vectorizer = DictVectorizer()
    model = LogisticRegression(C=C, max_iter=5000).fit(vectorizer.fit_transform(kept), [label for *_, label, _ in training])
    weights = {name: round(float(weight), 6) for name, weight in zip(vectorizer.feature_names_, model.coef_[0]) if weight}
    return {"intercept": round(float(model.intercept_[0]), 6), "weights": dict(sorted(weights.items()))}


def predict(model: dict[str, Any], found: dict[str, float]) -> bool:
    return probability(found, (model["intercept"], model["weights"])) >= THRESHOLD


def f1(pairs: list[tuple[bool, bool]]) -> float:
    """F1 of (predicted, fact-heavy) pairs."""
    return scores_of([{"label": "fact_heavy" if label else "behaviour"} for _, label in pairs],
                     [predicted for predicted, _ in pairs]).f1


def held_out_f1(data: list[tuple[str, dict[str, float], bool, bool]]) -> list[list[Any]]:
    """Each dev set scored by a model trained on the other ten, beside the rules alone, and all of
    them pooled: [set, examples, rules, model, rules on hard cases, model on hard cases]."""
    rows, pooled = [], [[], [], [], []]
    for name in dict.fromkeys(set_name for set_name, *_ in data):
        model = fit([example for example in data if example[0] != name])
        scored = [(found["score"] >= THRESHOLD, predict(model, found), label, hard)
                  for set_name, found, label, hard in data if set_name == name]
        parts = [[(rules, label) for rules, _, label, _ in scored], [(ours, label) for _, ours, label, _ in scored],
                 [(rules, label) for rules, _, label, hard in scored if hard],
                 [(ours, label) for _, ours, label, hard in scored if hard]]
        rows.append([name, len(scored), *(f1(pairs) for pairs in parts)])
        for everything, part in zip(pooled, parts):
            everything += part
    return [*rows, ["pooled", len(data), *(f1(pairs) for pairs in pooled)]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cv", action="store_true", help="leave each dev set out in turn and print F1; write nothing")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE, help="where to write the weights")
    args = parser.parse_args()
    data = examples(DEV_SETS)
    if args.cv:
        print_table("leave one dev set out: F1", ["held out", "examples", "rules", "model", "rules, hard", "model, hard"],
                    [[name, n, *(f"{value:.3f}" for value in figures)] for name, n, *figures in held_out_f1(data)])
        return
    model = fit(data)
    about = {"trained_on": [path.stem for path in DEV_SETS], "examples": len(data), "C": C, "min_examples": MIN_EXAMPLES}
    args.out.write_bytes(orjson.dumps({"about": about, **model}, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"{len(model['weights']):,} weights from {len(data):,} examples -> {args.out}")


if __name__ == "__main__":
    main()
