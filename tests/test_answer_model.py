"""The answer model: trained on the labeled dedup sets written before it, current with the rules,
better than the rules on each set left out of its training, asked about the pairs the rules call one
answer and those they read as deciding one question both ways, and overruling no other finding."""

from __future__ import annotations

import sys

import orjson
import pytest

from conftest import REPO, assert_same_model, chat, retrained
from dataprep.answer_model import WEIGHTS_FILE, pair_features, weighed_disagreement
from dataprep.reply_agreement import DECIDED_OTHERWISE, disagreement, read_reply

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
    trained, shipped = retrained("train_answer_model.py", tmp_path / "weights.json"), orjson.loads(WEIGHTS_FILE.read_bytes())
    assert_same_model(trained, shipped)
    assert_same_model(trained["decisions"], shipped["decisions"])


def test_sets_written_after_the_model_are_never_trained_on():
    trained_on = orjson.loads(WEIGHTS_FILE.read_bytes())["about"]["trained_on"]
    assert trained_on == list(TRAINING_SETS)
    # round thirty-five's, scored once
    written_after = {f"holdout{n}" for n in range(54, 61)}
    assert {path.stem for path in LABELED.glob("*.jsonl")} - set(trained_on) == written_after


@pytest.fixture(scope="module")
def held_out(labeled_pairs):
    """Every labeled pair, and what a model trained on the other sets calls it."""
    calls = held_out_calls(labeled_pairs)
    return ([pair for name in calls for pair in labeled_pairs if pair.labeled_set == name],
            [called for name in calls for called in calls[name]])


def test_on_each_set_left_out_the_model_finds_more_conflicts_and_keeps_paraphrases_as_one(held_out):
    """Measured by ``train_answer_model.py --cv`` over the 54 sets: conflict recall 0.707 -> 0.851 at
    precision 0.871 -> 0.877 (F1 0.781 -> 0.864); agreeing paraphrases as one answer 0.940 -> 0.943."""
    ordered, model = held_out
    rules = [pair.rules_differ for pair in ordered]
    (rules_recall, rules_precision, rules_f1, rules_paraphrases), (recall, precision, f1, paraphrases) = (
        map(float, rates(called, ordered)) for called in (rules, model))
    assert f1 >= rules_f1 + 0.05 and recall >= rules_recall + 0.1
    assert precision >= rules_precision - 0.01 and paraphrases >= rules_paraphrases - 0.005


def test_where_the_rules_read_a_question_decided_both_ways_the_model_clears_wrong_readings_and_keeps_real_ones(held_out):
    """Measured over the 54 sets, each left out in turn: of the 3,510 pairs the rules read so, 2,854 are
    conflicts (2,786 kept) and 656 are not (266 of them then read as one answer)."""
    ordered, model = held_out
    read_so = [(called, pair.conflict) for called, pair in zip(model, ordered) if pair.decided_otherwise]
    kept = sum(called for called, conflict in read_so if conflict) / sum(conflict for _, conflict in read_so)
    cleared = sum(not called for called, conflict in read_so if not conflict) / sum(not c for _, c in read_so)
    assert kept >= 0.97 and cleared >= 0.35


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


@pytest.mark.parametrize("question, yes, no", [
    ("Can I bring my dog to the hotel?", "Yes, dogs are welcome in all our rooms.", "Sorry, pets aren't allowed at the hotel."),
    ("Do you ship to Canada?", "We do ship to Canada.", "We don't ship to Canada at the moment."),
    ("Is my claim approved?", "Your claim has been approved.", "Your claim was not approved."),
    ("Do I need an appointment?", "No appointment needed, just walk in.", "Yes, you need to book an appointment first.")])
def test_a_yes_against_a_no_stays_two_answers(question, yes, no):
    replies = two_replies(question, yes, no)
    assert weighed_disagreement(*replies) == disagreement(*replies) and disagreement(*replies).startswith(DECIDED_OTHERWISE)


def test_a_question_the_rules_read_as_decided_both_ways_is_one_answer_when_both_words_deny_it():
    """"only tickets that were never scanned qualify" reads as eligible; the model reads the pair's words."""
    replies = two_replies(
        "Can I get a refund for my concert ticket?",
        "Your ticket was already scanned at the gate, so it isn't eligible for a refund. Refunds are only possible for "
        "tickets that haven't been scanned.",
        "I checked: the ticket was scanned at the gate, which means it can't be refunded; only tickets that were never "
        "scanned qualify.")
    assert disagreement(*replies).startswith(DECIDED_OTHERWISE)
    assert weighed_disagreement(*replies) is None


def test_a_reading_the_model_overrules_leaves_the_other_rules_standing():
    """"still being cleaned" reads as a no, and the model reads the two as alike; over ``"ready": true``
    it is what the tool did not return."""
    replies = [read_reply(tool_chat("Is my room ready?", '{"room": "412", "ready": true}', reply))
               for reply in ("Room 412 is ready for you now.", "Room 412 is still being cleaned.")]
    assert disagreement(*replies).startswith(DECIDED_OTHERWISE)
    assert weighed_disagreement(*replies).startswith("says what the tool did not return")


def tool_chat(question: str, result: str, reply: str) -> list[dict]:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_room", "arguments": "{}"}}
    return [{"role": "user", "content": question}, {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": result}, {"role": "assistant", "content": reply}]


def test_agreeing_rewordings_are_one_answer():
    question = "Can I change my delivery address after ordering?"
    replies = two_replies(
        question, "Yes, you can change the delivery address until the order ships, under Orders > Edit address.",
        "You can edit the delivery address from Orders > Edit address, as long as the order hasn't shipped yet.")
    assert weighed_disagreement(*replies) is None
