"""The CLI contract: clear one-line errors with exit 2, never a traceback; --help that teaches."""

from __future__ import annotations

import pytest

from conftest import one_line_error, chat, run_cli, write_jsonl

COMMANDS = ["run", "mine", "dedup", "flag", "synth", "split", "export", "validate", "report",
            "review push", "review pull", "review status"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself_with_an_example(command):
    result = run_cli(*command.split(), "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout and "Example" in result.stdout


def test_a_missing_recipe_is_a_one_line_error(tmp_path):
    assert "nope.yaml" in one_line_error(run_cli("run", tmp_path / "nope.yaml"))


def test_a_wrong_recipe_key_names_the_key_and_what_is_allowed(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [{path: x.jsonl, fromat: auto}]\nstages: []\n", encoding="utf-8")
    message = one_line_error(run_cli("run", recipe))
    assert "inputs[0]" in message and "fromat" in message and "allowed keys: format, mapping, max_line_bytes, path" in message


def test_an_unknown_stage_lists_the_stages_there_are(tmp_path):
    write_jsonl(tmp_path / "x.jsonl", [chat("a", "b")])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [{path: x.jsonl}]\nstages: [{dedupe: {}}]\n", encoding="utf-8")
    message = one_line_error(run_cli("run", recipe))
    assert "stages[0]" in message and "unknown stage 'dedupe'" in message


def test_invalid_yaml_names_the_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs:\n  - path: x\n stages: [\n", encoding="utf-8")
    message = one_line_error(run_cli("run", recipe))
    assert "r.yaml:" in message and "not valid YAML" in message


def test_a_file_of_unknown_shape_is_named_with_its_line(tmp_path):
    write_jsonl(tmp_path / "weird.jsonl", [{"hello": "world"}])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [{path: weird.jsonl}]\nstages: []\n", encoding="utf-8")
    message = one_line_error(run_cli("run", recipe, "--out", tmp_path / "run"))
    assert "weird.jsonl:1" in message and "unknown log format" in message


def test_a_forced_unknown_format_lists_the_readers(tmp_path):
    write_jsonl(tmp_path / "x.jsonl", [chat("a", "b")])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [{path: x.jsonl, format: klingon}]\nstages: []\n", encoding="utf-8")
    message = one_line_error(run_cli("run", recipe, "--out", tmp_path / "run"))
    assert "'klingon' is not allowed" in message and "records" in message and "openai-chat" in message


def test_run_writes_the_run_folder_and_a_summary(tmp_path):
    write_jsonl(tmp_path / "x.jsonl", [chat("a", "b"), "{broken", chat("c", "d")])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [{path: x.jsonl}]\nstages: []\n", encoding="utf-8")
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert "rejected" in result.stderr and "input" in result.stderr
    for name in ("train.jsonl", "eval.jsonl", "rejected.jsonl", "duplicates.jsonl", "rag_candidates.jsonl", "manifest.json"):
        assert (tmp_path / "run" / name).exists(), name


def test_run_refuses_to_write_into_a_folder_that_is_not_a_run(tmp_path):
    write_jsonl(tmp_path / "x.jsonl", [chat("a", "b")])
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.txt").write_text("do not delete", encoding="utf-8")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [{path: x.jsonl}]\nstages: []\n", encoding="utf-8")
    assert "not a dataprep run folder" in one_line_error(run_cli("run", recipe, "--out", tmp_path / "precious"))
    assert (tmp_path / "precious" / "thesis.txt").exists()


def test_a_wrong_export_option_is_caught_before_any_stage_runs(tmp_path):
    write_jsonl(tmp_path / "x.jsonl", [chat("a", "b")])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [{path: x.jsonl}]\nstages: []\nexport: {formats: [trl], options: {trl_stlye: x}}\n",
                      encoding="utf-8")
    message = one_line_error(run_cli("run", recipe, "--out", tmp_path / "run"))
    assert "export.options" in message and "trl_stlye" in message and "trl_style" in message
    assert not (tmp_path / "run" / "train.jsonl").exists()


def test_brackets_in_user_input_are_printed_as_they_are(tmp_path):
    message = one_line_error(run_cli("mine", tmp_path / "[red]logs.jsonl", "--out", tmp_path / "m.jsonl"))
    assert "[red]logs.jsonl" in message


@pytest.mark.parametrize("args, why", [(["run", "r.yaml", "--plann"], "No such option: --plann"),
                                       (["run"], "Missing argument"),
                                       (["flag", "x.jsonl", "--out", "o", "--rag", "r", "--action", "nuke"], "nuke")])
def test_bad_usage_prints_the_usage_line_and_exits_2(args, why):
    result = run_cli(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"Usage: dataprep {args[0]}" in result.stderr and why in result.stderr


def test_help_shows_defaults_and_choices_and_no_bool_placeholders():
    flag_help = run_cli("flag", "--help", env={"COLUMNS": "200"}).stdout
    assert "<route|drop|tag>" in flag_help and "[default: (0.5)]" in flag_help
    assert "<bool>" not in flag_help + run_cli("run", "--help", env={"COLUMNS": "200"}).stdout
    assert "[default: (0.8)]" in run_cli("dedup", "--help", env={"COLUMNS": "200"}).stdout


def test_each_stage_command_ends_with_the_next_step(tmp_path):
    write_jsonl(tmp_path / "logs.jsonl", [chat(f"question {i}", f"answer {i}") for i in range(5)])
    mined = run_cli("mine", tmp_path / "logs.jsonl", "--out", tmp_path / "mined.jsonl")
    assert mined.returncode == 0
    next_line = [line for line in mined.stderr.splitlines() if line.startswith("next: ")][-1]
    follow = run_cli(*next_line.removeprefix("next: ").split()[1:])  # the suggested command runs as printed
    assert follow.returncode == 0, follow.stderr
    assert "next: dataprep flag" in follow.stderr


def test_run_tells_where_things_are_and_resume_says_what_it_reused(tmp_path):
    write_jsonl(tmp_path / "logs" / "a.jsonl", [chat(f"question {i}", f"answer {i}") for i in range(8)])
    recipe = tmp_path / "r.yaml"
    recipe.write_text("inputs: [{path: logs}]\nstages: [{mine: {}}, {split: {eval_size: 2}}, {review: {}}]\n",
                      encoding="utf-8")
    first = run_cli("run", recipe, "--out", tmp_path / "run")
    assert first.returncode == 0, first.stderr
    assert f"report: {tmp_path / 'run' / 'report.html'}" in first.stderr
    assert "wait for a person" in first.stderr and "next: dataprep review push" in first.stderr
    again = run_cli("run", recipe, "--out", tmp_path / "run", "--resume")
    # the read step ran again: a finished run keeps no copy of the logs' text to resume from
    assert "--resume: reused mine, split, review; re-ran read" in again.stderr
