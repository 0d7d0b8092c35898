"""The README's demo on the bundled sample data: what a user checks after `make demo`."""

from __future__ import annotations

import csv
import json
import re

import pytest

from conftest import SAMPLE_DATA, read_jsonl, run_cli

PLACES = ("train", "eval", "rag_candidates", "duplicates", "rejected")


@pytest.fixture(scope="module")
def manifest(quickstart_run):
    return json.loads((quickstart_run / "manifest.json").read_text())


def stage_stats(manifest, name):
    return [s["stats"] for s in manifest["stages"] if s["stage"] == name]


def test_every_input_line_is_placed_and_the_counts_add_up(quickstart_run, manifest):
    counts = manifest["counts"]
    files = {place: read_jsonl(quickstart_run / f"{place}.jsonl") for place in PLACES}
    assert {p: len(rows) for p, rows in files.items()} == {p: counts[p] for p in PLACES}
    assert counts["input"] + counts["created"] == sum(counts[p] for p in PLACES)
    logs = [SAMPLE_DATA / "logs" / name for name in ("openai_chat.jsonl", "anthropic_messages.jsonl")]
    lines = sum(1 for path in logs for line in path.read_bytes().splitlines() if line.strip())
    with open(SAMPLE_DATA / "tickets.csv", newline="", encoding="utf-8") as handle:
        rows = sum(1 for _ in csv.reader(handle)) - 1
    assert counts["input"] == lines + rows
    assert all(row["source"].get("file") and row["source"].get("line") for row in files["rejected"]
               if row["disposition"]["stage"] == "read")


def test_the_exports_pass_validate(quickstart_run):
    for name, fmt in (("train.openai.jsonl", "openai"), ("eval.openai.jsonl", "openai"),
                      ("train.openai-dpo.jsonl", "openai-dpo")):
        result = run_cli("validate", quickstart_run / "exports" / name, "--format", fmt, "--json")
        report = json.loads(result.stdout)
        assert result.returncode == 0 and report["ok"], (name, report["errors"][:3])


def test_planted_near_duplicate_questions_are_found(manifest):
    first = stage_stats(manifest, "dedup")[0]
    assert first["exact_removed"] > 100 and first["near_removed"] > 100
    assert first["largest_cluster"] >= 10


def test_planted_fact_heavy_answers_go_to_rag_and_behaviour_stays(quickstart_run):
    rag = read_jsonl(quickstart_run / "rag_candidates.jsonl")
    train = read_jsonl(quickstart_run / "train.jsonl")
    rag_replies = " ".join(r["messages"][-1].get("content") or "" for r in rag)
    for fact in ("$6.95", "$4.99", "2.1 kg", "Northgate Repairs", "Sunday 10am"):
        assert fact in rag_replies, fact
    for planted in ("$6.95", "$4.99", "2.1 kg", "Northgate Repairs"):
        assert not any(planted in (r["messages"][-1].get("content") or "") for r in train), planted
    assert all(r["reasons"]["fact_heavy"] for r in rag)
    intents = {(r.get("meta") or {}).get("metadata", {}).get("intent") for r in train}
    assert {"refund_math", "extract", "summarize"} <= intents


def test_pii_is_scrubbed_from_what_is_trained_on(quickstart_run):
    text = (quickstart_run / "exports" / "train.openai.jsonl").read_text(encoding="utf-8")
    assert not re.search(r"[\w.]+@(gmail|outlook|proton)\.\w+", text)
    assert not re.search(r"\+1 \d{3}-\d{3}-\d{4}", text)
    assert "4111111111111111" not in text and "<EMAIL_1>" in text


def test_scrubbing_keeps_who_is_who_and_which_model_answered(quickstart_run):
    rows = [row for place in PLACES for row in read_jsonl(quickstart_run / f"{place}.jsonl")]
    models = {row["source"].get("model") for row in rows if row["source"].get("format") == "anthropic-messages"}
    assert models == {"claude-sonnet-4-5-20250929"}  # as logged: a model, not a person called Claude
    # "Hi, I'm Omar Okafor" ... "Thanks Omar!": the reply names the person the user's turn introduced
    for row in rows:
        for index, message in enumerate(row.get("messages", [])):  # a line no reader could parse has none
            if message["role"] == "assistant" and isinstance(message.get("content"), str):
                before = json.dumps(row["messages"][:index])
                assert all(name in before for name in re.findall(r"<NAME_\d+>", message["content"])), row["id"]


def test_the_eval_set_holds_the_hard_cases_far_more_than_train(manifest):
    counts, composition = manifest["counts"], stage_stats(manifest, "split")[0]["composition"]
    rate = lambda name, side: composition["slices"].get(name, {}).get(side, 0) / counts[side]  # noqa: E731
    for hard in ("negative_feedback", "rare_category"):
        assert rate(hard, "eval") > 2 * rate(hard, "train"), hard
    # Lookups of different orders are different examples (dedup's auto view), so tool use is
    # about half of train: eval can hold more of it, not twice as much.
    assert rate("tool_use", "eval") > rate("tool_use", "train")
    for rare in ("prompt_injection", "gear_advice_long"):  # bulk_order: see the next test
        assert composition["categories"][rare]["eval"] >= 1, rare
    assert stage_stats(manifest, "split")[0]["max_train_eval_similarity"] < 0.8


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="a known miss since round 27: the model reads the reply's hand-off "
                   "(\"I've passed your request to our team\") as behaviour and keeps it at 0.28, below the uncertain band; "
                   "strict, so this fails the day the flag catches it again and the mark must go")
def test_the_bulk_order_reply_is_routed_or_reviewed_for_what_it_says_the_shop_offers(quickstart_run):
    """"Yes, we can help with a bulk order" states one organisation's availability: fact-heavy under the
    labeling guide. The rules alone keep it (their cue, "our team", scores below the threshold). It should
    never be trained on unseen: either it goes to RAG, tipped by its words, or it stays tagged uncertain
    and a reviewer is asked about it for that reason."""
    bulk = "Yes, we can help with a bulk order."
    placed = {place: [r for r in read_jsonl(quickstart_run / f"{place}.jsonl") if bulk in (r["messages"][-1]["content"] or "")]
              for place in ("train", "eval", "rag_candidates")}
    assert sum(map(len, placed.values())) == 1
    if placed["rag_candidates"]:
        assert any(reason.startswith("worded like a stated fact") for reason in placed["rag_candidates"][0]["reasons"]["fact_heavy"])
    else:
        (kept,) = placed["train"] + placed["eval"]
        assert "fact-heavy-uncertain" in kept["tags"] and "near_flag_threshold" in kept["review"]["picked_because"]


def test_synthesis_replays_the_shipped_cache_without_a_key(manifest):
    synth = stage_stats(manifest, "synth")[0]
    assert synth["calls_sent"] == 0 and synth["cache_hits"] == synth["generated"] > 0


def test_the_review_queue_exports_a_label_studio_import(quickstart_run, tmp_path):
    queue = read_jsonl(quickstart_run / "review" / "queue.jsonl")
    assert queue and all(r["review"]["status"] == "pending" and r["review"]["picked_because"] for r in queue)
    assert {r["id"] for r in read_jsonl(quickstart_run / "eval.jsonl")} <= {r["id"] for r in queue}
    result = run_cli("review", "push", quickstart_run / "review" / "queue.jsonl", "--to-file", tmp_path / "tasks.json")
    assert result.returncode == 0, result.stderr
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert len(tasks) == len(queue) and all("data" in task for task in tasks)
