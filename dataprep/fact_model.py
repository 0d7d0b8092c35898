"""The offline fact-heavy score: the rules' evidence (``facts.assess_trained_replies``) weighed
by a logistic regression learned from the labeled dev sets, beside the reply's own words.

The rules find what a reply claims that its input does not hold (numbers, names, dates, policy
words); they miss facts with no digits and no capital letters ("the warranty does not cover
water damage"), and they cannot tell how much each kind of evidence counts. The model sees the
rules' claims and cues as counts, and which words the reply uses and which of them the input never
used. It is trained by ``benchmarks/train_fact_model.py`` on the eleven dev sets only; the sets
never tuned on stay out of it, and ``tests/test_fact_model.py`` checks that the shipped weights
are what training on the current rules gives.

Inference is a sum of weights: no machine-learning library is imported to score.
"""

from __future__ import annotations

import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from .facts import Assessment, assess_trained_replies, reply_text
from .record import message_text

WEIGHTS_FILE = Path(__file__).resolve().parent / "fact_model.json"
WORD = re.compile(r"[^\W\d_]+|\d+")
CUE_KIND = re.compile(r"[^:(]*")  # a cue's kind, before the quoted text it names: 'policy language: "within"'
LENGTH_CAP = 400  # words: longer replies count as this long
EXPLAINED_WORDS = 3


def words(text: str) -> list[str]:
    return [word.lower() for word in WORD.findall(text)]


def features(messages: list[dict[str, Any]], assessment: Assessment) -> dict[str, float]:
    """What the model sees of a conversation: the rules' score, claims by kind and cues by kind;
    the final reply's words, those the input never used, its length, and whether it had tools or
    a system prompt."""
    found: dict[str, float] = {"score": assessment.score}
    for claim in assessment.unsupported:
        found[f"k:{claim.kind}"] = found.get(f"k:{claim.kind}", 0) + 1
    for cue in assessment.cues:
        found[f"c:{CUE_KIND.match(cue).group().strip()}"] = 1
    reply = words(reply_text(messages[-1])) if messages[-1].get("role") == "assistant" else []
    before = {word for message in messages[:-1] for word in words(_said(message))}
    novel = [word for word in reply if word not in before and not word.isdigit()]
    found.update(dict.fromkeys((f"r:{word}" for word in reply), 1))
    found.update(dict.fromkeys((f"n:{word}" for word in novel), 1))
    found["length"] = min(len(reply), LENGTH_CAP) / LENGTH_CAP
    found["novel share"] = len(novel) / max(1, len(reply))
    found["has tool"] = float(any(message.get("role") == "tool" for message in messages))
    found["has system"] = float(any(message.get("role") == "system" for message in messages))
    return found


def _said(message: dict[str, Any]) -> str:
    return reply_text(message) if message.get("role") == "assistant" else message_text(message)


@cache
def trained() -> tuple[float, dict[str, float]]:
    """The intercept and the weights, read once per process."""
    model = orjson.loads(WEIGHTS_FILE.read_bytes())
    return model["intercept"], model["weights"]


def probability(found: dict[str, float]) -> float:
    intercept, weights = trained()
    return 1 / (1 + math.exp(-(intercept + sum(weights.get(name, 0.0) * value for name, value in found.items()))))


def weighed_assessment(messages: list[dict[str, Any]]) -> Assessment | None:
    """The rules' assessment of every reply a trainer learns from, its score the model's
    probability that the example is fact-heavy; a reply the model calls fact-heavy on its words
    says which words weighed most."""
    assessment = assess_trained_replies(messages)
    if assessment is None:
        return None
    found = features(messages, assessment)
    score = round(probability(found), 3)
    cues = list(assessment.cues)
    if score >= 0.5 and not assessment.unsupported:
        cues.append("worded like a stated fact: " + ", ".join(f'"{word}"' for word in _weightiest_words(found)))
    return Assessment(score, assessment.unsupported, cues, assessment.reply_at)


def _weightiest_words(found: dict[str, float]) -> list[str]:
    weights = trained()[1]
    present = sorted(((weights.get(name, 0.0), name[2:]) for name in found if name[:2] in ("r:", "n:")), reverse=True)
    return list(dict.fromkeys(word for weight, word in present if weight > 0))[:EXPLAINED_WORDS]
