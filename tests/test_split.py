"""The split: whole groups on one side, every slice represented, deterministic, leakage reported."""

from __future__ import annotations

import random

import pytest

from conftest import read_jsonl, run_cli, write_jsonl
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

TOPICS = ["tent", "boots", "stove", "jacket", "backpack", "filter", "poles", "lamp"]


def planted_records(n_clusters: int = 60) -> list[dict]:
    """Clusters of near-identical questions (as dedup leaves them) and multi-call conversations, with hard cases."""
    rng = random.Random(5)
    rows = []
    for c in range(n_clusters):
        size = rng.choice([1, 1, 2, 3])
        for k in range(size):
            topic = TOPICS[c % len(TOPICS)]
            row = {"messages": [{"role": "user", "content": f"question {c} about the {topic}, variant {k}"},
                                {"role": "assistant", "content": f"answer {c}.{k}"}],
                   "groups": {"cluster": f"c{c}", "cluster_size": size},
                   "source": {"conversation_id": f"conv{c // 2}", "category": "rare_intent" if c == 7 else topic}}
            if c % 9 == 0:  # every other one corrected
                row["feedback"] = {"thumbs": "down", **({"correction": f"better answer {c}"} if c % 18 == 0 else {})}
            if c % 11 == 0:
                row["messages"][1:1] = [
                    {"role": "assistant", "content": None, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "{}"}]
            if c % 13 == 0:
                row["tags"] = ["synthetic"]
            rows.append(row)
    return rows


def split_run(tmp_path, rows, options: str = "{eval_size: 0.25}", seed: int = 3, name: str = "run"):
    write_jsonl(tmp_path / "in.jsonl", rows)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"seed: {seed}\ninputs: [{{path: in.jsonl}}]\nstages: [{{split: {options}}}]\n", encoding="utf-8")
    outcome = run_recipe(load_recipe(recipe), tmp_path / name)
    return outcome, read_jsonl(tmp_path / name / "train.jsonl"), read_jsonl(tmp_path / name / "eval.jsonl")


def test_no_cluster_or_conversation_crosses_the_split(tmp_path):
    outcome, train, evaluation = split_run(tmp_path, planted_records())
    assert evaluation and train
    for key in ("cluster",):
        assert not {r["groups"][key] for r in train} & {r["groups"][key] for r in evaluation}
    assert not {r["source"]["conversation_id"] for r in train} & {r["source"]["conversation_id"] for r in evaluation}
    counts = outcome.manifest["counts"]
    assert counts["train"] + counts["eval"] + counts["duplicates"] + counts["rejected"] == counts["input"]


def test_every_slice_and_category_present_in_the_data_is_in_eval(tmp_path):
    _, train, evaluation = split_run(tmp_path, planted_records())
    present = {s for r in train + evaluation for s in r["reasons"]["difficulty"]}
    assert {"negative_feedback", "tool_use", "synthetic", "rare_category"} <= present
    assert present <= {s for r in evaluation for s in r["reasons"]["difficulty"]}
    assert "rare_intent" in {r["source"]["category"] for r in evaluation}
    assert all(r["reasons"]["eval"] for r in evaluation)
    assert {r["reasons"]["eval"][0].split(":")[0] for r in evaluation} >= {"slice", "category"}


def test_eval_is_harder_than_train(tmp_path):
    outcome, train, evaluation = split_run(tmp_path, planted_records())
    mean = lambda rows: sum(r["scores"]["difficulty"] for r in rows) / len(rows)  # noqa: E731
    assert mean(evaluation) > 1.5 * mean(train)
    composition = outcome.manifest["stages"][-1]["stats"]["composition"]
    assert composition["slices"]["negative_feedback"]["eval"] >= 2
    assert composition["difficulty"]["eval"]["mean"] > composition["difficulty"]["train"]["mean"]


def test_hard_cases_are_not_all_taken_from_training(tmp_path):
    """Corrections are the best training data too: eval takes at most max_slice_share of a slice."""
    _, train, evaluation = split_run(tmp_path, planted_records(), "{eval_size: 0.4, max_slice_share: 0.5}")
    elsewhere = train + read_jsonl(tmp_path / "run" / "rejected.jsonl")  # disliked replies eval did not take
    for name in ("negative_feedback", "tool_use"):
        groups = lambda rows: {r["groups"]["split_group"] for r in rows if name in r["reasons"]["difficulty"]}  # noqa: E731
        assert groups(evaluation) and groups(train), name
        assert len(groups(evaluation)) <= 0.5 * len(groups(elsewhere) | groups(evaluation)), name


def disliked(row: dict) -> bool:
    return row.get("feedback", {}).get("thumbs") == "down" and not row["feedback"].get("correction")


def test_a_reply_its_user_disliked_and_nobody_corrected_never_trains(tmp_path):
    """Eval may hold it as a hard case (a reviewer fixes its reference); train never learns it, and
    the ones eval does not take are rejected with the reason. Corrected replies still train."""
    rows = planted_records()
    outcome, train, evaluation = split_run(tmp_path, rows)
    rejected = read_jsonl(tmp_path / "run" / "rejected.jsonl")
    assert not [r for r in train if disliked(r)]
    assert [r for r in evaluation if disliked(r)] and [r for r in train if r.get("feedback", {}).get("correction")]
    assert rejected and all(disliked(r) and "thumbs-down, with no correction" in r["disposition"]["reason"]
                            and r["source"]["line"] for r in rejected)
    assert len(train) + len(evaluation) + len(rejected) == len(rows) == outcome.manifest["counts"]["input"]
    assert outcome.manifest["counts"]["rejected"] == len(rejected)

    _, train, evaluation = split_run(tmp_path, rows, "{eval_size: 0.25, train_disliked: true}", name="opted_in")
    assert [r for r in train if disliked(r)] and len(train) + len(evaluation) == len(rows)


def test_same_seed_same_split_other_seed_other_average_slice(tmp_path):
    rows = planted_records()
    _, _, first = split_run(tmp_path, rows, name="a")
    _, _, again = split_run(tmp_path, rows, name="b")
    _, _, other = split_run(tmp_path, rows, seed=99, name="c")
    assert (tmp_path / "a" / "eval.jsonl").read_bytes() == (tmp_path / "b" / "eval.jsonl").read_bytes()
    assert {r["id"] for r in first} != {r["id"] for r in other}


def test_without_cluster_ids_the_split_groups_near_duplicates_itself(tmp_path):
    base = "my order never arrived and the tracking page says it is still at the depot since last week"
    rows = [{"messages": [{"role": "user", "content": base + suffix}, {"role": "assistant", "content": "sorry"}]}
            for suffix in ("", " please help", " help!")]
    rows += [{"messages": [{"role": "user", "content": f"unrelated question number {i} about {t}"},
                           {"role": "assistant", "content": "ok"}]} for i, t in enumerate(TOPICS * 3)]
    outcome, train, evaluation = split_run(tmp_path, rows, "{eval_size: 0.3, min_per_slice: 0}")
    sides = {r["messages"][0]["content"].startswith(base) for r in train}, \
        {r["messages"][0]["content"].startswith(base) for r in evaluation}
    assert not (True in sides[0] and True in sides[1]), "near-duplicates ended on both sides"
    stats = outcome.manifest["stages"][-1]["stats"]
    assert stats["max_train_eval_similarity"] < 0.8


def test_split_cli_writes_train_and_eval(tmp_path):
    write_jsonl(tmp_path / "in.jsonl", planted_records())
    result = run_cli("split", tmp_path / "in.jsonl", "--train", tmp_path / "train.jsonl", "--eval",
                     tmp_path / "eval.jsonl", "--eval-size", "20", "--seed", "4")
    assert result.returncode == 0, result.stderr
    train, evaluation = read_jsonl(tmp_path / "train.jsonl"), read_jsonl(tmp_path / "eval.jsonl")
    assert 0 < len(evaluation) <= 20
    aside = read_jsonl(tmp_path / "train.duplicates.jsonl") + read_jsonl(tmp_path / "train.rejected.jsonl")
    assert len(train) + len(evaluation) + len(aside) == len(planted_records())
    assert read_jsonl(tmp_path / "train.rejected.jsonl") and not [r for r in train if disliked(r)]
    result = run_cli("split", tmp_path / "in.jsonl", "--train", tmp_path / "all.jsonl", "--eval",
                     tmp_path / "all_eval.jsonl", "--eval-size", "20", "--seed", "4", "--train-disliked")
    assert result.returncode == 0, result.stderr
    assert not read_jsonl(tmp_path / "all.rejected.jsonl") and [r for r in read_jsonl(tmp_path / "all.jsonl") if disliked(r)]


@pytest.mark.parametrize("bad", ["{eval_size: -1}", "{weights: {vibes: 2}}", "{average_share: 3}"])
def test_bad_split_options_are_named(tmp_path, bad):
    write_jsonl(tmp_path / "in.jsonl", planted_records(3))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"inputs: [{{path: in.jsonl}}]\nstages: [{{split: {bad}}}]\n", encoding="utf-8")
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.returncode == 2 and "stages[0].split" in result.stderr and "Traceback" not in result.stderr


def test_train_records_that_near_duplicate_eval_are_moved_out(tmp_path):
    """Groups came from an upstream dedup that missed a pair: the split's own check catches it."""
    text = "my tent pole snapped on the second night and I need a replacement before my next trip"
    rows = [{"id": f"r{i}", "messages": [{"role": "user", "content": f"{text} {'!' * i}"},
                                        {"role": "assistant", "content": "sorry"}],
             "groups": {"cluster": f"c{i}", "cluster_size": 1}, "feedback": {"thumbs": "down"} if i == 0 else {}}
            for i in range(2)]
    rows += [{"id": f"other{i}", "messages": [{"role": "user", "content": f"unrelated question {i} about {t}"},
                                              {"role": "assistant", "content": "ok"}],
              "groups": {"cluster": f"o{i}", "cluster_size": 1}} for i, t in enumerate(TOPICS * 2)]
    outcome, train, evaluation = split_run(tmp_path, rows, "{eval_size: 1, min_per_slice: 1, average_share: 0}")
    assert [r["id"] for r in evaluation] == ["r0"]
    moved = read_jsonl(tmp_path / "run" / "duplicates.jsonl")
    assert [(r["id"], r["disposition"]["keeper_id"]) for r in moved] == [("r1", "r0")]
    assert outcome.manifest["stages"][-1]["stats"]["max_train_eval_similarity"] < 0.8
