"""`dataprep run RECIPE --plan` previews a whole run without writing or sending anything, and a
recipe's budget_usd holds across all of its LLM stages."""

from __future__ import annotations

import json
import re

import yaml

from conftest import REPO, SAMPLE_DATA, chat, run_cli, write_jsonl
from fake_llm_server import FakeLLMServer


def test_plan_previews_the_quickstart_and_writes_nothing(tmp_path):
    run_dir = tmp_path / "run"
    result = run_cli("run", REPO / "recipes" / "quickstart.yaml", "--plan", "--sample", "600", "--out", run_dir,
                     env={"COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    lines = sum(len(path.read_bytes().splitlines()) for path in (SAMPLE_DATA / "logs").glob("*.jsonl"))
    rows = len((SAMPLE_DATA / "tickets.csv").read_bytes().splitlines())  # a header and its rows
    assert f"({lines + rows:,} lines), estimated from the first 600" in result.stderr
    for what in ("synth", "review (reviewer-hours)", "LLM cost (estimated)", "wall time"):
        assert what in result.stderr
    synth_row = next(line for line in result.stderr.splitlines() if line.strip("│ ").startswith("synth"))
    to_send, planned = map(int, re.search(r"(\d+) of (\d+)", synth_row).groups())
    assert planned >= 1 and to_send <= planned and "$" in synth_row
    assert not run_dir.exists()


def test_the_run_budget_stops_every_llm_stage_together(tmp_path, monkeypatch):
    write_jsonl(tmp_path / "logs.jsonl", [chat(f"How do I export report {i} as CSV?", f"Open Reports, pick {i}, "
                                               "then Export.", metadata={"intent": f"intent{i % 3}"}) for i in range(12)])
    with FakeLLMServer() as server:
        recipe = tmp_path / "recipe.yaml"
        # $100 per million tokens: each call costs cents, so a one-dollar run budget stops after a few
        synth = {"provider": "openai", "model": "gpt-4.1-mini", "n": 40, "examples_per_call": 2, "max_tokens": 500,
                 "base_url": server.openai_url, "concurrency": 1,
                 "prices": {"gpt-4.1-mini": {"input": 100, "output": 100}}}
        recipe.write_text(yaml.safe_dump({
            "budget_usd": 1.0, "inputs": [{"path": "logs.jsonl"}],
            "stages": [{"mine": {}}, {"synth": synth}, {"synth": {**synth, "n": 10}}]}), encoding="utf-8")
        plan = run_cli("run", recipe, "--plan", "--out", tmp_path / "run", env={"COLUMNS": "250"})
        assert plan.returncode == 0, plan.stderr
        assert "over the run's budget" in plan.stderr and not server.model_calls()
        result = run_cli("run", recipe, "--out", tmp_path / "run", env={"OPENAI_API_KEY": "sk-test-loopback"})
        assert result.returncode == 0, result.stderr
        sent = len(server.model_calls())
    stages = json.loads((tmp_path / "run" / "manifest.json").read_text())["stages"]
    first, second = [stage["stats"] for stage in stages if stage["stage"] == "synth"]
    assert first["budget_stopped"] and second["budget_stopped"]
    assert first["calls_sent"] + second["calls_sent"] == sent < 25  # 20 + 5 calls planned
    assert 0 < first["cost_usd"] + second["cost_usd"] <= 1.0


def test_a_plan_that_reads_the_whole_input_gives_the_run_s_own_figures(tmp_path):
    write_jsonl(tmp_path / "logs.jsonl", [chat(f"How do I export report {i} as CSV?", "Open Reports, then Export.")
                                          for i in range(30)] + ["{broken"] + [chat("same question", "same answer")] * 5)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"inputs": [{"path": "logs.jsonl"}],
                                      "stages": [{"mine": {}}, {"dedup": {}}, {"split": {"eval_size": 4}}]}),
                      encoding="utf-8")
    plan = run_cli("run", recipe, "--plan", "--out", tmp_path / "run", env={"COLUMNS": "250"})
    assert plan.returncode == 0, plan.stderr
    assert "all 36 input records read" in plan.stderr
    assert run_cli("run", recipe, "--out", tmp_path / "run").returncode == 0
    stages = json.loads((tmp_path / "run" / "manifest.json").read_text())["stages"]
    rows = {line.strip("│ ").split()[0]: line for line in plan.stderr.splitlines() if line.startswith("│")}
    for stage in stages:  # each stage's in and out, as the real run counted them
        cells = [cell.strip() for cell in rows[stage["stage"]].strip("│").split("│")]
        assert cells[1:3] == [f"{stage['in']:,}", f"{stage['out']:,}"], (stage, cells)
