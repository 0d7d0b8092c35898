"""Whether two replies to one input disagree, weighed by a model trained on labeled pairs.

The rules (``reply_agreement.disagreement``) read what a reply asserts: numbers, decisions,
options, names, tool calls. They were written against the pairs their authors read, and on pairs
written by others they miss more than a quarter of the disagreements: "ask the IT Service Desk"
against "submit a request in the IT portal" has no number, no yes and no option the rules list.
The model reads the words one reply uses and the other does not (and whether the input ever used
them), how many words the two share, whether one negates and the other does not, and whether one
side or both write numbers the other does not. It is trained by ``benchmarks/train_answer_model.py``
on the labeled dedup sets written before it; the sets written after it stay out, and
``tests/test_answer_model.py`` checks that the shipped weights are what training gives.

It weighs a pair twice over, with two sets of weights over the same features:
- where the rules call two replies one answer, whether they are two answers all the same;
- where the rules read one question decided both ways, whether the two decide it alike after all:
  that finding is the rules' least precise ("isn't eligible ... only for items that haven't been
  used" against "isn't refundable ... unused items only" reads as a yes and a no), and one in seven
  is wrong on the labeled sets. Overruled, it is as if the rules had not read it: their other
  checks go on, then the first weights.
Every other finding of the rules stands, with its reason: two replies of the same words with the
counts swapped are two answers however alike they read. Inference is a sum of weights.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import orjson

from .linear import Model, log_odds, logistic
from .reply_agreement import (DECIDED_OTHERWISE, FUNCTION_WORDS, NO_VALUES, FieldValues, Reply, findings,
                              word_similarity)

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
def shipped() -> tuple[Model, Model]:
    """The shipped weights for pairs the rules call one answer, and for pairs they read as deciding
    one question both ways; read once per process."""
    model = orjson.loads(WEIGHTS_FILE.read_bytes())
    return (model["intercept"], model["weights"]), (model["decisions"]["intercept"], model["decisions"]["weights"])


def probability(features: dict[str, float], model: Model) -> float:
    """The probability that the pair is two answers, by ``model``."""
    return logistic(log_odds(features, model))


def weighed_disagreement(a: Reply, b: Reply, seen: FieldValues = NO_VALUES, threshold: float = EVEN) -> str | None:
    """Why ``a`` and ``b`` are different answers: what the rules find, or else what the model reads
    in their words (at a probability of ``threshold`` or more); None when neither tells them apart.
    Where the rules read one question decided both ways and the model reads the two as deciding it
    alike, the pair goes on as if the rules had not read it: their other checks, then the model."""
    apart_model, decisions_model = shipped()
    features = None  # read only for the pairs the model weighs: most that differ differ by a rule
    for found in findings(a, b, seen):
        if not found.startswith(DECIDED_OTHERWISE):
            return found
        features = pair_features(a, b)
        if probability(features, decisions_model) >= EVEN:
            return found
    if features is None:
        features = pair_features(a, b)
    apart = probability(features, apart_model)
    if apart < threshold:
        return None
    words = ", ".join(f'"{word}"' for word in _weightiest_words(features, apart_model[1]))
    return f"worded as another answer ({apart:.2f}" + (f"; words only one uses: {words})" if words else ")")


def _weightiest_words(features: dict[str, float], weights: dict[str, float]) -> list[str]:
    """The differing words that pushed the pair apart most; "an", "the" or the "b" of a "<b>" tag may
    weigh, but explain nothing."""
    pushed: dict[str, float] = {}
    for name in features:
        word = name[2:]
        if name[:2] in ("d:", "n:") and len(word) > 1 and word not in FUNCTION_WORDS:
            pushed[word] = pushed.get(word, 0.0) + weights.get(name, 0.0)
    ranked = sorted(((push, word) for word, push in pushed.items() if push > 0), reverse=True)
    return [word for _, word in ranked[:EXPLAINED_WORDS]]
