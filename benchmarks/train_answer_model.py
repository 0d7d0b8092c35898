"""Train the answer model (``dataprep/answer_model.json``) on the labeled dedup sets written before it.

    python benchmarks/train_answer_model.py          # writes dataprep/answer_model.json
    python benchmarks/train_answer_model.py --cv     # leave each set out in turn: the rules against the model
    python benchmarks/train_answer_model.py --out F  # writes F instead (the tests compare it with the shipped file)

Two logistic regressions (scikit-learn, L2, ``C`` below) over ``answer_model.pair_features`` of the pairs
labeled ``duplicate`` or ``conflict`` that the stage weighs: two different replies on the same tool
results. One learns from the pairs the rules call one answer, the other (``decisions``) from those the
rules read as deciding one question both ways; the first is also asked about those the second
overrules, when no other finding of the rules follows. No other pair is asked about. ``--cv`` scores every pair of
different replies on the same tool results, those the rules tell apart otherwise (other tool calls
among them) counted as the rules call them. Only features seen in at least ``MIN_PAIRS`` pairs are kept:
a word one writer used once says nothing about the next.

The training sets (``TRAINING_SETS``) are every set written before the model. ``C``, ``MIN_PAIRS`` and
the feature families were chosen by ``--cv`` over the fifteen whose pairs were read while the rules were
written; the eight never read (``holdout14`` to ``18``, ``20`` to ``22``) were then scored once with that
model, and joined the training when a model trained on the other seven and the fifteen scored each
better still. ``holdout23`` to ``26``, written after that model and scored once with it, joined in round
thirty, when the ``decisions`` weights were chosen by ``--cv`` over all 27. ``holdout27`` to ``38``, each
scored once with the model of its round, joined in round thirty-two: each left out of a model trained on the
other 38 sets scored better than the 27-set model did (pooled F1 0.850 to 0.856; in round thirty-one, three of
them alone had not). ``holdout39`` to ``53``, each scored once with the model of its round, joined in round
thirty-five: on the five sets written after them (``holdout54`` to ``58``, pooled) the 54-set model kept 0.850
of the paraphrases as one against 0.819, found 0.892 of the disagreeing replies against 0.899, at precision
0.920 against 0.909. Sets written after (``holdout54`` on) are not opened here: score them with
``bench_dedup.py --labeled``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from _common import print_table

from dataprep.answer_model import EVEN, WEIGHTS_FILE, pair_features, probability
from dataprep.reply_agreement import DECIDED_OTHERWISE, findings, read_reply, same_grounds, values_seen

LABELED = Path(__file__).resolve().parent / "labeled" / "dedup"
#: every labeled dedup set written before the model: those read while the rules were written, then (round
#: twenty-nine) the eight never read, once the model trained on the first fifteen had been scored on them,
#: then (round thirty) the four written after that model and scored once with it, then (round thirty-two) the
#: twelve of rounds thirty and thirty-one, then (round thirty-five) the fifteen of rounds thirty-two to thirty-four
TRAINING_SETS = ("dev", "holdout", *(f"holdout{n}" for n in range(2, 54)))
C = 0.1
MIN_PAIRS = 3


class Pair(NamedTuple):
    labeled_set: str
    kind: str  # the group's kind: agreeing_paraphrase, disagreeing_reply, ...
    found: dict[str, float]  # what the model sees
    rules_differ: bool  # whether the rules alone call the two replies different answers
    decided_otherwise: bool  # whether the first finding is that they read one question decided both ways
    otherwise_differ: bool  # whether, that aside, another finding follows
    conflict: bool


def pairs(names: tuple[str, ...] = TRAINING_SETS) -> list[Pair]:
    """Every labeled pair of replies the stage weighs, from the sets ``names``."""
    found = []
    for name in names:
        for line in (LABELED / f"{name}.jsonl").read_bytes().splitlines():
            group = orjson.loads(line)
            replies = {record["key"]: read_reply(record["messages"]) for record in group["records"]}
            seen = values_seen(reply.values for reply in replies.values())  # as the stage's: one input
            for pair in group["pairs"]:
                a, b = replies[pair["a"]], replies[pair["b"]]
                if pair["label"] not in ("duplicate", "conflict") or not same_grounds(a, b) or \
                        (a.key, a.calls) == (b.key, b.calls):
                    continue
                found_by_rules = findings(a, b, seen)
                first = next(found_by_rules, "")
                decided_otherwise = first.startswith(DECIDED_OTHERWISE)
                found.append(Pair(name, group["kind"], pair_features(a, b), bool(first), decided_otherwise,
                                  decided_otherwise and next(found_by_rules, None) is not None,
                                  pair["label"] == "conflict"))
    return found


def train(data: list[Pair]) -> dict[str, Any]:
    """The model's weights for the pairs the rules call one answer, and its ``decisions`` weights for
    those they read as deciding one question both ways, trained on ``data``."""
    return {**fit([pair for pair in data if not pair.rules_differ]),
            "decisions": fit([pair for pair in data if pair.decided_otherwise])}


def fit(data: list[Pair]) -> dict[str, Any]:
    """The intercept and weights of a logistic regression trained on ``data``."""
    from collections import Counter

    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    seen = Counter(name for pair in data for name in pair.found)
    kept = DictVectorizer()
    matrix = kept.fit_transform([{k: v for k, v in pair.found.items() if seen[k] >= MIN_PAIRS} for pair in data])
    fitted = LogisticRegression(C=C, max_iter=5000).fit(matrix, [pair.conflict for pair in data])
    weights = {name: w for name, weight in zip(kept.feature_names_, fitted.coef_[0]) if (w := round(float(weight), 6))}
    return {"intercept": round(float(fitted.intercept_[0]), 6), "weights": dict(sorted(weights.items()))}


def differ(model: dict[str, Any], pair: Pair) -> bool:
    """Whether the stage calls the pair two answers (``answer_model.weighed_disagreement``): a finding of
    the rules stands, but that one question read as decided both ways is weighed by the ``decisions``
    weights; overruled, the rules' other findings stand; with none, the model weighs the pair."""
    if pair.rules_differ and not pair.decided_otherwise:
        return True
    decisions = model["decisions"]
    if pair.decided_otherwise and (pair.otherwise_differ or
                                   probability(pair.found, (decisions["intercept"], decisions["weights"])) >= EVEN):
        return True
    return probability(pair.found, (model["intercept"], model["weights"])) >= EVEN


def rates(called: list[bool], data: list[Pair]) -> list[Any]:
    """Conflict recall, precision and F1; the share of agreeing paraphrases read as one answer."""
    hits = sum(c and p.conflict for c, p in zip(called, data))
    wrong = sum(c and not p.conflict for c, p in zip(called, data))
    conflicts = sum(p.conflict for p in data)
    paraphrases = [c for c, p in zip(called, data) if p.kind == "agreeing_paraphrase"]
    return [f"{hits / max(conflicts, 1):.3f}", f"{hits / max(hits + wrong, 1):.3f}",
            f"{2 * hits / max(conflicts + hits + wrong, 1):.3f}",
            f"{1 - sum(paraphrases) / max(len(paraphrases), 1):.3f}"]


def held_out_calls(data: list[Pair]) -> dict[str, list[bool]]:
    """Per training set, what a model trained on the other sets calls each of its pairs."""
    calls = {}
    for name in TRAINING_SETS:
        model = train([pair for pair in data if pair.labeled_set != name])
        calls[name] = [differ(model, pair) for pair in data if pair.labeled_set == name]
    return calls


def cross_validate(data: list[Pair]) -> None:
    """Each training set scored by a model trained on the others, beside the rules alone."""
    rows, ordered, rules, model = [], [], [], []
    for name, called in held_out_calls(data).items():
        held = [pair for pair in data if pair.labeled_set == name]
        ordered += held
        rules += [pair.rules_differ for pair in held]
        model += called
        rows.append([name, len(held), *rates([pair.rules_differ for pair in held], held), *rates(called, held)])
    rows.append(["all", len(ordered), *rates(rules, ordered), *rates(model, ordered)])
    columns = ["recall", "precision", "F1", "paraphrases as one"]
    print_table("Conflicts between replies, each set left out in turn (pairs the stage weighs)",
                ["set", "pairs", *(f"rules {c}" for c in columns), *(f"model {c}" for c in columns)], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cv", action="store_true", help="leave each set out in turn; write nothing")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    args = parser.parse_args()
    data = pairs()
    if args.cv:
        cross_validate(data)
        return
    about = {"trained_on": list(TRAINING_SETS), "pairs": sum(not pair.rules_differ for pair in data),
             "decisions_pairs": sum(pair.decided_otherwise for pair in data), "C": C, "min_pairs": MIN_PAIRS}
    args.out.write_bytes(orjson.dumps({"about": about, **train(data)}, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {args.out}: trained on {about['pairs']:,} pairs the rules call one answer and "
          f"{about['decisions_pairs']:,} they read as deciding a question both ways")


if __name__ == "__main__":
    main()
