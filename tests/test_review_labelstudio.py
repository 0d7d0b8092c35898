"""Human review against a real Label Studio: push, idempotent re-push, reviewers' annotations,
pull and apply through ``run --resume``, a 10,000-task push, server down, bad tokens.

The server is installed and started once per session by ``labelstudio_server``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest
from rich.console import Console

from conftest import chat, read_jsonl, run_cli, write_jsonl
from dataprep.errors import DataprepError
from dataprep.jsonl import write_json
from dataprep.recipe import load_recipe
from dataprep.record import Record
from dataprep.review import pull, push, status
from dataprep.review.server import wait_until_up
from dataprep.runner import run_recipe
from labelstudio_server import (PASSWORD, USERNAME, VENV, LabelStudioServer, free_port, labelstudio,  # noqa: F401
                                migrated_template, server_python)

# The first test also pays for installing Label Studio in its own environment (a few minutes with pip).
pytestmark = [pytest.mark.labelstudio, pytest.mark.timeout(1800)]

SCRUBBED = ["pii:scrubbed"]


@pytest.fixture
def connected(labelstudio: LabelStudioServer, monkeypatch) -> LabelStudioServer:
    monkeypatch.setenv("LABEL_STUDIO_URL", labelstudio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", labelstudio.token)
    return labelstudio


def console() -> Console:
    return Console(file=io.StringIO(), width=200)


def said(out: Console) -> str:
    return out.file.getvalue()


def scrubbed_rows(names, **extra) -> list[dict]:
    return [chat(f"question {name}", f"reply {name}", tags=list(SCRUBBED), **extra) for name in names]


def project_tasks(server: LabelStudioServer, title: str) -> dict[str, int]:
    """Our record id -> task id, read straight from the server."""
    client = server.client()
    [project] = [p for p in client.projects.list(title=title) if p.title == title]
    return {t.data["dataprep_id"]: t.id for t in client.tasks.list(project=project.id, fields="task_only", include="id,data", page_size=1000)}


def reviewer(server: LabelStudioServer, email: str) -> int:
    client = server.client()
    found = [user.id for user in client.users.list() if user.email == email]
    return found[0] if found else client.users.create(email=email, username=email.split("@")[0]).id


def result(verdict: str, reasons=(), edit=None, pii=False) -> list[dict]:
    """What a reviewer's Submit sends: the verdict, the reasons, the corrected reply, the personal-data box."""
    found = [{"from_name": "verdict", "to_name": "reply", "type": "choices", "value": {"choices": [verdict]}}]
    if pii:
        found.append({"from_name": "pii", "to_name": "reply", "type": "choices", "value": {"choices": ["Contains personal data"]}})
    if reasons:
        found.append({"from_name": "reason", "to_name": "reply", "type": "choices", "value": {"choices": list(reasons)}})
    if edit is not None:
        found.append({"from_name": "edited_reply", "to_name": "reply", "type": "textarea", "value": {"text": [edit]}})
    return found


def annotate(server: LabelStudioServer, task_id: int, user_id: int, verdict: str, *, reasons=(), edit=None,
             pii=False) -> int:
    return server.client().annotations.create(id=task_id, result=result(verdict, reasons, edit, pii),
                                              completed_by=user_id).id


def next_task(server: LabelStudioServer, project_id: int) -> dict:
    """The task as the labeling stream hands it to the reviewer's browser (data and pre-annotations)."""
    request = urllib.request.Request(f"{server.url}/api/projects/{project_id}/next",
                                     headers={"Authorization": f"Token {server.token}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


# -- push ------------------------------------------------------------------------------------------
def test_push_creates_the_project_and_a_repush_adds_only_new_records(connected, tmp_path):
    first = write_jsonl(tmp_path / "first.jsonl", scrubbed_rows("abc"))
    out = console()
    push(first, "idempotent", None, out)
    assert "pushed 3 new task(s) to 'idempotent'" in said(out) and "0 already there" in said(out)
    more = write_jsonl(tmp_path / "more.jsonl", scrubbed_rows("abcde"))
    out = console()
    push(more, "idempotent", None, out)
    assert "pushed 2 new task(s)" in said(out) and "3 already there" in said(out)
    assert sorted(project_tasks(connected, "idempotent")) == sorted(Record.from_dict(row).id for row in read_jsonl(more))
    client = connected.client()
    [project] = [p for p in client.projects.list(title="idempotent") if p.title == "idempotent"]
    assert 'name="verdict"' in client.projects.get(project.id).label_config


def test_large_push_of_10000_records(connected, tmp_path):
    queue = write_jsonl(tmp_path / "queue.jsonl", [
        chat(f"Where is my order {i}?", f"Order {i} ships on Monday.", tags=list(SCRUBBED),
             review={"status": "pending", "picked_because": ["random_sample"]}) for i in range(10_000)])
    push(queue, "large", None, console())  # its speed is measured in benchmarks/bench_review.py
    assert len(project_tasks(connected, "large")) == 10_000
    out = console()
    push(queue, "large", None, out)
    assert "pushed 0 new task(s)" in said(out) and "10000 already there" in said(out)


# -- the whole loop: run, push, review, pull, resume, export -----------------------------------------
def test_reviewed_records_come_back_into_the_run(connected, tmp_path):
    names = ("accepted", "rejected", "edited", "disputed", "waiting")
    write_jsonl(tmp_path / "records.jsonl", scrubbed_rows(names, split="eval"))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: loop\ninputs:\n  - path: records.jsonl\nstages:\n  - review: {}\n", encoding="utf-8")
    run = tmp_path / "run"
    run_recipe(load_recipe(recipe), run)
    queue = run / "review" / "queue.jsonl"
    push(queue, "loop", None, console())

    ids = {row["messages"][0]["content"].split()[1]: row["id"] for row in read_jsonl(queue)}
    tasks = project_tasks(connected, "loop")
    ann, bob = reviewer(connected, "ann@example.com"), reviewer(connected, "bob@example.com")
    annotate(connected, tasks[ids["accepted"]], ann, "Accept")
    annotate(connected, tasks[ids["accepted"]], bob, "Accept")
    annotate(connected, tasks[ids["rejected"]], ann, "Reject", reasons=["Wrong facts"])
    annotate(connected, tasks[ids["edited"]], ann, "Needs edit", reasons=["Off-tone"], edit="Happy to help: reply edited.")
    annotate(connected, tasks[ids["disputed"]], ann, "Accept")
    bobs_doubt = annotate(connected, tasks[ids["disputed"]], bob, "Reject", reasons=["Unsafe"])

    out = console()
    pull(run / "review" / "verdicts.jsonl", "loop", None, out)
    assert "4 annotated task(s): accept 1, reject 1, needs_edit 1, disputed 1" in said(out)
    assert "agreement on 2 task(s) with several reviewers: 50% pairwise" in said(out)

    manifest = run_recipe(load_recipe(recipe), run, resume=True).manifest
    kept = {row["id"]: row for row in read_jsonl(run / "eval.jsonl")}
    rejected = {row["id"]: row for row in read_jsonl(run / "rejected.jsonl")}
    assert set(rejected) == {ids["rejected"]}
    assert rejected[ids["rejected"]]["disposition"]["reason"] == "review: wrong facts"
    assert rejected[ids["rejected"]]["disposition"]["reviewer"] == "ann@example.com"
    assert kept[ids["accepted"]]["review"]["verdict"] == "accept"
    assert kept[ids["accepted"]]["review"]["reviewer"] == "ann@example.com, bob@example.com"
    edited = kept[ids["edited"]]
    assert edited["messages"][-1] == {"role": "assistant", "content": "Happy to help: reply edited."}
    assert edited["rejected_reply"] == {"role": "assistant", "content": "reply edited"}
    assert kept[ids["disputed"]]["review"]["status"] == "disputed"
    assert {row["id"]: row["review"]["status"] for row in read_jsonl(queue)} == \
        {ids["disputed"]: "disputed", ids["waiting"]: "pending"}
    assert manifest["counts"]["eval"] + manifest["counts"]["rejected"] == 5

    # the disputed record is still in the project: a re-push adds nothing and shows it the dispute
    out = console()
    push(queue, "loop", None, out)
    assert "pushed 0 new task(s)" in said(out) and "2 already there, 1 disputed one(s) marked for another look" in said(out)
    client = connected.client()
    assert "DISPUTED, reviewers disagree: ann@example.com accept, bob@example.com reject" in \
        client.tasks.get(tasks[ids["disputed"]]).data["picked_because"]
    # bob takes another look and changes his mind: the dispute is settled on the next pull
    client.annotations.update(id=bobs_doubt, result=result("Accept"))
    pull(run / "review" / "verdicts.jsonl", "loop", None, console())
    run_recipe(load_recipe(recipe), run, resume=True)
    assert {row["id"]: row["review"]["status"] for row in read_jsonl(run / "eval.jsonl")}[ids["disputed"]] == "done"
    assert [row["id"] for row in read_jsonl(queue)] == [ids["waiting"]]

    # the edit exports as a preference pair that passes validation
    dpo = tmp_path / "dpo.jsonl"
    done = run_cli("export", run / "eval.jsonl", "--format", "openai-dpo", "--out", dpo)
    assert done.returncode == 0, done.stderr
    [pair] = read_jsonl(dpo)
    assert pair["preferred_output"][-1]["content"] == "Happy to help: reply edited."
    assert pair["non_preferred_output"][-1]["content"] == "reply edited"
    done = run_cli("validate", dpo, "--format", "openai-dpo")
    assert done.returncode == 0, done.stdout + done.stderr

    out = console()
    status("loop", out)
    assert "defect rate of the unreviewed data" in said(out)
    row = next(line for line in said(out).splitlines() if "│ eval" in line)
    assert [cell.strip() for cell in row.split("│")[1:-1]] == ["eval", "5", "4 (80%)", "2", "1", "1", "0"]


def test_status_estimates_the_defect_rate_from_the_random_sample(connected, tmp_path):
    queue = write_jsonl(tmp_path / "queue.jsonl", [
        chat(f"q{i}", f"a{i}", tags=list(SCRUBBED), review={"status": "pending", "picked_because": ["random_sample"]})
        for i in range(20)])
    push(queue, "estimate", None, console())
    ann = reviewer(connected, "ann@example.com")
    for index, task_id in enumerate(sorted(project_tasks(connected, "estimate").values())):
        annotate(connected, task_id, ann, "Reject" if index < 2 else "Accept", reasons=["Wrong format"] if index < 2 else ())
    out = console()
    status("estimate", out)
    assert "10.0% defective (2/20); 95% interval 2.8%-30.1%" in said(out)


def test_a_reviewer_edits_the_prefilled_reply_sees_the_context_and_flags_personal_data(connected, tmp_path):
    near = {"tags": [*SCRUBBED, "fact-heavy-uncertain"], "scores": {"fact_heavy": 0.47},
            "reasons": {"fact_heavy": ["names a carrier: PostNord"]}, "feedback": {"thumbs": "down", "comments": ["too slow"]}}
    rows = [{**chat("question near", "Ships in 3 days via PostNord.", split="eval"), **near},
            *scrubbed_rows(("leaky", "fixed"), split="eval")]
    write_jsonl(tmp_path / "records.jsonl", rows)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: pii\ninputs:\n  - path: records.jsonl\nstages:\n  - review: {}\n", encoding="utf-8")
    run = tmp_path / "run"
    run_recipe(load_recipe(recipe), run)
    out = console()
    push(run / "review" / "queue.jsonl", "pii", None, out)
    assert "pushing 3 task(s), about 0.15 reviewer-hours at 3 min each" in said(out)

    # what the browser gets: the reply as the pre-annotation it opens with, and the context as text
    client = connected.client()
    [project] = [p for p in client.projects.list(title="pii") if p.title == "pii"]
    project = client.projects.get(project.id)
    assert project.model_version == "dataprep: the reply under review" and project.show_collab_predictions
    verdicts = {"Ships in 3 days via PostNord.": {"verdict": "Accept"}, "reply leaky": {"verdict": "Accept", "pii": True},
                "reply fixed": {"verdict": "Needs edit", "edit": "reply fixed, kindly"}}
    ann, shown = reviewer(connected, "ann@example.com"), {}
    for _ in verdicts:
        task = next_task(connected, project.id)
        [prediction] = task["predictions"]
        [prefill] = prediction["result"]
        assert prefill["from_name"] == "edited_reply" and prefill["value"]["text"] == [task["data"]["reply"]]
        shown[task["data"]["reply"]] = task["data"]["context"]
        client.annotations.create(id=task["id"], result=result(**verdicts[task["data"]["reply"]]), completed_by=ann)
    assert shown["Ships in 3 days via PostNord."] == ("Fact-heavy score: 0.47 (close to the flag threshold: is this reply "
                                                      "resting on facts the conversation does not give?)\n"
                                                      "  - names a carrier: PostNord\n\n"
                                                      "User feedback: thumbs down\nUser comment: too slow")
    assert shown["reply leaky"] == "(nothing else recorded)"

    out = console()
    pull(run / "review" / "verdicts.jsonl", "pii", None, out)
    assert "1 of 3 judged task(s) marked as containing personal data" in said(out)
    out = console()
    status("pii", out)
    assert "residual personal data: 1 of 3 reviewed example(s) (33.3%); 95% interval 6.2%-79.2%" in said(out)
    manifest = run_recipe(load_recipe(recipe), run, resume=True).manifest
    stats = next(stage for stage in manifest["stages"] if stage["stage"] == "review")["stats"]
    assert stats["residual_pii"] == {"reviewed": 3, "flagged": 1, "rate": 0.3333, "low": 0.0615, "high": 0.7923}
    assert [row["disposition"]["reason"] for row in read_jsonl(run / "rejected.jsonl")] == ["review: reviewer found personal data"]
    assert {row["messages"][-1]["content"] for row in read_jsonl(run / "eval.jsonl")} == \
        {"Ships in 3 days via PostNord.", "reply fixed, kindly"}


# -- connection: both kinds of token, server down, bad token, the key never shown -------------------
def test_a_personal_access_token_works(connected, tmp_path, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", connected.personal_access_token)
    queue = write_jsonl(tmp_path / "queue.jsonl", scrubbed_rows("xy"))
    out = console()
    push(queue, "with a personal token", None, out)
    assert "pushed 2 new task(s)" in said(out)


def test_cli_push_never_shows_the_key(connected, tmp_path):
    queue = write_jsonl(tmp_path / "queue.jsonl", scrubbed_rows("k"))
    done = run_cli("review", "push", queue, "--project", "cli")
    assert done.returncode == 0, done.stderr
    assert "pushed 1 new task(s) to 'cli'" in done.stderr
    assert connected.token not in done.stdout + done.stderr


def test_server_down_is_a_clear_error_and_changes_nothing(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    out_file = tmp_path / "verdicts.jsonl"
    done = run_cli("review", "pull", "--out", out_file, env={"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": "k" * 40})
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"error: cannot reach Label Studio at {url} (ConnectError") and "k" * 40 not in line
    assert not out_file.exists()


@pytest.mark.parametrize("kind", ["legacy", "personal"])
def test_a_wrong_token_is_refused_with_a_clear_error(labelstudio, tmp_path, kind):
    if kind == "legacy":
        wrong = "0" * 40
    else:  # a well-formed personal access token whose signature the server does not recognize
        real = labelstudio.personal_access_token
        wrong = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    out_file = tmp_path / "verdicts.jsonl"
    done = run_cli("review", "pull", "--out", out_file, env={"LABEL_STUDIO_URL": labelstudio.url, "LABEL_STUDIO_API_KEY": wrong})
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith(f"error: Label Studio at {labelstudio.url} refused the token in LABEL_STUDIO_API_KEY (401")
    assert wrong not in done.stdout + done.stderr
    assert not out_file.exists()


def test_pull_from_a_missing_project_says_so(connected, tmp_path):
    with pytest.raises(DataprepError, match="no project titled 'nobody pushed here'"):
        pull(tmp_path / "v.jsonl", "nobody pushed here", None, console())
    assert not (tmp_path / "v.jsonl").exists()


# -- no server for dataprep: Label Studio's own import and export files ------------------------------
def test_import_file_loads_into_label_studio_and_its_export_file_pulls_back(labelstudio, tmp_path):
    write_jsonl(tmp_path / "records.jsonl", scrubbed_rows(("kept", "dropped", "fixed"), split="eval"))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: files\ninputs:\n  - path: records.jsonl\nstages:\n  - review: {}\n", encoding="utf-8")
    run = tmp_path / "run"
    run_recipe(load_recipe(recipe), run)
    done = run_cli("review", "push", run / "review" / "queue.jsonl", "--to-file", tmp_path / "ls" / "tasks.json")
    assert done.returncode == 0, done.stderr

    # what a user does in the UI: a project with the written config, then an import of the file
    client = labelstudio.client()
    config = (tmp_path / "ls" / "tasks.label_config.xml").read_text()
    project = client.projects.create(title="from files", label_config=config)
    client.projects.import_tasks(id=project.id, request=json.loads((tmp_path / "ls" / "tasks.json").read_text()))
    tasks = project_tasks(labelstudio, "from files")
    ids = {row["messages"][0]["content"].split()[1]: row["id"] for row in read_jsonl(run / "review" / "queue.jsonl")}
    assert sorted(tasks) == sorted(ids.values())
    ann = reviewer(labelstudio, "ann@example.com")
    annotate(labelstudio, tasks[ids["kept"]], ann, "Accept")
    annotate(labelstudio, tasks[ids["dropped"]], ann, "Reject", reasons=["Bad input"])
    annotate(labelstudio, tasks[ids["fixed"]], ann, "Needs edit", edit="reply fixed, better")

    # ... and the Export button's JSON file
    export = tmp_path / "export.json"
    export.write_bytes(b"".join(client.projects.exports.download_sync(project.id, export_type="JSON")))
    done = run_cli("review", "pull", "--from-file", export, "--out", run / "review" / "verdicts.jsonl")
    assert done.returncode == 0, done.stderr
    run_recipe(load_recipe(recipe), run, resume=True)
    kept = {row["id"]: row for row in read_jsonl(run / "eval.jsonl")}
    assert set(kept) == {ids["kept"], ids["fixed"]}
    assert kept[ids["fixed"]]["messages"][-1]["content"] == "reply fixed, better"
    assert kept[ids["fixed"]]["rejected_reply"]["content"] == "reply fixed"
    assert [row["disposition"]["reason"] for row in read_jsonl(run / "rejected.jsonl")] == ["review: bad input"]


def test_serve_starts_label_studio_under_the_run_folder(labelstudio, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(migrated_template(server_python()), run / "label-studio")  # skip the first-start migrations
    write_json(run / "label-studio" / "dataprep-login.json", {"email": USERNAME, "password": PASSWORD, "token": labelstudio.token})
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "dataprep", "review", "serve", str(run), "--port", str(port)],
                             env={**os.environ, "LABEL_STUDIO_BIN": str(VENV / "bin" / "label-studio")},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             # Ctrl-C reaches it as in a terminal, even when the tests run as a background
                             # job, whose commands inherit an ignored SIGINT
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_up(url, serve, 120), "dataprep review serve did not bring Label Studio up"
        env_file = (run / "label-studio" / "dataprep.env").read_text()
        assert env_file == f"export LABEL_STUDIO_URL={url}\nexport LABEL_STUDIO_API_KEY={labelstudio.token}\n"
        queue = write_jsonl(tmp_path / "queue.jsonl", scrubbed_rows("s"))
        done = run_cli("review", "push", queue, env={"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": labelstudio.token})
        assert "pushed 1 new task(s)" in done.stderr
    finally:
        serve.send_signal(signal.SIGINT)
        out, err = serve.communicate(timeout=60)
    assert f"Label Studio is up: {url}\nlog in as {USERNAME} / {PASSWORD}" in err
    assert labelstudio.token not in out + err
    with pytest.raises(OSError):  # Ctrl-C stopped the server too
        socket.create_connection(("127.0.0.1", port), timeout=2)
