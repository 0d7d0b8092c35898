"""``dataprep review push|pull|status|serve``."""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from ..errors import UsageError
from ..jsonl import write_json, write_jsonl
from .server import Connection, die_with_parent, local_server_command, local_server_env, wait_until_up
from .stats import MINUTES_PER_TASK, defect_estimate, describe_effort, describe_residual_pii, residual_pii
from ..pii import refuse_unscrubbed, unscrubbed_ids
from ..run_folder import manifest_of
from .tasks import ID_FIELD, RANDOM_SAMPLE, label_config, read_records, tasks_for
from .verdicts import VERDICTS, personal_data_found, read_export, review_progress, verdicts_from_export

START_TIMEOUT_S = 300
STOP_TIMEOUT_S = 15  # after Ctrl-C, how long Label Studio may take to shut down before it is killed


def push(in_file: Path, project: str, to_file: Path | None, console: Console, allow_unscrubbed: bool = False) -> None:
    """Send records to Label Studio as tasks, skipping those already in the project."""
    records = read_records(in_file)
    if not allow_unscrubbed:
        refuse_unscrubbed(unscrubbed_ids(records), str(in_file), "pass --allow-unscrubbed")
    tasks = tasks_for(records)
    minutes = minutes_per_task(in_file)
    if to_file is not None:
        write_import_files(to_file, tasks, console)
        console.print(f"that is {describe_effort(len(tasks), minutes)}", highlight=False)
        return
    connection = Connection.from_env()
    project_id, created = connection.project(project, create=True)
    present = {} if created else connection.task_ids(project_id)
    new = [task for task in tasks if task["data"][ID_FIELD] not in present]
    console.print(f"pushing {describe_effort(len(new), minutes)}", highlight=False)
    connection.import_tasks(project_id, new)
    # a disputed record is already there: show its task the disagreement so it gets another look
    disputed = {present[record.id]: task["data"] for record, task in zip(records, tasks)
                if record.id in present and record.review.get("status") == "disputed"}
    connection.update_task_data(disputed)
    console.print(f"pushed {len(new)} new task(s) to '{project}' ({connection.url}/projects/{project_id}); "
                  f"{len(tasks) - len(new)} already there"
                  + (f", {len(disputed)} disputed one(s) marked for another look" if disputed else ""),
                  highlight=False, soft_wrap=True)


def minutes_per_task(queue: Path) -> float:
    """The run's ``minutes_per_task`` when ``queue`` is a run's ``review/queue.jsonl``, else the default."""
    stages = (manifest_of(queue.parent.parent) or {}).get("stages") or []
    return next((s["stats"]["minutes_per_task"] for s in reversed(stages)
                 if s.get("stage") == "review" and "minutes_per_task" in s.get("stats", {})), MINUTES_PER_TASK)


def write_import_files(to_file: Path, tasks: list[dict], console: Console) -> None:
    """Label Studio's import JSON plus the labeling config beside it, for loading through the UI."""
    config_path = to_file.with_name(f"{to_file.stem}.label_config.xml")
    write_json(to_file, tasks)
    config_path.write_text(label_config(), encoding="utf-8")
    console.print(f"wrote {len(tasks)} task(s) to {to_file} and the labeling config to {config_path}.\n"
                  "In Label Studio: Create Project → Labeling Setup → Custom template → Code: paste the config; "
                  f"then Import → upload {to_file.name}.", highlight=False, soft_wrap=True)


def pull(out_file: Path, project: str, from_file: Path | None, console: Console) -> None:
    """Fetch annotations and write one verdict line per reviewed record."""
    if from_file is not None:
        tasks, where = read_export(from_file), str(from_file)
    else:
        connection = Connection.from_env()
        project_id, _ = connection.project(project)
        tasks, where = connection.export(project_id, annotated_only=True), f"{connection.url} project '{project}'"
    rows, summary = verdicts_from_export(tasks, where)
    write_jsonl(out_file, rows)
    for line in summary.lines():
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"wrote {len(rows)} verdict(s) to {out_file}; rerun the recipe with --resume to apply them",
                  highlight=False)


def status(project: str, console: Console) -> None:
    """Progress per reason picked, the defect rate the random sample shows so far, and the share
    of reviewed examples in which reviewers still found personal data."""
    connection = Connection.from_env()
    project_id, _ = connection.project(project)
    tasks = connection.export(project_id, annotated_only=False)
    progress = review_progress(tasks)
    table = Table(title=f"review of '{project}' ({connection.url}/projects/{project_id})", title_justify="left")
    for column in ("picked because", "tasks", "judged", *VERDICTS, "disputed"):
        table.add_column(column, justify="left" if column == "picked because" else "right")
    for reason, entry in sorted(progress.items()):
        table.add_row(reason, str(entry.picked), f"{entry.done} ({entry.done / entry.picked:.0%})",
                      *(str(entry.verdicts[v]) for v in (*VERDICTS, "disputed")))
    console.print(table)
    sample = progress.get(RANDOM_SAMPLE)
    estimate = defect_estimate(sample.defects, sample.done) if sample else defect_estimate(0, 0)
    console.print(f"defect rate of the unreviewed data (random sample, reject or needs edit): {estimate.describe()}",
                  highlight=False)
    console.print(describe_residual_pii(residual_pii(*personal_data_found(tasks))), highlight=False)


# -- a local Label Studio ------------------------------------------------------------------------
INSTALL_HINT = ("Label Studio is not installed. It pins openai<2 and pyarrow<25, so give it its own environment: "
                "`python -m venv ~/.label-studio && ~/.label-studio/bin/pip install label-studio`, "
                "then set LABEL_STUDIO_BIN=~/.label-studio/bin/label-studio (or put label-studio on PATH)")


def label_studio_launcher() -> list[str]:
    """How to run Label Studio here: LABEL_STUDIO_BIN, a label-studio on PATH, or this interpreter's module."""
    found = os.environ.get("LABEL_STUDIO_BIN") or shutil.which("label-studio")
    if found:
        return [found]
    if importlib.util.find_spec("label_studio") is not None:
        return [sys.executable, "-m", "label_studio.server"]
    raise UsageError(INSTALL_HINT)


def serve(run_dir: Path, port: int, console: Console) -> None:
    """Start Label Studio with its data under the run folder; print the URL and the login once it answers."""
    launcher = label_studio_launcher()
    refuse_busy_port(port)
    data_dir = run_dir / "label-studio"
    login = server_login(data_dir)
    url = f"http://127.0.0.1:{port}"
    env_file = data_dir / "dataprep.env"
    env_file.write_text(f"export LABEL_STUDIO_URL={url}\nexport LABEL_STUDIO_API_KEY={login['token']}\n", encoding="utf-8")
    env_file.chmod(0o600)
    console.print(f"starting Label Studio on {url} with its data in {data_dir} "
                  "(the first start sets up its database: up to a minute)", highlight=False, soft_wrap=True)
    env = local_server_env(data_dir, login["email"], login["password"], login["token"])
    with open(data_dir / "server.log", "ab") as log:
        process = subprocess.Popen(local_server_command(launcher, port), env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
    try:
        if not wait_until_up(url, process, START_TIMEOUT_S):
            raise UsageError(f"Label Studio did not start (is port {port} free?); see {data_dir / 'server.log'}")
        console.print(f"Label Studio is up: {url}\nlog in as {login['email']} / {login['password']}\n"
                      f"for push and pull: source {env_file}\nCtrl-C stops it.", highlight=False, soft_wrap=True)
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:  # Ctrl-C must stop it, however busy its shutdown is
                process.kill()
                process.wait()


def refuse_busy_port(port: int) -> None:
    """Label Studio moves to the next port when its own is busy, and nobody would know where it
    went: stop here instead."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise UsageError(f"port {port} is busy on 127.0.0.1: stop what uses it or pass --port") from None


def server_login(data_dir: Path) -> dict[str, str]:
    """The local server's user and token: made once, kept (owner-only) beside its data."""
    path = data_dir / "dataprep-login.json"
    if path.exists():
        return orjson.loads(path.read_bytes())
    data_dir.mkdir(parents=True, exist_ok=True)
    login = {"email": "reviewer@dataprep.local", "password": secrets.token_urlsafe(12), "token": secrets.token_hex(20)}
    write_json(path, login)
    path.chmod(0o600)
    return login
