"""The runner: every record ends in exactly one place, counts add up, resume is byte-identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import chat, read_jsonl, write_jsonl
from dataprep.errors import AccountingError
from dataprep.pipeline import STAGES, Stage, register
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

PLACES = ("train", "eval", "rag_candidates", "duplicates", "rejected")

# A stage used only by these tests: every 3rd record is a duplicate of the one before, every
# 5th goes to eval, and it can sleep per record so a test can kill it mid-way.
TEST_STAGE = textwrap.dedent('''
    import time
    from dataprep.pipeline import Stage, register

    @register
    class EveryThird(Stage):
        name = "every_third"
        options_schema = {"type": "object", "additionalProperties": False,
                          "properties": {"label": {"type": "string"}, "sleep": {"type": "number"}}}

        def run(self, records, ctx):
            previous = None
            for index, record in enumerate(records):
                time.sleep(self.options.get("sleep", 0))
                if index % 3 == 2:
                    ctx.set_aside(record, "duplicates", "test duplicate", keeper_id=previous)
                    continue
                if index % 5 == 0:
                    record.split = "eval"
                record.tags.append(f"seen-by-{self.options.get('label', 'x')}")
                previous = record.id
                yield record
''')


def make_inputs(folder: Path, n: int = 60) -> Path:
    rows = [chat(f"question {i}", f"answer {i}") for i in range(n)]
    rows[7] = "this line is not json"
    rows[20] = {"messages": "not a list"}
    return write_jsonl(folder / "logs.jsonl", rows)


def write_recipe(folder: Path, stages: str) -> Path:
    recipe = folder / "recipe.yaml"
    recipe.write_text(f"name: t\ninputs:\n  - path: logs.jsonl\nstages:\n{stages}", encoding="utf-8")
    return recipe


@pytest.fixture
def every_third():
    namespace: dict = {}
    exec(TEST_STAGE, namespace)
    yield
    STAGES.pop("every_third", None)


def test_every_input_line_ends_in_exactly_one_place(tmp_path, every_third):
    make_inputs(tmp_path)
    recipe = load_recipe(write_recipe(tmp_path, "  - every_third: null\n  - every_third: null\n"))
    outcome = run_recipe(recipe, tmp_path / "run")
    counts = outcome.manifest["counts"]
    files = {place: read_jsonl(tmp_path / "run" / f"{place}.jsonl") for place in PLACES}
    assert {place: len(rows) for place, rows in files.items()} == {place: counts[place] for place in PLACES}
    assert counts["input"] == 60 and sum(counts[p] for p in PLACES) == 60
    rejected_lines = sorted(row["source"]["line"] for row in files["rejected"])
    assert rejected_lines == [8, 21]
    assert all(row["disposition"]["reason"] for row in files["rejected"])
    assert all(row["disposition"]["keeper_id"] for row in files["duplicates"])
    assert all(row.get("split") == "eval" for row in files["eval"])
    ids = [row["id"] for place in ("train", "eval", "duplicates") for row in files[place]]
    assert len(ids) == len(set(ids)) == 58


def test_a_stage_that_loses_records_fails_the_run_loudly(tmp_path):
    @register
    class Lossy(Stage):
        name = "lossy"

        def run(self, records, ctx):
            yield from list(records)[1:]

    try:
        make_inputs(tmp_path)
        with pytest.raises(AccountingError, match="lost 1 record"):
            run_recipe(load_recipe(write_recipe(tmp_path, "  - lossy: null\n")), tmp_path / "run")
        assert not (tmp_path / "run" / "manifest.json").exists()
    finally:
        STAGES.pop("lossy", None)


DRIVER = TEST_STAGE + textwrap.dedent('''
    import sys
    from pathlib import Path
    from dataprep.recipe import load_recipe
    from dataprep.runner import run_recipe
    run_recipe(load_recipe(sys.argv[1]), Path(sys.argv[2]), resume=sys.argv[3] == "resume")
''')


def run_driver(tmp_path: Path, run_dir: Path, mode: str) -> subprocess.Popen:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    return subprocess.Popen([sys.executable, str(driver), str(tmp_path / "recipe.yaml"), str(run_dir), mode],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def output_bytes(run_dir: Path) -> dict[str, bytes]:
    return {place: (run_dir / f"{place}.jsonl").read_bytes() for place in PLACES}


def test_a_run_killed_mid_stage_resumes_to_byte_identical_outputs(tmp_path):
    make_inputs(tmp_path, n=120)
    write_recipe(tmp_path, "  - mine: {}\n  - every_third: {label: a}\n  - every_third: {label: b, sleep: 0.02}\n")
    assert run_driver(tmp_path, tmp_path / "whole", "fresh").wait(60) == 0

    interrupted = run_driver(tmp_path, tmp_path / "killed", "fresh")
    second_stage = tmp_path / "killed" / ".work" / "03-every_third"
    deadline = time.monotonic() + 30
    while not (second_stage.exists() and any(p.suffix == ".tmp" for p in second_stage.iterdir())):
        assert time.monotonic() < deadline, "second stage never started"
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the second stage (~1.6 s of work)
    os.kill(interrupted.pid, signal.SIGKILL)
    interrupted.wait()
    assert not (tmp_path / "killed" / "manifest.json").exists()
    assert not (tmp_path / "killed" / "train.jsonl").exists()
    first_stage_done = (tmp_path / "killed" / ".work" / "02-every_third" / "done.json").stat().st_mtime_ns

    resumed = run_driver(tmp_path, tmp_path / "killed", "resume")
    assert resumed.wait(60) == 0, resumed.stderr.read()
    assert output_bytes(tmp_path / "killed") == output_bytes(tmp_path / "whole")
    # the completed first stage was reused, not run again
    assert (tmp_path / "killed" / ".work" / "02-every_third" / "done.json").stat().st_mtime_ns == first_stage_done
    assert not list((tmp_path / "killed").rglob("*.tmp"))


def test_resume_after_a_stage_changes_what_it_sets_aside_counts_each_record_once(tmp_path):
    """E.g. a reviewer turns a reject into an accept, then the run is resumed."""
    @register
    class RejectFirst(Stage):
        name = "reject_first"
        options_schema = {"type": "object", "properties": {"reject": {"type": "boolean"}}}

        def run(self, records, ctx):
            for index, record in enumerate(records):
                if index == 0 and self.options.get("reject"):
                    ctx.set_aside(record, "rejected", "test rejection")
                    continue
                yield record

    try:
        make_inputs(tmp_path, n=30)
        run_recipe(load_recipe(write_recipe(tmp_path, "  - reject_first: {reject: true}\n")), tmp_path / "run")
        outcome = run_recipe(load_recipe(write_recipe(tmp_path, "  - reject_first: {reject: false}\n")),
                             tmp_path / "run", resume=True)
        assert outcome.manifest["counts"]["rejected"] == 2  # the two unreadable lines only
        assert len(read_jsonl(tmp_path / "run" / "rejected.jsonl")) == 2
    finally:
        STAGES.pop("reject_first", None)


def test_ids_are_unique_across_files_of_the_same_name(tmp_path):
    for year in ("2024", "2025"):
        write_jsonl(tmp_path / year / "logs.jsonl", [chat("same question", "same answer")])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("inputs: [{path: '2024'}, {path: '2025'}]\nstages: []\n", encoding="utf-8")
    run_recipe(load_recipe(recipe), tmp_path / "run")
    ids = [row["id"] for row in read_jsonl(tmp_path / "run" / "train.jsonl")]
    assert len(ids) == 2 and len(set(ids)) == 2


def test_resume_clears_a_half_built_temp_folder(tmp_path, every_third):
    make_inputs(tmp_path)
    recipe = load_recipe(write_recipe(tmp_path, "  - every_third: null\n"))
    run_recipe(recipe, tmp_path / "run")
    (tmp_path / "run" / "exports" / ".hf.x1y2z3w4.tmp" / "data").mkdir(parents=True)  # as a kill mid-export leaves it
    run_recipe(recipe, tmp_path / "run", resume=True)
    assert not list((tmp_path / "run").rglob(".*.tmp"))


def test_a_run_that_stops_after_mine_keeps_no_copy_of_the_logs_text_and_resumes(tmp_path):
    """The read step's records are the logs as logged; once mine is done they are not kept, so a run
    that fails in a later stage leaves no unscrubbed copy, and --resume reads the inputs again."""
    @register
    class Explode(Stage):
        name = "explode"
        options_schema = {"type": "object"}

        def run(self, records, ctx):
            for _ in records:
                raise RuntimeError("stopped after mine")
            yield from ()

    email = "jane.doe@example.org"
    write_jsonl(tmp_path / "logs.jsonl", [chat(f"I'm {email}, question {i}", f"answer {i}") for i in range(20)])
    try:
        with pytest.raises(RuntimeError):
            run_recipe(load_recipe(write_recipe(tmp_path, "  - mine: {}\n  - explode: {}\n")), tmp_path / "run")
        assert (tmp_path / "run" / ".work" / "01-mine" / "done.json").exists()
        work_files = [path for path in (tmp_path / "run" / ".work").rglob("*") if path.is_file()]
        assert work_files and not [path for path in work_files if email in path.read_text(encoding="utf-8")]
        mine_done = (tmp_path / "run" / ".work" / "01-mine" / "done.json").read_bytes()

        resumed = run_recipe(load_recipe(write_recipe(tmp_path, "  - mine: {}\n")), tmp_path / "run", resume=True)
        fresh = run_recipe(load_recipe(write_recipe(tmp_path, "  - mine: {}\n")), tmp_path / "fresh")
        assert resumed.reused == [False, True] and fresh.manifest["counts"] == resumed.manifest["counts"]
        assert (tmp_path / "run" / ".work" / "01-mine" / "done.json").read_bytes() == mine_done
        assert output_bytes(tmp_path / "run") == output_bytes(tmp_path / "fresh")
    finally:
        STAGES.pop("explode", None)
