"""The dedup stage and its MinHash engine, on small inputs whose answers are known."""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

import numpy as np
import orjson
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from datasketch.lsh import _optimal_param
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.cli import main
from dataprep.jsonl import write_jsonl
from dataprep.minhash import (LSH_WEIGHTS, Params, best_matches, candidate_pairs, find_groups, group_near_duplicates,
                              max_cross_similarity, shingle_hashes, sketch)
from dataprep.recipe import InputSpec, load_recipe
from dataprep.record import Record, record_text
from dataprep.reply_agreement import OPAQUE_ID, opaque_ids, read_reply, without_opaque_ids
from dataprep.runner import run_recipe, run_single_stage
from dataprep.stages.dedup import Dedup

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber basil cedar dune ember fjord "
         "grove heath iris jade kelp lotus moss nectar").split()


def chat(user: str, reply: str = "Happy to help: here is what to do next.", **extra) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply}], **extra}


def replace_word(words: list[str], position: int, new: str) -> list[str]:
    return [*words[:position], new, *words[position + 1:]]


def jaccard(a: str, b: str) -> float:
    sa, sb = set(shingle_hashes(a)), set(shingle_hashes(b))
    return len(sa & sb) / len(sa | sb)


def read(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def run_dedup(tmp_path: Path, rows: list[dict], **options) -> tuple[list[dict], list[dict], dict]:
    """Run the stage alone on ``rows`` in a fresh folder; returns (kept, duplicates, stats)."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    source, out, duplicates = folder / "in.jsonl", folder / "out.jsonl", folder / "out.duplicates.jsonl"
    write_jsonl(source, rows)
    outcome = run_single_stage(Dedup(**options), [InputSpec(str(source), "records")], out,
                               {"duplicates": duplicates, "rejected": folder / "out.rejected.jsonl"})
    kept, dropped = read(out), read(duplicates)
    assert len(kept) + len(dropped) == len(rows)  # nothing lost, nothing made up
    return kept, dropped, outcome.results[1].stats


def run_cli(args: list[str], cwd: Path, monkeypatch, capsys) -> tuple[int, str]:
    """``dataprep ARGS`` in ``cwd``, in-process: (exit code, stderr)."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["dataprep", *args])
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err


def ids(records: list[dict]) -> list[str]:
    return [r["id"] for r in records]


# -- exact duplicates ------------------------------------------------------------------------------------
def test_case_whitespace_unicode_and_placeholder_variants_are_exact_duplicates(tmp_path):
    rows = [chat("Where is my order?", id="a"),
            chat("  where IS my\n\torder?  ", id="b"),
            chat("Ｗhere is my ｏrder?", id="c"),  # fullwidth letters: equal under NFKC
            chat("Please email <EMAIL_1> the receipt", id="d"),
            chat("please email <EMAIL_2> the receipt", id="e"),
            chat("Where is my order", id="f"),  # short texts are compared by their words: punctuation aside
            chat("Where is my order? It has not arrived yet and the tracking page shows nothing", id="g"),
            chat("where is my order? it has not arived yet and the tracking page shows nothing", id="h")]  # a typo
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["a", "d", "g"]
    reasons = {r["id"]: r["disposition"] for r in dropped}
    assert {i: d["keeper_id"] for i, d in reasons.items()} == {"b": "a", "c": "a", "e": "d", "f": "a", "h": "g"}
    assert all(reasons[i]["reason"] == "exact duplicate of its keeper (same text once normalized)" for i in "bcf")
    assert reasons["h"]["reason"].startswith("near-duplicate of its keeper (Jaccard 0.")
    assert all(reasons[i]["similarity"] == 1.0 for i in "bcef") and 0.8 <= reasons["h"]["similarity"] < 1
    assert (stats["exact_removed"], stats["near_removed"]) == (4, 1)
    word_shingles = run_dedup(tmp_path, rows, shingle="word")[0]
    assert ids(word_shingles) == ["a", "d", "g", "h"]  # one typo in 15 words: word 3-gram Jaccard 0.6


def test_every_record_carries_its_cluster_id_and_size(tmp_path):
    rows = [chat("How long does shipping take?", id="a"), chat("how long does shipping take?", id="b"),
            chat("Do you ship to Canada?", id="c")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    clusters = {r["id"]: r["groups"] for r in kept + dropped}
    assert clusters["a"]["cluster"] == clusters["b"]["cluster"] == dropped[0]["disposition"]["cluster_id"]
    assert clusters["c"]["cluster"] != clusters["a"]["cluster"]
    assert (clusters["a"]["cluster_size"], clusters["c"]["cluster_size"]) == (2, 1)
    assert (stats["clusters"], stats["largest_cluster"]) == (1, 2)


def test_records_without_text_in_the_view_are_never_duplicates(tmp_path):
    system_only = {"messages": [{"role": "system", "content": "You are helpful."},
                                {"role": "assistant", "content": "Hello!"}]}
    kept, dropped, _ = run_dedup(tmp_path, [{**system_only, "id": "a"}, {**system_only, "id": "b"}])
    assert ids(kept) == ["a", "b"] and not dropped
    assert kept[0]["groups"]["cluster"] != kept[1]["groups"]["cluster"]


# -- near duplicates ---------------------------------------------------------------------------------------
def test_near_duplicates_chain_into_one_cluster():
    a = WORDS[:40]
    b = replace_word(a, 10, "CHANGED")
    c = replace_word(b, 30, "ALTERED")
    texts = [" ".join(a), " ".join(b), " ".join(c), " ".join(reversed(WORDS))]
    # the planted similarities: A~B and B~C above 0.8, A~C below it
    assert jaccard(texts[0], texts[1]) >= 0.8 and jaccard(texts[1], texts[2]) >= 0.8
    assert jaccard(texts[0], texts[2]) < 0.8
    assert group_near_duplicates(texts).tolist() == [0, 0, 0, 1]
    assert group_near_duplicates(texts, threshold=0.9).tolist() == [0, 1, 2, 3]


def test_near_duplicate_set_aside_with_its_similarity_to_the_keeper(tmp_path):
    a = WORDS[:40]
    rows = [chat(" ".join(a), id="a"), chat(" ".join(replace_word(a, 20, "CHANGED")), id="b")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["a"] and ids(dropped) == ["b"]
    expected = round(jaccard(rows[0]["messages"][0]["content"], rows[1]["messages"][0]["content"]), 4)
    assert dropped[0]["disposition"]["similarity"] == expected == round(35 / 41, 4)
    assert dropped[0]["disposition"]["reason"] == "near-duplicate of its keeper (Jaccard 0.85 to it, same cluster)"
    assert stats["near_removed"] == 1


def test_char_shingles_catch_typos_that_word_shingles_miss():
    texts = ["I would like to cancel my subscription", "I wuold like to cancle my subscripton"]
    assert group_near_duplicates(texts).tolist() == [0, 1]
    assert group_near_duplicates(texts, shingle="char", ngram=3, threshold=0.5).tolist() == [0, 0]


def test_copies_either_side_of_the_short_text_length_are_still_compared(tmp_path):
    # 31 words are compared as character shingles, 32 as word shingles: the two must still meet
    question = ("Hello, I ordered the blue rain jacket two weeks ago and it still has not arrived at my flat, "
                "could you please tell me where the parcel is and when it")
    longer = question + " delivered"
    assert len(question.split()) == 31 and len(longer.split()) == 32
    kept, dropped, _ = run_dedup(tmp_path, [chat(question, "Let me check."), chat(longer, "Let me check.")])
    assert len(kept) == 1 and dropped[0]["disposition"]["keeper_id"] == kept[0]["id"]


# -- keeper policy ---------------------------------------------------------------------------------------------
KEEPER_CASES = {
    "reviewed": ({}, {"review": {"verdict": "accept", "status": "done"}}),
    "corrected": ({}, {"tags": ["corrected"]}),
    "positive_feedback": ({"feedback": {"thumbs": "down"}}, {"feedback": {"thumbs": "up"}}),
    "recent": ({"source": {"timestamp": "2025-01-01T00:00:00Z"}}, {"source": {"timestamp": "2025-06-01T00:00:00Z"}}),
    "longest": ({}, {"messages": [{"role": "user", "content": "Can I return boots?"},
                                  {"role": "assistant", "content": "Yes, within 45 days of delivery, unused."}]}),
}


@pytest.mark.parametrize("criterion", sorted(KEEPER_CASES))
def test_each_keeper_criterion_picks_the_better_record(tmp_path, criterion):
    worse, better = KEEPER_CASES[criterion]
    base = chat("Can I return boots?", "Yes, within 45 days.")
    rows = [{**base, **worse, "id": "worse"}, {**base, **better, "id": "better"}]
    kept, dropped, _ = run_dedup(tmp_path, rows, keeper=[criterion])
    assert ids(kept) == ["better"]
    assert dropped[0]["disposition"]["keeper_id"] == "better"


def test_keeper_criteria_apply_in_order_then_input_order(tmp_path):
    base = chat("Can I return boots?", "Yes, within 45 days.")
    rows = [{**base, "id": "first"},
            {**base, "id": "liked_recent", "feedback": {"thumbs": "up"},
             "source": {"timestamp": "2025-09-01T00:00:00Z"}},
            {**base, "id": "reviewed_old", "review": {"verdict": "accept"},
             "source": {"timestamp": "2020-01-01T00:00:00Z"}}]
    assert ids(run_dedup(tmp_path, rows)[0]) == ["reviewed_old"]  # default: reviewed outranks feedback and recency
    assert ids(run_dedup(tmp_path, rows, keeper=["recent", "reviewed"])[0]) == ["liked_recent"]
    assert ids(run_dedup(tmp_path, [{**base, "id": "one"}, {**base, "id": "two"}])[0]) == ["one"]  # a tie


# -- labeling conflicts ----------------------------------------------------------------------------------------
QUESTION = "Can I get a refund after 60 days?"
POLICY = "No, refunds are only possible within 30 days of delivery."


def test_contradicting_replies_keep_one_record_per_answer_and_flag_a_conflict(tmp_path):
    rows = [chat(QUESTION, POLICY, id="no"),
            chat(QUESTION.lower().rstrip("?"), "Yes! We refund any purchase, any time, no questions asked.", id="yes"),
            chat(QUESTION, "No, only within 30 days of delivery.", id="no2"),
            chat("Do you sell gift cards?", "Yes, in any amount from $10.", id="other")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["no", "yes", "other"] and ids(dropped) == ["no2"]
    conflicted = [r for r in kept if "conflict" in r.get("tags", [])]
    assert ids(conflicted) == ["no", "yes"]
    group = conflicted[0]["groups"]["conflict"]
    assert conflicted[1]["groups"]["conflict"] == group == conflicted[0]["groups"]["cluster"]
    assert conflicted[0]["reasons"]["conflict"] == [
        "2 different answers to one input (3 records): opposite answers (no vs yes)"]
    assert dropped[0]["disposition"]["keeper_id"] == "no"
    assert dropped[0]["disposition"]["reason"] == f"same input and same answer as its keeper (conflict {group})"
    assert (stats["conflicts"], stats["conflict_records"], stats["conflict_copies_removed"]) == (1, 2, 1)


CHANGED = {  # the first reply, then one that disagrees with it in one assertion
    "amount": ("Your refund of $45.00 was approved on May 4.", "Your refund of $54.00 was approved on May 4."),
    "date": ("Your refund of $45.00 was approved on May 4.", "Your refund of $45.00 was approved on May 14."),
    "decision": ("Your refund of $45.00 was approved.", "Your refund of $45.00 was denied."),
    "can / cannot": ("You can return the boots within 45 days.", "You can't return the boots after 45 days."),
    "refusal": ("Sure, open Settings and choose Reset password.", "I'm sorry, but I can't help with that request."),
    "a date whose day is the other's hour": ("Your refund is due on October 11 at 11:59 PM.",
                                             "Your refund is due on October 13 at 11:59 PM."),
    "whether a plan is live": ("Your boots warranty plan is active.", "Your boots warranty plan has expired."),
    "whether there is stock": ("The boots are in stock at the Leeds store.", "The boots are sold out at the Leeds store."),
    "whether it was found": ("We located your lost boots at the depot.", "We're still searching for your lost boots."),
    "free or a fee": ("Returning the boots is free.", "Returning the boots costs a $5.99 fee."),
    "where a payment stands": ("Your refund has already been paid out.", "Your refund is still pending."),
    "where a parcel stands": ("The boots were delivered this morning.", "The boots are in transit."),
    "yes / no without a yes or a no": ("You can send the boots back from your account page.",
                                       "The boots cannot be sent back, as they were a final-sale item."),
    "another way to do it": ("You can return the boots in the app.", "To return the boots, call our service team."),
    "another colour": ("Your replacement boots are grey.", "Your replacement boots are white."),
    "billed another way": ("The boots care plan is billed monthly.", "The boots care plan is billed annually."),
    "a refund in another form": ("Your refund goes back to your original card.", "Your refund comes as store credit."),
    "a length in another unit": ("Returns need 2 days' notice.", "Returns need 2 weeks' notice."),
    "free or paid, without an amount": ("Returning the boots is free.", "Returning the boots costs extra."),
    "a review still open or decided": ("Your refund claim is under review.", "Your refund claim was rejected."),
    "paid or overdue": ("Your refund invoice has been paid.", "Your refund invoice is overdue."),
    "a yes or a no in German": ("Ja, Sie können die Stiefel zurückgeben.", "Nein, die Stiefel sind vom Umtausch ausgeschlossen."),
    "a no after 'leider'": ("Ja, Sie können die Stiefel zurückgeben.",
                            "Leider nein – die Stiefel können nicht zurückgegeben werden."),
    "another team": ("Boot refunds are handled by our Payments team.", "Boot refunds are handled by the Customer Care team."),
    "another rate": ("The refund desk takes 100 requests per minute.", "The refund desk takes 100 requests per hour."),
    "a phone number or the app": ("To return the boots, call <PHONE_1>.", "To return the boots, use the app."),
    "who decides": ("Boot refunds over $100 are approved by your manager.",
                    "Boot refunds over $100 are approved by the Finance team."),
    "free or a fee, in Portuguese": ("Sim, a devolução das botas é gratuita.", "A devolução das botas custa 5 €."),
    "done or still in progress, in German": ("Ihre Rückerstattung für die Stiefel wurde ausgeführt.",
                                             "Ihre Rückerstattung für die Stiefel ist noch in Bearbeitung."),
    "at once or in a day": ("Refunds for the boots reach your card instantly.",
                            "Refunds for the boots reach your card within 1 business day."),
    "the same day or the next": ("Boot refunds requested before noon go out the same day.",
                                 "Boot refunds requested before noon go out the next business day."),
    "a length or at once, in Spanish": ("El reembolso de las botas tarda 1 día hábil.",
                                        "El reembolso de las botas llega al instante."),
    "counts of things swapped": ("You can return 3 pairs of boots in 2 parcels.",
                                 "You can return 2 pairs of boots in 3 parcels."),
    "a yes and a restriction": ("Yes, you can return the boots after wearing them outdoors.",
                                "Boots can only be returned unworn, in their original box."),
    "a thousand is not one": ("The boots API allows 1,000 refund requests per minute.",
                              "The boots API allows 100 refund requests per minute; above that you get HTTP/1.1 429."),
    "a length beside a share": ("Return the boots within 30 days for a full refund; 30% is kept after that.",
                                "Return the boots within 14 days for a full refund; 30% is kept after that."),
    "a time said in words": ("The boot refund desk closes at 11 AM today.", "The boot refund desk closes at noon today."),
    "midnight or midday, in Spanish": ("Las devoluciones de botas cierran a medianoche.",
                                       "Las devoluciones de botas cierran al mediodía."),
    "a date in another year": ("Your refund contract ends on November 30, 2025.",
                               "Your refund contract ends on November 30, 2026."),
    "a time in the other half of the day": ("You can cancel the refund until 6:00 PM on August 8.",
                                            "You can cancel the refund until 6 AM on August 8."),
    "a price is not held by a number of days": ("Replacing the boots is free and takes 7–10 business days.",
                                                "Replacing the boots costs $10 and takes 7–10 business days."),
    "a year is no ninety days": ("The boots carry a 90-day refund guarantee.",
                                 "The boots carry a one-year refund guarantee."),
    "weeks against hours": ("We need 2 weeks' notice before the refund.", "We need 48 hours' notice before the refund."),
    "a duration counted in German": ("Die Erstattung dauert einen Monat.", "Die Erstattung dauert drei Monate."),
    "a status in German": ("Ihre Erstattung für die Stiefel wurde genehmigt.",
                           "Ihre Erstattung für die Stiefel wurde abgelehnt."),
    "waitlisted is not enrolled": ("You're enrolled in the boots refund workshop.",
                                   "You're on the waitlist for the boots refund workshop."),
    "past due is not active": ("Your boots refund plan is active, no action needed.",
                               "Your boots refund plan is past due; please update your card."),
    "cleared is paid": ("Your boots refund payment has cleared.", "Your boots refund payment is still pending."),
    "a German date with its month named": ("Ihre Erstattung für die Stiefel kommt am 31.08.2024.",
                                           "Ihre Erstattung für die Stiefel kommt am 30. September 2024."),
}
#: Agreeing wordings the answer model (on by default) calls two answers: short replies sharing few words,
#: one of them negating ("Refunds are free." / "No charges apply to refunds.", 0.58; "costs nothing" / "No
#: fee! Just order the new card in the app.", 0.61). The rules alone keep each as one answer; strict, so a
#: model that stops missing one fails here until it is moved.
MODEL_MISS = pytest.mark.xfail(strict=True, reason="the answer model reads these agreeing wordings as two answers")
MODEL_MISSES = {"a way denied in one, taken in both", "the other state says no", "no charges apply",
                 "a state to come is not the state"}


def test_every_known_miss_of_the_answer_model_names_a_case():
    """A renamed case would silently lose its strict xfail."""
    assert MODEL_MISSES <= set(REWORDED) | set(ANSWERED_ALIKE)


def by_rules_and_model(cases: dict) -> list:
    """Each case judged by the rules alone and with the answer model; the model's known misses xfail."""
    return [pytest.param(case, model, id=f"{case}, {'model' if model else 'rules'}",
                         marks=MODEL_MISS if model and case in MODEL_MISSES else ())
            for case in sorted(cases) for model in (False, True)]


REWORDED = {  # the first reply, then the same answer in other words
    "amount and date": ("Your refund of $45.00 was approved on May 4.",
                        "Good news: we approved your $45 refund on 4 May."),
    "spelled number": ("Refunds are possible within thirty days.", "You can get a refund within 30 days of delivery."),
    "no facts": ("Happy to help! Open Settings, then Security, and pick Reset password.",
                 "Sure: go to Settings > Security and choose the Reset password option."),
    "refusal": ("I'm sorry, but I can't help with that request.", "Sorry, I cannot assist with that."),
    "placeholders": ("Order <ORDER_1> ships May 4.", "Your order <ORDER_2> will ship on May 4."),
    "reordered": ("Your refund is approved. You can't get store credit as well.",
                  "You can't get store credit as well. Your refund is approved."),
    "a time written two ways": ("Refund desk hours: 7h00 to 10h30.", "The refund desk is open 7:00–10:30."),
    "a duration in other units": ("Refunds are possible for 2 years.", "You can get a refund for 24 months."),
    "a range and its end": ("Your refund lands May 3–5.", "Your refund lands between May 3 and May 5."),
    "feel free is no price": ("Your refund of $45 is approved. If anything else comes up, feel free.",
                              "Good news: we approved your $45 refund on May 4."),
    "apostrophes dropped": ("Sorry, we don't refund gift cards.", "Sorry, we dont refund gift cards."),
    "a state to come is not reached": ("Your refund will be issued after we receive the boots.",
                                       "Your refund is still pending until we receive the boots."),
    "no cost is no denial": ("Your refund is on its way at no cost to you.", "Your refund has been sent, free of charge."),
    "a way denied in one, taken in both": ("Refunds can't be requested by phone; use the app.",
                                           "Request the refund in the app."),
    "half an hour": ("The refund desk opens in 30 minutes.", "The refund desk opens in half an hour."),
    "no charges apply": ("Refunds are free.", "No charges apply to refunds."),
    "a price a month is no length": ("Refund cover costs $5 a month for 3 months.",
                                     "Refund cover is $5/month for three months."),
    "a status under a condition is no status": ("Your refund is still being reviewed.",
                                                "Your refund is with our team; once approved, it goes to your card."),
    "no refund fee denies a fee, not the refund": ("You can get a refund within 30 days, and refunds are free.",
                                                   "Within 30 days, with no refund fee."),
    "not be accepted denies": ("Late refund requests aren't accepted.", "Late refund requests will not be accepted."),
    "a curly apostrophe denies too": ("Your refund claim was denied.", "Your refund claim wasn’t approved."),
    "a web address is the online way": (
        "Request the refund yourself at refunds.example.com; from abroad, phone the refund desk on extension 4400.",
        "Head to the self-service portal refunds.example.com. From abroad, the refund desk at extension 4400 can do it."),
    "a field read as a label, and a field a reply only names": (
        "Your boots refund: approved. Autopay: not enabled.", "Refund for the boots approved; autopay is off."),
    "a phone number by its label": ("Call <PHONE_1> or use live chat, 8am to 8pm.",
                                    "Phone: <PHONE_1>\nLive chat: same hours, 8am to 8pm."),
    "a price said outright": ("Cancelling the refund now incurs a $5 cancellation fee.",
                              "The free cancellation window has passed, so cancelling the refund costs $5."),
    "a count written two ways": ("You can return up to 3 pairs of boots per order.",
                                 "Up to three pairs of boots can go back in one order."),
    "counts of one thing in two roles": ("You have returned 2 of 5 pairs of boots; 3 pairs are left.",
                                         "Two pairs of boots are back, three to go."),
    "a letter code is not the word it abbreviates": ("Turn on 2FA before you request the refund.",
                                                      "Turn on two-factor authentication before you request the refund."),
    "at once said twice": ("Your refund was sent and reaches your card right away.",
                           "Refund sent: it shows on your card immediately."),
    "a denial carried over 'or'": ("Sorry, gift boots can't be refunded or returned once bought.",
                                  "Gift boots can't be returned or refunded, sorry."),
    "no longer denies": ("Sorry, the boots are no longer covered: the warranty ended.",
                         "The boots' warranty has ended, so they aren't covered."),
    "a restriction after a yes": ("Yes, you can return the boots from your account, but only once per order.",
                                  "You can return the boots from your account, once per order."),
    "a condition is no restriction": ("Only if the boots are unworn can you return them.",
                                      "You can return the boots if they are unworn."),
    "noon written as a time": ("The refund desk closes at 12 PM on Saturdays.", "On Saturdays the refund desk closes at noon."),
    "a refusal in other words helps no more": ("For privacy reasons I'm not able to disclose another customer's refund.",
                                               "I'm sorry, I can't share details of someone else's refund."),
    "hours in whole days": ("Give us 48 hours' notice before the refund.", "Give us 2 days' notice before the refund."),
    "a German date written two ways": ("Ihre Erstattung wurde am 11.03. überwiesen.",
                                       "Ihre Erstattung wurde am 11. März überwiesen."),
    "an afternoon is no noon": ("Le guichet des remboursements ouvre l'après-midi, dès 14h.",
                                "Le guichet des remboursements ouvre à 14h, l'après-midi."),
    "a time without its half of the day": ("Your refund call is on Tuesday at 2:30 PM.",
                                           "Your refund call is Tuesday at 2:30 in the afternoon."),
    "a date with and without its year": ("Your refund arrives on November 30, 2025.", "The refund arrives on Nov 30."),
    "a weight in pounds is no price": ("One refund parcel of boots up to 23 kg (50 lb) ships free.",
                                       "One refund parcel of boots, up to 23 kilograms (50 pounds), ships free."),
    "a year written as days": ("The boots carry a one-year refund guarantee.",
                               "The boots carry a 365-day refund guarantee."),
    "not cleared is pending": ("Your refund payment for the boots hasn't cleared yet.",
                               "Your refund payment for the boots is still pending."),
    "noon ends a range of hours": ("The refund desk is staffed between 8 am and noon.",
                                   "The refund desk is staffed in the morning (8-12)."),
    "never done is not done": ("Sorry, your refund parcel of boots hasn't arrived.",
                               "Sorry, your refund parcel of boots was never delivered."),
}


@pytest.mark.parametrize("change", sorted(CHANGED))
def test_replies_that_disagree_on_one_assertion_are_a_conflict(tmp_path, change):
    first, second = CHANGED[change]
    question = "Can you check my refund? Can I return the boots?"
    # the rules alone: the answer model could hide a broken rule by catching the pair itself
    kept, dropped, stats = run_dedup(tmp_path, [chat(question, first, id="a"), chat(question.lower(), second, id="b")],
                                     answer_model=False)
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1, change


#: a question and two replies in a language the logs hold besides the big five, where a word denies its
#: clause ("ikke", "inte", "nie", "nem", "nije", "eivät", "δεν", "değil"): (question, one reply, the other)
DENIED_ELSEWHERE = {
    "Danish": ("Er min ordre afsendt?", "Din ordre er afsendt med PostNord.", "Din ordre er endnu ikke afsendt."),
    "Swedish": ("Kan jag avboka min tid?", "Du kan avboka din tid i appen.", "Du kan inte avboka din tid i appen."),
    "Polish": ("Czy mogę zwrócić buty?", "Tak, możesz zwrócić buty w ciągu 30 dni.", "Niestety butów nie można zwrócić."),
    "Hungarian": ("Lehet macskát tartani a szobában?", "Igen, macskát lehet tartani a szobában.",
                  "A szobában nem lehet macskát tartani."),
    "Hungarian, 'sem' closing its clause": ("Lehet macskát tartani a szobában?",
                                            "Igen, macskát lehet tartani a szobában.",
                                            "Háziállatot nem tarthatsz, így macskát sem."),
    "Croatian": ("Je li moja narudžba poslana?", "Vaša narudžba je poslana.", "Vaša narudžba još nije poslana."),
    "Finnish": ("Voiko kengät palauttaa?", "Kengät voi palauttaa 30 päivän sisällä.", "Kengät eivät ole palautettavia."),
    "Greek": ("Μπορώ να ακυρώσω την κράτηση;", "Μπορείτε να ακυρώσετε την κράτηση δωρεάν.",
              "Δεν μπορείτε να ακυρώσετε την κράτηση."),
    "Turkish": ("Temizlik malzemeleri fiyata dahil mi?", "Evet, malzemeler fiyata dahil.",
                "Malzemeler fiyata dahil değil."),
}
#: the same languages, two replies saying one thing: Danish "nu" is "now", and "macskát sem" the same no;
#: the look-alikes of a negator elsewhere deny nothing (Portuguese "sem", Finnish "ei" as an airline's code)
SAID_ALIKE_ELSEWHERE = {
    "Danish 'nu'": ("Er min ordre afsendt?", "Din ordre er nu afsendt.", "Din ordre er afsendt med PostNord."),
    "Portuguese 'sem' closing its clause": ("Posso pedir o lanche com molho?", "Pode pedir o lanche com molho ou sem.",
                                            "Pode pedir o lanche com molho."),
    "an airline's code EI": ("Is my flight to Boston confirmed?", "Yes, your flight EI 105 to Boston is confirmed.",
                             "Yes, your flight to Boston is confirmed."),
    "Danish, a negator after 'og'": ("Er min refusion godkendt?", "Ja, din refusion er godkendt.",
                                      "Din refusion er godkendt og du behøver ikke at gøre mere."),
    "German, a negator after 'und'": ("Ist meine Erstattung genehmigt?", "Ja, Ihre Erstattung ist genehmigt.",
                                      "Ihre Erstattung ist genehmigt und Sie brauchen nicht anzurufen."),
    "Swedish, 'inte bara'": ("Får jag en återbetalning?", "Ja, du får en återbetalning.",
                             "Du får inte bara en återbetalning utan också en rabattkod."),
    "Hungarian, both no": ("Lehet macskát tartani a szobában?", "Nem, macskát nem lehet tartani a szobában.",
                           "A kollégiumban nem tarthatsz háziállatot, így macskát sem."),
}


@pytest.mark.xfail(strict=True, reason="a known false reading: a yes-or-no answer is read from the whole sentence, "
                                        "so a negation in a clause joined by 'and' says no to the question")
def test_a_negation_joined_by_and_to_a_yes_does_not_deny_it(tmp_path):
    """Found in round thirty-five's read-through; the other languages' negators no longer deny across "and"
    (``COORDINATORS``), English's sentence reading still does. Strict: it fails here the day it is mended."""
    question = "Can I return the shoes?"
    kept, dropped, stats = run_dedup(tmp_path, [chat(question, "Yes, you can return the shoes.", id="a"),
                                                chat(question, "You can return the shoes and you don't have to pay "
                                                               "postage.", id="b")], answer_model=False)
    assert len(kept) == len(dropped) == 1 and stats["conflicts"] == 0


@pytest.mark.parametrize("language", DENIED_ELSEWHERE)
def test_replies_one_of_which_denies_in_another_language_are_a_conflict(tmp_path, language):
    question, first, second = DENIED_ELSEWHERE[language]
    kept, dropped, stats = run_dedup(tmp_path, [chat(question, first, id="a"), chat(question, second, id="b")],
                                     answer_model=False)
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1, language


@pytest.mark.parametrize("language", SAID_ALIKE_ELSEWHERE)
def test_replies_saying_one_thing_in_another_language_are_one_answer(tmp_path, language):
    question, first, second = SAID_ALIKE_ELSEWHERE[language]
    kept, dropped, stats = run_dedup(tmp_path, [chat(question, first, id="a"), chat(question, second, id="b")],
                                     answer_model=False)
    assert len(kept) == len(dropped) == 1 and stats["conflicts"] == 0, language


@pytest.mark.parametrize("wording, answer_model", by_rules_and_model(REWORDED))
def test_reworded_replies_that_agree_are_one_answer_not_a_conflict(tmp_path, wording, answer_model):
    first, second = REWORDED[wording]
    kept, dropped, stats = run_dedup(tmp_path, [chat("Can you check my refund?", first, id="a"),
                                                chat("can you check my refund", second, id="b")], answer_model=answer_model)
    assert len(kept) == len(dropped) == 1 and stats["conflicts"] == 0, wording


def test_many_sampled_wordings_of_one_answer_add_nothing_to_review(tmp_path):
    wordings = ["Refunds are possible within 30 days of delivery.", "You can get a refund within 30 days.",
                "We refund purchases returned within 30 days of delivery.",
                "Within 30 days you can get your money back."]
    rows = [chat("What is your refund window?", wording, id=f"w{i}") for i, wording in enumerate(wordings * 25)]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["w2"] and stats["conflicts"] == 0 and len(dropped) == 99  # w2: the longest wording


FREE_OF_CHARGE = ["No, replacing a lost card is free.", "There's no charge for a replacement card if yours was lost.",
                  "Replacing a lost card costs nothing.", "Good news — I don't see any fee for replacing a lost card.",
                  "No fee! Just order the new card in the app."]


@pytest.mark.parametrize("answer_model", [False, pytest.param(True, marks=MODEL_MISS)])
def test_replies_saying_it_costs_nothing_answer_a_question_about_a_fee_alike(tmp_path, answer_model):
    rows = [chat("Is there a fee to replace a lost card?", reply, id=f"r{i}") for i, reply in enumerate(FREE_OF_CHARGE)]
    kept, dropped, stats = run_dedup(tmp_path, rows, answer_model=answer_model)
    assert len(kept) == 1 and len(dropped) == 4 and stats["conflicts"] == 0


def test_a_charge_and_costing_nothing_answer_a_question_about_a_charge_otherwise(tmp_path):
    question = "Will I be charged if I cancel my booking today?"
    kept, dropped, stats = run_dedup(tmp_path, [
        chat(question, "Yes, your rate is non-refundable, so cancelling now forfeits the full amount.", id="a"),
        chat(question, "Cancelling today is free. Your rate allows free cancellation until Friday.", id="b")])
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1


ANSWERED_ALIKE = {  # a yes-or-no question, then two replies giving one answer to it
    "a short answer": ("Can I move my ticket to another traveller?",
                       "I'm afraid you can't transfer a ticket to someone else; names can't be swapped.",
                       "Short answer: no transfer to a different traveller."),
    "sorry for the trouble is no answer": ("Did you refund my order?",
                                           "I'm sorry about that! I've issued a full refund of $23.40 to your card.",
                                           "Sorry your food wasn't hot. A full refund of $23.40 is on its way to your card."),
    "a price says it is not free": ("Is parking at the hotel free?",
                                    "Parking at our hotel costs €18 per night in the underground garage.",
                                    "It's not free, unfortunately: the underground garage is €18 a night."),
    "the other state says no": ("Is two-factor authentication enabled on my account?",
                                "No, 2FA isn't enabled right now. You can switch it on in Settings.",
                                "Two-factor authentication is currently turned off on your account."),
    "a curly apostrophe negates as a straight one": ("Do you charge a fee to replace a card?",
                                                     "We don’t charge a fee for a replacement card.",
                                                     "We don't charge any fee to replace your card."),
    "a state to come is not the state": ("Is my new card active yet?",
                                         "Not yet: it still needs to be activated once it arrives.",
                                         "It's still inactive. Activate it in the app when it arrives."),
}


@pytest.mark.parametrize("case, answer_model", by_rules_and_model(ANSWERED_ALIKE))
def test_replies_giving_one_answer_to_a_yes_or_no_question_are_one_answer(tmp_path, case, answer_model):
    question, first, second = ANSWERED_ALIKE[case]
    kept, dropped, stats = run_dedup(tmp_path, [chat(question, first, id="a"), chat(question, second, id="b")],
                                     answer_model=answer_model)
    assert len(kept) == len(dropped) == 1 and stats["conflicts"] == 0, case


def test_an_offer_to_add_what_was_asked_about_does_not_hide_a_no(tmp_path):
    question = "Is roadside assistance part of my policy?"
    kept, dropped, stats = run_dedup(tmp_path, [
        chat(question, "Roadside assistance isn't included in your policy. I can help you add roadside if you'd like.",
             id="a"),
        chat(question, "Yes, roadside assistance is included in your policy.", id="b")])
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1


def test_replies_stating_ten_thousand_times_each_are_compared_fact_by_fact(tmp_path):
    # hostile logs: each fact is checked against sets of the other reply's facts, never a pass over them
    afternoon = " ".join(f"at {hour % 12 + 1}:{hour % 60:02d} PM," for hour in range(10_000))
    morning = " ".join(f"at {hour % 12 + 1}:{(hour + 7) % 60:02d} AM," for hour in range(10_000))
    kept, dropped, stats = run_dedup(tmp_path, [chat("When are you open?", afternoon, id="a"),
                                                chat("When are you open?", morning, id="b")])
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1


def test_different_tool_calls_for_one_request_are_a_conflict(tmp_path):
    def calling(name: str, arguments: str, rid: str) -> dict:
        call = {"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}
        return {"id": rid, "messages": [{"role": "user", "content": "Cancel order <ORDER_1> please"},
                                        {"role": "assistant", "content": None, "tool_calls": [call]}]}
    same = [calling("cancel_order", '{"order": "<ORDER_1>", "refund": true}', "a"),
            calling("cancel_order", '{ "refund": true,  "order": "<ORDER_2>"}', "b")]  # same call, other spelling
    assert ids(run_dedup(tmp_path, same)[0]) == ["a"]
    for other in (calling("lookup_order", '{"order": "<ORDER_1>"}', "c"),
                  calling("cancel_order", '{"order": "<ORDER_1>", "refund": false}', "c")):
        kept, _, stats = run_dedup(tmp_path, [same[0], other])
        assert ids(kept) == ["a", "c"] and stats["conflicts"] == 1
        assert "different tool calls" in kept[0]["reasons"]["conflict"][0]


def test_a_reply_after_a_tool_call_and_one_without_a_call_are_a_conflict(tmp_path):
    """The answers to one question meet whatever the records hold before their reply: one that
    called a tool (compared as word n-grams) and short ones that did not (character n-grams)."""
    ask = [{"role": "user", "content": "send a reset link to <EMAIL_1> please, I forgot my password"}]
    call = {"id": "c1", "type": "function", "function": {"name": "send_password_reset", "arguments": '{"email": "x"}'}}
    sent = {"id": "sent", "messages": ask + [{"role": "assistant", "content": None, "tool_calls": [call]},
                                             {"role": "tool", "tool_call_id": "c1", "content": '{"sent": true}'},
                                             {"role": "assistant", "content": "Done: check your inbox for the link."}]}
    verify = chat(ask[0]["content"], "Before I send a link, please confirm the last four digits of your card.",
                  id="verify")
    verify_again = chat(ask[0]["content"], "Before I send a link, please confirm the last 4 digits of your card.",
                        id="verify_again")
    kept, dropped, stats = run_dedup(tmp_path, [sent, verify, verify_again])
    assert ids(kept) == ["sent", "verify"] and ids(dropped) == ["verify_again"] and stats["conflicts"] == 1
    assert "different tool calls (none vs send_password_reset)" in kept[0]["reasons"]["conflict"][0]


def test_a_rejected_reply_is_no_conflict(tmp_path):
    rows = [chat("Can I get a refund after 60 days?", "Yes! We refund anything, any time.", id="wrong",
                 feedback={"thumbs": "down"}),
            chat(QUESTION, POLICY, id="right")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["right"] and ids(dropped) == ["wrong"] and stats["conflicts"] == 0


def order_lookup(status_json: str, reply: str, rid: str) -> dict:
    call = {"id": "c1", "type": "function", "function": {"name": "lookup_order", "arguments": '{"n": 1}'}}
    return {"id": rid, "messages": [{"role": "user", "content": "Where is my order <ORDER_1>?"},
                                    {"role": "assistant", "content": None, "tool_calls": [call]},
                                    {"role": "tool", "tool_call_id": "c1", "content": status_json},
                                    {"role": "assistant", "content": reply}]}


def test_same_question_with_different_tool_results_are_different_examples(tmp_path):
    rows = [order_lookup('{"status": "shipped", "carrier": "UPS", "eta": "May 4"}',
                         "It shipped with UPS, due May 4.", "a"),
            order_lookup('{"status": "processing", "warehouse": "Denver", "eta": null}',
                         "Still being packed in Denver.", "b")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 0
    kept, dropped, stats = run_dedup(tmp_path, rows, view="user")  # the user view: one question asked twice
    assert len(kept) == len(dropped) == 1 and stats["conflicts"] == 0


def test_near_identical_lookups_whose_tool_returned_another_status_are_different_examples(tmp_path):
    """Two orders scrubbed to one placeholder, the same product and date: only the status differs,
    and the reply says so. Near-duplicates by their text (Jaccard ~0.9), two examples by what they teach."""
    result = '{{"order_number": "<ORDER_1>", "items": ["Trailblazer boots"], "status": "{}", "estimated_delivery": "November 21"}}'
    rows = [order_lookup(result.format("processing"), "Your order <ORDER_1> (Trailblazer boots) is still being "
                         "processed; the estimated delivery is November 21.", "processing"),
            order_lookup(result.format("delivered"), "Order <ORDER_1> (Trailblazer boots) was delivered on "
                         "November 21. Let me know if anything is missing.", "delivered"),
            order_lookup(result.format("delivered"), "Order <ORDER_1> (Trailblazer boots) was delivered on "
                         "November 21. Let me know if anything's missing.", "delivered-again")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["processing", "delivered"] and stats["conflicts"] == 0
    assert dropped[0]["id"] == "delivered-again" and dropped[0]["disposition"]["keeper_id"] == "delivered"


def test_near_identical_lookups_whose_tool_returned_another_value_in_any_field_are_different_examples(tmp_path):
    """Not a status nor a number: one yes-or-no field, the rest word for word. Each reply relays its own
    result, so neither is a conflict nor a copy of the other; the agreeing wording is."""
    result = '{{"plan": "Unlimited 5G", "roaming_enabled": {}, "line": "<PHONE_1>"}}'
    rows = [order_lookup(result.format("false"), "Roaming isn't enabled on your line right now.", "off"),
            order_lookup(result.format("true"), "Yes, roaming is enabled on your line.", "on"),
            order_lookup(result.format("true"), "Roaming is on for your line, so you can use it abroad.", "on-again")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert "off" in ids(kept) and len(kept) == 2 and stats["conflicts"] == 0
    assert {dropped[0]["id"], dropped[0]["disposition"]["keeper_id"]} == {"on", "on-again"}


CONTRADICTED = {  # a tool result, a reply that follows it, one that says otherwise in other words, the reason
    "a yes-or-no field named by a shorter word": (
        '{"type": "blood test", "fasting_required": true, "time": "08:45"}',
        "Your blood test is at 08:45. Fasting is required, so nothing to eat before it.",
        "Your blood test is at 08:45. No need to fast for this one.", "says what the tool did not return (fasti"),
    "a name swapped after a colon": (
        '{"room": "Deluxe King", "status": "confirmed", "guests": 2}',
        "Yes, your booking is confirmed: Deluxe King, for 2 guests.",
        "Your booking is confirmed for a Deluxe Queen room, for 2 guests.",
        "a name the tool did not return (Queen room vs King)"),
    "a yes-or-no field without a word for a state, affirmed by its other words": (
        '{"tier": "Gold", "points": 18450, "lounge_access": false}',
        "You're Gold with 18,450 points. Lounge access isn't included at Gold.",
        "You're Gold with 18,450 points, and that includes lounge access.", "(loung: yes where the tool returned loung: no)"),
    "a yes-or-no field of one word, affirmed by it": (
        '{"restriction": "chat_mute", "banned": false, "until": "2024-05-03"}',
        "You're muted in chat until 3 May; your account isn't banned.",
        "Your account has been banned, and chat is off until 3 May.", "(banne: yes where the tool returned banne: no)"),
    "a requirement the tool denies, said with need": (
        '{"covered": true, "copay": 20.0, "prior_auth_required": false}',
        "Your MRI is covered with a $20 copay, so we can book it straight away.",
        "Your MRI is covered with a $20 copay. We'll need to get prior authorization first.",
        "(prior: yes where the tool returned prior: no)"),
    "nothing left to send where the tool lists something missing": (
        '{"status": "under_review", "documents_missing": ["repair estimate"], "adjuster": "<NAME_1>"}',
        "Your claim is under review with <NAME_1>; we're still waiting on the repair estimate.",
        "Your claim is under review with <NAME_1>, and all required documents have been received.",
        "(nothing missing where the tool returned documents_missing: 1 listed)"),
    "a payment declined where it succeeded": (
        '{"status": "succeeded", "amount": 49.0, "card_last4": "4242"}',
        "It went through: $49 charged to the card ending 4242.",
        "The payment of $49.00 to the card ending 4242 was declined.", "(rejected where the tool returned completed)"),
    "where a parcel was left": (
        '{"status": "delivered", "left_with": "neighbour", "time": "13:47"}',
        "It was delivered at 13:47; there's a photo of it in the tracking page.",
        "It was delivered at 13:47 and left in your safe place.", "(safe place where the tool returned neighbour)"),
    "an unplanned fault over planned works": (
        '{"outage": true, "type": "planned", "restore_by": "15:00"}',
        "There's an outage on your street; power will be back by 15:00.",
        "There's an unplanned fault on your street; power will be back by 15:00.",
        "(unplanned where the tool returned planned)"),
    "a frozen membership said to be active": (
        '{"status": "frozen", "plan": "Premium", "freeze_ends": "2024-07-01"}',
        "Your Premium membership is paused until 1 July.", "Your Premium membership is active.",
        "(active where the tool returned frozen)"),
    "a card sent by courier where it went by post": (
        '{"status": "dispatched", "dispatched_on": "2024-05-14", "delivery_method": "standard_post"}',
        "Your card was dispatched on 14 May.", "Your card was dispatched on 14 May by courier.",
        "(courier where the tool returned post)"),
    "the order's total refunded where one item was": (
        '{"total": 79.99, "items": [{"name": "Wireless headphones", "price": 59.99, "returned": true}, '
        '{"name": "Charging case", "price": 20.0, "returned": false}], '
        '"refunds": [{"item": "Wireless headphones", "amount": 59.99, "status": "processed"}]}',
        "Your refund for the wireless headphones (€59.99) has been processed.",
        "Yes, your refund of €79.99 has been processed.", "another part of the tool result (amount: €59.99 vs €79.99)"),
    "the appointment of the wrong entry of a list": (
        '{"appointments": [{"date": "2024-05-10", "time": "09:30", "type": "check-up", "status": "confirmed"}, '
        '{"date": "2024-06-02", "time": "11:00", "type": "hygienist", "status": "cancelled"}]}',
        "Your next appointment is a check-up on 10 May at 9:30.",
        "Your next appointment is with the hygienist on 2 June at 11:00.",
        "another part of the tool result (date: "),
}


@pytest.mark.parametrize("case", sorted(CONTRADICTED))
def test_a_reply_that_contradicts_its_tool_result_in_other_words_is_a_conflict(tmp_path, case):
    result, following, contradicting, reason = CONTRADICTED[case]
    kept, dropped, stats = run_dedup(tmp_path, [order_lookup(result, following, "a"),
                                                order_lookup(result, contradicting, "b")], answer_model=False)
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1, case
    assert reason in kept[0]["reasons"]["conflict"][0]


FOLLOWED_TWO_WAYS = {  # a tool result and two replies that both follow it, one in words a rule once misread
    "an offer to turn a setting off": (
        '{"type": "motor", "renewal_date": "2024-09-01", "auto_renew": true}',
        "Your motor policy renews on 1 September 2024, and auto-renewal is switched on.",
        "Renewal date: 01/09/2024 (auto-renew on). Let me know if you'd like to turn off auto-renewal."),
    "a fee denied, not the field it names": (
        '{"fare_class": "Main Cabin", "changeable": true, "change_fee": 0}',
        "Yes, you can change the date of your Main Cabin ticket. There's no change fee.",
        "Date changes are allowed on Main Cabin, and they cost nothing."),
    "a cost denied in Italian, not the check-in it names": (
        '{"flight": "AZ1456", "online_checkin": true, "checkin_opens_hours": 30}',
        "Sì, il check-in online per il suo volo apre 30 ore prima della partenza.",
        "Il check-in online non ha costi e per il suo volo apre 30 ore prima della partenza."),
    "an order's progress still to come": (
        '{"status": "preparing", "dispatch_within_business_days": 2}',
        "Your order is still being prepared and should ship within 2 business days.",
        "Not shipped yet: it's in preparation. Within two business days it'll be on its way."),
    "an extension offered, not the cover held": (
        '{"type": "travel", "tier": "Standard", "winter_sports": false}',
        "Your Standard travel policy doesn't cover winter sports.",
        "Skiing isn't covered on Standard. For cover, add the winter sports extension before you travel."),
    "an amount one reply writes without its currency": (
        '{"ledger_balance": 2418.63, "available": 2318.63, "pending": 100.0, "currency": "GBP"}',
        "You have £2,318.63 available, after a pending £100.",
        "Ledger balance: 2,418.63 GBP. Available: 2,318.63."),
    "a share and the amount it saves": (
        '{"promo": "SPRING", "discount_percent": 20, "discount_amount": 5.0}',
        "The SPRING code takes 20% off your order.", "With SPRING you save $5.00 on this order."),
    "a date range written both ways round, and a time in either half of the day": (
        '{"leave": {"start": "2024-08-05", "end": "2024-08-09", "status": "approved"}, "return_at": "14:00"}',
        "Your leave for August 5-9 has been approved; you're back at 2 pm on the 10th.",
        "Approved: you're off from 5 to 9 August, back on the 10th at 14:00."),
}


SAID_ALIKE = {  # a question and two replies giving one answer in words a rule once read as two
    "costing nothing said with a negation": ("Is delivery free when I rent a dishwasher?",
                                             "Yes, delivery and installation are free on all rentals.",
                                             "Delivery and installation won't cost you anything; both are included."),
    "nothing extra to pay": ("Do I have to pay for the course certificate?",
                             "No, it's included: you can download it as soon as you finish.",
                             "The certificate is included in your course fee, so there's nothing extra to pay."),
    "too late to": ("Can I move my escape room booking to another day? It's tomorrow.",
                    "Unfortunately not. Bookings can only be rescheduled up to 24 hours before the start time.",
                    "Since your session is less than 24 hours away, it's too late to reschedule, I'm afraid."),
    "a payment that failed": ("Did my rental payment go through this month?",
                              "No, the direct debit failed. We'll try again on 12 June.",
                              "This month's payment failed, and a retry is scheduled for June 12."),
    "a sentence opened by an adverb with a capital": (
        "Can I pause my home warranty while the house is empty?",
        "Sadly plans can't be paused, but you can cancel and start a new plan later.",
        "Unfortunately plans can't be paused, but you can cancel and start a new plan later."),
    "what may be done says nothing of what must": ("Do I need a referral to book with the physio?",
                                                  "A referral isn't required, just book online or by phone.",
                                                  "You can refer yourself to physiotherapy; no GP letter needed."),
    "extra says it is not included": ("Is breakfast included in my booking?",
                                      "Your booking is on a room-only rate, so breakfast isn't included.",
                                      "I checked: it's a room-only rate for 3 nights. Breakfast would be extra, €18 per "
                                      "person per day."),
    "nothing to buy says it is included": ("Does my plan include hotspot data?",
                                           "Yes, your plan includes 30 GB of hotspot data a month.",
                                           "You get 30 GB of hotspot each month, so you won't need to buy a hotspot pass."),
}


def two_replies(case: str) -> list[dict]:
    """The two records of a case: over a tool result (``FOLLOWED_TWO_WAYS``) or to a question (``SAID_ALIKE``)."""
    if case in FOLLOWED_TWO_WAYS:
        result, first, second = FOLLOWED_TWO_WAYS[case]
        return [order_lookup(result, first, "a"), order_lookup(result, second, "b")]
    question, first, second = SAID_ALIKE[case]
    return [chat(question, first, id="a"), chat(question, second, id="b")]


@pytest.mark.parametrize("case", sorted(FOLLOWED_TWO_WAYS) + sorted(SAID_ALIKE))
def test_two_replies_giving_one_answer_in_words_a_rule_once_misread_are_one_answer(tmp_path, case):
    kept, dropped, stats = run_dedup(tmp_path, two_replies(case), answer_model=False)
    assert len(kept) == len(dropped) == 1 and stats["conflicts"] == 0, case


def test_costing_nothing_against_a_price_is_still_a_conflict(tmp_path):
    question = "Is delivery free when I rent a dishwasher?"
    kept, dropped, stats = run_dedup(tmp_path, [
        chat(question, "Delivery won't cost you anything; it's included with every rental.", id="a"),
        chat(question, "Delivery is $39, added to your first month's rent.", id="b")], answer_model=False)
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1


ANSWERED_OTHERWISE = {  # a yes-or-no question, then two replies answering it otherwise, in words a rule once misread
    "optional says no to a need": ("Do I need a police report to file a theft claim?",
                                   "Yes, a police report is required for all theft claims.",
                                   "It's optional, but attaching one can speed up your claim."),
    "charged separately says it is not included": ("Is breakfast included in my booking?",
                                                   "Yes, breakfast is included in your rate.",
                                                   "Breakfast is charged separately at €18 per person."),
    "a state awaited is not reached": ("Have my festival tickets been issued?",
                                       "Yes! Both of your tickets have been issued and are in the app.",
                                       "Your tickets are still pending. You'll get an email as soon as they're issued."),
}


@pytest.mark.parametrize("case", sorted(ANSWERED_OTHERWISE))
def test_two_replies_answering_otherwise_in_words_a_rule_once_misread_are_a_conflict(tmp_path, case):
    question, first, second = ANSWERED_OTHERWISE[case]
    kept, dropped, stats = run_dedup(tmp_path, [chat(question, first, id="a"), chat(question, second, id="b")],
                                     answer_model=False)
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1, case


def test_one_reply_saying_a_thing_is_needed_and_another_that_it_is_not_are_a_conflict(tmp_path):
    question = "When will my meter be replaced?"
    kept, dropped, stats = run_dedup(tmp_path, [
        chat(question, "Your meter exchange is on 8 October in the morning; someone needs to be home to give access.",
             id="a"),
        chat(question, "Your meter exchange is on 8 October in the morning; you don't need to be home.", id="b")],
        answer_model=False)
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1
    assert "different requirements (home: needed vs not needed)" in kept[0]["reasons"]["conflict"][0]


def test_a_time_range_written_with_its_half_of_the_day_once_is_the_same_range(tmp_path):
    """"1-5pm" is 13:00 to 17:00, and "4 in the afternoon" is 16:00."""
    kept, dropped, stats = run_dedup(tmp_path, [
        chat("Is my parcel coming today?", "It's out for delivery: expect it between 13:00 and 17:00.", id="a"),
        chat("Is my parcel coming today?", "It's out for delivery, arriving 1-5pm.", id="b"),
        chat("When does the pool close on Sundays?", "On Sundays the pool closes at 16:00.", id="c"),
        chat("When does the pool close on Sundays?", "The pool closes at 4 in the afternoon on Sundays.", id="d"),
        # a day part after a month is the date's, and "11-12pm" starts in the morning
        chat("When is my meter exchange?", "It's on October 8 in the morning, 11-12pm.", id="e"),
        chat("When is my meter exchange?", "It's on 8 October, in the morning, from 11am to 12pm.", id="f")],
        answer_model=False)
    assert stats["conflicts"] == 0 and len(kept) == 3
    assert {frozenset((record["id"], record["disposition"]["keeper_id"])) for record in dropped} == \
        {frozenset("ab"), frozenset("cd"), frozenset("ef")}


def test_a_longer_word_does_not_name_a_shorter_field(tmp_path):
    """"autopay" begins as "auto_renew" does, and says nothing of it."""
    result = '{"plan": "Pro", "auto_renew": true}'
    kept, dropped, stats = run_dedup(tmp_path, [
        order_lookup(result, "Your Pro plan renews on its own.", "a"),
        order_lookup(result, "Your Pro plan renews on its own. Autopay is off, so you pay each invoice.", "b")],
        answer_model=False)
    assert stats["conflicts"] == 0


def test_a_reply_naming_what_another_lookup_returned_contradicts_its_own(tmp_path):
    """Which bin goes out: "general waste" is a word like any other to the rules until another lookup
    of the same request returns it as the field's value; then a reply saying it over "recycling" says
    what its tool did not return."""
    recycling, general = '{"bin": "recycling", "weekday": "Tuesday"}', '{"bin": "general_waste", "weekday": "Tuesday"}'
    following = order_lookup(recycling, "Your next collection is on Tuesday: it's the recycling bin.", "a")
    contradicting = order_lookup(recycling, "Your next collection is on Tuesday: put out the general waste bin.", "b")
    other_week = order_lookup(general, "Your next collection is on Tuesday: put out the general waste bin.", "c")
    kept, dropped, stats = run_dedup(tmp_path, [following, contradicting], answer_model=False)
    assert stats["conflicts"] == 0  # no lookup says what else the bin can be
    kept, dropped, stats = run_dedup(tmp_path, [following, contradicting, other_week], answer_model=False)
    assert ids(kept) == ["a", "b", "c"] and stats["conflicts"] == 1
    reason = next(record for record in kept if record["id"] == "a")["reasons"]["conflict"][0]
    assert "another lookup returned (bin: general waste where this lookup returned recycling)" in reason


NOT_ANOTHER_VALUE = {  # this lookup's result, another lookup's, two replies over this one, the other's reply
    "a value denied": ('{"claim": "<CLAIM_1>", "decision": "denied"}', '{"claim": "<CLAIM_1>", "decision": "approved"}',
                       "Your claim <CLAIM_1> was denied after review.",
                       "Your claim <CLAIM_1> wasn't approved after review.",
                       "Your claim <CLAIM_1> was approved after review."),
    "a one-letter value, met in a contraction": ('{"item": "<ITEM_1>", "size": "L"}', '{"item": "<ITEM_1>", "size": "M"}',
                                                 "Your order has shipped.", "I'm happy to help: your order has shipped.",
                                                 "I'm happy to help: your order has shipped."),
}


@pytest.mark.parametrize("case", sorted(NOT_ANOTHER_VALUE))
def test_another_lookups_value_that_is_not_asserted_is_no_contradiction(tmp_path, case):
    """"wasn't approved" names the other lookup's "approved" to deny it, as "denied" does; another lookup's
    size "M" is not the "m" of "I'm"."""
    result, other_result, first, second, other_reply = NOT_ANOTHER_VALUE[case]
    kept, dropped, stats = run_dedup(tmp_path, [order_lookup(result, first, "a"), order_lookup(result, second, "b"),
                                                order_lookup(other_result, other_reply, "c")], answer_model=False)
    assert stats["conflicts"] == 0 and len(kept) == 2 and "c" in ids(kept), case


def test_a_year_the_tool_returned_in_a_date_is_no_new_fact(tmp_path):
    """"for 2024" and "until 31 December" both relay ``"expires": "2024-12-31"``."""
    result = '{"credits_left": 7, "expires": "2024-12-31"}'
    kept, dropped, stats = run_dedup(tmp_path, [
        order_lookup(result, "You have 7 credits left for 2024.", "a"),
        order_lookup(result, "You have 7 credits left; they expire on 31 December.", "b")], answer_model=False)
    assert len(kept) == len(dropped) == 1 and stats["conflicts"] == 0


def test_a_state_denied_by_could_not_follows_a_tool_result_that_denies_it(tmp_path):
    """"couldn't be located" says the address was not found, as the tool did: one answer, in two wordings."""
    result = '{"status": "exception", "reason": "address_not_found", "depot": "Bristol South"}'
    kept, dropped, stats = run_dedup(tmp_path, [
        order_lookup(result, "Our driver couldn't find the delivery address, so your parcel is held at the Bristol "
                             "South depot.", "a"),
        order_lookup(result, "The delivery address couldn't be located, so your parcel is now at the Bristol South "
                             "depot.", "b")], answer_model=False)
    assert len(kept) == len(dropped) == 1 and stats["conflicts"] == 0


def rebooking(free_slots: list[str], reply: str, rid: str) -> dict:
    """A lookup of free slots, then a booking of the first: the second call follows the first result."""
    look = {"id": "c1", "type": "function", "function": {"name": "free_slots", "arguments": "{}"}}
    book = {"id": "c2", "type": "function", "function": {"name": "book", "arguments": orjson.dumps({"slot": free_slots[0]}).decode()}}
    return {"id": rid, "messages": [
        {"role": "user", "content": "Rebook my delivery for the earliest slot"},
        {"role": "assistant", "content": None, "tool_calls": [look]},
        {"role": "tool", "tool_call_id": "c1", "content": orjson.dumps({"slots": free_slots}).decode()},
        {"role": "assistant", "content": None, "tool_calls": [book]},
        {"role": "tool", "tool_call_id": "c2", "content": orjson.dumps({"slot": free_slots[0], "confirmed": True}).decode()},
        {"role": "assistant", "content": reply}]}


def test_calls_that_follow_another_tool_result_make_another_example_not_a_conflict(tmp_path):
    rows = [rebooking(["May 8 AM", "May 9 PM"], "Done: you're rebooked for the morning of May 8.", "may8"),
            rebooking(["May 10 PM", "May 11 AM"], "Done: you're rebooked for the afternoon of May 10.", "may10")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["may8", "may10"] and stats["conflicts"] == 0


def test_calls_that_part_on_the_same_tool_result_are_a_conflict(tmp_path):
    """The same free slots, and one books a later one than the first: two answers to one request, though
    the bookings then return other slots."""
    later = rebooking(["May 8 AM", "May 9 PM"], "Done: you're rebooked for the afternoon of May 9.", "may9")
    later["messages"][3]["tool_calls"][0]["function"]["arguments"] = '{"slot": "May 9 PM"}'
    later["messages"][4]["content"] = '{"slot": "May 9 PM", "confirmed": true}'
    rows = [rebooking(["May 8 AM", "May 9 PM"], "Done: you're rebooked for the morning of May 8.", "may8"), later]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["may8", "may9"] and stats["conflicts"] == 1
    assert "different tool calls" in kept[0]["reasons"]["conflict"][0]


def roaming_follow_up(enabled: bool, reply: str, rid: str) -> dict:
    """A lookup in an earlier turn, then a question its result answers."""
    call = {"id": "c1", "type": "function", "function": {"name": "get_plan", "arguments": "{}"}}
    return {"id": rid, "messages": [
        {"role": "user", "content": "Is roaming on for my line?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": orjson.dumps({"roaming_enabled": enabled}).decode()},
        {"role": "assistant", "content": f"Roaming is {'on' if enabled else 'off'} for your line."},
        {"role": "user", "content": "So can I use mobile data in Spain next week?"},
        {"role": "assistant", "content": reply}]}


def test_replies_after_an_earlier_lookup_returned_something_else_are_other_examples(tmp_path):
    rows = [roaming_follow_up(False, "Not as things stand; switch roaming on first.", "off"),
            roaming_follow_up(True, "Yes, your data will work in Spain.", "on")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["off", "on"] and stats["conflicts"] == 0


def test_replies_after_the_same_earlier_lookup_that_disagree_are_a_conflict(tmp_path):
    rows = [roaming_follow_up(True, "Yes, your data will work in Spain.", "yes"),
            roaming_follow_up(True, "No, data won't work in Spain on your plan.", "no")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["yes", "no"] and stats["conflicts"] == 1


def two_lookups_at_once(first: str, reply: str, rid: str) -> dict:
    """Weather in two cities asked at once; the calls and their results logged in either order."""
    calls = {"oslo": {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}},
             "rome": {"id": "c2", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Rome"}'}}}
    results = {"oslo": {"role": "tool", "tool_call_id": "c1", "content": '{"city": "Oslo", "celsius": 3}'},
               "rome": {"role": "tool", "tool_call_id": "c2", "content": '{"city": "Rome", "celsius": 19}'}}
    order = [first, "rome" if first == "oslo" else "oslo"]
    return {"id": rid, "messages": [
        {"role": "user", "content": "What's the weather in Oslo and Rome right now?"},
        {"role": "assistant", "content": None, "tool_calls": [calls[city] for city in order]},
        *(results[city] for city in order), {"role": "assistant", "content": reply}]}


def test_lookups_made_at_once_are_the_same_whichever_is_logged_first(tmp_path):
    rows = [two_lookups_at_once("oslo", "Oslo is at 3°C and Rome at 19°C.", "a"),
            two_lookups_at_once("rome", "It's 19°C in Rome and 3°C in Oslo.", "b"),
            two_lookups_at_once("rome", "Oslo is at 13°C and Rome at 19°C.", "wrong")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert "wrong" in ids(kept) and len(kept) == 2 and stats["conflicts"] == 1
    assert {dropped[0]["id"], dropped[0]["disposition"]["keeper_id"]} == {"a", "b"}


def ticket_request(order: str, summary_order: str, rid: str) -> dict:
    """A billing ticket opened for an order the scrubber had no cue to replace ("payment for LF-...")."""
    call = {"id": f"call_{rid}", "type": "function", "function": {
        "name": "create_ticket", "arguments": orjson.dumps({"category": "billing",
                                                            "summary": f"Payment failed for {summary_order}"}).decode()}}
    return {"id": rid, "messages": [
        {"role": "user", "content": f"My payment for {order} failed. I used card <CARD_1> exp 09/28."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": f"call_{rid}", "content": f'{{"ticket_id": "T-{10000 + 7919 * sum(map(ord, rid))}", "status": "open"}}'},
        {"role": "assistant", "content": "I'm sorry about that. I've opened a ticket for our billing team."}]}


def test_requests_that_differ_only_by_an_order_number_left_unscrubbed_are_one_example(tmp_path):
    """Scrubbed, the two orders would both read <ORDER_1> and be one example; left as written they
    are one example too: which order a request names, and which ticket number the tool returned,
    teach nothing another copy does not. An order number the reply's call makes up is no relay."""
    rows = [ticket_request("LF-674643", "LF-674643", "a"), ticket_request("lf-906776", "LF-906776", "b"),
            ticket_request("LF-114812", "LF-114812", "c")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["a"] and stats["conflicts"] == 0
    assert sorted(d["disposition"]["keeper_id"] for d in dropped) == ["a", "a"]
    wrong = ticket_request("LF-555123", "LF-999999", "wrong")  # a ticket for another order than the one asked about
    kept, dropped, stats = run_dedup(tmp_path, rows[:2] + [wrong])
    assert stats["conflicts"] == 1 and "different tool calls" in kept[0]["reasons"]["conflict"][0]
    assert "wrong" in ids(kept)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="aZé9_-0123456789 .,/\u0301", max_size=40))
def test_identifiers_are_made_one_wherever_their_pattern_matches(text):
    """Found from the digit runs, not by trying the pattern at every word: the same matches."""
    assert without_opaque_ids(text) == OPAQUE_ID.sub("<ID>", text)
    assert opaque_ids(text) == frozenset(match.casefold() for match in OPAQUE_ID.findall(text))


PHRASES = ["call us", "by phone", "online", "not online", "in person", "if approved", "no fee", "a $5 fee",
           "store credit", "your manager", "the IT desk", "monthly", "but", ",", ".", " - ", "(", ")", "\n"]


@given(st.lists(st.lists(st.sampled_from(PHRASES), max_size=8).map(" ".join), min_size=1, max_size=4))
def test_the_options_a_reply_s_input_offers_are_read_message_by_message_alike(texts):
    """A reply's input is read message by message (its repeated system prompt once): it offers the
    same options, denied and conditional ones left out, as the input read as one text."""
    from dataprep.reply_agreement import _choices

    messages = [{"role": "user" if n % 2 else "system", "content": text} for n, text in enumerate(texts)]
    reply = read_reply([*messages, {"role": "assistant", "content": "Happy to help."}])
    assert reply.offered == _choices("\n".join(texts))


def test_short_product_codes_still_tell_questions_apart(tmp_path):
    """Only long identifiers (five digits or more) are opaque: a model number names what is asked about."""
    rows = [chat("Is the RTX-4090 compatible with a 650W power supply?", "No, it needs at least 850W.", id="a"),
            chat("Is the RTX-3060 compatible with a 650W power supply?", "Yes, 650W is enough.", id="b")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 0


#: what a retrieval app sends before the question: the same passages for many questions
CONTEXT = ("Context from the help centre follows. Larkfield Commons is our largest store and stocks the full tent "
           "range, including the four-season models and the spare poles for every tent we have sold since 2019. "
           "Express shipping is offered on orders placed before 2pm and is sent with our courier partner. Gift cards "
           "can be used online and in every store, and they never expire. Rentals are picked up at the service desk "
           "with a photo ID and returned by closing time on the last day of the rental.\n\n")


def test_long_inputs_sharing_their_text_but_asking_other_things_are_other_examples(tmp_path):
    """Two requests that paste the same passages and ask different questions share nearly every
    shingle; they are two examples, and their different replies are no labeling conflict."""
    rows = [chat(CONTEXT + "Question: is the Larkfield Commons store open on Saturday evening?",
                 "Yes, Larkfield Commons is open until 7pm on Saturdays.", id="hours"),
            chat(CONTEXT + "Question: how soon would express shipping get rain jackets to me?",
                 "Express orders placed before 2pm arrive in two business days.", id="shipping")]
    assert jaccard(rows[0]["messages"][0]["content"], rows[1]["messages"][0]["content"]) >= 0.8
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["hours", "shipping"] and stats["conflicts"] == 0
    assert all("conflict" not in record.get("tags", ()) for record in kept)


@pytest.mark.parametrize("second", [
    "Question: is the Larkfield Commons shop open on Saturday evening?",  # a synonym
    "Question: is the Larkfeld Commons store open on saturday evening",  # a typo, no question mark
    "Question: will the Larkfield Commons store be open on Saturday evening?",  # the ask reworded
])
def test_long_inputs_asking_the_same_thing_in_other_words_are_still_one_example(tmp_path, second):
    rows = [chat(CONTEXT + "Question: is the Larkfield Commons store open on Saturday evening?",
                 "Yes, Larkfield Commons is open until 7pm on Saturdays.", id="a"),
            chat(CONTEXT + second, "Yes: Larkfield Commons is open until 7pm on Saturdays.", id="b")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert len(kept) == 1 and dropped[0]["disposition"]["keeper_id"] == kept[0]["id"] and stats["conflicts"] == 0


def test_long_inputs_asking_the_same_thing_and_answered_otherwise_are_still_a_conflict(tmp_path):
    rows = [chat(CONTEXT + "Question: is the Larkfield Commons store open on Saturday evening?",
                 "Yes, Larkfield Commons is open until 7pm on Saturdays.", id="a"),
            chat(CONTEXT + "Question: is the Larkfield Commons shop open on Saturday evening?",
                 "No, Larkfield Commons closes at 5pm on Saturdays.", id="b")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1


def test_long_inputs_holding_script_markup_and_personal_data_are_compared_never_quoted(tmp_path):
    """What users paste is hostile too: the questions still tell the inputs apart, and nothing dedup
    writes beside the messages (reasons, disposition, groups, notes) repeats any of it."""
    pasted = "<script>alert('x')</script> [bold red]boom[/] \x1b]0;owned\x07 mail priya.raman@example.org"
    rows = [chat(f"{CONTEXT}{pasted}\nQuestion: is the Larkfield Commons store open on Saturday evening?",
                 "Yes, it is open until 7pm on Saturdays.", id="hours"),
            chat(f"{CONTEXT}{pasted}\nQuestion: how soon would express shipping get rain jackets to me?",
                 "Express orders placed before 2pm arrive in two business days.", id="shipping"),
            chat(f"{CONTEXT}{pasted}\nQuestion: is the Larkfield Commons shop open on Saturday evening?",
                 "No, it closes at 5pm on Saturdays.", id="closes")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["hours", "shipping", "closes"] and stats["conflicts"] == 1
    assert [r["id"] for r in kept if "conflict" in r.get("tags", ())] == ["hours", "closes"]
    written = orjson.dumps([{k: v for k, v in r.items() if k != "messages"} for r in kept + dropped]).decode()
    assert not [part for part in ("<script", "[bold", "\x1b", "\\u001b", "priya", "owned") if part in written]


def test_replies_to_a_long_input_decide_what_its_questions_ask_not_every_word_pasted_in_it(tmp_path):
    """"store" is in the pasted passages, not in what is asked: a reply that says the store does
    not matter and one that names every store agree that the gift card pays for the rental."""
    question = CONTEXT + "Question: can I use my gift card to pay for a tent rental?"
    rows = [chat(question, "Yes, gift cards pay for rentals in every store.", id="a"),
            chat(question, "Yes, you can pay for the rental with a gift card; it doesn't have to be the store "
                           "where you bought the card.", id="b")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert len(kept) == 1 and stats["conflicts"] == 0


def test_the_same_lookup_logged_with_json_keys_in_another_order_is_a_duplicate(tmp_path):
    rows = [order_lookup('{"status": "shipped", "carrier": "UPS", "eta": "May 4"}', "It shipped with UPS.", "a"),
            order_lookup('{"eta":"May 4","carrier":"UPS","status":"shipped"}', "Shipped, with UPS.", "b")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["a"] and dropped[0]["disposition"]["keeper_id"] == "a"


def test_a_reworded_lookup_logged_with_json_keys_in_another_order_gets_the_same_answer(tmp_path):
    rows = [order_lookup('{"status": "shipped", "eta": "2024-11-08"}', "Your order shipped and should arrive on November 8.", "a"),
            order_lookup('{"eta":"2024-11-08","status":"shipped"}', "Your order shipped and should arrive on November 8.", "b")]
    rows[1]["messages"][0]["content"] = "Hi, where is my order <ORDER_1> now?"  # too far for the question alone
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert len(kept) == 1 and dropped[0]["disposition"]["keeper_id"] == kept[0]["id"]


GYM_REPLY = "Yes, our fitness center on the 2nd floor is open 24 hours for guests. {} use your room key to get in."


def test_questions_reworded_more_whose_answers_differ_by_one_word_are_one_example(tmp_path):
    rows = [chat("Is there a gym at the hotel?", GYM_REPLY.format("Just"), id="gym"),
            chat("Is there a fitness center at the hotel?", GYM_REPLY.format("Simply"), id="fitness")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["fitness"] and dropped[0]["disposition"]["keeper_id"] == "fitness"  # the longer one


@pytest.mark.parametrize("first, second", [
    # one word apart and disagreeing: two answers, never one example
    (("Can my refund go back to my card?", "Your refund for the boots was approved and reaches your card within five days."),
     ("Can my refund go to my card, please?", "Your refund for the boots was denied and reaches your card within five days.")),
    # the word swapped in the question swapped in the answer too: each answered about its own plan
    (("How can I merge my two Gold accounts?", "To merge two Gold accounts, sign in to the one you keep and open Settings, then Merge."),
     ("How can I merge my two Student accounts?", "To merge two Student accounts, sign in to the one you keep and open Settings, then Merge.")),
    # one canned reply to two unrelated questions: two examples
    (("Why was I charged twice this month?", GYM_REPLY.format("Just")),
     ("Can I get an invoice for my last order?", GYM_REPLY.format("Simply"))),
])
def test_answers_one_word_apart_join_only_agreeing_answers_to_close_questions(tmp_path, first, second):
    kept, dropped, stats = run_dedup(tmp_path, [chat(*first, id="a"), chat(*second, id="b")])
    assert ids(kept) == ["a", "b"]


def test_a_fact_relayed_from_its_own_tool_result_is_no_conflict(tmp_path):
    shipped = '{"order": "<ORDER_1>", "status": "shipped", "carrier": "UPS", "total": "$84.20", "eta": "May %d"}'
    rows = [order_lookup(shipped % 4, "It shipped with UPS and should arrive May 4.", "a"),
            order_lookup(shipped % 5, "Your order shipped with UPS; it should arrive May 5.", "b")]
    kept, dropped, stats = run_dedup(tmp_path, rows)  # near-identical lookups, each reply true to its own
    assert stats["conflicts"] == 0 and ids(kept) == ["a", "b"]  # other dates: other examples


def test_a_reply_naming_what_the_tool_did_not_return_conflicts_and_a_synonym_does_not(tmp_path):
    ready = '{"order": "<ORDER_1>", "status": "shipped", "pickup": "Leeds Central store"}'
    rows = [order_lookup(ready, "It shipped; collect it at the Leeds Central store.", "true"),
            order_lookup(ready, "It shipped; collect it at the York Central store.", "wrong"),
            order_lookup(ready, "It was dispatched; collect it at the Leeds Central store.", "synonym")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert "wrong" in ids(kept) and len(kept) == 2 and stats["conflicts"] == 1
    assert {dropped[0]["id"], dropped[0]["disposition"]["keeper_id"]} == {"true", "synonym"}
    assert "York" in kept[0]["reasons"]["conflict"][0]


@pytest.mark.parametrize("result, true, paraphrase, wrong", [
    ('{"status": "paid", "amount": 49.0}', "Your payment of $49.00 went through.", "It's been paid in full: $49.00.",
     "Your payment of $49.00 is still pending."),
    ('{"status": "approved", "approver": "<NAME_1>"}', "Yes, <NAME_1> approved it.", "It was approved by <NAME_1>.",
     "It is still waiting for <NAME_1>'s approval."),
    ('{"available": true, "slot": "20:00"}', "Yes, we have a table at 8 PM.", "A table is free at 20:00.",
     "Sorry, 8 PM is fully booked."),
    ('{"status": "suspended", "until": "2024-05-20"}', "Your account is suspended until May 20.",
     "You can play again after May 20; the account is suspended until then.", "Your account has been permanently banned."),
    ('{"estado": "en_reparto", "eta": "hoy"}', "Tu pedido está en reparto y llega hoy.", "Tu pedido llega hoy, ya está en camino.",
     "Tu pedido todavía se está preparando en el almacén."),
    # a yes-or-no field said the other way, in the clause naming what it is about
    ('{"decision": "denied", "appeal_allowed": true}', "It was denied. An appeal is possible from the request page.",
     "Your request was denied; you can appeal it from the request page.", "It was denied, and this can't be appealed."),
    ('{"restaurant_status": "accepted", "courier_assigned": false}',
     "The restaurant accepted it. A courier hasn't been assigned yet.",
     "Accepted by the restaurant; no courier is assigned so far.",
     "The restaurant accepted it, and your courier is already assigned."),
    ('{"card_status": "active", "online_payments": "disabled"}', "Your card is active; online payments are turned off.",
     "Active card. Online payments: disabled.", "Your card is active and online payments are enabled."),
    # a code of digits and a letter, a count of things, said otherwise than the result
    ('{"seat": "14C", "type": "aisle"}', "You're in seat 14C, an aisle seat.", "Seat 14C, on the aisle, is yours.",
     "You have seat 14A by the window."),
    ('{"guests": 2, "nights": 3, "room": "Queen"}', "A Queen room for 2 guests, 3 nights.",
     "Three nights in a Queen room for two guests.", "You're booked for 2 nights in a Queen room for 2 guests."),
    ('{"status": "approved", "payment_status": "pending"}', "It was approved; the payment is still pending.",
     "Approved, payment pending.", "It was approved and the payment has already been sent."),
    # one field's amount given as another's; an amount beside the field it brackets
    ('{"current": 1510.18, "pending": -78.0, "available": 1432.18}', "Your available balance is $1,432.18.",
     "Available: $1,432.18 (current $1,510.18, $78.00 pending).", "Your balance is $1,510.18 available to spend."),
    ('{"fare": 18.4, "tip": 3.0, "total": 21.4}', "Your ride came to $21.40: an $18.40 fare and a $3.00 tip.",
     "Total $21.40 (fare $18.40 plus tip).", "Your ride cost $18.40 in total."),
    ('{"amount": 75.0, "status": "declined", "daily_limit": 150}', "The $75 charge was declined: it went over your daily limit of $150.",
     "It was declined because the $75 charge hit your daily limit ($150).", "The $75 charge was declined; your daily limit is $100."),
    # where an order, a hold, a room or an account stands, said otherwise than the result
    ('{"status": "shipped", "carrier": "FedEx"}', "Shipped! Carrier: FedEx.", "It's on its way with FedEx.",
     "It is still being processed and hasn't shipped yet."),
    ('{"deposit_status": "released", "released_on": "2024-09-03"}', "The hold was released on Sept 3.",
     "Your deposit was released on September 3.", "Your deposit is still on hold until the final charges are reviewed."),
    ('{"room": "412", "ready": true}', "Yes, room 412 is ready.", "Room 412 is ready for you now.",
     "Room 412 is still being cleaned."),
    ('{"plan": "Premium", "status": "active"}', "Your Premium plan is active.", "Premium: active.",
     "Your Premium plan has been cancelled."),
    ('{"status": "suspended", "reason": "chargeback"}', "Your account is suspended after a chargeback.",
     "It's suspended (reason: chargeback).", "Your account is in good standing."),
    # a status done or underway, said the other way
    ('{"status": "backordered", "eta": "2024-06-03"}', "It's backordered until 3 June.",
     "Backordered: expected on June 3.", "It has shipped and is on its way."),
    ('{"status": "posted", "amount": 212.5}', "Your $212.50 payment has posted.", "Posted: $212.50.",
     "Your $212.50 payment is still pending."),
    # a state to come says nothing of where things stand
    ('{"restaurant_status": "accepted", "courier_assigned": false}', "Accepted; we'll assign a courier shortly.",
     "The restaurant accepted it and a courier will be assigned soon.", "Accepted, and your courier is already assigned."),
    ('{"outage": true, "customers_affected": 1240}', "Yes, there's an outage affecting 1,240 customers.",
     "About 1,240 customers are affected by the outage in your area.", "There are no reported outages in your area."),
])
def test_a_reply_saying_things_stand_otherwise_than_its_tool_result_conflicts(tmp_path, result, true, paraphrase, wrong):
    kept, dropped, stats = run_dedup(tmp_path, [order_lookup(result, true, "true"), order_lookup(result, wrong, "wrong"),
                                                order_lookup(result, paraphrase, "paraphrase")])
    assert "wrong" in ids(kept) and len(kept) == 2 and stats["conflicts"] == 1
    assert {dropped[0]["id"], dropped[0]["disposition"]["keeper_id"]} == {"true", "paraphrase"}


def test_a_conflict_with_the_tool_result_says_what_the_result_holds(tmp_path):
    paid = '{"status": "paid", "amount": 49.0}'
    kept, _, _ = run_dedup(tmp_path, [order_lookup(paid, "Your payment of $49.00 went through.", "true"),
                                      order_lookup(paid, "Your payment of $49.00 is still pending.", "wrong")])
    assert kept[0]["reasons"]["conflict"] == ["2 different answers to one input (2 records): says what the tool did "
                                              "not return (pending where the tool returned paid)"]


@pytest.mark.parametrize("field, shows", [("maria.lopez@example.com", "maria"),  # what a reason would quote of it
                                          ("<script>alert(1)</script>_allowed", "scrip"),
                                          ("[bold red]maria[/bold red]_allowed", "bold"),
                                          ("\u001b[31mmaria_allowed", "31m")])
def test_a_tool_field_named_with_markup_or_personal_data_is_never_quoted_in_a_conflict_reason(tmp_path, field, shows):
    """Field names are structure and are not scrubbed: one that is no name a program gives is not read."""
    result = orjson.dumps({"status": "pending", field: True}).decode()
    kept, _, _ = run_dedup(tmp_path, [order_lookup(result, f"It's pending; {field} is not verified.", "a"),
                                      order_lookup(result, "It is still pending, nothing else to do.", "b")])
    assert shows not in orjson.dumps([record.get("reasons") for record in kept]).decode()


@pytest.mark.parametrize("field, shows", [("maria.lopez@example.com", "maria"), ("<script>alert(1)", "scrip"),
                                         ("[bold red]maria", "bold"), ("\u001b[31mmaria", "31m")])
def test_an_amount_field_named_with_markup_or_personal_data_is_never_quoted(tmp_path, field, shows):
    """Read as an amount's name, it would be quoted: "<field>: 21.4 where the tool returned <field>: 18.4"."""
    result = orjson.dumps({"total": 21.4, field: 18.4}).decode()
    kept, _, _ = run_dedup(tmp_path, [order_lookup(result, f"Your {field} is $21.40.", "a"),
                                      order_lookup(result, f"Your {field} is $18.40.", "b")])
    assert shows not in orjson.dumps([record.get("reasons") for record in kept]).decode()


@pytest.mark.parametrize("planted, shows", [("maria.lopez@example.com", "maria"), ("<script>alert(1)</script>", "scrip"),
                                           ("[bold red]maria[/bold red]", "bold"), ("\u001b[31mmaria", "31m")])
def test_markup_and_personal_data_beside_the_facts_a_reply_is_read_for_are_never_quoted(tmp_path, planted, shows):
    """The year of a date, a time's half of the day and a price are read from the question and
    replies as logged: what stands beside them neither hides the conflict nor reaches its reason."""
    question = f"{planted} Is there a fee, and when does my contract end?"
    first = f"No fee. {planted} Your contract ends on November 30, 2025 at 6 PM, {planted}."
    second = f"No fee. Your contract ends on November 30, 2026 at 6 AM. {planted}"
    kept, dropped, stats = run_dedup(tmp_path, [chat(question, first, id="a"), chat(question, second, id="b")])
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1
    written = [{key: value for key, value in record.items() if key != "messages"} for record in kept + dropped]
    assert shows not in orjson.dumps(written).decode()  # the messages as logged are all it writes of them


def test_a_question_asked_with_or_without_please_is_one_question(tmp_path):
    rows = [order_lookup('{"status": "delivered"}', "It was delivered this morning.", "a"),
            order_lookup('{"status": "delivered"}', "It is still on its way.", "b")]
    rows[1]["messages"][0]["content"] = "where's my order <ORDER_1> please"
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1


def test_replies_picking_different_options_the_question_offers_conflict(tmp_path):
    question = "Is my boots care plan billed monthly or yearly?"
    kept, dropped, stats = run_dedup(tmp_path, [chat(question, "It is billed monthly.", id="a"),
                                                chat(question, "It is billed yearly.", id="b")])
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1


def test_no_before_what_the_question_asks_about_answers_no(tmp_path):
    """"No prescription is needed" answers "Do I need a prescription?" with a no, as "No, ..." would:
    it conflicts with a yes and agrees with a no."""
    question = "Do I need a prescription for a flu shot?"
    (tmp_path / "yes").mkdir(), (tmp_path / "no").mkdir()
    kept, _, stats = run_dedup(tmp_path / "yes", [
        chat(question, "No prescription is needed for a flu shot; book it online.", id="none"),
        chat(question, "Yes, you'll need a referral from your GP before a flu shot.", id="referral")])
    assert ids(kept) == ["none", "referral"] and stats["conflicts"] == 1
    kept, dropped, stats = run_dedup(tmp_path / "no", [
        chat(question, "No prescription is needed for a flu shot; book it online.", id="none"),
        chat(question, "No, you can book a flu shot online without one.", id="no")])
    assert len(kept) == len(dropped) == 1 and stats["conflicts"] == 0


def test_a_preposition_of_another_language_decides_nothing(tmp_path):
    """"für" in a denied clause of one reply and in "Danke für Ihr Verständnis" of the other: both say no."""
    question = "Bekomme ich eine Erstattung für den Restmonat, wenn ich Pro kündige?"
    rows = [chat(question, "Eine Erstattung für den Restmonat gibt es leider nicht.", id="a"),
            chat(question, "Leider erstatten wir den Restmonat nicht. Danke für Ihr Verständnis.", id="b")]
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert len(kept) == 1 and stats["conflicts"] == 0


def test_conflict_detection_can_be_turned_off(tmp_path):
    rows = [chat("Can I get a refund after 60 days?", "No, only within 30 days.", id="no"),
            chat("Can I get a refund after 60 days?", "Yes! Any purchase, any time.", id="yes")]
    kept, dropped, stats = run_dedup(tmp_path, rows, conflicts=False)
    assert len(kept) == len(dropped) == 1 and stats["conflicts"] == 0 and stats["exact_removed"] == 1


def test_conflict_below_also_separates_replies_with_few_words_in_common(tmp_path):
    rows = [chat("My app keeps crashing", "Please reinstall it from the store.", id="a"),
            chat("My app keeps crashing", "Try clearing the cache under Settings.", id="b")]
    # nothing the rules read differs (the answer model reads another way to fix it: a conflict by default)
    assert run_dedup(tmp_path, rows, answer_model=False)[2]["conflicts"] == 0
    kept, _, stats = run_dedup(tmp_path, rows, answer_model=False, conflict_below=0.2)
    assert ids(kept) == ["a", "b"] and stats["conflicts"] == 1
    assert "replies share 9% of their words" in kept[0]["reasons"]["conflict"][0]


# -- keeping several phrasings --------------------------------------------------------------------------------------
def test_keep_per_cluster_keeps_the_most_different_members(tmp_path):
    base = WORDS[:40]
    one_off = replace_word(base, 5, "CHANGED")
    far = replace_word(replace_word(base, 20, "OTHER"), 30, "WORDS")
    rows = [chat(" ".join(base), id="base", feedback={"thumbs": "up"}), chat(" ".join(one_off), id="near"),
            chat(" ".join(base).upper(), id="copy"), chat(" ".join(far), id="far")]
    assert ids(run_dedup(tmp_path, rows, threshold=0.7)[0]) == ["base"]
    kept, dropped, _ = run_dedup(tmp_path, rows, threshold=0.7, keep_per_cluster=2)
    assert ids(kept) == ["base", "far"]
    assert {r["id"]: r["disposition"]["keeper_id"] for r in dropped} == {"near": "base", "copy": "base"}
    kept, dropped, _ = run_dedup(tmp_path, rows, threshold=0.7, keep_per_cluster=10)
    assert ids(kept) == ["base", "near", "far"] and ids(dropped) == ["copy"]  # an exact copy is never diversity


def test_cli_keeps_several_phrasings_when_asked(tmp_path, monkeypatch, capsys):
    base = WORDS[:40]
    write_jsonl(tmp_path / "in.jsonl", [chat(" ".join(base), id="base"), chat(" ".join(base).upper(), id="copy"),
                                        chat(" ".join(replace_word(base, 20, "OTHER")), id="other")])
    code, err = run_cli(["dedup", "in.jsonl", "--out", "u.jsonl", "--keep-per-cluster", "2"],
                        tmp_path, monkeypatch, capsys)
    assert code == 0, err
    assert ids(read(tmp_path / "u.jsonl")) == ["base", "other"]
    assert ids(read(tmp_path / "u.duplicates.jsonl")) == ["copy"]


@pytest.mark.parametrize("flag, answers", [([], 2), (["--rules-only"], 1)])
def test_cli_weighs_replies_with_the_answer_model_unless_told_the_rules_alone(tmp_path, monkeypatch, capsys, flag, answers):
    question = "How do I get access to the finance drive?"
    write_jsonl(tmp_path / "in.jsonl", [
        chat(question, "Ask the IT Service Desk and they will grant you access to the finance drive.", id="desk"),
        chat(question, "Submit an access request in the IT portal; the finance data owner approves it.", id="portal")])
    code, err = run_cli(["dedup", "in.jsonl", "--out", "u.jsonl", *flag], tmp_path, monkeypatch, capsys)
    assert code == 0, err
    kept = read(tmp_path / "u.jsonl")
    assert len(kept) == answers and all(("conflict" in row.get("tags", [])) == (answers == 2) for row in kept)


@pytest.mark.parametrize("flag, answers", [([], 2), (["--answer-model-threshold", "0.9"], 1)])
def test_cli_asks_the_answer_model_to_be_surer_when_told(tmp_path, monkeypatch, capsys, flag, answers):
    """Two wordings of one answer the model reads apart at about 0.79: a conflict at its even odds,
    one answer (a keeper and its duplicate) when it must be 0.9 sure."""
    question = "Can I pick up my canvas print at the store?"
    write_jsonl(tmp_path / "in.jsonl", [
        chat(question, 'Yes! Choose "Pick up in store" at checkout and we\'ll email you when your canvas is ready.',
             id="choose"),
        chat(question, "You can pick your nearest store as the pickup location for canvas orders, with no shipping fee.",
             id="pick")])
    code, err = run_cli(["dedup", "in.jsonl", "--out", "u.jsonl", *flag], tmp_path, monkeypatch, capsys)
    assert code == 0, err
    kept, dropped = read(tmp_path / "u.jsonl"), read(tmp_path / "u.duplicates.jsonl")
    assert len(kept) == answers and len(kept) + len(dropped) == 2
    assert all(("conflict" in row.get("tags", [])) == (answers == 2) for row in kept)


@pytest.mark.parametrize("threshold", ["1.5", "0", "nan"])
def test_cli_refuses_an_answer_model_threshold_outside_0_to_1(tmp_path, monkeypatch, capsys, threshold):
    write_jsonl(tmp_path / "in.jsonl", [chat("Can I pick it up?", id="a")])
    code, err = run_cli(["dedup", "in.jsonl", "--out", "u.jsonl", "--answer-model-threshold", threshold],
                        tmp_path, monkeypatch, capsys)
    assert code == 2 and "answer_model_threshold" in err and not (tmp_path / "u.jsonl").exists()


# -- views -------------------------------------------------------------------------------------------------------
def test_record_text_views():
    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 1}'}}
    record = Record(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                              {"role": "assistant", "content": None, "tool_calls": [call]},
                              {"role": "tool", "tool_call_id": "c1", "content": "found"},
                              {"role": "assistant", "content": "Done."}])
    assert record_text(record, "user") == "Hi"
    assert record_text(record) == 'Hi\nlookup({"q":1})\nfound'  # auto, the default: JSON with its keys sorted
    chatty = Record(messages=[{"role": "user", "content": "Hi"},
                              {"role": "assistant", "content": "Hello! How can I help?"},
                              {"role": "user", "content": "Order?"}, {"role": "assistant", "content": "Here."}])
    assert record_text(chatty, "auto") == "Hi\nOrder?"  # earlier replies' wording is not what makes an example
    assert record_text(record, "user_assistant") == 'Hi\nlookup({"q": 1})\nDone.'
    assert record_text(record, "input") == 'Hi\nlookup({"q": 1})\nfound'
    assert record_text(record, "conversation") == 'Be brief.\nHi\nlookup({"q": 1})\nfound\nDone.'


def test_without_tools_the_auto_view_is_the_user_turns():
    """Dedup reads a record's user turns once when it has no tool context: the two views must then
    give one text, an empty user turn, a system prompt and earlier replies included."""
    record = Record(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": ""},
                              {"role": "assistant", "content": "Hello?"},
                              {"role": "user", "content": [{"type": "text", "text": "Where is order 123-45?"}]},
                              {"role": "assistant", "content": "On its way."}])
    assert record_text(record, "auto") == record_text(record, "user") == "Where is order 123-45?"


def test_view_decides_what_counts_as_the_same(tmp_path):
    hours = "What are your store hours?"
    same_question = [chat(hours, "We open 9 to 5 on weekdays.", id="a"),
                     chat(hours, "Our shop is open from nine until five, Monday to Friday.", id="b")]
    assert len(run_dedup(tmp_path, same_question, conflicts=False)[0]) == 1
    assert ids(run_dedup(tmp_path, same_question, view="user_assistant")[0]) == ["a", "b"]
    pirate = {"role": "system", "content": "Answer like a pirate."}
    other_system = [{**same_question[0], "id": "c", "messages": [pirate, *same_question[0]["messages"]]},
                    {**same_question[0], "id": "d"}]
    assert ids(run_dedup(tmp_path, other_system, view="user_assistant")[0]) == ["c"]
    assert ids(run_dedup(tmp_path, other_system, view="conversation")[0]) == ["c", "d"]


# -- decontamination ------------------------------------------------------------------------------------------------
def test_decontamination_drops_records_near_a_reference_set(tmp_path):
    question = " ".join(WORDS[:30])
    write_jsonl(tmp_path / "eval.jsonl", [chat(question, id="eval-1"), chat("Something else entirely", id="eval-2")])
    rows = [chat(question.upper(), id="copy"), chat(" ".join(replace_word(WORDS[:30], 15, "X")), id="near"),
            chat("How do I wash a down jacket?", id="clean")]
    kept, dropped, stats = run_dedup(tmp_path, rows, against=[str(tmp_path / "eval.jsonl")])
    assert ids(kept) == ["clean"] and ids(dropped) == ["copy", "near"]
    for record in dropped:
        assert record["disposition"]["reason"] == f"near-duplicate of reference set {tmp_path / 'eval.jsonl'}"
        assert record["disposition"]["keeper_id"] == "eval-1"
    assert [r["disposition"]["similarity"] for r in dropped] == [1.0, round(25 / 31, 4)]
    assert stats["decontaminated"] == 2


def test_best_matches_and_max_cross_similarity():
    a = [" ".join(WORDS[:30]), "nothing like the others at all", " ".join(replace_word(WORDS[:30], 5, "X"))]
    b = ["unrelated text here", " ".join(WORDS[:30]).upper()]
    sims, index = best_matches(a, b, Params())
    assert index.tolist() == [1, -1, 1] and sims[0] == 1.0 and sims[2] == pytest.approx(25 / 31)
    assert max_cross_similarity(a, b) == (1.0, 0, 1)
    assert max_cross_similarity(a[1:2], b[:1]) == (0.0, -1, -1)


def test_bad_reference_file_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "in.jsonl").write_text(orjson.dumps(chat("hi")).decode() + "\n")
    (tmp_path / "ref.jsonl").write_text(orjson.dumps(chat("hello")).decode() + "\n{not json\n")
    code, err = run_cli(["dedup", "in.jsonl", "--out", "out.jsonl", "--against", "ref.jsonl"],
                        tmp_path, monkeypatch, capsys)
    assert code == 2
    assert "ref.jsonl:2: not a record: not valid JSON" in " ".join(err.split())
    assert "Traceback" not in err and not (tmp_path / "out.jsonl").exists()


# -- nothing lost, through a recipe and the CLI --------------------------------------------------------------------
def planted_rows(count: int = 60) -> list[dict]:
    """Distinct questions, each with 0-2 planted variants (exact or near)."""
    rng = random.Random(7)
    rows = []
    for q in range(count):
        words = rng.sample(WORDS, 25)
        rows.append(chat(" ".join(words), id=f"q{q}", feedback={"thumbs": "up"}))  # the keeper
        if q % 3 == 0:
            rows.append(chat(" ".join(words).upper() + "  ", id=f"q{q}-exact"))
        if q % 4 == 0:
            rows.append(chat(" ".join(replace_word(words, 12, "VARIANT")), id=f"q{q}-near"))
    return rows


def test_recipe_run_accounts_for_every_record(tmp_path):
    rows = planted_rows()
    write_jsonl(tmp_path / "logs.jsonl", rows)
    write_jsonl(tmp_path / "eval.jsonl", [r for r in rows if r["id"] == "q1"])  # held out: must leave training
    (tmp_path / "recipe.yaml").write_text("name: t\ninputs: [{path: logs.jsonl}]\n"
                                          "stages: [{dedup: {threshold: 0.75, against: [eval.jsonl]}}]\n")
    manifest = run_recipe(load_recipe(tmp_path / "recipe.yaml"), tmp_path / "run").manifest
    train, dropped = read(tmp_path / "run/train.jsonl"), read(tmp_path / "run/duplicates.jsonl")
    variants = sum(1 for r in rows if "-" in r["id"])
    assert manifest["counts"]["input"] == len(rows) == len(train) + len(dropped)
    assert sorted(ids(train) + ids(dropped)) == sorted(ids(rows))
    assert sorted(ids(train)) == sorted(f"q{q}" for q in range(60) if q != 1)
    assert len(dropped) == variants + 1
    stats = manifest["stages"][1]["stats"]
    assert (stats["exact_removed"], stats["near_removed"], stats["decontaminated"]) == (20, 15, 1)


def test_cli_dedup_writes_kept_and_duplicates(tmp_path, monkeypatch, capsys):
    rows = planted_rows()
    write_jsonl(tmp_path / "in.jsonl", rows)
    code, err = run_cli(["dedup", "in.jsonl", "--out", "unique.jsonl", "--threshold", "0.75"],
                        tmp_path, monkeypatch, capsys)
    assert code == 0, err
    assert "dedup: exact_removed" in err
    kept, dropped = read(tmp_path / "unique.jsonl"), read(tmp_path / "unique.duplicates.jsonl")
    assert len(kept) == 60 and len(kept) + len(dropped) == len(rows)
    assert all(r["disposition"]["keeper_id"] == r["id"].split("-")[0] for r in dropped)


def test_an_empty_record_file_is_no_crash(tmp_path, monkeypatch, capsys):
    (tmp_path / "in.jsonl").write_text("")
    code, err = run_cli(["dedup", "in.jsonl", "--out", "out.jsonl"], tmp_path, monkeypatch, capsys)
    assert "internal error" not in err and "Traceback" not in err
    # either nothing to do (empty outputs) or a one-line error naming the file
    assert (code == 0 and read(tmp_path / "out.jsonl") == []) or (code == 2 and "in.jsonl" in err), (code, err)


def test_a_recipe_whose_filter_keeps_nothing_runs_dedup_on_zero_records(tmp_path):
    write_jsonl(tmp_path / "logs.jsonl", [chat("Where is my order?", id="a"), chat("Do you ship abroad?", id="b")])
    (tmp_path / "recipe.yaml").write_text("name: t\ninputs: [{path: logs.jsonl}]\n"
                                          "stages: [{mine: {models: [no-such-model]}}, {dedup: {}}]\n")
    manifest = run_recipe(load_recipe(tmp_path / "recipe.yaml"), tmp_path / "run").manifest
    assert manifest["counts"]["rejected"] == 2 and manifest["counts"]["train"] == 0
    stats = [s["stats"] for s in manifest["stages"] if s["stage"] == "dedup"][0]
    assert (stats["exact_removed"], stats["near_removed"], stats["clusters"], stats["conflicts"]) == (0, 0, 0, 0)


def test_cli_rejects_a_threshold_out_of_range(tmp_path, monkeypatch, capsys):
    write_jsonl(tmp_path / "in.jsonl", [chat("hi")])
    code, err = run_cli(["dedup", "in.jsonl", "--out", "o.jsonl", "--threshold", "1.5"], tmp_path, monkeypatch, capsys)
    assert code == 2 and "dataprep dedup.threshold: 1.5 is greater than the maximum of 1" in err


# -- the engine agrees with datasketch -------------------------------------------------------------------------------
def sample_texts(count: int = 300) -> list[str]:
    rng = random.Random(3)
    texts = []
    for _ in range(count // 3):
        words = rng.choices(WORDS, k=40)
        texts.append(" ".join(words))
        for _ in range(2):  # two variants with a few words changed: pairs on both sides of the threshold
            variant = list(words)
            for position in rng.sample(range(40), rng.randint(1, 6)):
                variant[position] = rng.choice(WORDS)
            texts.append(" ".join(variant))
    return texts


def test_signatures_are_datasketch_minhashes():
    texts = sample_texts(60)
    sketches = sketch(texts, Params(num_perm=64, seed=5))
    for i, text in enumerate(texts):
        reference = MinHash(num_perm=64, seed=5, hashfunc=int)
        reference.update_batch(shingle_hashes(text).tolist())
        assert np.array_equal(sketches.signatures[i], reference.hashvalues)
    lean = [LeanMinHash(seed=5, hashvalues=row, scheme="affine32") for row in sketches.signatures[:2]]
    estimated = sketch(texts[:2], Params(num_perm=64, seed=5, verify=False)).similarity([0], [1])
    assert estimated.tolist() == [lean[0].jaccard(lean[1])]


def test_exact_jaccard_of_many_pairs_at_once_matches_python_sets():
    texts = sample_texts(90)
    rng = random.Random(1)
    i, j = np.array([rng.randrange(90) for _ in range(500)]), np.array([rng.randrange(90) for _ in range(500)])
    expected = [jaccard(texts[a], texts[b]) for a, b in zip(i, j)]
    assert sketch(texts).similarity(i, j) == pytest.approx(expected)


def test_lsh_bands_and_candidates_match_datasketch():
    params = Params(threshold=0.7)
    bands, rows = params.bands_rows
    assert (bands, rows) == _optimal_param(0.7, 128, *LSH_WEIGHTS)
    texts = sample_texts()
    signatures = sketch(texts, params).signatures
    lsh = MinHashLSH(num_perm=128, params=(bands, rows))
    minhashes = [LeanMinHash(seed=1, hashvalues=row, scheme="affine32") for row in signatures]
    for i, minhash in enumerate(minhashes):
        lsh.insert(i, minhash)
    expected = {(min(i, j), max(i, j)) for i, m in enumerate(minhashes) for j in lsh.query(m) if i != j}
    found = {tuple(pair) for pair in candidate_pairs(signatures, bands, rows).tolist()}
    assert len(expected) > 100 and found == expected


def test_groups_are_the_components_of_every_lsh_candidate_at_the_threshold():
    """Groups are checked band by band, pairs already joined are skipped and candidates are
    screened by their MinHash estimate before exact Jaccard: none of that may change which
    texts end up together. Expected: every LSH candidate pair (all bands) whose exact Jaccard
    reaches the threshold, joined transitively. A bucket of 150 variants of one text (more
    than a window) puts many pairs on both sides of the threshold."""
    rng = random.Random(5)
    base = rng.choices(WORDS, k=40)
    variants = [" ".join(replace_word(base, rng.randrange(40), rng.choice(WORDS))) for _ in range(75)]
    variants += [" ".join(replace_word(replace_word(base, rng.randrange(40), rng.choice(WORDS)), rng.randrange(40),
                                       rng.choice(WORDS))) for _ in range(75)]
    texts = list(dict.fromkeys(sample_texts(600) + variants))
    params = Params()
    pairs = candidate_pairs(sketch(texts, params).signatures, *params.bands_rows).tolist()
    similarity = {(i, j): jaccard(texts[i], texts[j]) for i, j in pairs}
    parent = list(range(len(texts)))

    def root(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    for (i, j), value in similarity.items():
        if value >= params.threshold:
            parent[root(i)] = root(j)
    expected = {frozenset(k for k in range(len(texts)) if root(k) == r) for r in set(map(root, range(len(texts))))}
    labels = find_groups(texts, params).labels
    found = {frozenset(np.flatnonzero(labels == label).tolist()) for label in set(labels.tolist())}
    near_threshold = sum(0.6 <= v < params.threshold for v in similarity.values())
    assert near_threshold > 200 and sum(v >= params.threshold for v in similarity.values()) > 200
    assert found == expected


def test_threads_give_the_same_sketches(monkeypatch):
    import dataprep.minhash as engine

    monkeypatch.setattr(engine, "SHARD", 64)
    texts = sample_texts(300)
    one, two = sketch(texts, Params(workers=1)), sketch(texts, Params(workers=2))
    assert np.array_equal(one.signatures, two.signatures) and np.array_equal(one.hashes, two.hashes)


def test_a_second_dedup_pass_keeps_the_cluster_sizes_of_the_first(tmp_path):
    """Synthetic records pass dedup again; the survivors of the first pass must still say how
    many records they stand for (the split's rare-cluster slice reads it)."""
    rows = [chat("Where is my order? It has not arrived yet", "Let me check.")] * 3 + \
        [chat("Do you sell gift cards in the shop?", "Yes, in any amount.")]
    write_jsonl(tmp_path / "in.jsonl", rows)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [{path: in.jsonl}]\nstages: [{dedup: {}}, {dedup: {}}]\n", encoding="utf-8")
    run_recipe(load_recipe(recipe), tmp_path / "run")
    kept = [orjson.loads(line) for line in (tmp_path / "run" / "train.jsonl").read_bytes().splitlines()]
    sizes = sorted(r["groups"]["cluster_size"] for r in kept)
    assert sizes == [1, 3]


# -- memory: texts are sketched a batch at a time, never held ------------------------------------------------
SAMPLE_LOGS = Path(__file__).resolve().parent.parent / "sample_data" / "logs" / "openai_chat.jsonl"


def run_dedup_on(tmp_path: Path, *sources: Path, **options) -> tuple[list[dict], list[dict], dict]:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    out, duplicates = folder / "out.jsonl", folder / "out.duplicates.jsonl"
    outcome = run_single_stage(Dedup(**options), [InputSpec(str(source)) for source in sources], out,
                               {"duplicates": duplicates, "rejected": folder / "out.rejected.jsonl"})
    return read(out), read(duplicates), outcome.results[1].stats


@pytest.mark.skipif(not SAMPLE_LOGS.is_file(), reason="sample_data/ is not generated")
@pytest.mark.parametrize("options", [{}, {"keep_per_cluster": 3}])
def test_small_batches_and_many_reply_passes_place_every_record_the_same(tmp_path, monkeypatch, options):
    """Pass 1 sketches texts a batch at a time and answers are judged a bounded number of
    replies at a time: however small those batches, every record lands in the same place."""
    import dataprep.stages.dedup as dedup

    disputed = tmp_path / "disputed.jsonl"  # the logs hold no labeling conflict: a few are added
    write_jsonl(disputed, [chat(f"How much is the {item} fee?", f"The {item} fee is ${price}.", id=f"{item}-{price}-{copy}")
                           for item in ("rental", "repair", "restocking") for price in (5, 9) for copy in range(3)])
    whole = run_dedup_on(tmp_path, SAMPLE_LOGS, disputed, **options)
    assert whole[2]["clusters"] > 50 and whole[2]["conflicts"] == 3 and whole[2]["exact_removed"] > 0
    monkeypatch.setattr(dedup, "SURVEY_BATCH", 37)
    monkeypatch.setattr(dedup, "REPLIES_PER_PASS", 25)
    assert run_dedup_on(tmp_path, SAMPLE_LOGS, disputed, **options) == whole


def test_longer_texts_with_the_same_words_cost_dedup_no_more_memory(tmp_path, monkeypatch):
    """Texts are not held: records whose texts are twenty times longer, the same sentence
    repeated (so the same shingles and sketches), raise the stage's peak by a small part
    of the texts' size (a batch of them is sketched at a time)."""
    import tracemalloc

    import dataprep.stages.dedup as dedup

    monkeypatch.setattr(dedup, "SURVEY_BATCH", 5)
    rng = random.Random(3)
    sentences = [" ".join(rng.choices(WORDS, k=40)) for _ in range(1500)]
    sentences += sentences[:300]  # copies, so there are clusters to plan and settle

    def peak(repeat: int) -> tuple[int, int]:
        rows = [chat(" ".join([sentence] * repeat), id=f"r{i}") for i, sentence in enumerate(sentences)]
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        write_jsonl(folder / "in.jsonl", rows)
        tracemalloc.start()
        outcome = run_single_stage(Dedup(), [InputSpec(str(folder / "in.jsonl"))], folder / "out.jsonl",
                                   {"duplicates": folder / "duplicates.jsonl", "rejected": folder / "rejected.jsonl"})
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert (outcome.counts["out"], outcome.counts["duplicates"]) == (1500, 300)
        return peak, sum(len(row["messages"][0]["content"]) for row in rows)

    peak(1)  # the first run imports what dedup uses: not what is measured
    (short_peak, _), (long_peak, long_texts) = peak(1), peak(20)
    assert long_peak - short_peak < 0.25 * long_texts


# -- labeled sets written from the issue's definitions by helpers who never saw this code ---------------
LABELED = Path(__file__).resolve().parents[1] / "benchmarks" / "labeled" / "dedup"


@pytest.fixture(scope="module")
def labeled_scores() -> dict[str, dict]:
    sys.path.insert(0, str(LABELED.parents[1]))
    from bench_dedup import score_cases

    # the rules alone: the answer model learned from these sets, so its figures here would flatter it
    # (tests/test_answer_model.py holds it to its figures on each set left out of its training)
    return {name: score_cases([orjson.loads(line) for line in (LABELED / f"{name}.jsonl").read_bytes().splitlines()],
                              {"answer_model": False})[0]
            for name in FLOORS}


FLOORS = {  # each set held at the level measured once its errors were read (holdout2 to 13: scored blind first),
    # raised in round nineteen to what its rules measure (one hundredth below the figure printed)
    "dev": {"disagreeing_reply": (0.84, 0.97), "tool_context": (0.75, 1.00),
            "agreeing_paraphrase": 0.97, "one_word_edit": 1.00},
    "holdout": {"disagreeing_reply": (0.79, 0.97), "tool_context": (0.92, 0.92),
                "agreeing_paraphrase": 0.98, "one_word_edit": 1.00},
    "holdout2": {"disagreeing_reply": (0.86, 0.98), "tool_context": (0.84, 0.92),
                 "agreeing_paraphrase": 0.97, "one_word_edit": 0.94},
    "holdout3": {"disagreeing_reply": (0.93, 0.95), "tool_context": (0.85, 0.89),
                 "agreeing_paraphrase": 0.98, "one_word_edit": 1.00},
    "holdout4": {"disagreeing_reply": (0.80, 0.91), "tool_context": (0.89, 0.95),
                 "agreeing_paraphrase": 0.95, "one_word_edit": 1.00},
    "holdout5": {"disagreeing_reply": (0.82, 0.95), "tool_context": (0.86, 0.95),
                 "agreeing_paraphrase": 0.95, "one_word_edit": 1.00},
    "holdout6": {"disagreeing_reply": (0.77, 0.92), "tool_context": (0.94, 0.92),
                 "agreeing_paraphrase": 0.94, "one_word_edit": 1.00},
    "holdout7": {"disagreeing_reply": (0.73, 0.97), "tool_context": (0.78, 0.97),
                 "agreeing_paraphrase": 0.92, "one_word_edit": 0.96},
    "holdout8": {"disagreeing_reply": (0.70, 0.94), "tool_context": (0.87, 0.91),
                 "agreeing_paraphrase": 0.95, "one_word_edit": 0.97},
    "holdout9": {"disagreeing_reply": (0.78, 0.90), "tool_context": (0.78, 0.88),
                 "agreeing_paraphrase": 0.95, "one_word_edit": 0.96},
    "holdout10": {"disagreeing_reply": (0.87, 0.92), "tool_context": (0.87, 0.93),
                  "agreeing_paraphrase": 0.93, "one_word_edit": 0.90},
    "holdout11": {"disagreeing_reply": (0.87, 0.96), "tool_context": (0.85, 0.96),
                  "agreeing_paraphrase": 0.98, "one_word_edit": 1.00},
    "holdout12": {"disagreeing_reply": (0.90, 0.93), "tool_context": (0.80, 0.99),
                  "agreeing_paraphrase": 0.96, "one_word_edit": 0.95},
    "holdout13": {"disagreeing_reply": (0.82, 0.95), "tool_context": (0.98, 1.00),
                  "agreeing_paraphrase": 0.98, "one_word_edit": 0.97},
    # long inputs: the distinct ones share their text and ask something else (0.85 before input_agreement);
    # replies decide what the questions in them ask, dates in brackets (agreeing 0.79, conflicts (0.85, 0.81) before)
    "holdout19": {"disagreeing_reply": (0.81, 0.84), "tool_context": (0.86, 0.92),
                  "agreeing_paraphrase": 0.90, "one_word_edit": 1.00, "distinct_lookalike": 1.00},
}


@pytest.mark.parametrize("name, kind", [(name, kind) for name, kinds in FLOORS.items() for kind in kinds])
def test_labeled_dedup_judgments_do_not_regress(labeled_scores, name, kind):
    """Conflicts found (recall) and right (precision) where replies disagree; agreeing wordings
    and one-word edits kept as one example (duplicate recall); look-alikes kept apart."""
    floor, scores = FLOORS[name][kind], labeled_scores[name][kind]
    if isinstance(floor, tuple):
        assert scores["conflict recall"] >= floor[0] and scores["conflict precision"] >= floor[1]
    elif kind == "distinct_lookalike":
        assert scores["distinct kept apart"] >= floor
    else:
        assert scores["duplicate recall"] >= floor


def test_a_question_with_more_answers_than_are_compared_keeps_each_answer_once(tmp_path, monkeypatch):
    """Logs can hold thousands of answers to one question ("What's my balance?" answered from
    context they do not hold): a reply is compared with a few answers only, and a reply met before
    joins its answer without being compared again."""
    from dataprep.stages import dedup

    monkeypatch.setattr(dedup, "ANSWERS_COMPARED", 5)
    rows = [chat("What is my balance?", f"Your balance is ${amount}.00.", id=f"a{amount}") for amount in range(10, 22)]
    rows += [chat("what is my balance", "Your balance is $19.00.", id="again")]  # the 10th answer, once more
    kept, dropped, stats = run_dedup(tmp_path, rows)
    assert ids(kept) == [f"a{amount}" for amount in range(10, 22)] and ids(dropped) == ["again"]
    assert dropped[0]["disposition"]["keeper_id"] == "a19"
    assert stats["conflicts"] == 1 and stats["conflict_records"] == 12
