"""The flag stage's optional LLM judge: only uncertain records are sent, through the real SDK,
cached, and its verdict decides them."""

from __future__ import annotations

import json

import pytest

from conftest import read_jsonl, write_jsonl
from fake_llm_server import FakeLLMServer, prompt_of
from dataprep.errors import DataprepError
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

KEY = "sk-test-judge-0123456789abcdefghijklmnop"
REPLIES = {  # reply -> the offline scorer's view
    "It takes 3 days.": "clearly fact-heavy",
    "We have 12 of them.": "clearly behaviour",
    "Yes, that's available in blue.": "clearly behaviour",
    "Our Denver office handles that.": "uncertain",
    "The fee is $49.99 per month.": "uncertain",
}


def judge_says_prices_only(provider: str, body: dict) -> dict:
    """A judge that calls a reply fact-heavy when it quotes a price."""
    reply = prompt_of(provider, body).split("FINAL ASSISTANT REPLY:")[-1]
    heavy = "$" in reply
    return {"fact_heavy": heavy, "unsupported_facts": ["$49.99"] if heavy else [],
            "reason": "quotes a price" if heavy else "routing, no recalled fact"}


@pytest.fixture
def judged_run(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    rows = [{"messages": [{"role": "user", "content": "Can you help?"}, {"role": "assistant", "content": reply}],
             "tags": ["pii:scrubbed"]} for reply in REPLIES]
    write_jsonl(tmp_path / "in.jsonl", rows)

    def run(server: FakeLLMServer, name: str):
        recipe = tmp_path / "r.yaml"
        recipe.write_text(json.dumps({"inputs": [{"path": "in.jsonl"}], "stages": [{"flag": {"judge": {
            "provider": "openai", "model": "gpt-4.1-mini", "base_url": server.openai_url}}}]}), encoding="utf-8")
        return run_recipe(load_recipe(recipe), tmp_path / name).manifest
    return run


def replies(path) -> set[str]:
    return {row["messages"][-1]["content"] for row in read_jsonl(path)}


def test_only_uncertain_records_are_judged_and_the_verdict_decides(judged_run, tmp_path):
    with FakeLLMServer(responder=judge_says_prices_only) as server:
        manifest = judged_run(server, "run")
        sent = [json.dumps(call.body) for call in server.model_calls()]
    assert len(sent) == 2
    assert all("Denver" in body or "49.99" in body for body in sent)
    assert replies(tmp_path / "run" / "rag_candidates.jsonl") == {"It takes 3 days.", "The fee is $49.99 per month."}
    kept = {row["messages"][-1]["content"]: row for row in read_jsonl(tmp_path / "run" / "train.jsonl")}
    denver = kept["Our Denver office handles that."]
    assert denver["scores"]["fact_heavy"] == 0.1 and denver["scores"]["fact_heavy_offline"] > 0.5
    assert "judge: routing, no recalled fact" in denver["reasons"]["fact_heavy"]
    stats = manifest["stages"][-1]["stats"]
    assert (stats["judged"], stats["judge_overturned"]) == (2, 1)


def test_a_rerun_is_answered_from_the_cache_and_the_key_is_never_written(judged_run, tmp_path):
    with FakeLLMServer(responder=judge_says_prices_only) as server:
        judged_run(server, "run")
        first = len(server.model_calls())
        judged_run(server, "run")  # a fresh rerun into the same folder keeps the run's cache
        assert len(server.model_calls()) == first  # the second run made no paid call
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(encoding="utf-8", errors="ignore"), path


def test_unscrubbed_records_never_leave_the_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_jsonl(tmp_path / "in.jsonl", [{"messages": [{"role": "user", "content": "hi"},
                                                      {"role": "assistant", "content": "Our Denver office handles that."}]}])
    with FakeLLMServer(responder=judge_says_prices_only) as server:
        recipe = tmp_path / "r.yaml"
        recipe.write_text(json.dumps({"inputs": [{"path": "in.jsonl"}], "stages": [{"flag": {"judge": {
            "model": "gpt-4.1-mini", "base_url": server.openai_url}}}]}), encoding="utf-8")
        with pytest.raises(DataprepError, match="not PII-scrubbed"):
            run_recipe(load_recipe(recipe), tmp_path / "run")
        assert server.model_calls() == []



def judge_recipe(tmp_path, server: FakeLLMServer, **recipe) -> object:
    write_jsonl(tmp_path / "in.jsonl", [{"messages": [{"role": "user", "content": "Can you help?"},
                                                      {"role": "assistant", "content": reply}], "tags": ["pii:scrubbed"]}
                                        for reply in REPLIES])
    path = tmp_path / "r.yaml"
    path.write_text(json.dumps({**recipe, "inputs": [{"path": "in.jsonl"}], "stages": [{"flag": {"judge": {
        "model": "gpt-4.1-mini", "base_url": server.openai_url}}}]}), encoding="utf-8")
    return load_recipe(path)


def test_planning_estimates_the_judge_and_sends_nothing(tmp_path, monkeypatch):
    from dataprep.plan import plan_recipe

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeLLMServer(responder=judge_says_prices_only) as server:
        plan = plan_recipe(judge_recipe(tmp_path, server), tmp_path / "plan")
        assert server.model_calls() == []
    assert (plan.stages[-1].llm["calls"], plan.stages[-1].llm["model"]) == (2, "gpt-4.1-mini")


def test_the_run_wide_budget_stops_the_judge(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeLLMServer(responder=judge_says_prices_only) as server:
        manifest = run_recipe(judge_recipe(tmp_path, server, budget_usd=0.0001), tmp_path / "run").manifest
        assert server.model_calls() == []
    assert manifest["stages"][-1]["stats"]["judge_skipped"] == 2
