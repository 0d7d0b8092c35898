"""The learned weighing of the fact-heavy evidence: trained on the dev sets only, current with the
rules, better than the rules on dev sets it did not see, and what the flag stage scores with."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from conftest import REPO, chat, read_jsonl, run_cli, write_jsonl
from dataprep.fact_model import WEIGHTS_FILE, weighed_assessment, words
from dataprep.facts import assess_trained_replies

sys.path.insert(0, str(REPO / "benchmarks"))
from bench_flag import CLEAN_SETS, DEV_SETS  # noqa: E402
from train_fact_model import examples, held_out_f1  # noqa: E402

HOW_TO = chat("How do I cancel my order?",
              "I understand you want to cancel your order. Here is how: 1. Sign in to your account on our "
              "{{Website Name}}. 2. Go to {{Order History}}. 3. Select the order and click {{Cancel Order}}. If you "
              "need anything else, our support team is here to help.")
REWRITE = chat("Make this friendlier: Your refund was denied.", "I'm sorry to say we could not approve your refund this time.")
POLICIES = [chat("Does the warranty cover water damage?",
                 "No. The warranty covers manufacturing defects only; water damage and accidental drops are excluded."),
            chat("Can I pay with a gift card online?", "Gift cards can only be redeemed in stores, not on the website or the app.")]
TOXIC = chat("Is chocolate bad for dogs?",
              "Yes, chocolate is toxic to dogs because of theobromine; dark chocolate is the most dangerous.")


def test_shipped_weights_are_what_training_on_the_dev_sets_gives(tmp_path):
    """Stale weights (the rules changed, the model did not) fail here: retrain with the command below."""
    out = tmp_path / "weights.json"
    done = subprocess.run([sys.executable, REPO / "benchmarks" / "train_fact_model.py", "--out", out],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    retrained, shipped = orjson.loads(out.read_bytes()), orjson.loads(WEIGHTS_FILE.read_bytes())
    assert retrained["about"]["trained_on"] == [path.stem for path in DEV_SETS]
    assert not {path.stem for path in CLEAN_SETS} & set(shipped["about"]["trained_on"])
    assert set(retrained["weights"]) == set(shipped["weights"])
    assert retrained["intercept"] == pytest.approx(shipped["intercept"], abs=1e-4)
    assert all(retrained["weights"][name] == pytest.approx(weight, abs=1e-4) for name, weight in shipped["weights"].items())


def test_on_dev_sets_left_out_of_training_in_turn_the_model_beats_the_rules_pooled():
    """Leave-one-set-out over the eleven dev sets: what the model does on a writer it has not seen. Pooled:
    on ``dev``, which the rules were tuned on first and longest, the model scores a little below them."""
    *per_set, pooled = held_out_f1(examples(DEV_SETS))
    _, n, rules, model, rules_hard, model_hard = pooled
    assert n > 4_500 and len(per_set) == len(DEV_SETS)
    assert model >= rules + 0.01 and model_hard >= rules_hard + 0.01
    assert model >= 0.87 and model_hard >= 0.83


def test_flag_keeps_a_generic_how_to_and_routes_facts_the_rules_miss(tmp_path):
    # the rules alone get both wrong: the how-to's "our support team" and numbered steps, the toxic food's
    # lower-case words; the reason says which words tipped it
    assert assess_trained_replies(HOW_TO["messages"]).score >= 0.5 > assess_trained_replies(TOXIC["messages"]).score
    source = write_jsonl(tmp_path / "in.jsonl", [HOW_TO, REWRITE, *POLICIES, TOXIC])
    result = run_cli("flag", source, "--out", tmp_path / "kept.jsonl", "--rag", tmp_path / "rag.jsonl")
    assert result.returncode == 0, result.stderr
    kept, routed = read_jsonl(tmp_path / "kept.jsonl"), read_jsonl(tmp_path / "rag.jsonl")
    assert replies(kept) == replies([HOW_TO, REWRITE])
    assert replies(routed) == replies([*POLICIES, TOXIC])
    assert all(row["scores"]["fact_heavy"] < 0.5 for row in kept)
    tipped = [reason for reason in routed[-1]["reasons"]["fact_heavy"] if reason.startswith("worded like a stated fact: ")]
    named = [word.strip('"') for word in tipped[0].removeprefix("worded like a stated fact: ").split(", ")]
    assert named and set(named) <= set(words(TOXIC["messages"][-1]["content"]))
    assert not any("worded like" in reason for row in routed[:-1] for reason in row["reasons"]["fact_heavy"])


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
    write_jsonl(tmp_path / "in.jsonl", [TOXIC])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: t\ninputs:\n  - path: in.jsonl\nstages:\n  - flag: {}\n  - stop_once: {}\n", encoding="utf-8")
    try:
        with pytest.raises(KeyboardInterrupt):
            run_recipe(load_recipe(recipe), tmp_path / "run")
        retrained = orjson.loads(WEIGHTS_FILE.read_bytes())
        retrained["intercept"] -= 50  # a model that calls nothing fact-heavy
        monkeypatch.setattr(fact_model, "WEIGHTS_FILE", tmp_path / "weights.json")
        fact_model.WEIGHTS_FILE.write_bytes(orjson.dumps(retrained))
        fact_model.trained.cache_clear()
        run_recipe(load_recipe(recipe), tmp_path / "run", resume=True)
    finally:
        fact_model.trained.cache_clear()
        STAGES.pop("stop_once", None)
    assert read_jsonl(tmp_path / "run" / "rag_candidates.jsonl") == []
    assert replies(read_jsonl(tmp_path / "run" / "train.jsonl")) == replies([TOXIC])
