"""The flag stage's optional LLM judge: only uncertain records are sent, through the real SDK,
cached, and its verdict decides them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import HOSTILE_MARKUP, REPO, assert_nothing_planted_reaches, chat, read_jsonl, write_jsonl
from fake_llm_server import FakeLLMServer, prompt_of
from dataprep.errors import DataprepError
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

KEY = "sk-test-judge-0123456789abcdefghijklmnop"
REPLIES = {  # reply -> the offline scorer's view, in the band bands() sets
    "It takes 3 days.": "clearly fact-heavy",
    "Sure, what do you need?": "clearly behaviour",
    "Happy to help! What do you need?": "clearly behaviour",
    "Pat will call.": "uncertain",
    "$49.99?": "uncertain",
}


def conversation(reply: str) -> dict:
    return {"messages": [{"role": "user", "content": "Can you help?"}, {"role": "assistant", "content": reply}],
            "tags": ["pii:scrubbed"]}


def bands() -> dict:
    """A threshold and an uncertain margin that put REPLIES where their names say, from the scorer's own
    scores (the two uncertain ones just above the threshold): the tests stay about the judge when the
    learned model is retrained and a score moves."""
    from dataprep.fact_model import weighed_assessment

    score = {reply: weighed_assessment(conversation(reply)["messages"]).score for reply in REPLIES}
    uncertain = [score[reply] for reply, view in REPLIES.items() if view == "uncertain"]
    threshold = min(uncertain) - 0.005
    margin = max(uncertain) - threshold + 0.005
    assert all(score[reply] >= threshold + margin for reply, view in REPLIES.items() if view == "clearly fact-heavy")
    assert all(score[reply] < threshold - margin for reply, view in REPLIES.items() if view == "clearly behaviour")
    return {"threshold": round(threshold, 3), "uncertain_margin": round(margin, 3) + 0.001}


def judge_says_prices_only(provider: str, body: dict) -> dict:
    """A judge that calls a reply fact-heavy when it quotes a price."""
    reply = prompt_of(provider, body).split("FINAL ASSISTANT REPLY:")[-1]
    heavy = "$" in reply
    return {"fact_heavy": heavy, "unsupported_facts": ["$49.99"] if heavy else [],
            "reason": "quotes a price" if heavy else "routing, no recalled fact"}


@pytest.fixture
def judged_run(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    write_jsonl(tmp_path / "in.jsonl", [conversation(reply) for reply in REPLIES])

    def run(server: FakeLLMServer, name: str):
        recipe = tmp_path / "r.yaml"
        recipe.write_text(json.dumps({"inputs": [{"path": "in.jsonl"}], "stages": [{"flag": {**bands(), "judge": {
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
    assert all("Pat will call" in body or "49.99" in body for body in sent)
    assert replies(tmp_path / "run" / "rag_candidates.jsonl") == {"It takes 3 days.", "$49.99?"}
    kept = {row["messages"][-1]["content"]: row for row in read_jsonl(tmp_path / "run" / "train.jsonl")}
    pat = kept["Pat will call."]
    assert pat["scores"]["fact_heavy"] == 0.1 and pat["scores"]["fact_heavy_offline"] > bands()["threshold"]
    assert "judge: routing, no recalled fact" in pat["reasons"]["fact_heavy"]
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
                                                      {"role": "assistant", "content": "Pat will call."}]}])
    with FakeLLMServer(responder=judge_says_prices_only) as server:
        recipe = tmp_path / "r.yaml"  # every reply judged: this one would be sent, whatever its score
        recipe.write_text(json.dumps({"inputs": [{"path": "in.jsonl"}], "stages": [{"flag": {"judge_scope": "all", "judge": {
            "model": "gpt-4.1-mini", "base_url": server.openai_url}}}]}), encoding="utf-8")
        with pytest.raises(DataprepError, match="not PII-scrubbed"):
            run_recipe(load_recipe(recipe), tmp_path / "run")
        assert server.model_calls() == []



def judge_recipe(tmp_path, server: FakeLLMServer, flag: dict | None = None, **recipe) -> object:
    write_jsonl(tmp_path / "in.jsonl", [conversation(reply) for reply in REPLIES])
    path = tmp_path / "r.yaml"
    path.write_text(json.dumps({**recipe, "inputs": [{"path": "in.jsonl"}], "stages": [{"flag": {**bands(), **(flag or {}), "judge": {
        "model": "gpt-4.1-mini", "base_url": server.openai_url}}}]}), encoding="utf-8")
    return load_recipe(path)


def test_planning_estimates_the_judge_and_sends_nothing(tmp_path, monkeypatch):
    from dataprep.plan import plan_recipe

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeLLMServer(responder=judge_says_prices_only) as server:
        plan = plan_recipe(judge_recipe(tmp_path, server), tmp_path / "plan")
        assert server.model_calls() == []
    assert (plan.stages[-1].llm["calls"], plan.stages[-1].llm["model"]) == (2, "gpt-4.1-mini")
    with FakeLLMServer(responder=judge_says_prices_only) as server:
        plan = plan_recipe(judge_recipe(tmp_path, server, {"judge_scope": "kept"}), tmp_path / "plan-kept")
        assert server.model_calls() == []
    assert plan.stages[-1].llm["calls"] == 4  # every reply but the clearly fact-heavy one


def test_the_run_wide_budget_stops_the_judge(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeLLMServer(responder=judge_says_prices_only) as server:
        manifest = run_recipe(judge_recipe(tmp_path, server, budget_usd=0.0001), tmp_path / "run").manifest
        assert server.model_calls() == []
    assert manifest["stages"][-1]["stats"]["judge_skipped"] == 2


# a fact with no digit and no name, which the offline scorer does not see, and a reply that only responds
INTERACTION = ("Can I drink grapefruit juice with my statin?", "Probably best not to, grapefruit and statins share an enzyme.")
ROUTING = ("Can I drink grapefruit juice with my statin?", "I'll pass this to our pharmacist, who will reply by email.")


def judge_knows_pharmacology(provider: str, body: dict) -> dict:
    reply = prompt_of(provider, body).split("FINAL ASSISTANT REPLY:")[-1]
    heavy = "enzyme" in reply
    return {"fact_heavy": heavy, "unsupported_facts": ["grapefruit and statins share an enzyme"] if heavy else [],
            "reason": "a drug interaction from memory" if heavy else "routes the question"}


def write_pharmacy_chats(tmp_path):
    return write_jsonl(tmp_path / "in.jsonl", [chat(q, a, tags=["pii:scrubbed"]) for q, a in (INTERACTION, ROUTING)])


def pharmacy_margin() -> float:
    """An uncertain margin that leaves both pharmacy replies outside it, from the scorer's own scores (both
    below the threshold), so the test stays about the scope when the learned model is retrained."""
    from dataprep.fact_model import weighed_assessment

    scores = [weighed_assessment(chat(*pair)["messages"]).score for pair in (INTERACTION, ROUTING)]
    assert max(scores) < 0.5
    return round(0.5 - max(scores) - 0.005, 3)


def scoped_run(tmp_path, server: FakeLLMServer, scope: str | None, name: str) -> dict:
    write_pharmacy_chats(tmp_path)
    flag = {"judge": {"model": "gpt-4.1-mini", "base_url": server.openai_url}, "uncertain_margin": pharmacy_margin(),
            **({"judge_scope": scope} if scope else {})}
    recipe = tmp_path / f"{name}.yaml"
    recipe.write_text(json.dumps({"inputs": [{"path": "in.jsonl"}], "stages": [{"flag": flag}]}), encoding="utf-8")
    return run_recipe(load_recipe(recipe), tmp_path / name).manifest


def test_judging_every_kept_reply_catches_a_fact_the_offline_scorer_cannot_see(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeLLMServer(responder=judge_knows_pharmacology) as server:
        scoped_run(tmp_path, server, None, "uncertain")
        assert server.model_calls() == []  # both scored far from the threshold: nothing is uncertain
        assert replies(tmp_path / "uncertain" / "train.jsonl") == {INTERACTION[1], ROUTING[1]}

        manifest = scoped_run(tmp_path, server, "kept", "kept")
        assert len(server.model_calls()) == 2
    assert replies(tmp_path / "kept" / "rag_candidates.jsonl") == {INTERACTION[1]}
    assert replies(tmp_path / "kept" / "train.jsonl") == {ROUTING[1]}
    routed = read_jsonl(tmp_path / "kept" / "rag_candidates.jsonl")[0]
    assert routed["scores"]["fact_heavy_offline"] < 0.5 and routed["scores"]["fact_heavy"] == 0.9
    assert "judge found: grapefruit and statins share an enzyme" in routed["reasons"]["fact_heavy"]
    assert (manifest["stages"][-1]["stats"]["judged"], manifest["stages"][-1]["stats"]["judge_overturned"]) == (2, 1)


def test_judge_scopes_choose_which_replies_are_asked_about(tmp_path, monkeypatch):
    """kept: all but the clearly fact-heavy reply, which goes to RAG anyway; all: every reply."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    sent = {}
    for scope in ("kept", "all"):
        with FakeLLMServer(responder=judge_says_prices_only) as server:
            run_recipe(judge_recipe(tmp_path, server, {"judge_scope": scope}), tmp_path / scope)
            sent[scope] = {reply for reply in REPLIES if any(reply in json.dumps(call.body) for call in server.model_calls())}
    assert sent["kept"] == set(REPLIES) - {"It takes 3 days."}
    assert sent["all"] == set(REPLIES)
    assert replies(tmp_path / "all" / "rag_candidates.jsonl") == {"$49.99?"}


def test_the_flag_command_asks_a_judge_about_every_kept_reply(tmp_path):
    from conftest import run_cli

    source = write_pharmacy_chats(tmp_path)
    with FakeLLMServer(responder=judge_knows_pharmacology) as server:
        result = run_cli("flag", source, "--out", tmp_path / "kept.jsonl", "--rag", tmp_path / "rag.jsonl",
                         "--judge-model", "gpt-4.1-mini", "--judge-base-url", server.openai_url, "--judge-scope", "kept",
                         env={"OPENAI_API_KEY": KEY})
        assert result.returncode == 0, result.stderr
        assert len(server.model_calls()) == 2
    assert replies(tmp_path / "rag.jsonl") == {INTERACTION[1]}
    assert replies(tmp_path / "kept.jsonl") == {ROUTING[1]}
    assert KEY not in result.stdout + result.stderr


def test_what_the_judge_writes_is_scrubbed_and_escaped_wherever_it_lands(tmp_path, monkeypatch):
    """The judge's reason and facts are a model's words about users' text: personal data and markup in them are
    treated like the logs' own in every output (the answer cache under cache/ keeps the answer as it came)."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    hostile = f"maria.lopez@example.com said {HOSTILE_MARKUP}"

    def quoting(provider: str, body: dict) -> dict:
        return {**judge_knows_pharmacology(provider, body), "reason": hostile, "unsupported_facts": [hostile]}

    with FakeLLMServer(responder=quoting) as server:
        scoped_run(tmp_path, server, "kept", "run")
    routed = read_jsonl(tmp_path / "run" / "rag_candidates.jsonl")[0]
    assert any(reason.startswith("judge: <EMAIL_1> said") for reason in routed["reasons"]["fact_heavy"])
    assert_nothing_planted_reaches(tmp_path / "run", "maria")


def test_a_judge_scope_without_a_judge_is_a_clear_error(tmp_path):
    from conftest import run_cli

    source = write_pharmacy_chats(tmp_path)
    result = run_cli("flag", source, "--out", tmp_path / "kept.jsonl", "--rag", tmp_path / "rag.jsonl", "--judge-scope", "all")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "flag.judge_scope all names replies for a judge, but there is none" in " ".join(result.stderr.split())
    assert not (tmp_path / "kept.jsonl").exists()


def test_bench_flag_measures_the_judge_on_a_labeled_set_and_a_rerun_sends_nothing(tmp_path):
    """``bench_flag.py --judge-model`` is how a team with a key measures the judge on the never-tuned sets: its
    figures are those of the judge's verdicts, and its answers are cached."""
    from dataprep.fact_model import weighed_assessment

    labeled = [("What does my plan cost?", "The Plus plan costs $12 a month.", "fact_heavy", True),
               ("Can I take ibuprofen with warfarin?", "No: together they raise the risk of bleeding.", "fact_heavy", True),
               ("When does the sale end?", "The spring sale ends on Sunday at midnight.", "fact_heavy", False),
               ("I paid $20 twice, what is the total?", "You paid $40 in total.", "behaviour", True),
               ("Make this polite: send it now", "Could you please send it now?", "behaviour", False),
               ("Classify: my parcel is late", "Category: delivery.", "behaviour", False)]
    rows = [{**chat(question, reply), "label": label, "hard": hard, "domain": "support"}
            for question, reply, label, hard in labeled]
    write_jsonl(tmp_path / "set.jsonl", rows)

    def f1(predicted: list[bool], subset: list[int]) -> str:
        hits = sum(predicted[i] and rows[i]["label"] == "fact_heavy" for i in subset)
        wanted = sum(rows[i]["label"] == "fact_heavy" for i in subset)
        return f"{2 * hits / (sum(predicted[i] for i in subset) + wanted):.3f}"

    def bench(server: FakeLLMServer) -> list[str]:
        done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_flag.py"), "--judge-model", "gpt-4.1-mini",
                               "--judge-base-url", server.openai_url, "--judge-scope", "all", "--sets",
                               str(tmp_path / "set.jsonl"), "--cache", str(tmp_path / "cache")],
                              env={**os.environ, "OPENAI_API_KEY": KEY, "COLUMNS": "250"}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert KEY not in done.stdout + done.stderr
        return next(line for line in done.stdout.splitlines() if line.startswith("│ set "))

    with FakeLLMServer(responder=judge_says_prices_only) as server:
        first = bench(server)
        assert len(server.model_calls()) == len(rows)
        again = bench(server)
        assert len(server.model_calls()) == len(rows)
    cells = [cell.strip() for cell in first.strip("│ ").split("│")]
    everyone, hard = range(len(rows)), [i for i, row in enumerate(rows) if row["hard"]]
    offline = [weighed_assessment(row["messages"]).score >= 0.5 for row in rows]
    judged = ["$" in row["messages"][-1]["content"] for row in rows]
    assert cells[1:6] == [str(len(rows)), f1(offline, everyone), f1(offline, hard), f1(judged, everyone), f1(judged, hard)]
    assert cells[6] == str(len(rows)) and cells[8:10] == [str(len(rows)), "0"]
    assert [cell.strip() for cell in again.strip("│ ").split("│")][8:10] == ["0", str(len(rows))]
