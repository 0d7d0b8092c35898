"""Shared test helpers: running the real CLI in a subprocess and writing small input files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO / "sample_data"


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``dataprep ARGS`` as a user would, in a fresh interpreter."""
    return subprocess.run([sys.executable, "-m", "dataprep", *map(str, args)], cwd=cwd or REPO,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout)


def one_line_error(result) -> str:
    """The CLI contract for bad input: exit 2, one line, no traceback; returns the line."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def write_jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


#: what users, models and reviewers also type: script, rich markup, a terminal escape
HOSTILE_MARKUP = "<script>alert(1)</script> [bold red]boom[/bold red] \x1b[31mred"


def assert_nothing_planted_reaches(run_dir: Path, *planted: str, skip: tuple[str, ...] = ()) -> None:
    """No planted value, in any case, in any file a run wrote (its .work/ folder included; the answer
    cache under cache/ keeps answers as they came, and ``skip`` names a test's own inputs), and the
    report shows planted markup only as text, with no control character."""
    from dataprep.terminal import CONTROL

    written = [path for path in run_dir.rglob("*") if path.is_file()
               and "cache" not in path.relative_to(run_dir).parts and path.name not in skip]
    assert any(path.name == "report.html" for path in written)
    for path in written:
        text = path.read_text(encoding="utf-8", errors="ignore")
        assert not [value for value in planted if value.lower() in text.lower()], path
        if path.suffix == ".html":
            assert "<script>alert" not in text and not CONTROL.search(text), path


def every_llm_path_stages(llm: dict, docs: Path) -> list[dict]:
    """The default order with every optional LLM path on: both judges asking about every pair and reply,
    the knowledge probe, evidence from ``docs``, grounded variants and synth, all through ``llm`` (an
    OpenAI endpoint: the probe speaks only that protocol)."""
    flag = {"knowledge": str(docs), "grounded_variants": True, "judge": llm, "judge_scope": "all",
            "probe": {"model": "base-model", "base_url": llm["base_url"], "samples": 2}}
    dedup = {"judge": llm, "judge_scope": "all"}
    return [{"mine": {}}, {"dedup": dedup}, {"flag": flag}, {"synth": {**llm, "n": 6}}, {"dedup": dedup},
            {"flag": flag}, {"split": {"eval_size": 0.3}}, {"review": {}}]


def retrained(script: str, out: Path) -> dict:
    """The weights ``benchmarks/<script> --out OUT`` trains."""
    done = subprocess.run([sys.executable, REPO / "benchmarks" / script, "--out", out], capture_output=True, text=True,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_bytes())


def assert_same_model(trained: dict, shipped: dict) -> None:
    """The same features, and the same intercept and weights to training's rounding."""
    assert set(trained["weights"]) == set(shipped["weights"])
    assert trained["intercept"] == pytest.approx(shipped["intercept"], abs=1e-4)
    assert all(trained["weights"][name] == pytest.approx(weight, abs=1e-4)
               for name, weight in shipped["weights"].items())


def chat(user: str, reply: str, **extra) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply}], **extra}


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory) -> Path:
    """The README's demo: recipes/quickstart.yaml on sample_data/, run once per test session."""
    run_dir = tmp_path_factory.mktemp("quickstart") / "run"
    result = run_cli("run", REPO / "recipes" / "quickstart.yaml", "--out", run_dir, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir
