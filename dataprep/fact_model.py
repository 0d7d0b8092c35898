"""The offline fact-heavy score: the rules' evidence (``facts.assess_trained_replies``) weighed
by a logistic regression learned from the labeled dev sets, beside the reply's own words.

The rules find what a reply claims that its input does not hold (numbers, names, dates, policy
words); they miss facts with no digits and no capital letters ("the warranty does not cover
water damage"), and they cannot tell how much each kind of evidence counts. The model sees which
kinds of claim and cue the rules found, which words and pairs of words the reply uses, which of
them the input never used, how its numbers stand to the input's (working shown, numbers the
input does not hold), and how fact-like its most fact-like sentence reads: a second model scores
each sentence by the same kinds of words, so one added claim ("you'll also get a 10% goodwill
credit") is not drowned by the faithful sentences around it. Both are trained by
``benchmarks/train_fact_model.py`` on the dev sets only (nineteen written from the labeling
guide, and labeled rows of a real support corpus); the sets never tuned on stay out of it, and
``tests/test_fact_model.py`` checks that the shipped weights are what training on the current
rules gives.

Inference is a sum of weights: no machine-learning library is imported to score.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from .facts import PLACEHOLDER, Assessment, assess_trained_replies, input_texts, reply_text
from .linear import Model, log_odds, logistic

WEIGHTS_FILE = Path(__file__).resolve().parent / "fact_model.json"
WORD = re.compile(r"[^\W\d_]+")  # letters only: the rules read numbers, and a list of fifty numbers is not fifty words
CUE_KIND = re.compile(r"[^:(]*")  # a cue's kind, before the quoted text it names: 'policy language: "within"'
LENGTH_CAP = 400  # words: longer replies count as this long
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
LIST_MARKER = re.compile(r"(?<![\w$€£.,])\d{1,2}[.)](?=\s+[^\W\d_])")  # "2. Go to ...": a step, not a number
NUMBERS_CAP = 20  # numbers in the input or the reply: more count as this many
NEW_NUMBERS_CAP = 10
CLAIMS_CAP = 10
#: signs of shown working: a reply that computes says "=", "×" or "%", or puts an operator between numbers
WORKING_SIGNS = {"=": "equals", "×": "times", "÷": "divided by", "%": "percent", "→": "arrow", "≈": "about"}
OPERATION = re.compile(r"\d\s*[+×x*÷]\s*[$€£]?\d")
EVEN = 0.5  # the model's own boundary: where its words, not the rules, decide
EXPLAINED_PHRASES = 3  # words or pairs of words a reason names
SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+|\n+")  # "1.8 TB" stays whole; a list item or a table row is one
SENTENCES = "sentences"  # the reply model's feature: the sentence model's highest log-odds, over SENTENCE_SCALE
SENTENCE_SCALE = 5.0  # log-odds run to about ±10; the other features to about 1


def words(text: str) -> list[str]:
    """Lower-cased words, scrubbed placeholders left out: the labeled sets hold none, and <ADDRESS_1>
    in a scrubbed log says nothing about the reply."""
    return [word.lower() for word in WORD.findall(PLACEHOLDER.sub(" ", text))]


def model_inputs(messages: list[dict[str, Any]], assessment: Assessment) -> tuple[dict[str, float], list[dict[str, float]]]:
    """What the two models see of the reply the rules scored (the final one, or the earlier one their
    score speaks for): the reply model's features but ``sentences``, and each sentence's."""
    if assessment.reply_at is not None:
        messages = messages[: assessment.reply_at + 1]
    said = reply_text(messages[-1]) if messages[-1].get("role") == "assistant" else ""
    given = input_texts(messages[:-1])
    before = {word for text in given for word in words(text)}
    return _reply_features(messages, assessment, said, given, before), _sentence_features(said, before)


def _reply_features(messages: list[dict[str, Any]], assessment: Assessment, said: str, given: list[str],
                    before: set[str]) -> dict[str, float]:
    """``score``, the rules' score; ``k:`` the kinds of claim and ``c:`` the kinds of cue they found;
    ``r:`` the reply's words, ``b:`` its pairs of adjacent words, numbers and punctuation between them
    skipped ("toll free", "the clock": a claim buried in a long how-to is a phrase more than a word)
    and ``n:`` the words the input never used (``before`` lacks); its length and share of new words;
    whether the conversation had tools or a system prompt; ``w:`` the signs of working it shows, and
    how many numbers the input and the reply hold and how many of the reply's the input does not (the
    words of a reply that computes from its input are those of one that quotes prices); how many
    claims the rules found; whether it sets words in bold."""
    # kinds present, not counted: a weight times a count would let ten dates outweigh the rules' score
    found: dict[str, float] = {"score": assessment.score, **{f"k:{claim.kind}": 1 for claim in assessment.unsupported}}
    found.update({f"c:{CUE_KIND.match(cue).group().strip()}": 1 for cue in assessment.cues})
    reply = words(said)
    found.update(_word_features(reply, before))
    found["length"] = min(len(reply), LENGTH_CAP) / LENGTH_CAP
    found["has tool"] = float(any(message.get("role") == "tool" for message in messages))
    found["has system"] = float(any(message.get("role") == "system" for message in messages))
    found["claims"] = min(len(assessment.unsupported), CLAIMS_CAP) / CLAIMS_CAP
    if "**" in said:
        found["markdown bold"] = 1.0  # a reply laid out from what it was given, more often than not
    found.update(_numbers(said, given))
    return found


def _sentence_features(said: str, before: set[str]) -> list[dict[str, float]]:
    """Each sentence of the reply of two words or more, seen as the whole reply is: its words, pairs of
    words and new words."""
    return [_word_features(sentence_words, before) for sentence in SENTENCE_END.split(said)
            if len(sentence_words := words(sentence)) >= 2]


def _word_features(reply: list[str], before: set[str]) -> dict[str, float]:
    """``r:`` the words, ``b:`` the pairs of adjacent words, ``n:`` the words ``before`` lacks, and
    the share of words that are new."""
    novel = [word for word in reply if word not in before]
    found: dict[str, float] = dict.fromkeys((f"r:{word}" for word in reply), 1)
    found.update(dict.fromkeys((f"b:{first} {second}" for first, second in zip(reply, reply[1:])), 1))
    found.update(dict.fromkeys((f"n:{word}" for word in novel), 1))
    found["novel share"] = len(novel) / max(1, len(reply))
    return found


def _numbers(said: str, given: list[str]) -> dict[str, float]:
    """How the reply's numbers stand to the input's: signs of working, counts and the share the input
    does not hold. Numbers as written, not the values the rules read: a cheap second view beside them."""
    found = {f"w:{name}": 1.0 for sign, name in WORKING_SIGNS.items() if sign in said}
    if OPERATION.search(said):
        found["w:operation"] = 1.0
    known = {number for text in given for number in NUMBER.findall(LIST_MARKER.sub(" ", text))}
    stated = NUMBER.findall(LIST_MARKER.sub(" ", said))
    new = [number for number in stated if number not in known]
    if stated:  # the input's numbers matter where the reply has numbers they could explain
        found["input numbers"] = min(len(known), NUMBERS_CAP) / NUMBERS_CAP
        found["input has numbers"] = float(bool(known))
    found["reply numbers"] = min(len(stated), NUMBERS_CAP) / NUMBERS_CAP
    found["new numbers"] = min(len(new), NEW_NUMBERS_CAP) / NEW_NUMBERS_CAP
    found["new number share"] = len(new) / max(1, len(stated))
    return found


@cache
def shipped() -> tuple[Model, Model]:
    """The shipped reply model and sentence model, read once per process."""
    model = orjson.loads(WEIGHTS_FILE.read_bytes())
    return (model["intercept"], model["weights"]), (model["sentences"]["intercept"], model["sentences"]["weights"])


def sentence_score(sentences: list[dict[str, float]]) -> float:
    """The reply model's ``sentences`` feature: the highest log-odds the shipped sentence model gives a
    sentence, scaled; its intercept's for a reply of no sentence."""
    model = shipped()[1]
    return max((log_odds(found, model) for found in sentences), default=model[0]) / SENTENCE_SCALE


def probability(found: dict[str, float]) -> float:
    """The probability that the example is fact-heavy, by the shipped reply model."""
    return logistic(log_odds(found, shipped()[0]))


def weighed_assessment(messages: list[dict[str, Any]]) -> Assessment | None:
    """The rules' assessment of every reply a trainer learns from, its score the model's
    probability that the example is fact-heavy. When the words tip a reply the rules would keep,
    the reasons name the words and pairs of words that weighed most."""
    assessment = assess_trained_replies(messages)
    if assessment is None:
        return None
    found, sentences = model_inputs(messages, assessment)
    found[SENTENCES] = sentence_score(sentences)
    score = round(probability(found), 3)
    cues = list(assessment.cues)
    if assessment.score < EVEN <= score:
        cues.append("worded like a stated fact: " + ", ".join(f'"{phrase}"' for phrase in _weightiest_phrases(found)))
    return Assessment(score, assessment.unsupported, cues, assessment.reply_at)


def _weightiest_phrases(found: dict[str, float]) -> list[str]:
    """The reply's words and pairs of words that pushed its score up most: a word by its weight as a
    word and as a new one, a pair whose own weight pushed up by that and its two words'; none named
    shares a word with one named before it."""
    weights, pushed = shipped()[0][1], {}
    for name in found:
        if name[:2] in ("r:", "n:"):
            pushed[name[2:]] = pushed.get(name[2:], 0.0) + weights.get(name, 0.0)
    for name in found:
        if name[:2] == "b:" and weights.get(name, 0.0) > 0:
            pushed[name[2:]] = weights[name] + sum(pushed.get(word, 0.0) for word in name[2:].split())
    named, used = [], set()
    for phrase, push in sorted(pushed.items(), key=lambda item: -item[1]):
        if push <= 0 or len(named) == EXPLAINED_PHRASES:
            break
        if not used & set(phrase.split()):
            named.append(phrase)
            used.update(phrase.split())
    return named
