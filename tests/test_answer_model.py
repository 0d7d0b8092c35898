"""The answer model: trained on the labeled dedup sets written before it, current with the rules,
better than the rules on each set left out of its training, and asked only about pairs the rules
call one answer."""

from __future__ import annotations

import sys

import orjson
import pytest

from conftest import REPO, assert_same_model, chat, retrained
from dataprep.answer_model import WEIGHTS_FILE, pair_features, weighed_disagreement
from dataprep.reply_agreement import disagreement, read_reply

sys.path.insert(0, str(REPO / "benchmarks"))
from train_answer_model import LABELED, TRAINING_SETS, held_out_calls, pairs, rates  # noqa: E402

DRIVE = "How do I get access to the finance drive?"
DESK = "Ask the IT Service Desk and they will grant you access to the finance drive."
PORTAL = "Submit an access request in the IT portal; the finance data owner approves it."
ADDRESS = "How do I update the address on my account?"
BRANCH = "You'll need to visit one of our branches with a proof of address to update it."
APP = "Update it yourself in the mobile app under Profile > Address; it takes effect right away."


@pytest.fixture(scope="module")
def labeled_pairs():
    return pairs()


def test_shipped_weights_are_what_training_gives(tmp_path):
    """Stale weights (the rules changed, the model did not) fail here: run benchmarks/train_answer_model.py."""
    assert_same_model(retrained("train_answer_model.py", tmp_path / "weights.json"),
                      orjson.loads(WEIGHTS_FILE.read_bytes()))


def test_sets_written_after_the_model_are_never_trained_on():
    trained_on = orjson.loads(WEIGHTS_FILE.read_bytes())["about"]["trained_on"]
    assert trained_on == list(TRAINING_SETS)
    written_after = {"holdout23", "holdout24", "holdout25", "holdout26"}  # round twenty-nine, scored once
    assert {path.stem for path in LABELED.glob("*.jsonl")} - set(trained_on) == written_after


def test_on_each_set_left_out_the_model_finds_more_conflicts_and_keeps_paraphrases_as_one(labeled_pairs):
    """Measured by ``train_answer_model.py --cv`` over the 23 sets: conflict recall 0.749 -> 0.866 at
    precision 0.907 -> 0.892 (F1 0.820 -> 0.879); agreeing paraphrases as one answer 0.964 -> 0.956."""
    calls = held_out_calls(labeled_pairs)
    ordered = [pair for name in calls for pair in labeled_pairs if pair.labeled_set == name]
    model = [called for name in calls for called in calls[name]]
    rules = [pair.rules_differ for pair in ordered]
    (rules_recall, rules_precision, rules_f1, rules_paraphrases), (recall, precision, f1, paraphrases) = (
        map(float, rates(called, ordered)) for called in (rules, model))
    assert f1 >= rules_f1 + 0.03 and recall >= rules_recall + 0.06
    assert precision >= rules_precision - 0.02 and paraphrases >= rules_paraphrases - 0.01


def two_replies(question: str, first: str, second: str):
    return [read_reply(chat(question, reply)["messages"]) for reply in (first, second)]


def test_replies_naming_another_way_to_do_it_in_words_the_rules_do_not_list_are_two_answers():
    desk, portal = two_replies(DRIVE, DESK, PORTAL)
    assert disagreement(desk, portal) is None  # no number, decision or listed option tells them apart
    why = weighed_disagreement(desk, portal)
    assert why is not None and why.startswith("worded as another answer") and '"portal"' in why
    assert weighed_disagreement(portal, desk) == why and pair_features(desk, portal) == pair_features(portal, desk)


@pytest.mark.xfail(strict=True, reason="a known miss: the model weighs words the training sets used as ways and "
                                       "places ('portal', 'office'); 'branches' and 'app' alone do not tip it (0.15)")
def test_a_branch_and_the_app_are_two_ways_to_update_an_address():
    assert weighed_disagreement(*two_replies(ADDRESS, BRANCH, APP)) is not None


def test_a_finding_of_the_rules_stands_however_alike_the_words():
    question = "How many boots can I send back?"
    three, two = two_replies(question, "You can return 3 pairs of boots in 2 parcels.",
                             "You can return 2 pairs of boots in 3 parcels.")
    assert weighed_disagreement(three, two) == disagreement(three, two) is not None


def test_agreeing_rewordings_are_one_answer():
    question = "Can I change my delivery address after ordering?"
    replies = two_replies(
        question, "Yes, you can change the delivery address until the order ships, under Orders > Edit address.",
        "You can edit the delivery address from Orders > Edit address, as long as the order hasn't shipped yet.")
    assert weighed_disagreement(*replies) is None
