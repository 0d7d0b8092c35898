"""The learned weighing of the fact-heavy evidence: trained on the dev sets only, current with the
rules, better than the rules on dev sets it did not see, and what the flag stage scores with."""

from __future__ import annotations

import sys

import orjson
import pytest

from conftest import REPO, assert_same_model, chat, read_jsonl, retrained, run_cli, write_jsonl
from dataprep.fact_model import WEIGHTS_FILE, model_inputs, sentence_score, shipped, weighed_assessment, words
from dataprep.facts import assess_trained_replies

sys.path.insert(0, str(REPO / "benchmarks"))
from _common import BITEXT  # noqa: E402
from bench_flag import (BITEXT_LABELS, BITEXT_TRAINING, BITEXT_UNSEEN_LABELS, CLEAN_SETS, DEV_SETS,  # noqa: E402
                        SECOND_LABELINGS, label_key, read_labels)
from train_fact_model import BITEXT_FOLDS, examples, held_out_f1  # noqa: E402

needs_bitext = pytest.mark.skipif(not BITEXT.exists(),
                                  reason="trains on labeled rows of ../shared's Bitext corpus, as CI has it")
HOW_TO = chat("How do I cancel my order?",
              "I understand you want to cancel your order. Here is how: 1. Sign in to your account on our "
              "{{Website Name}}. 2. Go to {{Order History}}. 3. Select the order and click {{Cancel Order}}. If you "
              "need anything else, our support team is here to help.")
REWRITE = chat("Make this friendlier: Your refund was denied.", "I'm sorry to say we could not approve your refund this time.")
POLICIES = [chat("Does the warranty cover water damage?",
                 "No. The warranty covers manufacturing defects only; water damage and accidental drops are excluded."),
            chat("Can I pay with a gift card online?", "Gift cards can only be redeemed in stores, not on the website or the app.")]
FREEZE = chat("Does the gym freeze memberships for injuries?",
              "Yes, members with a doctor's note can freeze their membership while injured, free of charge.")


@needs_bitext
def test_shipped_weights_are_what_training_on_the_dev_sets_gives(tmp_path):
    """Stale weights (the rules changed, the model did not) fail here: retrain with the command below."""
    trained = retrained("train_fact_model.py", tmp_path / "weights.json")
    shipped = orjson.loads(WEIGHTS_FILE.read_bytes())
    assert trained["about"]["trained_on"] == [path.stem for path in DEV_SETS]
    assert not {path.stem for path in CLEAN_SETS} & set(shipped["about"]["trained_on"])
    assert_same_model(trained, shipped)  # the reply model
    assert_same_model(trained["sentences"], shipped["sentences"])


def test_no_bitext_row_the_benchmark_holds_out_is_trained_on():
    held_out, unseen, trained = (read_labels(path) for path in (BITEXT_LABELS, BITEXT_UNSEEN_LABELS, BITEXT_TRAINING))
    rows = [{row["row"] for row in labels} for labels in (held_out, unseen, trained)]
    assert [len(numbers) for numbers in rows] == [301, 286, 642]
    assert not rows[0] & rows[2] and not rows[1] & rows[2] and not rows[0] & rows[1]
    assert not {row["intent"] for row in unseen} & {row["intent"] for row in trained}
    assert BITEXT_TRAINING in DEV_SETS and not {BITEXT_LABELS, BITEXT_UNSEEN_LABELS} & set(DEV_SETS)


def test_each_second_labeling_labels_every_example_of_a_set_never_trained_on():
    for first, second in SECOND_LABELINGS.items():
        firsts, seconds = read_labels(first), read_labels(second)
        assert sorted(map(label_key, seconds)) == sorted(map(label_key, firsts)), second.name
        assert {row["label"] for row in seconds} == {"fact_heavy", "behaviour"}
        assert first not in DEV_SETS and second not in DEV_SETS


@needs_bitext
def test_on_dev_sets_left_out_of_training_in_turn_the_model_beats_the_rules_pooled():
    """Leave-one-set-out over the dev sets: what the model does on a writer it has not seen, and on
    real replies of intents it has not seen. It beats the rules pooled; held out alone, ``dev`` (the
    set the rules were tuned on first and longest) scores a little below them."""
    *folds, written, real = held_out_f1(examples(DEV_SETS))
    assert (written[0], real[0]) == ("pooled: written sets", "pooled: Bitext, intents held out")
    assert written[1] > 5_500 and real[1] > 600 and len(folds) == len(DEV_SETS) - 1 + BITEXT_FOLDS
    for _, _, rules, model, rules_hard, model_hard in (written, real):
        assert model >= rules + 0.01 and model_hard >= rules_hard + 0.01
    assert written[3] >= 0.892 and written[5] >= 0.864  # round 28: 0.894 and 0.866 (0.890, 0.861 without the sentences)
    assert real[3] >= real[2] + 0.1


def test_flag_keeps_a_generic_how_to_and_routes_facts_the_rules_miss(tmp_path):
    # the rules alone get both wrong: the how-to's "our support team" and numbered steps, the gym's policy
    # in lower-case words; the reason says which words tipped it
    assert assess_trained_replies(HOW_TO["messages"]).score >= 0.5 > assess_trained_replies(FREEZE["messages"]).score
    source = write_jsonl(tmp_path / "in.jsonl", [HOW_TO, REWRITE, *POLICIES, FREEZE])
    result = run_cli("flag", source, "--out", tmp_path / "kept.jsonl", "--rag", tmp_path / "rag.jsonl")
    assert result.returncode == 0, result.stderr
    kept, routed = read_jsonl(tmp_path / "kept.jsonl"), read_jsonl(tmp_path / "rag.jsonl")
    assert replies(kept) == replies([HOW_TO, REWRITE])
    assert replies(routed) == replies([*POLICIES, FREEZE])
    assert all(row["scores"]["fact_heavy"] < 0.5 for row in kept)
    tipped = [reason for reason in routed[-1]["reasons"]["fact_heavy"] if reason.startswith("worded like a stated fact: ")]
    named = [phrase.strip('"') for phrase in tipped[0].removeprefix("worded like a stated fact: ").split(", ")]
    assert named and all(set(phrase.split()) <= set(words(FREEZE["messages"][-1]["content"])) for phrase in named)
    assert not any("worded like" in reason for row in routed[:-1] for reason in row["reasons"]["fact_heavy"])


def test_a_reply_that_shows_its_working_stays_in_training_where_the_rules_cannot_trace_it():
    # the rules cannot trace 5:15 or 8:27 to 52:30 and 10 km; the working shown ("÷", "=", "×") is what
    # a reply computing from its input says, and the same answer without it weighs as more fact-like
    question = "I ran 10 km in 52:30. Pace per km and per mile?"
    worked = chat(question, "52.5 min ÷ 10 = 5.25 min → **5:15 per km**; × 1.609 ≈ **8:27 per mile**.")["messages"]
    bare = chat(question, "That's 5:15 per km, or about 8:27 per mile.")["messages"]
    assert assess_trained_replies(worked).score >= 0.5 and assess_trained_replies(bare).score >= 0.5
    assert weighed_assessment(worked).score < 0.5
    assert weighed_assessment(worked).score < weighed_assessment(bare).score


def test_faithful_sentences_around_an_added_claim_do_not_drown_it():
    """Each sentence of the reply is scored by the sentence model, and the reply model reads the
    highest, which weighs toward fact-heavy: however many faithful sentences surround a claim the
    notice does not hold, that reading stays the claim's own."""
    notice = ("Summarise for our members: 'From 1 March the pool opens at 6:30 on weekdays. "
              "The sauna closes for repairs from 3 to 17 March.'")
    faithful = ["From 1 March the pool opens at 6:30 on weekdays.", "The sauna is closed for repairs from 3 to 17 March."]
    claim = "Members on the family plan also get two free guest passes each month."

    def reading(*sentences: str) -> tuple[float, float]:
        messages = chat(notice, " ".join(sentences))["messages"]
        return sentence_score(model_inputs(messages, assess_trained_replies(messages))[1]), weighed_assessment(messages).score

    (alone, _), (restated, kept), (padded, flagged) = reading(claim), reading(*faithful), reading(*faithful, claim)
    assert padded == alone > restated
    assert shipped()[0][1]["sentences"] > 0
    assert kept < 0.5 <= flagged


def test_a_drug_interaction_recalled_with_no_digit_and_no_name_is_flagged():
    """Round 27's model kept this reply (0.476); with the sentence model it goes to RAG."""
    interaction = chat("Can I drink grapefruit juice with my statin?",
                       "Better not, grapefruit keeps some statins from being broken down by the liver enzyme.")
    assert assess_trained_replies(interaction["messages"]).score < 0.5 <= weighed_assessment(interaction["messages"]).score


def test_a_pair_of_words_that_tipped_the_call_is_named_whole():
    toll_free = chat("Is there a fee to call?", "No, calling us is toll free, and the line is open every day.")["messages"]
    assessment = weighed_assessment(toll_free)
    assert assess_trained_replies(toll_free).score < 0.5 <= assessment.score
    named = assessment.cues[-1].removeprefix("worded like a stated fact: ").split(", ")
    assert '"toll free"' in named and '"toll"' not in named and '"free"' not in named


def test_a_fact_in_an_earlier_reply_is_weighed_as_that_reply_not_the_last():
    conversation = [{"role": "user", "content": "What does the Plus plan cost?"},
                    {"role": "assistant", "content": "The Plus plan costs $12 a month."},
                    {"role": "user", "content": "ok"},
                    {"role": "assistant", "content": "Sorry, I'm not sure what else I can help with."}]
    assessment = weighed_assessment(conversation)
    assert assessment.reply_at == 1 and assessment.score >= 0.5


def test_many_facts_weigh_more_than_one_and_a_huge_reply_is_scored_not_crashed():
    def closures(n: int) -> list[dict]:
        dates = ", ".join(f"{day % 28 + 1} March 2025" for day in range(n))
        return chat("When are you closed?", f"We are closed on {dates}.")["messages"]

    assert all(weighed_assessment(closures(n)).score >= 0.5 for n in (1, 3, 10, 30, 300))
    flood = chat("Tell me about the warranty.", "Our warranty covers everything, always, everywhere. " * 20_000)
    assert weighed_assessment(flood["messages"]).score >= 0.5


def replies(rows: list[dict]) -> list[str]:
    return [row["messages"][-1]["content"] for row in rows]


def test_a_resumed_run_scores_again_after_the_model_is_retrained(tmp_path, monkeypatch):
    """A run stopped after its flag step, resumed after a retrain, does not keep the old model's calls."""
    import dataprep.fact_model as fact_model
    from dataprep.pipeline import STAGES, Stage, register
    from dataprep.recipe import load_recipe
    from dataprep.runner import run_recipe

    @register
    class StopOnce(Stage):  # the crash: after flag, once
        name = "stop_once"
        stopped = False

        def run(self, records, ctx):
            if not StopOnce.stopped:
                StopOnce.stopped = True
                raise KeyboardInterrupt
            yield from records

    monkeypatch.setenv("DATAPREP_WORKERS", "1")  # scored in this process, which reads the patched weights
    write_jsonl(tmp_path / "in.jsonl", [FREEZE])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: t\ninputs:\n  - path: in.jsonl\nstages:\n  - flag: {}\n  - stop_once: {}\n", encoding="utf-8")
    try:
        with pytest.raises(KeyboardInterrupt):
            run_recipe(load_recipe(recipe), tmp_path / "run")
        retrained = orjson.loads(WEIGHTS_FILE.read_bytes())
        retrained["intercept"] -= 50  # a model that calls nothing fact-heavy
        monkeypatch.setattr(fact_model, "WEIGHTS_FILE", tmp_path / "weights.json")
        fact_model.WEIGHTS_FILE.write_bytes(orjson.dumps(retrained))
        fact_model.shipped.cache_clear()
        run_recipe(load_recipe(recipe), tmp_path / "run", resume=True)
    finally:
        fact_model.shipped.cache_clear()
        STAGES.pop("stop_once", None)
    assert read_jsonl(tmp_path / "run" / "rag_candidates.jsonl") == []
    assert replies(read_jsonl(tmp_path / "run" / "train.jsonl")) == replies([FREEZE])


def test_training_scales_down_the_words_both_classes_use_alike():
    """Before the fit, a word is scaled by how unevenly the two classes use it; the rules' score and
    the counts are left as they are."""
    from scipy.sparse import csr_matrix

    from train_fact_model import evenness_scales

    # columns: a word in every example, a word only in fact-heavy ones, a word only in the others, the score
    present = csr_matrix([[1, 1, 0, 0.7], [1, 1, 0, 0.2], [1, 0, 1, 0.9], [1, 0, 1, 0.1]])
    common, telling, other, score = evenness_scales(present, [True, True, False, False], ["r:the", "r:refund", "n:click", "score"])
    assert common < 0.1 and telling > 0.5 and other > 0.5
    assert score == 1.0
