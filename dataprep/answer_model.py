"""Whether two replies to one input disagree, weighed by a model trained on labeled pairs.

The rules (``reply_agreement.disagreement``) read what a reply asserts: numbers, decisions,
options, names, tool calls. They were written against the pairs their authors read, and on pairs
written by others they miss more than a quarter of the disagreements: "ask the IT Service Desk"
against "submit a request in the IT portal" has no number, no yes and no option the rules list.
The model reads the words one reply uses and the other does not (and whether the input ever used
them), how many words the two share, whether one negates and the other does not, and whether one
side or both write numbers the other does not. It is trained by ``benchmarks/train_answer_model.py``
on the labeled dedup sets written before it; the sets written after it (``holdout23`` on) stay out,
and ``tests/test_answer_model.py`` checks that the shipped weights are what training gives.

The model is asked only about pairs the rules call one answer: a finding of the rules stands, with
its reason. Inference is a sum of weights.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import orjson

from .linear import Model, log_odds, logistic
from .reply_agreement import FUNCTION_WORDS, Reply, disagreement, word_similarity

WEIGHTS_FILE = Path(__file__).resolve().parent / "answer_model.json"
EVEN = 0.5  # at or above: the replies are different answers
SMALL_DIFFERENCE = 4  # words one reply has and the other lacks, both ways: a swap, not a rewrite
SIMILARITY_BINS = 5
EXPLAINED_WORDS = 3  # words a reason names


def pair_features(a: Reply, b: Reply) -> dict[str, float]:
    """What the model reads of a pair: symmetric, so (a, b) and (b, a) read the same."""
    similarity = word_similarity(a, b)
    band = min(int(similarity * SIMILARITY_BINS), SIMILARITY_BINS - 1)
    features = {"similarity": similarity, f"similarity:{band}": 1.0}
    # the input's words as written, lower-cased, against the reply's normalized ones: a placeholder the
    # reply renumbers ("<EMAIL>" for "<EMAIL_1>") or a word folded otherwise ("strasse") reads as new;
    # the weights were learned on the same reading
    given = a.named_given | b.named_given
    differing = a.words ^ b.words
    for word in differing:
        if not word.isdigit():
            features["d:" + word] = 1.0
            if word not in given:
                features["n:" + word] = 1.0
    features["negations apart"] = min(abs(a.negations - b.negations), 3)
    features["one negates"] = float((a.negations == 0) != (b.negations == 0))
    numbers = sorted(any(ch.isdigit() for word in reply.words - other.words for ch in word)
                     for reply, other in ((a, b), (b, a)))
    features[f"numbers:{numbers[0]:d}{numbers[1]:d}"] = 1.0
    features["small difference"] = float(len(differing) <= SMALL_DIFFERENCE)
    return features


@cache
def shipped() -> Model:
    model = orjson.loads(WEIGHTS_FILE.read_bytes())
    return model["intercept"], model["weights"]


def probability(features: dict[str, float], model: Model | None = None) -> float:
    """The probability that the pair is two answers, by ``model`` (the shipped one by default)."""
    return logistic(log_odds(features, shipped() if model is None else model))


def weighed_disagreement(a: Reply, b: Reply) -> str | None:
    """Why ``a`` and ``b`` are different answers: what the rules find, or else what the model reads
    in their words; None when neither tells them apart. The model adds answers the rules miss and
    never overrules one they find (two replies of the same words with the counts swapped are two
    answers however alike they read)."""
    found = disagreement(a, b)
    if found is not None:
        return found
    features = pair_features(a, b)
    apart = probability(features)
    if apart < EVEN:
        return None
    words = ", ".join(f'"{word}"' for word in _weightiest_words(features))
    return f"worded as another answer ({apart:.2f}" + (f"; words only one uses: {words})" if words else ")")


def _weightiest_words(features: dict[str, float]) -> list[str]:
    """The differing words that pushed the pair apart most; "an", "the" or the "b" of a "<b>" tag may
    weigh, but explain nothing."""
    weights = shipped()[1]
    pushed: dict[str, float] = {}
    for name in features:
        word = name[2:]
        if name[:2] in ("d:", "n:") and len(word) > 1 and word not in FUNCTION_WORDS:
            pushed[word] = pushed.get(word, 0.0) + weights.get(name, 0.0)
    ranked = sorted(((push, word) for word, push in pushed.items() if push > 0), reverse=True)
    return [word for _, word in ranked[:EXPLAINED_WORDS]]
