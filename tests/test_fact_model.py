"""The learned weighing of the fact-heavy evidence: trained on the dev sets only, current with the
rules, better than the rules on each dev set it did not see, and what the flag stage scores with."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from conftest import REPO, chat, read_jsonl, run_cli, write_jsonl
from dataprep.fact_model import WEIGHTS_FILE, trained
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
WORDED = chat("Do you deliver to my town?", "Yes, we offer delivery services to your area. Our shipping options are designed "
                                            "to be convenient, and our team will make sure your order reaches you safely.")


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


def test_on_each_dev_set_left_out_of_training_the_model_beats_the_rules():
    """Leave-one-set-out over the eleven dev sets: what the model does on a writer it has not seen."""
    *per_set, pooled = held_out_f1(examples(DEV_SETS))
    _, n, rules, model, rules_hard, model_hard = pooled
    assert n > 4_500 and len(per_set) == len(DEV_SETS)
    assert model >= rules + 0.01 and model_hard >= rules_hard + 0.01
    assert model >= 0.87 and model_hard >= 0.84


def test_flag_keeps_a_generic_how_to_and_routes_policies_stated_in_words(tmp_path):
    # the rules alone route the how-to: its "our support team", its numbered steps
    assert assess_trained_replies(HOW_TO["messages"]).score >= 0.5
    source = write_jsonl(tmp_path / "in.jsonl", [HOW_TO, REWRITE, *POLICIES, WORDED])
    result = run_cli("flag", source, "--out", tmp_path / "kept.jsonl", "--rag", tmp_path / "rag.jsonl")
    assert result.returncode == 0, result.stderr
    kept, routed = read_jsonl(tmp_path / "kept.jsonl"), read_jsonl(tmp_path / "rag.jsonl")
    assert [row["messages"][-1]["content"] for row in kept] == [HOW_TO["messages"][-1]["content"],
                                                                 REWRITE["messages"][-1]["content"]]
    assert [row["messages"][-1]["content"] for row in routed] == [r["messages"][-1]["content"] for r in [*POLICIES, WORDED]]
    assert all(row["scores"]["fact_heavy"] < 0.5 for row in kept)
    worded = routed[-1]["reasons"]["fact_heavy"]
    assert any(reason.startswith("worded like a stated fact: ") for reason in worded), worded


def test_the_words_named_as_the_reason_are_words_the_reply_uses():
    from dataprep.fact_model import weighed_assessment

    reasons = weighed_assessment(WORDED["messages"]).reasons
    named = next(reason for reason in reasons if reason.startswith("worded like a stated fact: "))
    words = [word.strip('"') for word in named.removeprefix("worded like a stated fact: ").split(", ")]
    assert words and all(word in WORDED["messages"][-1]["content"].lower() for word in words)
    assert all(trained()[1].get(f"r:{word}", 0) > 0 or trained()[1].get(f"n:{word}", 0) > 0 for word in words)

