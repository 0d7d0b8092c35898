"""The flag stage's knowledge probe: the model to be fine-tuned is sampled on each prompt (through
the real OpenAI SDK, against the loopback fake server); facts it never reproduces are Unknown and
their records go to RAG with the samples as evidence."""

from __future__ import annotations

import json

import pytest

from conftest import HOSTILE_MARKUP, assert_nothing_planted_reaches, read_jsonl, write_jsonl
from fake_llm_server import FakeLLMServer, prompt_of
from dataprep.errors import DataprepError
from dataprep.plan import plan_recipe
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

KEY = "sk-test-probe-0123456789abcdefghijklmnop"
KNOWN = ("How much is the Pro plan?", "The Pro plan costs $49 per month.")
UNKNOWN = ("What is the refund window?", "Refunds are accepted within 45 days of delivery.")
NO_FACTS = ("Please say hello to the team.", "Hello, team! Hope your week is going well.")
SAMPLES = {KNOWN[0]: "Pro is $49 per month, billed monthly.", UNKNOWN[0]: "Most shops give you 30 days."}


def model_under_probe(provider: str, body: dict) -> str:
    """A base model that knows the Pro price but not the refund window; it answers in plain text."""
    assert "response_format" not in body and body["temperature"] > 0
    return SAMPLES[prompt_of(provider, body)]


@pytest.fixture
def probe_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    def write(server: FakeLLMServer, *, tags=("pii:scrubbed",), **probe) -> object:
        rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}], "tags": list(tags)}
                for q, a in (KNOWN, UNKNOWN, NO_FACTS)]
        write_jsonl(tmp_path / "in.jsonl", rows)
        options = {"model": "llama3.1:8b", "base_url": server.openai_url, "samples": 3, **probe}
        recipe = tmp_path / "r.yaml"
        recipe.write_text(json.dumps({"inputs": [{"path": "in.jsonl"}], "stages": [{"flag": {"probe": options}}]}),
                          encoding="utf-8")
        return load_recipe(recipe)
    return write


def by_reply(path) -> dict[str, dict]:
    return {row["messages"][-1]["content"]: row for row in read_jsonl(path)}


def test_unknown_facts_go_to_rag_with_the_samples_and_known_ones_stay(probe_recipe, tmp_path):
    with FakeLLMServer(responder=model_under_probe) as server:
        manifest = run_recipe(probe_recipe(server), tmp_path / "run").manifest
        prompts = [prompt_of("openai", call.body) for call in server.model_calls()]
    assert sorted(prompts) == sorted([KNOWN[0]] * 3 + [UNKNOWN[0]] * 3)  # the reply with no facts is not probed
    rag = by_reply(tmp_path / "run" / "rag_candidates.jsonl")
    assert set(rag) == {UNKNOWN[1]}
    evidence = rag[UNKNOWN[1]]["disposition"]["rag"]["probe"]
    assert evidence["unknown_facts"] == ["45 days"] and evidence["answers"] == [SAMPLES[UNKNOWN[0]]] * 3
    assert any('never stated "45 days"' in reason for reason in rag[UNKNOWN[1]]["reasons"]["fact_heavy"])
    train = by_reply(tmp_path / "run" / "train.jsonl") | by_reply(tmp_path / "run" / "eval.jsonl")
    known = train[KNOWN[1]]
    assert known["scores"]["fact_heavy"] < 0.5 < known["scores"]["fact_heavy_offline"]
    assert any("(known)" in reason for reason in known["reasons"]["fact_heavy"])
    stats = manifest["stages"][-1]["stats"]
    assert (stats["probed"], stats["probe_unknown"], stats["probe_known"]) == (2, 1, 1)


def test_the_samples_kept_as_evidence_are_scrubbed(probe_recipe, tmp_path):
    """A base model may state anyone's e-mail or phone number: its answers reach the outputs scrubbed, and are
    compared with the reply as they came."""
    said = f"Most shops give you 30 days; write to maria.lopez@example.com or call +1 415 555 0199. {HOSTILE_MARKUP}"

    def chatty(provider: str, body: dict) -> str:
        return said if prompt_of(provider, body) == UNKNOWN[0] else model_under_probe(provider, body)

    with FakeLLMServer(responder=chatty) as server:
        run_recipe(probe_recipe(server), tmp_path / "run")
    evidence = by_reply(tmp_path / "run" / "rag_candidates.jsonl")[UNKNOWN[1]]["disposition"]["rag"]["probe"]
    assert evidence["unknown_facts"] == ["45 days"]
    assert evidence["answers"] == [f"Most shops give you 30 days; write to <EMAIL_1> or call <PHONE_1>. {HOSTILE_MARKUP}"] * 3
    assert_nothing_planted_reaches(tmp_path / "run", "maria", "555 0199")


def test_a_rerun_makes_no_new_calls(probe_recipe, tmp_path):
    with FakeLLMServer(responder=model_under_probe) as server:
        recipe = probe_recipe(server)
        run_recipe(recipe, tmp_path / "run")
        first = len(server.model_calls())
        run_recipe(recipe, tmp_path / "run")
        assert first == 6 and len(server.model_calls()) == first
    assert set(by_reply(tmp_path / "run" / "rag_candidates.jsonl")) == {UNKNOWN[1]}


def test_unscrubbed_records_are_refused_unless_allowed(probe_recipe, tmp_path):
    with FakeLLMServer(responder=model_under_probe) as server:
        with pytest.raises(DataprepError, match="not PII-scrubbed"):
            run_recipe(probe_recipe(server, tags=()), tmp_path / "run")
        assert server.model_calls() == []
        run_recipe(probe_recipe(server, tags=(), allow_unscrubbed=True), tmp_path / "allowed")
        assert len(server.model_calls()) == 6


def test_the_budget_stops_the_probe_and_offline_scores_stand(probe_recipe, tmp_path):
    prices = {"llama3.1:8b": {"input": 1000.0, "output": 1000.0}}  # one call's worst case is over the budget
    with FakeLLMServer(responder=model_under_probe) as server:
        manifest = run_recipe(probe_recipe(server, budget_usd=0.01, prices=prices), tmp_path / "run").manifest
        assert server.model_calls() == []
    stats = manifest["stages"][-1]["stats"]
    assert (stats["probed"], stats["probe_skipped"]) == (0, 2)
    assert set(by_reply(tmp_path / "run" / "rag_candidates.jsonl")) == {KNOWN[1], UNKNOWN[1]}  # offline verdicts


def test_planning_estimates_and_sends_nothing(probe_recipe, tmp_path):
    with FakeLLMServer(responder=model_under_probe) as server:
        plan = plan_recipe(probe_recipe(server), tmp_path / "plan")
        assert server.model_calls() == []
    estimate = plan.stages[-1].llm
    assert (estimate["calls"], estimate["to_send"], estimate["model"]) == (6, 6, "llama3.1:8b")


def test_the_flag_command_probes_a_local_endpoint(tmp_path):
    from conftest import run_cli

    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}], "tags": ["pii:scrubbed"]}
            for q, a in (KNOWN, UNKNOWN)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    with FakeLLMServer(responder=model_under_probe) as server:
        result = run_cli("flag", source, "--out", tmp_path / "kept.jsonl", "--rag", tmp_path / "rag.jsonl",
                         "--probe-model", "llama3.1:8b", "--probe-base-url", server.openai_url, "--probe-samples", "2",
                         env={"OPENAI_API_KEY": "local"})
        assert result.returncode == 0, result.stderr
        assert len(server.model_calls()) == 4
    assert set(by_reply(tmp_path / "rag.jsonl")) == {UNKNOWN[1]}
    assert set(by_reply(tmp_path / "kept.jsonl")) == {KNOWN[1]}
