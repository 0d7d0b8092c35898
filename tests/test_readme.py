"""The README's commands, run in the order the README gives them, as a new user would: the demo,
every stage alone, then a review round trip against a real Label Studio and an export."""

from __future__ import annotations

import re
import shlex
import shutil

import pytest

from conftest import REPO, read_jsonl, run_cli
from labelstudio_server import LabelStudioServer, labelstudio  # noqa: F401

pytestmark = [pytest.mark.labelstudio, pytest.mark.timeout(1800)]

LONG_RUNNING = ("review serve",)  # starts a server and waits: not a step of the journey


def readme_commands() -> list[str]:
    """Indented code lines that are shell commands a user types: `make demo`, `export`, `dataprep`."""
    lines = [line[4:].split("   #")[0].strip() for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines()
             if line.startswith("    ") and not line.startswith("     ")]
    return [line for line in lines if line == "make demo" or line.startswith(("dataprep ", "export "))]


def demo_command() -> list[str]:
    """What `make demo` runs, read from the Makefile (the venv's dataprep is the one on PATH here)."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^demo:.*\n\t(.+)$", makefile, re.M).group(1)
    return shlex.split(recipe.replace("$(VENV)/bin/dataprep", "dataprep"))[1:]


def test_the_readme_commands_run_in_order(tmp_path, labelstudio):  # noqa: F811
    for folder in ("sample_data", "recipes"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    commands = readme_commands()
    assert commands[0] == "make demo" and any("review pull" in c for c in commands), commands
    env = {"DATAPREP_CACHE_DIR": str(tmp_path / "llm-cache")}
    ran, said = [], {}
    for command in commands:
        if command.startswith("export "):  # the user's Label Studio: the test's real server
            env.update(LABEL_STUDIO_URL=labelstudio.url, LABEL_STUDIO_API_KEY=labelstudio.token)
            continue
        if any(skip in command for skip in LONG_RUNNING):
            continue
        args = demo_command() if command == "make demo" else shlex.split(command)[1:]
        if args[:2] == ["review", "pull"]:
            reject_one_task(labelstudio)  # a reviewer's work between push and pull
        result = run_cli(*args, cwd=tmp_path, env=env, timeout=900)
        assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
        assert "Traceback" not in result.stderr
        assert "next: " in result.stderr or "--json" in args, command  # every command says what to do next
        said[args[0] if args[0] != "review" else f"review {args[1]}"] = result.stderr
        ran.append(command)
    assert len(ran) >= 15
    assert "next: dataprep review status" in said["review push"]
    assert "next: dataprep run recipes/quickstart.yaml --out runs/quickstart --resume" in said["review pull"].replace(
        str(tmp_path / "recipes"), "recipes")
    run = tmp_path / "runs" / "quickstart"
    rejected_by_reviewer = [r for r in read_jsonl(run / "rejected.jsonl") if r["disposition"]["stage"] == "review"]
    assert len(rejected_by_reviewer) == 1  # the pulled verdict reached the run
    assert read_jsonl(run / "reviewed.openai.jsonl")


def reject_one_task(server: LabelStudioServer) -> None:
    client = server.client()
    [project] = [p for p in client.projects.list() if p.title == "dataprep review"]
    task = next(iter(client.tasks.list(project=project.id, fields="task_only", page_size=10)))
    me = client.users.whoami().id
    client.annotations.create(id=task.id, completed_by=me, result=[
        {"from_name": "verdict", "to_name": "reply", "type": "choices", "value": {"choices": ["Reject"]}}])
