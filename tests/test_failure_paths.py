"""Failure paths a user meets: hostile text in what is printed, keys in errors, bad settings,
a full disk and a run where nothing survives. Each ends in one clear line, never a traceback,
never a key on the screen, never lost or half-written outputs."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys

import pytest

from conftest import one_line_error, REPO, chat, read_jsonl, run_cli, write_jsonl
from fake_llm_server import Fail, FakeLLMServer

KEY = "sk-proj-NEVER-PRINT-ME-4f9a8b7c6d5e4f3a"


def fragments(secret: str, size: int = 8) -> set[str]:
    return {secret[i:i + size] for i in range(len(secret) - size + 1)}


def mined_records(tmp_path):
    """A small scrubbed record file, as `dataprep mine` writes it."""
    write_jsonl(tmp_path / "logs.jsonl", [chat(f"How do I reset password number {i}?", f"Open settings, step {i}.")
                                          for i in range(4)])
    assert run_cli("mine", tmp_path / "logs.jsonl", "--out", tmp_path / "mined.jsonl").returncode == 0
    return tmp_path / "mined.jsonl"


def test_markup_and_control_sequences_from_data_are_printed_as_text(tmp_path):
    hostile = "[/] [bold red]boom[/] \x1b]0;pwned\x07\x1b[2J"
    write_jsonl(tmp_path / "logs" / "chat.jsonl", [
        {**chat(f"question {hostile} {i}", f"answer {i}"), hostile: hostile, "metadata": {"intent": hostile}}
        for i in range(5)] + ["{broken json " + hostile])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"name": hostile, "inputs": [{"path": "logs"}],
                                  "stages": [{"mine": {}}, {"split": {"eval_size": 1}}]}), encoding="utf-8")
    result = run_cli("run", recipe, "--out", tmp_path / "run", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    printed = result.stdout + result.stderr
    assert "\x1b" not in printed and "\x07" not in printed
    assert "[/]" in printed and "\\x1b" in printed  # shown, not obeyed


def test_a_key_a_server_echoes_back_is_never_printed(tmp_path):
    mined = mined_records(tmp_path)
    with FakeLLMServer() as server:
        server.always = Fail(400, echo_key=True)  # "invalid request for key sk-…", as some servers answer
        env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.openai_url, "DATAPREP_CACHE_DIR": str(tmp_path / "c")}
        result = run_cli("synth", mined, "--out", tmp_path / "out.jsonl", "--provider", "openai",
                         "--model", "gpt-4.1-mini", "--n", "2", env=env)
        assert server.model_calls(), "the request reached the server, which quoted the key back"
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert not [part for part in fragments(KEY) if part in result.stdout + result.stderr]


@pytest.mark.parametrize("setting, value, named", [
    ("LABEL_STUDIO_URL", "http://exa mple:80:90/x", "LABEL_STUDIO_URL"),
    ("LABEL_STUDIO_API_KEY", "kéy-ünïcode-0123456789", "LABEL_STUDIO_API_KEY"),
    ("LABEL_STUDIO_API_KEY", "0123456789abcdef\n0123456789abcdef", "LABEL_STUDIO_API_KEY"),
])
def test_a_malformed_setting_is_one_line_naming_it_never_its_value(tmp_path, setting, value, named):
    env = {"LABEL_STUDIO_URL": "http://127.0.0.1:9", "LABEL_STUDIO_API_KEY": "0123456789abcdef0123", setting: value}
    message = one_line_error(run_cli("review", "push", mined_records(tmp_path), env=env))
    assert named in message
    if "KEY" in setting:
        assert not [part for part in fragments(value.replace("\n", "")) if part in message]


def test_a_non_ascii_provider_key_is_a_clear_error(tmp_path):
    env = {"OPENAI_API_KEY": "sk-clé-0123456789", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
           "DATAPREP_CACHE_DIR": str(tmp_path / "c")}
    message = one_line_error(run_cli("synth", mined_records(tmp_path), "--out", tmp_path / "o.jsonl", "--provider",
                                     "openai", "--model", "gpt-4.1-mini", "--n", "1", env=env))
    assert "OPENAI_API_KEY" in message and "clé" not in message


def test_a_full_disk_names_the_file_and_leaves_no_half_written_output(tmp_path):
    def small_file_limit():  # what a full disk does to a write, without filling a real disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    run = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "dataprep", "run", REPO / "recipes" / "quickstart.yaml", "--out", run],
                            preexec_fn=small_file_limit, capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "DATAPREP_CACHE_DIR": str(tmp_path / "cache")})
    message = one_line_error(result)
    assert "cannot write" in message and str(run) in message
    assert not [p for p in run.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".tmp", ".html")]


def test_a_run_where_every_record_is_filtered_out_passes_every_stage_and_export(tmp_path):
    write_jsonl(tmp_path / "logs" / "chat.jsonl", [{**chat(f"q{i}", f"a{i}"), "feedback": {"thumbs": "down"}}
                                                   for i in range(3)])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({
        "inputs": [{"path": "logs"}],
        "stages": [{"mine": {"feedback": "not_negative"}}, {"dedup": {}}, {"flag": {}},
                   {"synth": {"provider": "openai", "model": "gpt-4.1-mini", "n": 4, "replay": "nothing-here"}},
                   {"split": {}}, {"review": {}}],
        "export": {"formats": ["openai", "openai-dpo", "hf", "trl", "sharegpt", "alpaca", "bedrock"]}}), encoding="utf-8")
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    counts = json.loads((tmp_path / "run" / "manifest.json").read_text())["counts"]
    assert counts["input"] == 3 and counts["rejected"] == 3 and counts["train"] == counts["eval"] == 0
    assert len(read_jsonl(tmp_path / "run" / "rejected.jsonl")) == 3
