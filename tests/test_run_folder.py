"""The run folder: dataprep deletes only what it wrote, refuses folders that are not its own,
and two runs never share one --out."""

from __future__ import annotations

from conftest import one_line_error, chat, run_cli, write_jsonl
from dataprep.run_folder import RunFolder


def small_recipe(tmp_path, stages: str = "  - mine: {}\n"):
    write_jsonl(tmp_path / "logs" / "chat.jsonl", [chat(f"question {i}", f"answer {i}") for i in range(6)])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"inputs:\n  - path: logs\nstages:\n{stages}export:\n  formats: [openai]\n", encoding="utf-8")
    return recipe


def test_a_folder_that_merely_holds_a_manifest_is_refused_and_left_untouched(tmp_path):
    recipe = small_recipe(tmp_path)
    theirs = tmp_path / "theirs"
    files = [theirs / "manifest.json", theirs / "exports" / "train.openai.jsonl", theirs / "deep" / ".notes.abcd1234.tmp",
             theirs / "train.jsonl"]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("someone else's work", encoding="utf-8")
    message = one_line_error(run_cli("run", recipe, "--out", theirs))
    assert "not a dataprep run folder" in message
    assert all(path.read_text(encoding="utf-8") == "someone else's work" for path in files)


def test_a_rerun_removes_only_what_dataprep_wrote(tmp_path):
    recipe = small_recipe(tmp_path)
    run = tmp_path / "run"
    assert run_cli("run", recipe, "--out", run).returncode == 0
    assert (run / ".dataprep-run").is_file() and (run / "exports" / "train.openai.jsonl").is_file()
    mine = [run / "notes.txt", run / "exports" / "my-notes.md", run / ".draft.tmp", run / "review" / "verdicts.jsonl",
            run / "nested" / ".x.abcdefgh.tmp"]
    for path in mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("keep me", encoding="utf-8")
    stale = run / "exports" / ".hf.k3j4h5g6.tmp"  # a half-built dataset a killed run left
    stale.mkdir()
    assert run_cli("run", recipe, "--out", run).returncode == 0
    assert all(path.read_text(encoding="utf-8") == "keep me" for path in mine)
    assert not stale.exists()
    assert (run / "exports" / "train.openai.jsonl").is_file()


def test_an_empty_existing_folder_becomes_a_run_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    assert run_cli("run", small_recipe(tmp_path), "--out", tmp_path / "empty").returncode == 0
    assert (tmp_path / "empty" / "train.jsonl").is_file()


def test_two_runs_on_one_out_folder_the_second_gets_a_clear_error(tmp_path):
    recipe = small_recipe(tmp_path)
    run = tmp_path / "run"
    with RunFolder(run):  # as a run in progress holds it
        message = one_line_error(run_cli("run", recipe, "--out", run))
    assert "in use by another dataprep run" in message
    assert run_cli("run", recipe, "--out", run).returncode == 0  # the lock goes with the run that held it


def test_out_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "results.txt"
    target.write_text("mine", encoding="utf-8")
    assert "is a file" in one_line_error(run_cli("run", small_recipe(tmp_path), "--out", target))
    assert target.read_text(encoding="utf-8") == "mine"
