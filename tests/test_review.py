"""The review stage and the Label Studio file formats, without a server: who is picked,
how verdicts are applied on resume, import/export files, agreement and the defect-rate maths."""

from __future__ import annotations

import itertools
import json
import math
import socket
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from conftest import HOSTILE_MARKUP, assert_nothing_planted_reaches, chat, read_jsonl, run_cli, write_jsonl
from dataprep.errors import InputError, UsageError
from dataprep.recipe import load_recipe
from dataprep.review.stats import defect_estimate, sample_size
from dataprep.review.verdicts import agreement, verdicts_from_export
from dataprep.runner import run_recipe

SCRUBBED = ["pii:scrubbed"]


# -- the maths ---------------------------------------------------------------------------------
def test_sample_size_is_cochran_with_finite_population_correction():
    assert sample_size(10_000, 0.05, 0.95) == 370
    assert sample_size(1_000_000, 0.05, 0.95) == 384
    assert sample_size(100, 0.05, 0.95) == 80
    assert sample_size(10_000, 0.03, 0.99) == 1557
    assert sample_size(5, 0.05, 0.95) == 5
    assert sample_size(0, 0.05, 0.95) == 0


def test_wilson_interval_matches_published_values():
    estimate = defect_estimate(10, 100)
    assert (round(estimate.low, 4), round(estimate.high, 4)) == (0.0552, 0.1744)
    clean = defect_estimate(0, 370)
    assert (round(clean.low, 6), round(clean.high, 4)) == (0.0, 0.0103)
    assert "2.7% defective (10/370); 95% interval" in defect_estimate(10, 370).describe()


def test_fleiss_kappa_of_a_textbook_case():
    # Two raters, 10 items: 8 agreements (5 accept, 3 reject), 2 disagreements.
    ratings = [["accept", "accept"]] * 5 + [["reject", "reject"]] * 3 + [["accept", "reject"]] * 2
    found = agreement(ratings)
    # p_accept = 12/20, p_reject = 8/20 -> Pe = 0.52; Po = 0.8; kappa = 0.28 / 0.48
    assert found == {"tasks": 10, "pairwise": 0.8, "fleiss_kappa": round(0.28 / 0.48, 4)}
    assert agreement([["accept"]]) == {"tasks": 0}


# -- picking -----------------------------------------------------------------------------------
def dataset() -> list[dict]:
    rows = [chat(f"plain question {i}", f"plain answer {i}", tags=list(SCRUBBED)) for i in range(1000)]
    rows += [chat(f"eval question {i}", f"eval answer {i}", tags=list(SCRUBBED), split="eval") for i in range(6)]
    rows += [chat(f"synthetic {i}", f"made up {i}", tags=[*SCRUBBED, "synthetic"]) for i in range(20)]
    rows += [chat(f"conflict {i}", f"one of two answers {i}", tags=[*SCRUBBED, "conflict"]) for i in range(3)]
    rows += [chat(f"near {i}", f"fact {i}", tags=[*SCRUBBED, "fact-heavy-uncertain"],
                  scores={"fact_heavy": 0.45}) for i in range(4)]
    rows += [chat(f"low {i}", f"no fact {i}", tags=list(SCRUBBED), scores={"fact_heavy": 0.1}) for i in range(2)]
    return rows


def make_run(tmp_path: Path, rows: list[dict], options: str = "{}", seed: int = 7) -> Path:
    write_jsonl(tmp_path / "records.jsonl", rows)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"name: review-test\nseed: {seed}\ninputs:\n  - path: records.jsonl\n"
                      f"stages:\n  - review: {options}\n", encoding="utf-8")
    return recipe


def review_stats(manifest: dict) -> dict:
    return next(stage for stage in manifest["stages"] if stage["stage"] == "review")["stats"]


def picked_because(run: Path) -> dict[str, list[str]]:
    rows = read_jsonl(run / "train.jsonl") + read_jsonl(run / "eval.jsonl")
    return {row["messages"][0]["content"]: row["review"]["picked_because"] for row in rows if row.get("review")}


BUDGET_KEYS = ("max_tasks", "budget", "over_budget", "minutes_per_task", "reviewer_hours")


def test_picks_eval_conflicts_near_threshold_share_of_synthetic_and_a_sized_random_sample(tmp_path):
    run = tmp_path / "run"
    outcome = run_recipe(load_recipe(make_run(tmp_path, dataset(), "{max_tasks: 1000}")), run)
    picked = picked_because(run)
    reasons = [reason for because in picked.values() for reason in because]
    assert reasons.count("eval") == 6
    assert reasons.count("conflict") == 3
    assert reasons.count("near_flag_threshold") == 4
    assert reasons.count("synthetic") == math.ceil(0.15 * 20)
    # the rest: 1000 plain + 2 low-score + 17 synthetic not picked for being synthetic
    assert reasons.count("random_sample") == sample_size(1019, 0.05, 0.95) == 280
    assert not any(question.startswith("low") and "near_flag_threshold" in because for question, because in picked.items())
    stats = review_stats(outcome.manifest)
    assert stats["picked"] == {"conflict": 3, "eval": 6, "near_flag_threshold": 4, "random_sample": 280, "synthetic": 3}
    assert stats["sample"] == {"population": 1019, "size": 280, "margin": 0.05, "confidence": 0.95, "already_reviewed": 0}
    assert {key: stats[key] for key in BUDGET_KEYS} == {
        "max_tasks": 1000, "budget": 1000, "over_budget": {}, "minutes_per_task": 3, "reviewer_hours": 14.8}
    # nothing leaves the flow: review is a state, not a place
    assert outcome.manifest["counts"]["train"] + outcome.manifest["counts"]["eval"] == len(dataset())
    queue = read_jsonl(run / "review" / "queue.jsonl")
    assert len(queue) == stats["picked_records"] == len(picked) == 296
    assert all(row["review"]["status"] == "pending" for row in queue)


def test_the_default_budget_is_a_tenth_of_the_records_filled_in_priority_order(tmp_path):
    outcome = run_recipe(load_recipe(make_run(tmp_path, dataset())), tmp_path / "run")
    stats = review_stats(outcome.manifest)
    # 1035 records -> 104 tasks: every eval, conflict, near-threshold and synthetic pick, then 88 random ones
    assert stats["picked"] == {"conflict": 3, "eval": 6, "near_flag_threshold": 4, "random_sample": 88, "synthetic": 3}
    assert {key: stats[key] for key in BUDGET_KEYS} == {
        "max_tasks": None, "budget": 104, "over_budget": {"random_sample": 280 - 88}, "minutes_per_task": 3,
        "reviewer_hours": 5.2}
    assert stats["picked_records"] == 104
    assert stats["sample"]["size"] == 88
    assert len(read_jsonl(tmp_path / "run" / "review" / "queue.jsonl")) == 104


def test_a_large_eval_set_does_not_crowd_out_the_synthetic_spot_check_by_default(tmp_path):
    """An eval set of more than a tenth of the records (the quickstart's is) would fill a budget of a
    tenth alone; the flag's unsure records and 15% of the synthetic ones are still picked."""
    rows = [row for row in dataset() if "plain question" not in row["messages"][0]["content"]]
    rows += [chat(f"eval extra {i}", f"eval answer {i}", tags=list(SCRUBBED), split="eval") for i in range(30)]
    outcome = run_recipe(load_recipe(make_run(tmp_path, rows)), tmp_path / "run")
    stats = review_stats(outcome.manifest)
    # 65 records: a tenth is 7, but 36 eval + 3 conflicts + 4 near the threshold + 3 of 20 synthetic ask for 46
    assert stats["picked"] == {"conflict": 3, "eval": 36, "near_flag_threshold": 4, "synthetic": 3}
    assert (stats["budget"], stats["ten_percent"], stats["over_budget"]) == (46, 7, {"random_sample": 65 - 46})  # the rest, all wanted by the sample
    assert len(read_jsonl(tmp_path / "run" / "review" / "queue.jsonl")) == 46


def test_a_tight_budget_keeps_the_first_reasons_and_says_what_did_not_fit(tmp_path):
    run = _run(tmp_path / "x", dataset(), options="{max_tasks: 8, minutes_per_task: 7.5}")
    reasons = [reason for because in picked_because(run).values() for reason in because]
    assert sorted(reasons) == ["conflict"] * 2 + ["eval"] * 6
    stats = review_stats(json.loads((run / "manifest.json").read_text()))
    assert {key: stats[key] for key in BUDGET_KEYS} == {
        "max_tasks": 8, "budget": 8, "minutes_per_task": 7.5, "reviewer_hours": 1.0,
        "over_budget": {"conflict": 1, "near_flag_threshold": 4, "synthetic": 3, "random_sample": 280}}


def test_push_says_how_many_reviewer_hours_the_queue_asks_for(tmp_path):
    run = _run(tmp_path / "x", dataset(), options="{max_tasks: 20, minutes_per_task: 6}")
    done = run_cli("review", "push", run / "review" / "queue.jsonl", "--to-file", tmp_path / "tasks.json")
    assert done.returncode == 0, done.stderr
    assert "that is 20 task(s), about 2 reviewer-hours at 6 min each" in done.stderr
    loose = write_jsonl(tmp_path / "loose.jsonl", [chat(f"q{i}", f"a{i}", tags=SCRUBBED) for i in range(30)])
    done = run_cli("review", "push", loose, "--to-file", tmp_path / "loose-tasks.json")
    assert "that is 30 task(s), about 1.5 reviewer-hours at 3 min each" in done.stderr  # the default pace


def test_picking_is_deterministic_per_seed(tmp_path):
    first = picked_because(_run(tmp_path / "a", dataset(), seed=7))
    again = picked_because(_run(tmp_path / "b", dataset(), seed=7))
    other = picked_because(_run(tmp_path / "c", dataset(), seed=8))
    assert first == again
    assert first != other


def _run(folder: Path, rows: list[dict], seed: int = 7, options: str = "{}") -> Path:
    folder.mkdir()
    run_recipe(load_recipe(make_run(folder, rows, options, seed)), folder / "run")
    return folder / "run"


def test_options_turn_reasons_off_and_fix_the_sample_size(tmp_path):
    options = "{eval_all: false, conflicts: false, near_flag_threshold: false, synthetic_share: 0, sample_size: 10}"
    picked = picked_because(_run(tmp_path / "x", dataset(), options=options))
    assert sorted({r for because in picked.values() for r in because}) == ["random_sample"]
    assert len(picked) == 10


def test_records_already_reviewed_are_not_picked_again(tmp_path):
    rows = [chat(f"q{i}", f"a{i}", tags=list(SCRUBBED), split="eval",
                 review={"status": "done", "verdict": "accept"}) for i in range(3)]
    run = _run(tmp_path / "x", rows)
    assert read_jsonl(run / "review" / "queue.jsonl") == []
    assert [row["review"] for row in read_jsonl(run / "eval.jsonl")] == [{"status": "done", "verdict": "accept"}] * 3


def test_refuses_to_queue_records_the_pii_scrubber_has_not_seen(tmp_path):
    rows = [chat("my email is a@b.c", "noted", split="eval")]
    with pytest.raises(UsageError, match=r"1 record\(s\) are not PII-scrubbed .*allow_unscrubbed: true"):
        run_recipe(load_recipe(make_run(tmp_path, rows)), tmp_path / "run")
    assert not (tmp_path / "run" / "review" / "queue.jsonl").exists()
    run = _run(tmp_path / "allowed", rows, options="{allow_unscrubbed: true}")
    assert len(read_jsonl(run / "review" / "queue.jsonl")) == 1


# -- applying verdicts on resume -----------------------------------------------------------------
def small_run(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    rows = [chat(f"question {name}", f"reply {name}", tags=list(SCRUBBED), split="eval")
            for name in ("accepted", "rejected", "edited", "unedited", "disputed", "untouched")]
    recipe = make_run(tmp_path, rows)
    run = tmp_path / "run"
    run_recipe(load_recipe(recipe), run)
    ids = {row["messages"][0]["content"].split()[1]: row["id"] for row in read_jsonl(run / "eval.jsonl")}
    return recipe, run, ids


def verdict(record_id: str, verdict: str | None, status: str = "done", **extra) -> dict:
    return {"id": record_id, "status": status, "verdict": verdict, "reviewer": "ann@example.com",
            "reason": extra.pop("reason", None), "edited_reply": extra.pop("edited_reply", None),
            "annotations": extra.pop("annotations", []), **extra}


def test_resume_after_pull_applies_verdicts(tmp_path):
    recipe, run, ids = small_run(tmp_path)
    write_jsonl(run / "review" / "verdicts.jsonl", [
        verdict(ids["accepted"], "accept"),
        verdict(ids["rejected"], "reject", reason="wrong facts"),
        verdict(ids["edited"], "needs_edit", reason="off-tone", edited_reply="A kinder reply."),
        verdict(ids["unedited"], "needs_edit"),
        verdict(ids["disputed"], None, status="disputed", annotations=[
            {"reviewer": "ann@example.com", "verdict": "accept"}, {"reviewer": "bob@example.com", "verdict": "reject"}]),
    ])
    read_before = (run / ".work" / "00-read" / "done.json").read_text()
    outcome = run_recipe(load_recipe(recipe), run, resume=True)
    assert (run / ".work" / "00-read" / "done.json").read_text() == read_before  # only review re-ran

    kept = {row["id"]: row for row in read_jsonl(run / "eval.jsonl")}
    rejected = {row["id"]: row for row in read_jsonl(run / "rejected.jsonl")}
    assert kept[ids["accepted"]]["review"] == {"status": "done", "verdict": "accept", "reviewer": "ann@example.com",
                                               "reason": None, "picked_because": ["eval"]}
    assert rejected[ids["rejected"]]["disposition"]["reason"] == "review: wrong facts"
    assert rejected[ids["unedited"]]["disposition"]["reason"] == "review: needs edit, but the reviewer gave no corrected reply"
    edited = kept[ids["edited"]]
    assert edited["messages"][-1] == {"role": "assistant", "content": "A kinder reply."}
    assert edited["rejected_reply"] == {"role": "assistant", "content": "reply edited"}
    assert edited["review"]["edited_reply"] == "A kinder reply."
    assert edited["provenance"][-1] == {"stage": "review", "action": "replaced_target", "why": "edited by ann@example.com: off-tone"}
    disputed = kept[ids["disputed"]]["review"]
    assert disputed["status"] == "disputed"
    assert disputed["reason"] == "reviewers disagree: ann@example.com accept, bob@example.com reject"
    queue = {row["id"]: row["review"]["status"] for row in read_jsonl(run / "review" / "queue.jsonl")}
    assert queue == {ids["disputed"]: "disputed", ids["untouched"]: "pending"}

    counts = outcome.manifest["counts"]
    assert (counts["eval"], counts["rejected"]) == (4, 2)
    stats = review_stats(outcome.manifest)
    assert stats["verdicts"] == {"accept": 1, "disputed": 1, "needs_edit": 1, "reject": 1, "unedited": 1}
    assert stats["queue"] == 2


def test_what_a_reviewer_types_is_scrubbed_before_it_reaches_the_outputs(tmp_path):
    """A corrected reply and a reason are typed by a person, who may paste a customer's details into them: they
    reach train and eval scrubbed like the logs, the new values numbered after the conversation's own. Who
    reviewed stays as Label Studio names them."""
    rows = [chat("Where is my label? I'm <EMAIL_1>.", "It is on its way.", tags=list(SCRUBBED), split="eval")]
    recipe = make_run(tmp_path, rows)
    run = tmp_path / "run"
    run_recipe(load_recipe(recipe), run)
    record_id = read_jsonl(run / "eval.jsonl")[0]["id"]
    write_jsonl(run / "review" / "verdicts.jsonl", [verdict(
        record_id, "needs_edit", reason="should name maria.lopez@example.com",
        edited_reply=f"I've sent the label to <EMAIL_1> and to maria.lopez@example.com; call +1 415 555 0199. {HOSTILE_MARKUP}")])
    run_recipe(load_recipe(recipe), run, resume=True)
    edited = read_jsonl(run / "eval.jsonl")[0]
    assert edited["messages"][-1]["content"] == f"I've sent the label to <EMAIL_1> and to <EMAIL_2>; call <PHONE_1>. {HOSTILE_MARKUP}"
    assert edited["review"]["edited_reply"] == edited["messages"][-1]["content"]
    assert edited["review"]["reason"] == "should name <EMAIL_1>" and edited["review"]["reviewer"] == "ann@example.com"
    # verdicts.jsonl is this test's own input (pull scrubs the real one)
    assert_nothing_planted_reaches(run, "maria", "555 0199", skip=("verdicts.jsonl",))


def test_resume_without_new_verdicts_reuses_the_review_stage(tmp_path):
    recipe, run, ids = small_run(tmp_path)
    write_jsonl(run / "review" / "verdicts.jsonl", [verdict(ids["rejected"], "reject", reason="unsafe")])
    run_recipe(load_recipe(recipe), run, resume=True)
    done = (run / ".work" / "01-review" / "done.json").read_text()
    run_recipe(load_recipe(recipe), run, resume=True)
    assert (run / ".work" / "01-review" / "done.json").read_text() == done
    assert [row["disposition"]["reason"] for row in read_jsonl(run / "rejected.jsonl")] == ["review: unsafe"]


def test_personal_data_found_by_a_reviewer_is_rejected_and_measured(tmp_path):
    recipe, run, ids = small_run(tmp_path)
    write_jsonl(run / "review" / "verdicts.jsonl", [
        verdict(ids["accepted"], "accept", personal_data=True),
        verdict(ids["edited"], "needs_edit", edited_reply="Fixed.", personal_data=True),  # the conversation may hold it
        verdict(ids["rejected"], "reject", reason="unsafe"),
        verdict(ids["unedited"], "needs_edit", edited_reply=" reply unedited \n"),  # the prefill, untouched
    ])
    outcome = run_recipe(load_recipe(recipe), run, resume=True)
    rejected = {row["id"]: row["disposition"]["reason"] for row in read_jsonl(run / "rejected.jsonl")}
    assert rejected == {ids["accepted"]: "review: reviewer found personal data",
                        ids["edited"]: "review: reviewer found personal data", ids["rejected"]: "review: unsafe",
                        ids["unedited"]: "review: needs edit, but the reviewer gave no corrected reply"}
    stats = review_stats(outcome.manifest)
    assert stats["verdicts"] == {"personal_data": 2, "reject": 1, "unedited": 1}
    # Wilson 95% interval of 2/4
    assert stats["residual_pii"] == {"reviewed": 4, "flagged": 2, "rate": 0.5, "low": 0.15, "high": 0.85}
    first = run_recipe(load_recipe(make_run(tmp_path / "fresh", [chat("q", "a", tags=SCRUBBED)])), tmp_path / "fresh" / "run")
    assert "residual_pii" not in review_stats(first.manifest)  # nothing reviewed, nothing to claim


def test_the_defect_rate_counts_each_sampled_verdict_once(tmp_path):
    rows = [chat(f"plain {i}", f"answer {i}", tags=list(SCRUBBED)) for i in range(40)]
    recipe = make_run(tmp_path, rows, "{max_tasks: 40, sample_size: 10}")
    run = tmp_path / "run"
    run_recipe(load_recipe(recipe), run)
    sampled = [row["id"] for row in read_jsonl(run / "review" / "queue.jsonl")
               if "random_sample" in row["review"]["picked_because"]]
    assert len(sampled) == 10
    write_jsonl(run / "review" / "verdicts.jsonl", [verdict(sampled[0], "reject", reason="wrong facts")] +
                [verdict(record_id, "accept") for record_id in sampled[1:]])
    rate = review_stats(run_recipe(load_recipe(recipe), run, resume=True).manifest)["defect_rate"]
    assert (rate["defects"], rate["reviewed"], rate["rate"]) == (1, 10, 0.1)


def test_pull_counts_the_tasks_marked_as_holding_personal_data(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([
        export_task("r1", annotation("Accept", "ann@x", pii=True)),
        export_task("r2", annotation("Accept", "ann@x"), annotation("Reject", "bob@x", pii=True)),  # one is enough
        export_task("r3", annotation("Accept", "ann@x"))]))
    done = run_cli("review", "pull", "--from-file", path, "--out", tmp_path / "v.jsonl")
    assert done.returncode == 0, done.stderr
    assert "2 of 3 judged task(s) marked as containing personal data" in done.stderr
    assert {row["id"]: row["personal_data"] for row in read_jsonl(tmp_path / "v.jsonl")} == {"r1": True, "r2": True, "r3": False}


def test_a_broken_verdicts_file_names_file_and_line(tmp_path):
    recipe, run, ids = small_run(tmp_path)
    write_jsonl(run / "review" / "verdicts.jsonl", [verdict(ids["accepted"], "accept"), {"id": "x"}])
    with pytest.raises(InputError, match=r"verdicts.jsonl:2: not a verdict line"):
        run_recipe(load_recipe(recipe), run, resume=True)
    write_jsonl(run / "review" / "verdicts.jsonl", [verdict(ids["accepted"], "accept", personal_data="no")])
    with pytest.raises(InputError, match=r"verdicts.jsonl:1: 'personal_data' must be true or false"):
        run_recipe(load_recipe(recipe), run, resume=True)
    write_jsonl(run / "review" / "verdicts.jsonl", [verdict(ids["edited"], "needs_edit", edited_reply=["Fixed."])])
    with pytest.raises(InputError, match=r"verdicts.jsonl:1: 'edited_reply' must be text or null"):
        run_recipe(load_recipe(recipe), run, resume=True)


# -- Label Studio files: import (push --to-file) and export (pull --from-file) -----------------
ANNOTATION_IDS = itertools.count(1)


def annotation(verdict: str, email: str, *, reasons=(), edit=None, updated="2026-01-01T00:00:00Z", cancelled=False,
               pii=False) -> dict:
    result = [{"from_name": "verdict", "to_name": "reply", "type": "choices", "value": {"choices": [verdict]}}]
    if pii:
        result.append({"from_name": "pii", "to_name": "reply", "type": "choices",
                       "value": {"choices": ["Contains personal data"]}})
    if reasons:
        result.append({"from_name": "reason", "to_name": "reply", "type": "choices", "value": {"choices": list(reasons)}})
    if edit is not None:
        result.append({"from_name": "edited_reply", "to_name": "reply", "type": "textarea", "value": {"text": [edit]}})
    return {"id": next(ANNOTATION_IDS), "completed_by": {"id": 1, "email": email},
            "result": result, "was_cancelled": cancelled, "updated_at": updated}


def export_task(record_id: str, *annotations: dict, picked=("eval",)) -> dict:
    return {"id": int(record_id[1:]), "data": {"dataprep_id": record_id, "picked": list(picked)},
            "annotations": list(annotations)}


def test_export_becomes_verdicts_with_disputes_and_agreement():
    tasks = [
        export_task("r1", annotation("Accept", "ann@x"), annotation("Accept", "bob@x")),
        export_task("r2", annotation("Reject", "ann@x", reasons=["Wrong facts", "Unsafe"]), annotation("Accept", "bob@x")),
        export_task("r3", annotation("Needs edit", "ann@x", reasons=["Off-tone"], edit="Better.")),
        export_task("r4", annotation("Needs edit", "ann@x", edit="One."), annotation("Needs edit", "bob@x", edit="Two.")),
        export_task("r5", annotation("Reject", "ann@x", updated="2026-01-01T00:00:00Z"),
                    annotation("Accept", "ann@x", updated="2026-01-02T00:00:00Z")),  # changed her mind: latest counts
        export_task("r6", annotation("Accept", "ann@x", cancelled=True)),  # skipped: no verdict
        export_task("r8", annotation("Reject", "ann@x"), annotation("Accept", "bob@x"),
                    {**annotation("Accept", "lead@x"), "ground_truth": True}),  # a manager settles it
        export_task("r7"),  # not annotated yet
    ]
    rows, summary = verdicts_from_export(tasks, "export.json")
    by_id = {row["id"]: row for row in rows}
    assert sorted(by_id) == ["r1", "r2", "r3", "r4", "r5", "r8"]
    assert (by_id["r1"]["status"], by_id["r1"]["verdict"], by_id["r1"]["reviewer"]) == ("done", "accept", "ann@x, bob@x")
    assert (by_id["r2"]["status"], by_id["r2"]["verdict"]) == ("disputed", None)
    r3 = by_id["r3"]
    assert (r3["status"], r3["verdict"], r3["reason"], r3["edited_reply"]) == ("done", "needs_edit", "off-tone", "Better.")
    assert by_id["r4"]["status"] == "disputed"  # same verdict, different replies: not resolved silently
    assert (by_id["r5"]["verdict"], len(by_id["r5"]["annotations"])) == ("accept", 1)
    assert (by_id["r8"]["status"], by_id["r8"]["verdict"], by_id["r8"]["reviewer"]) == ("done", "accept", "lead@x")
    assert len(by_id["r8"]["annotations"]) == 3
    assert by_id["r1"]["picked_because"] == ["eval"]
    assert summary.tasks == 7 and summary.without_verdict == 1
    assert dict(summary.verdicts) == {"accept": 3, "needs_edit": 1, "disputed": 2}
    # several reviewers on r1 (agree), r2 (disagree), r4 (same verdict: agree on it), r8 (1 of 3 pairs agree)
    assert summary.agreement["tasks"] == 4
    assert summary.agreement["pairwise"] == round((1 + 0 + 1 + 1 / 3) / 4, 4)


def test_a_pasted_customer_detail_in_an_edit_is_scrubbed_when_pulled():
    """The verdicts file holds no raw value a reviewer pasted; a new one is numbered after the placeholders the
    task shows (the conversation's <EMAIL_1> is someone else)."""
    edit = "Sent to <EMAIL_1> and maria.lopez@example.com, or call +1 415 555 0199."
    task = export_task("r1", annotation("Needs edit", "ann@x", edit=edit))
    task["data"]["conversation"] = "── user ──\nI'm <EMAIL_1>, where is my parcel?"
    rows, _ = verdicts_from_export([task], "export.json")
    scrubbed = "Sent to <EMAIL_1> and <EMAIL_2>, or call <PHONE_1>."
    assert rows[0]["edited_reply"] == scrubbed and rows[0]["annotations"][0]["edited_reply"] == scrubbed
    assert "maria" not in json.dumps(rows)


def test_json_min_export_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "min.json"
    path.write_text(json.dumps([{"dataprep_id": "r1", "verdict": "Accept"}]))
    done = run_cli("review", "pull", "--from-file", path, "--out", tmp_path / "v.jsonl")
    assert done.returncode == 2
    assert "min.json: not Label Studio's full JSON export (task 1 has no 'data'): export as JSON, not JSON_MIN or CSV" in done.stderr
    assert not (tmp_path / "v.jsonl").exists()


@pytest.mark.parametrize("annotations", [
    [{"result": "Accept"}], [{"result": [None]}], [{"result": [{"from_name": "verdict", "value": None}]}],
    [{"result": [{"from_name": "verdict", "value": {"choices": "Accept"}}]}],
    [{"result": [{"from_name": "edited_reply", "value": {"text": [1, 2]}}]}], "Accept"],
    ids=["result text", "result item null", "value null", "choices text", "text numbers", "annotations text"])
def test_an_export_whose_annotations_are_not_label_studio_s_is_an_error_naming_the_task(tmp_path, annotations):
    """Hand-edited or converted exports: a clear error naming the file and task, not an internal
    error, and no verdict file half written."""
    path = tmp_path / "export.json"
    path.write_text(json.dumps([export_task("r1", annotation("Accept", "ann@x")),
                                {"id": 2, "data": {"dataprep_id": "r2"}, "annotations": annotations}]))
    done = run_cli("review", "pull", "--from-file", path, "--out", tmp_path / "v.jsonl")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert "export.json: task 2 has annotations that are not Label Studio's" in done.stderr
    assert not (tmp_path / "v.jsonl").exists()


def test_pull_from_file_writes_verdicts(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([export_task("r1", annotation("Reject", "ann@x", reasons=["Bad input"]))]))
    done = run_cli("review", "pull", "--from-file", path, "--out", tmp_path / "v.jsonl")
    assert done.returncode == 0, done.stderr
    assert "1 annotated task(s): accept 0, reject 1, needs_edit 0, disputed 0" in done.stderr
    [row] = read_jsonl(tmp_path / "v.jsonl")
    assert (row["id"], row["verdict"], row["reason"], row["reviewer"]) == ("r1", "reject", "bad input", "ann@x")


def test_push_to_file_writes_an_import_and_the_labeling_config(tmp_path):
    rows = [{"id": "rec-1", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "4 C"},
        {"role": "assistant", "content": "4 degrees."}],
        "tags": SCRUBBED, "review": {"status": "pending", "picked_because": ["eval", "random_sample"]}}]
    queue = write_jsonl(tmp_path / "queue.jsonl", rows + rows)  # the same record twice is one task
    done = run_cli("review", "push", queue, "--to-file", tmp_path / "ls" / "tasks.json")
    assert done.returncode == 0, done.stderr
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    assert tasks == [{
        "data": {
            "dataprep_id": "rec-1",
            # one plain text, turn by turn (Paragraphs would stamp each turn "00:00:00 - 00:00:00")
            "conversation": "── system ──\nBe brief.\n\n── user ──\nWeather in Oslo?\n\n"
                            "── assistant ──\n→ calls weather({\"city\": \"Oslo\"})\n\n── tool ──\n4 C",
            "reply": "4 degrees.",
            "context": "(nothing else recorded)",
            "picked": ["eval", "random_sample"],
            "picked_because": "in the eval set; random sample for the defect-rate estimate"},
        # the reply fills the "Corrected reply" box: a reviewer edits it instead of retyping it
        "predictions": [{"model_version": "dataprep: the reply under review", "result": [
            {"id": "prefill", "from_name": "edited_reply", "to_name": "reply", "type": "textarea",
             "value": {"text": ["4 degrees."]}}]}]}]
    config = ElementTree.parse(tmp_path / "ls" / "tasks.label_config.xml").getroot()
    names = {tag.get("name"): tag.tag for tag in config.iter() if tag.get("name")}
    # everything from the logs is shown by Text tags, which escape it: nothing renders as HTML
    assert names == {"conversation": "Text", "reply": "Text", "context": "Text", "verdict": "Choices",
                     "pii": "Choices", "reason": "Choices", "edited_reply": "TextArea"}
    shown = {tag.get("value") for tag in config.iter() if tag.get("value", "").startswith("$")}
    assert shown == {"$conversation", "$reply", "$context"}
    choices = {tag.get("name"): [c.get("value") for c in tag] for tag in config.iter("Choices")}
    assert choices == {"verdict": ["Accept", "Reject", "Needs edit"], "pii": ["Contains personal data"],
                       "reason": ["Wrong facts", "Wrong format", "Unsafe", "Off-tone", "Bad input"]}


def test_tasks_show_why_the_record_matters_facts_feedback_tools_and_the_conflicting_answer(tmp_path):
    hostile = "<script>alert(1)</script> [bold]x[/]"
    near = {**chat("Do you ship to Oslo?", "Yes, in 3 days via PostNord.", tags=SCRUBBED),
            "scores": {"fact_heavy": 0.47}, "reasons": {"fact_heavy": ["names a carrier: PostNord", "a delivery time"]},
            "feedback": {"thumbs": "down", "comments": [hostile]},
            "tools": [{"type": "function", "function": {"name": "track_order", "description": "Where a parcel is."}},
                      {"type": "function", "function": {"name": "refund"}}],
            "review": {"status": "pending", "picked_because": ["near_flag_threshold"]}}
    conflict = {"tags": SCRUBBED, "groups": {"conflict": "cl-1"}, "reasons": {"conflict": ["one says 14 days, one 30"]},
                "review": {"status": "pending", "picked_because": ["conflict"]}}
    rows = [near, {**chat("Refund window?", "14 days."), **conflict}, {**chat("Refund window?", "30 days."), **conflict},
            {**chat("Hi", "Hello!", tags=SCRUBBED), "review": {"status": "pending", "picked_because": ["random_sample"]}}]
    queue = write_jsonl(tmp_path / "queue.jsonl", rows)
    done = run_cli("review", "push", queue, "--to-file", tmp_path / "tasks.json")
    assert done.returncode == 0, done.stderr
    context = {task["data"]["reply"]: task["data"]["context"] for task in json.loads((tmp_path / "tasks.json").read_text())}
    assert context["Yes, in 3 days via PostNord."] == (
        "Fact-heavy score: 0.47 (close to the flag threshold: is this reply resting on facts the conversation "
        "does not give?)\n  - names a carrier: PostNord\n  - a delivery time\n\n"
        f"User feedback: thumbs down\nUser comment: {hostile}\n\n"
        "Tools the model could call:\n  - track_order: Where a parcel is.\n  - refund")
    assert context["14 days."] == ("Labeling conflict: one says 14 days, one 30\n"
                                   "Another answer logged for the same input:\n30 days.")
    assert context["30 days."].endswith("Another answer logged for the same input:\n14 days.")
    assert context["Hello!"] == "(nothing else recorded)"


def test_a_reply_of_tool_calls_is_not_prefilled_as_text(tmp_path):
    row = {"messages": [{"role": "user", "content": "Track 12"}, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "track_order", "arguments": "{}"}}]}], "tags": SCRUBBED}
    done = run_cli("review", "push", write_jsonl(tmp_path / "q.jsonl", [row]), "--to-file", tmp_path / "tasks.json")
    assert done.returncode == 0, done.stderr
    [task] = json.loads((tmp_path / "tasks.json").read_text())
    assert "predictions" not in task and task["data"]["reply"] == "→ calls track_order({})"


def test_push_refuses_unscrubbed_records_unless_allowed(tmp_path):
    queue = write_jsonl(tmp_path / "queue.jsonl", [chat("q", "a")])
    done = run_cli("review", "push", queue, "--to-file", tmp_path / "tasks.json")
    assert done.returncode == 2
    assert "are not PII-scrubbed" in done.stderr and "--allow-unscrubbed" in done.stderr
    assert not (tmp_path / "tasks.json").exists()
    done = run_cli("review", "push", queue, "--to-file", tmp_path / "tasks.json", "--allow-unscrubbed")
    assert done.returncode == 0, done.stderr


def test_push_names_a_bad_line(tmp_path):
    queue = write_jsonl(tmp_path / "queue.jsonl", [chat("q", "a", tags=SCRUBBED), "{oops"])
    done = run_cli("review", "push", queue, "--to-file", tmp_path / "tasks.json")
    assert done.returncode == 2
    assert "queue.jsonl:2: not a record: not valid JSON" in done.stderr


def test_server_commands_need_the_connection_settings(tmp_path):
    queue = write_jsonl(tmp_path / "queue.jsonl", [chat("q", "a", tags=SCRUBBED)])
    done = run_cli("review", "push", queue, env={"LABEL_STUDIO_URL": "", "LABEL_STUDIO_API_KEY": ""})
    assert done.returncode == 2
    assert "set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY" in done.stderr


def test_serve_refuses_a_busy_port_instead_of_moving_to_another(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli("review", "serve", tmp_path / "run", "--port", str(port), env={"LABEL_STUDIO_BIN": "/bin/true"})
    assert done.returncode == 2
    assert f"port {port} is busy on 127.0.0.1" in done.stderr
    assert not (tmp_path / "run").exists()


def test_serve_without_label_studio_says_how_to_install_it(tmp_path):
    done = run_cli("review", "serve", tmp_path / "run", env={"PATH": "/usr/bin:/bin", "LABEL_STUDIO_BIN": ""})
    assert done.returncode == 2
    assert "Label Studio is not installed" in done.stderr and "its own environment" in done.stderr


def test_a_personal_data_tick_counts_even_without_a_verdict():
    ticked_only = annotation("Accept", "ann@x", pii=True)
    ticked_only["result"] = [item for item in ticked_only["result"] if item["from_name"] == "pii"]
    rows, _ = verdicts_from_export([export_task("r1", ticked_only),
                                    export_task("r2", annotation("Accept", "bob@x", pii=True, cancelled=True)),
                                    export_task("r3", annotation("Accept", "bob@x", cancelled=True))], "export.json")
    by_id = {row["id"]: row for row in rows}
    assert sorted(by_id) == ["r1", "r2"]  # r3 was skipped and marked nothing
    assert all(by_id[r]["personal_data"] for r in ("r1", "r2"))
