"""Personal data planted in every field every reader fills never leaves the machine, and the
script, markup and terminal escapes planted beside it reach the report only as text.

Each format's fixture is copied with PII appended to every free-text string (message content,
tool descriptions and arguments, metadata, feedback, error text) and an identity planted in
every user, session and conversation id and participant name. A full recipe then runs: mine,
dedup, flag, synth through the real OpenAI SDK against the loopback server, split, review
pushed to a real Label Studio, every export. No planted value may appear in any file the run
leaves (its ``.work/`` scratch folder included), in any request the provider server received, or
in any task Label Studio holds.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from conftest import REPO, assert_nothing_planted_reaches, every_llm_path_stages, read_jsonl
from dataprep.recipe import load_recipe
from dataprep.review import push
from dataprep.runner import run_recipe
from dataprep.terminal import CONTROL
from fake_llm_server import FakeLLMServer, answering_every_request, schema_of
from labelstudio_server import labelstudio  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.labelstudio, pytest.mark.timeout(1800)]

FIXTURES = REPO / "tests" / "fixtures" / "formats"
PLANTED_TEXT = ("my name is Priya Raman, mail priya.raman@example.org, call +44 7700 900123, "
                "card 4111 1111 1111 1111, key sk-proj-Zq8Lm3Xv9Tb2Nc7Rw4Ky6Hd1 "
                # and what users also type: script, rich markup, a terminal escape that retitles and recolours
                "<script>alert('planted')</script> [bold red]planted[/] \x1b]0;planted\x07\x1b[31m")
PLANTED_ID = "priya-raman-1987"
#: what must never be seen again, in any form a reader might keep
PLANTED_VALUES = ["priya.raman@example.org", "7700 900123", "07700900123", "4111 1111 1111 1111", "4111111111111111",
                  "sk-proj-Zq8Lm3Xv9Tb2Nc7Rw4Ky6Hd1", "Raman", PLANTED_ID]

#: keys whose string values are structure a reader dispatches on (roles, types, models, enums,
#: provider-generated ids, timestamps): planting there would make the line unreadable, not test a field
STRUCTURAL = {"role", "type", "object", "model", "finish_reason", "stop_reason", "status", "id", "custom_id",
              "tool_call_id", "tool_use_id", "call_id", "method", "url", "endpoint", "run_type", "level", "kind",
              "key", "traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_run_id", "run_id",
              "observationId", "traceId", "previous_response_id", "response_id", "request_id", "batch_id",
              "input_file_id", "output_file_id", "format", "data_type", "dataType", "source", "call_type",
              "status_code", "required"}  # a JSON Schema's required: property names, structure
#: the last part of an OpenTelemetry attribute name that is structure ("gen_ai.prompt.0.role", "gen_ai.system")
OTEL_STRUCTURAL = {"system", "role", "model", "name", "id", "finish_reasons", "finish_reason", "type", "method",
                   "path", "environment", "is_streaming"}
IDENTITY = re.compile(r"(?i)(?:^|[_.])(?:user|session|conversation|thread|customer)(?:[_.]?id)?$|sessionId|userId|threadId")
MOMENT = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d|^\d{10,19}$")


def plant(value: Any, key: str = "", parent: dict | None = None) -> Any:
    if isinstance(value, dict):
        if set(value) == {"key", "value"} and isinstance(value["value"], dict):  # an OTel attribute: its name is the key
            return {"key": value["key"], "value": {kind: plant(v, value["key"]) for kind, v in value["value"].items()}}
        return {k: plant(v, k, value) for k, v in value.items()}
    if isinstance(value, list):
        return [plant(item, key, parent) for item in value]
    if not isinstance(value, str) or not value or value.isdigit():
        return value
    if IDENTITY.search(key) or (key == "name" and parent is not None and "role" in parent):
        return f"{value}-{PLANTED_ID}"  # still distinct per conversation, now carrying an identity
    last = key.rsplit(".", 1)[-1]
    if key in STRUCTURAL or last in STRUCTURAL or key.endswith(("_id", "Id", "_at", "At", "time", "Time")) \
            or key == "name" or ("." in key and last in OTEL_STRUCTURAL) or MOMENT.search(value):
        return value
    if key == "partial_json":  # a piece of streamed tool input: planted inside its string values, escaped
        return value.replace('": "', '": ' + json.dumps(PLANTED_TEXT + " ")[:-1])
    if value[:1] in "{[":
        try:
            return json.dumps(plant(json.loads(value)))  # tool arguments and results: inside the JSON
        except ValueError:
            pass
    return f"{value} {PLANTED_TEXT}"


def planted_copy(source: Path, target: Path) -> None:
    for path in sorted(source.rglob("*.json*")):
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            out.write_text(json.dumps(plant(json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")
        else:
            lines = [planted_line(line) for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
            out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def planted_line(line: str) -> str:
    try:
        return json.dumps(plant(json.loads(line)))
    except ValueError:  # the fixtures' deliberately broken lines stay broken, with PII beside them
        return f"{line} {PLANTED_TEXT}"


TICKET_MAPPING = {"id": "ticket_id", "input": "question", "output": "agent_answer", "system": "system_prompt",
                  "conversation_id": "conversation", "timestamp": "created", "comment": "note", "correction": "fix",
                  "category": "topic"}
TABLE_STRUCTURE = {"ticket_id", "created", "model", "thumb", "csat"}  # ids, times, enums and numbers


def planted_table(source: Path, target: Path) -> None:
    """A CSV export with PII in every text column and an identity in its conversation column
    (rows as the fixture has them, ragged and all)."""
    # the fixture holds a row that is not UTF-8 on purpose: its bytes go through as they are
    with source.open(newline="", encoding="utf-8", errors="surrogateescape") as handle:
        header, *rows = list(csv.reader(handle))
    columns = header + [""] * max(0, max(map(len, rows)) - len(header))  # cells past the header are text too
    for row in rows:
        for index, value in enumerate(row):
            if value and columns[index] not in TABLE_STRUCTURE:
                row[index] = f"{value}-{PLANTED_ID}" if columns[index] == "conversation" else f"{value} {PLANTED_TEXT}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        csv.writer(handle).writerows([header, *rows])


def leaks(text: str) -> list[str]:
    return [value for value in PLANTED_VALUES if value.lower() in text.lower()]


@pytest.fixture
def planted_run(tmp_path, monkeypatch):
    from dataprep import engine, formats

    # every file read in pieces and every stage's batches on a pool of two: the paths where
    # workers hand back records as written lines, not only this process's
    monkeypatch.setenv("DATAPREP_WORKERS", "2")
    monkeypatch.setattr(formats, "PIECE_BYTES", 256)
    monkeypatch.setattr(engine, "POOL_AFTER_BATCHES", 2)
    monkeypatch.setattr(engine, "BATCH_RECORDS", 4)
    logs = tmp_path / "logs"
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir() and p.name != "table"):
        planted_copy(folder, logs / folder.name)
    planted_table(FIXTURES / "table" / "tickets.csv", tmp_path / "tables" / "tickets.csv")
    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-loopback-only")
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text(yaml.safe_dump({
            "name": "planted", "inputs": [{"path": str(logs)}, {"path": str(tmp_path / "tables" / "tickets.csv"),
                                                                 "format": "table", "mapping": TICKET_MAPPING}],
            "stages": [{"mine": {}}, {"dedup": {}}, {"flag": {}},
                       {"synth": {"provider": "openai", "model": "gpt-4.1-mini", "n": 6, "base_url": server.openai_url}},
                       {"dedup": {}}, {"flag": {}}, {"split": {"eval_size": 0.3}}, {"review": {}}],
            "export": {"formats": ["openai", "openai-dpo", "bedrock", "trl", "sharegpt", "alpaca", "hf"]}}),
            encoding="utf-8")
        manifest = run_recipe(load_recipe(recipe), tmp_path / "run", console=Console(file=io.StringIO())).manifest
        sent = [json.dumps(entry.body) for entry in server.requests]
    return tmp_path / "run", manifest, sent


def test_planted_pii_reaches_no_output_no_provider_and_no_reviewer(planted_run, labelstudio, monkeypatch):  # noqa: F811
    run, manifest, sent = planted_run
    counts = manifest["counts"]
    # the fixtures' non-model and broken lines are rejected (with their scrubbed text); the rest flows
    # (test_the_planting_reaches_every_reader checks planting reads like the originals)
    assert counts["train"] + counts["eval"] + counts["rag_candidates"] >= 15, counts
    flowed = read_jsonl(run / "train.jsonl") + read_jsonl(run / "eval.jsonl") + read_jsonl(run / "duplicates.jsonl")
    assert "table" in {row["source"]["format"] for row in flowed if "source" in row}
    assert sent, "synth called the loopback provider"

    written = [p for p in run.rglob("*") if p.is_file()]  # .work/ included: a run folder gets shared whole
    assert any(p.name == "report.html" for p in written) and any(p.suffix == ".parquet" for p in written)
    found = {str(p.relative_to(run)): leaks(p.read_bytes().decode("utf-8", "ignore")) for p in written}
    assert {path: values for path, values in found.items() if values} == {}
    assert [leaks(body) for body in sent if leaks(body)] == []
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "alert('planted')" in html and "[bold red]planted" in html  # the markup reached the report...
    assert "<script>alert" not in html  # ...as text, never as a tag
    texts = [p for p in written if p.suffix in (".jsonl", ".json", ".html", ".md", ".csv")]
    assert [str(p) for p in texts if CONTROL.search(p.read_text(encoding="utf-8"))] == []  # escapes stay escaped

    monkeypatch.setenv("LABEL_STUDIO_URL", labelstudio.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", labelstudio.token)
    queue = run / "review" / "queue.jsonl"
    assert read_jsonl(queue)
    push(queue, "planted", None, Console(file=io.StringIO()))
    client = labelstudio.client()
    [project] = [p for p in client.projects.list(title="planted") if p.title == "planted"]
    tasks = [json.dumps(task.data) for task in client.tasks.list(project=project.id, fields="all", page_size=1000)]
    assert len(tasks) == len(read_jsonl(queue))
    assert [leaks(task) for task in tasks if leaks(task)] == []


def records_by_format(logs, run) -> dict[str, list[str]]:
    """Every record the readers make of ``logs`` (mine without scrubbing), by format."""
    recipe = run.parent / f"{run.name}.yaml"
    recipe.write_text(yaml.safe_dump({"inputs": [{"path": str(logs)}], "stages": [{"mine": {"pii": {"enabled": False}}}]}),
                      encoding="utf-8")
    run_recipe(load_recipe(recipe), run, console=Console(file=io.StringIO()))
    formats: dict[str, list[str]] = {}
    for place in ("train", "duplicates", "rejected"):
        for row in read_jsonl(run / f"{place}.jsonl"):
            if "messages" in row:  # a record, not an unreadable line
                formats.setdefault(row["source"]["format"], []).append(json.dumps(row))
    return formats


def test_the_planting_reaches_every_reader(tmp_path):
    """The check above means something only if the planted copies are read like the originals
    and carry the values into records: read both without scrubbing and compare."""
    logs, originals = tmp_path / "logs", tmp_path / "originals"
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir() and p.name != "table"):
        planted_copy(folder, logs / folder.name)
        shutil.copytree(folder, originals / folder.name)
    planted = records_by_format(logs, tmp_path / "planted")
    original = records_by_format(originals, tmp_path / "original")
    assert {name: len(rows) for name, rows in planted.items()} == {name: len(rows) for name, rows in original.items()}
    for name, rows in planted.items():
        assert any("priya.raman@example.org" in row for row in rows), name


def test_with_every_llm_path_on_a_model_quoting_personal_data_reaches_no_output(tmp_path, monkeypatch):
    """Every optional path on at once, in the default order: both judges asking about every pair and reply, the
    knowledge probe, evidence from documents that name staff, grounded variants, synth. Whatever the model says
    and whatever the documents hold is scrubbed before it reaches an output (the answer cache under cache/ keeps
    answers as they came), no request carries a planted value, and the run places every record."""
    logs = tmp_path / "logs"
    for folder in sorted(p for p in FIXTURES.iterdir() if p.is_dir() and p.name != "table"):
        planted_copy(folder, logs / folder.name)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "policies.md").write_text(f"# Refunds\nRefunds over $500 are approved by {PLANTED_TEXT}\n",
                                                   encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-loopback-only")
    with FakeLLMServer(responder=answering_every_request(PLANTED_TEXT)) as server:
        llm = {"provider": "openai", "model": "gpt-4.1-mini", "base_url": server.openai_url}
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text(yaml.safe_dump({"name": "every-path", "inputs": [{"path": str(logs)}],
                                          "stages": every_llm_path_stages(llm, tmp_path / "docs"),
                                          "export": {"formats": ["openai", "sharegpt"]}}), encoding="utf-8")
        manifest = run_recipe(load_recipe(recipe), tmp_path / "run", console=Console(file=io.StringIO())).manifest
        asked = [schema_of(call.body) for call in server.model_calls()]
        sent = [json.dumps(entry.body) for entry in server.requests]
    assert {"fact_heavy_verdict", "same_answer_verdict", "synthetic_examples", None} <= set(asked)
    counts = manifest["counts"]
    assert counts["train"] + counts["eval"] > 0 and counts["rag_candidates"] > 0
    assert_nothing_planted_reaches(tmp_path / "run", *PLANTED_VALUES)
    assert [leaks(body) for body in sent if leaks(body)] == []
