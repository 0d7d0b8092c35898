"""Dedup's optional LLM judge: only the wordings the rules put in one answer are asked, through the
real SDKs against the loopback server; its "different" makes a labeling conflict; cached, budgeted,
and no unscrubbed record leaves the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, read_jsonl, run_cli, write_jsonl
from fake_llm_server import FakeLLMServer, prompt_of
from dataprep.errors import DataprepError
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

KEY = "sk-test-dedup-judge-0123456789abcdefghijklmnop"
QUESTION = "How do I get access to the finance drive?"
DESK = ["Ask the IT Service Desk and they will grant you access to the finance drive.",
        "The IT Service Desk can grant you access to the finance drive, just ask them."]
PORTAL = "Submit an access request in the IT portal; the finance data owner approves it."
REFUSAL = "You can't get access to the finance drive."  # the rules see this one differ: never asked


def replies_of(body_text: str) -> tuple[str, str]:
    after = body_text.split("REPLY A:\n", 1)[1]
    first, second = after.split("\n\nREPLY B:\n", 1)
    return first, second


def same_way_to_get_it(provider: str, body: dict) -> dict:
    """A judge that compares the way each reply says to get access."""
    first, second = replies_of(prompt_of(provider, body))
    same = ("portal" in first) == ("portal" in second)
    return {"same_answer": same, "difference": "" if same else "desk grants it vs request in the portal"}


def write_logs(tmp_path, tags=("pii:scrubbed",)) -> None:
    replies = [*DESK, DESK[0], PORTAL, REFUSAL]  # DESK[0] twice: a copy is never asked about
    write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{n}", "tags": list(tags), "messages": [
        {"role": "user", "content": QUESTION}, {"role": "assistant", "content": reply}]} for n, reply in enumerate(replies)])


def write_recipe(tmp_path, server: FakeLLMServer, provider: str = "openai", **judge) -> object:
    return write_recipe_with(tmp_path, server, provider, judge=judge)


def write_recipe_with(tmp_path, server: FakeLLMServer, provider: str = "openai", judge: dict | None = None,
                      **dedup) -> object:
    url = server.openai_url if provider == "openai" else server.anthropic_url
    model = "gpt-4.1-mini" if provider == "openai" else "claude-haiku-4-5"
    path = tmp_path / "r.yaml"
    # the rules alone decide what the judge is asked: the answer model tells the desk from the portal itself
    path.write_text(json.dumps({"inputs": [{"path": "in.jsonl"}], "stages": [{"dedup": {"answer_model": False, **dedup, "judge": {
        "provider": provider, "model": model, "base_url": url, **(judge or {})}}}]}), encoding="utf-8")
    return path


def by_reply(rows: list[dict]) -> dict[str, dict]:
    return {row["messages"][-1]["content"]: row for row in rows}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_judge_splits_wordings_the_rules_call_one_answer(tmp_path, monkeypatch, provider):
    monkeypatch.setenv("OPENAI_API_KEY" if provider == "openai" else "ANTHROPIC_API_KEY", KEY)
    write_logs(tmp_path)
    with FakeLLMServer(responder=same_way_to_get_it) as server:
        manifest = run_recipe(load_recipe(write_recipe(tmp_path, server, provider)), tmp_path / "run").manifest
        asked = [replies_of(prompt_of(provider, call.body)) for call in server.model_calls()]
    assert asked and all(first != second for first, second in asked)  # copies are not asked about
    assert all(REFUSAL not in pair for pair in asked)  # nor pairs the rules split themselves
    kept = by_reply(read_jsonl(tmp_path / "run" / "train.jsonl"))
    assert set(kept) == {PORTAL, REFUSAL, DESK[0]} or set(kept) == {PORTAL, REFUSAL, DESK[1]}
    assert all("conflict" in row["tags"] for row in kept.values())
    assert any("judge: desk grants it vs request in the portal" in reason
               for reason in kept[PORTAL]["reasons"]["conflict"])
    set_aside = read_jsonl(tmp_path / "run" / "duplicates.jsonl")  # the desk's other wording and the copy
    assert len(set_aside) == 2 and {row["disposition"]["keeper_id"] for row in set_aside} <= {"r0", "r1"}
    stats = manifest["stages"][-1]["stats"]
    assert stats["judge_asked"] == len(asked) and stats["judge_split"] >= 1 and stats["conflicts"] == 1


@pytest.mark.parametrize("answer_model", [False, True])
def test_without_a_judge_the_answer_model_tells_the_desk_from_the_portal_and_the_rules_do_not(tmp_path, answer_model):
    write_logs(tmp_path)
    (tmp_path / "r.yaml").write_text(json.dumps({"inputs": [{"path": "in.jsonl"}],
                                                 "stages": [{"dedup": {"answer_model": answer_model}}]}), encoding="utf-8")
    run_recipe(load_recipe(tmp_path / "r.yaml"), tmp_path / "run")
    kept = by_reply(read_jsonl(tmp_path / "run" / "train.jsonl"))
    assert len({PORTAL, *DESK} & set(kept)) == (2 if answer_model else 1)
    if answer_model:  # the desk's two wordings are one answer, the portal another: a conflict, and why
        assert PORTAL in kept and "conflict" in kept[PORTAL]["tags"]
        assert any("worded as another answer" in reason and "portal" in reason
                   for reason in kept[PORTAL]["reasons"]["conflict"])


def test_a_rerun_asks_nothing_and_the_key_is_never_written(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_logs(tmp_path)
    with FakeLLMServer(responder=same_way_to_get_it) as server:
        recipe = write_recipe(tmp_path, server)
        first = run_cli("run", recipe, "--out", tmp_path / "run", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        calls = len(server.model_calls())
        again = run_cli("run", recipe, "--out", tmp_path / "run", cwd=tmp_path)
        assert again.returncode == 0 and len(server.model_calls()) == calls > 0
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(encoding="utf-8", errors="ignore"), path
    assert KEY not in first.stdout + first.stderr + again.stdout + again.stderr


def test_unscrubbed_records_never_leave_the_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_logs(tmp_path, tags=())
    with FakeLLMServer(responder=same_way_to_get_it) as server:
        with pytest.raises(DataprepError, match=r"dedup judge would send records.*dedup\.judge\.allow_unscrubbed"):
            run_recipe(load_recipe(write_recipe(tmp_path, server)), tmp_path / "run")
        assert server.model_calls() == []


def test_over_budget_nothing_is_asked_and_the_rules_stand(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_logs(tmp_path)
    with FakeLLMServer(responder=same_way_to_get_it) as server:
        manifest = run_recipe(load_recipe(write_recipe(tmp_path, server, budget_usd=0.0001)), tmp_path / "run").manifest
        assert server.model_calls() == []
    stats = manifest["stages"][-1]["stats"]
    assert stats["judge_asked"] == 0 and stats["judge_skipped"] > 0
    assert len({PORTAL, *DESK} & set(by_reply(read_jsonl(tmp_path / "run" / "train.jsonl")))) == 1


def test_planning_estimates_the_judge_and_sends_nothing(tmp_path, monkeypatch):
    from dataprep.plan import plan_recipe

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_logs(tmp_path)
    with FakeLLMServer(responder=same_way_to_get_it) as server:
        plan = plan_recipe(load_recipe(write_recipe(tmp_path, server)), tmp_path / "plan")
        assert server.model_calls() == []
    assert plan.stages[-1].llm["calls"] >= 2 and plan.stages[-1].llm["model"] == "gpt-4.1-mini"


def test_the_judge_s_words_are_scrubbed_before_they_reach_an_output(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_logs(tmp_path)

    def quoting(provider: str, body: dict) -> dict:
        verdict = same_way_to_get_it(provider, body)
        return {**verdict, "difference": verdict["difference"] and "one says email maria.lopez@example.com"}

    with FakeLLMServer(responder=quoting) as server:
        run_recipe(load_recipe(write_recipe(tmp_path, server)), tmp_path / "run")
    portal = by_reply(read_jsonl(tmp_path / "run" / "train.jsonl"))[PORTAL]
    assert any("judge: one says email <EMAIL_1>" in reason for reason in portal["reasons"]["conflict"])
    assert not any("maria" in path.read_text(encoding="utf-8") for path in (tmp_path / "run").glob("*.jsonl"))


def test_judging_every_pair_makes_a_reply_the_rules_misread_one_answer(tmp_path, monkeypatch):
    """judge_scope all: the pairs the rules split are asked too. This judge reads only the way to get access,
    so it calls the refusal the desk's answer: it joins the desk's answer instead of standing as a conflict."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_logs(tmp_path)
    with FakeLLMServer(responder=same_way_to_get_it) as server:
        manifest = run_recipe(load_recipe(write_recipe_with(tmp_path, server, judge_scope="all")), tmp_path / "run").manifest
        asked = [set(replies_of(prompt_of("openai", call.body))) for call in server.model_calls()]
    assert any(REFUSAL in pair for pair in asked)
    kept = by_reply(read_jsonl(tmp_path / "run" / "train.jsonl"))
    assert REFUSAL not in kept and PORTAL in kept and len(kept) == 2
    refusal = by_reply(read_jsonl(tmp_path / "run" / "duplicates.jsonl"))[REFUSAL]
    assert refusal["disposition"]["keeper_id"] in {"r0", "r1"}
    assert manifest["stages"][-1]["stats"]["conflicts"] == 1  # the portal still disagrees with the desk


def test_a_judge_scope_without_a_judge_is_a_clear_error(tmp_path):
    write_logs(tmp_path)
    (tmp_path / "r.yaml").write_text(json.dumps({"inputs": [{"path": "in.jsonl"}], "stages": [
        {"dedup": {"judge_scope": "all"}}]}), encoding="utf-8")
    result = run_cli("run", tmp_path / "r.yaml", "--out", tmp_path / "run", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "dedup.judge_scope all names pairs for a judge, but there is none" in " ".join(result.stderr.split())


def test_the_dedup_command_asks_a_judge_about_every_pair(tmp_path):
    write_logs(tmp_path)
    with FakeLLMServer(responder=same_way_to_get_it) as server:
        result = run_cli("dedup", tmp_path / "in.jsonl", "--out", tmp_path / "unique.jsonl", "--judge-model", "gpt-4.1-mini",
                         "--judge-base-url", server.openai_url, "--judge-scope", "all", env={"OPENAI_API_KEY": KEY})
        assert result.returncode == 0, result.stderr
        assert any(REFUSAL in prompt_of("openai", call.body) for call in server.model_calls())
    kept = by_reply(read_jsonl(tmp_path / "unique.jsonl"))
    assert REFUSAL not in kept and PORTAL in kept and len(kept) == 2
    assert KEY not in result.stdout + result.stderr


def test_bench_dedup_measures_the_judge_on_a_labeled_set_and_a_rerun_sends_nothing(tmp_path):
    """``bench_dedup.py --labeled FILE --judge-model`` is how a team with a key measures the judge on the labeled
    sets. Here the judge reads only the way to get access, so with scope all it calls the refusal the desk's answer:
    the labeled conflict the rules find is lost, and the table says so."""
    def record(key: str, reply: str) -> dict:
        return {"key": key, "messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": reply}]}
    write_jsonl(tmp_path / "set.jsonl", [{"group": "g1", "kind": "disagreeing_reply",
                                          "records": [record("desk", DESK[0]), record("refusal", REFUSAL)],
                                          "pairs": [{"a": "desk", "b": "refusal", "label": "conflict"}]}])

    def bench(*judge: str) -> tuple[str, str]:
        done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_dedup.py"), "--labeled",
                               str(tmp_path / "set.jsonl"), "--cache", str(tmp_path / "cache"), *judge],
                              env={**os.environ, "OPENAI_API_KEY": KEY}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert KEY not in done.stdout + done.stderr
        row = next(line for line in done.stdout.splitlines() if line.startswith("| disagreeing_reply"))
        conflict_recall = [cell.strip() for cell in row.strip("|").split("|")][4]
        return conflict_recall, next((line for line in done.stdout.splitlines() if line.startswith("judge:")), "")

    assert bench() == ("1.00", "")
    with FakeLLMServer(responder=same_way_to_get_it) as server:
        judged = ["--judge-model", "gpt-4.1-mini", "--judge-base-url", server.openai_url]
        assert bench(*judged) == ("0.00", "judge: 1 pairs asked, 0 called different; 1 calls sent, "
                                          "0 answers from the cache, $0.00")
        assert bench(*judged)[1].startswith("judge: 1 pairs asked, 0 called different; 0 calls sent, 1 answers from")
        assert len(server.model_calls()) == 1
