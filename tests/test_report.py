"""The run report: a self-contained page whose numbers match the manifest, as a browser shows it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PLACES = ("input", "created", "train", "eval", "rag_candidates", "duplicates", "rejected")


@pytest.fixture(scope="module")
def report(quickstart_run):
    result = run_cli("report", quickstart_run)
    assert result.returncode == 0, result.stderr
    return quickstart_run / "report.html"


def test_the_page_is_self_contained(report):
    page = report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the page loads something from the network"
    assert "<script" not in page
    assert page.count("<svg") >= 5


def test_the_numbers_on_the_page_are_the_manifest_counts(report, quickstart_run):
    manifest = json.loads((quickstart_run / "manifest.json").read_text())
    page = report.read_text(encoding="utf-8")
    for place in PLACES:
        card = re.search(rf'data-count="{place}">.*?<b>([\d,]+)</b>', page, re.S)
        assert card and int(card.group(1).replace(",", "")) == manifest["counts"][place], place
    assert "of this data is knowledge" in page
    cost = manifest["exports"]["openai"]["train"]["training_cost"]["estimated_usd"]
    assert f"Estimated training cost: <b>${cost:,.2f}</b>" in page  # the same estimate as the export


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium is not installed")
def test_headless_chromium_renders_the_charts(report, tmp_path):
    assert CHROMIUM, "CI must have chromium (the Makefile's test target installs it)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1280,2400", report.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", report.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert dom.count("<svg") >= 5 and dom.count("<rect") >= 10
    assert "Where every record went" in dom and "Verdict" in dom


def test_the_hf_dataset_card_states_the_same_facts(quickstart_run):
    manifest = json.loads((quickstart_run / "manifest.json").read_text())
    card = (quickstart_run / "exports" / "hf" / "README.md").read_text(encoding="utf-8")
    for heading in ("## Splits", "## Sources", "## Filters", "## Human review", "## Verdict", "## Known limits"):
        assert heading in card, heading
    assert f"| train | {manifest['counts']['train']:,} |" in card
    assert f"| eval | {manifest['counts']['eval']:,} |" in card
    for verdict in manifest["verdicts"]:
        assert verdict["title"] in card
