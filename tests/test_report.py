"""The run report: a self-contained page whose numbers match the manifest, as a browser shows it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import REPO, chat, run_cli, write_jsonl
from dataprep.run_facts import gather

PLACES = ("input", "created", "train", "eval", "rag_candidates", "duplicates", "rejected")


@pytest.fixture(scope="module")
def report(quickstart_run):
    result = run_cli("report", quickstart_run)
    assert result.returncode == 0, result.stderr
    return quickstart_run / "report.html"


def test_the_page_is_self_contained(report):
    page = report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the page loads something from the network"
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    assert not re.search(r"<script[^>]*\bsrc=", page) and "@import" not in style and "url(" not in style
    assert page.count("<svg") >= 5


def test_the_numbers_on_the_page_are_the_manifest_counts(report, quickstart_run):
    manifest = json.loads((quickstart_run / "manifest.json").read_text())
    page = report.read_text(encoding="utf-8")
    for place in PLACES:
        card = re.search(rf'data-count="{place}">.*?<b>([\d,]+)</b>', page, re.S)
        assert card and int(card.group(1).replace(",", "")) == manifest["counts"][place], place
    assert "of this data is knowledge" in page
    assert "rejected: not UTF-8" in page and "UTF-N" not in page  # reasons keep the digits that name things
    cost = manifest["exports"]["openai"]["train"]["training_cost"]["estimated_usd"]
    assert f"Estimated training cost: <b>${cost:,.2f}</b>" in page  # the same estimate as the export


def test_the_hf_dataset_card_states_the_same_facts(quickstart_run):
    manifest = json.loads((quickstart_run / "manifest.json").read_text())
    card = (quickstart_run / "exports" / "hf" / "README.md").read_text(encoding="utf-8")
    for heading in ("## Splits", "## Sources", "## Filters", "## Human review", "## Verdict", "## Known limits"):
        assert heading in card, heading
    assert f"| train | {manifest['counts']['train']:,} |" in card
    assert f"| eval | {manifest['counts']['eval']:,} |" in card
    for verdict in manifest["verdicts"]:
        assert verdict["title"] in card


def test_two_runs_of_a_recipe_write_the_same_page(tmp_path):
    run_dir = tmp_path / "run"
    pages = []
    for _ in range(2):
        result = run_cli("run", REPO / "recipes" / "quickstart.yaml", "--out", run_dir, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        pages.append((run_dir / "report.html").read_bytes())
    assert pages[0] == pages[1]


def test_sections_of_stages_that_ran(report):
    page = report.read_text(encoding="utf-8")
    for section in ("funnel", "tokens", "clusters", "categories", "pii", "synthetic", "review", "records", "stages"):
        assert f'<section id="{section}">' in page, section


# -- hand-built run folders: what the page shows of a manifest ---------------------------------------
def built_run(folder: Path, stages: list[dict], places: dict[str, list[dict]], exports: dict | None = None) -> Path:
    """A run folder as the runner leaves it: the place files and a manifest that counts them."""
    for place, rows in places.items():
        write_jsonl(folder / f"{place}.jsonl", rows)
    counts = {place: len(places.get(place, [])) for place in ("train", "eval", "rag_candidates", "duplicates", "rejected")}
    manifest = {"recipe": {"path": "recipe.yaml", "content": {"name": "built"}},
                "counts": {"input": sum(counts.values()), "created": 0, **counts},
                "stages": [{"stage": s["stage"], "in": 0, "out": 0, "created": 0, "set_aside": {}, "seconds": 0.1,
                            "stats": s.get("stats", {})} for s in stages]}
    if exports:
        manifest["exports"] = exports
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = run_cli("report", folder)
    assert result.returncode == 0, result.stderr
    return folder / "report.html"


def kept(n: int) -> list[dict]:
    return [chat(f"question {i}", f"answer {i}") for i in range(n)]


def test_only_the_sections_of_stages_that_ran(tmp_path):
    page = built_run(tmp_path, [{"stage": "read"}, {"stage": "split"}], {"train": kept(5), "eval": kept(2)}).read_text(encoding="utf-8")
    for absent in ("synthetic", "review", "clusters", "pii", "system-prompt", "categories", "slices"):
        assert f'<section id="{absent}">' not in page, absent
    assert "Synthetic data" not in page and "Human review" not in page
    assert '<section id="tokens">' in page and '<section id="records">' in page


def test_slice_and_category_bars_are_shares_of_all_the_records_of_each_side(tmp_path):
    def row(i: int, slices: list[str], category: str | None = None) -> dict:
        return chat(f"question {i}", f"answer {i}", reasons={"difficulty": slices},
                    **({"meta": {"category": category}} if category else {}))
    train = [row(0, ["tool_use", "long_input"], "billing"), *(row(i, []) for i in range(1, 4))]  # 1 of 4 in each
    page = built_run(tmp_path, [{"stage": "split"}], {"train": train, "eval": [row(9, [])]}).read_text(encoding="utf-8")
    bars = dict(re.findall(r'<title>([^<]+ · train)</title>.*?class="num">(\d+)%</text>', page))
    assert bars == {"tool_use · train": "25", "long_input · train": "25", "billing · train": "25"}


def test_a_run_without_a_flag_stage_does_not_claim_a_knowledge_share(tmp_path):
    built_run(tmp_path / "unflagged", [{"stage": "split"}], {"train": kept(5)})
    titles = [v["title"] for v in gather(tmp_path / "unflagged").verdicts()]
    assert titles[0] == "Knowledge share not measured" and not any("of this data is knowledge" in t for t in titles)
    built_run(tmp_path / "flagged", [{"stage": "flag"}], {"train": kept(5)})
    assert gather(tmp_path / "flagged").verdicts()[0]["title"] == "0% of this data is knowledge"


def test_residual_pii_found_by_reviewers(tmp_path):
    review = {"stage": "review", "stats": {"queue": 180, "residual_pii": {"reviewed": 180, "flagged": 2, "rate": 2 / 180,
                                                                         "low": 0.00135, "high": 0.0396}}}
    page = built_run(tmp_path, [{"stage": "read"}, review], {"train": kept(3)}).read_text(encoding="utf-8")
    assert "Residual personal data found by reviewers: <b>2 of 180 reviewed (1.1%, 95% CI 0.1–4.0%)</b>" in page
    review["stats"]["residual_pii"] = {"reviewed": 0, "flagged": 0, "rate": 0.0, "low": 0.0, "high": 1.0}
    page = built_run(tmp_path / "none", [{"stage": "read"}, review], {"train": kept(3)}).read_text(encoding="utf-8")
    assert "Residual personal data found by reviewers: <b>none reviewed yet</b>" in page


def test_system_prompt_savings_per_call_and_per_month(tmp_path):
    saved = {"mode": "replace_with", "tokens_before": 1200, "tokens_after": 40, "tokens_saved_per_call": 1160,
             "calls_observed": 3000, "days_observed": 30.0, "calls_per_month": 3043.7, "model": "gpt-4.1-mini",
             "usd_per_month": 1.41}
    page = built_run(tmp_path, [{"stage": "read"}], {"train": kept(3)}, {"system_prompt": saved}).read_text(encoding="utf-8")
    assert "<b>1,160 tokens per call</b>" in page and "1,200 → 40 tokens" in page
    assert "<b>$1.41 a month</b>" in page and "3,044 calls a month on gpt-4.1-mini" in page
    unpriced = built_run(tmp_path / "unpriced", [{"stage": "read"}], {"train": kept(3)},
                         {"system_prompt": {**saved, "calls_per_month": None, "usd_per_month": None}}).read_text(encoding="utf-8")
    assert "<b>1,160 tokens per call</b>" in unpriced and "no timestamps" in unpriced


def test_a_large_run_embeds_an_even_sample_and_says_so(tmp_path):
    rejected = [{"raw": f"line {i}", "source": {"file": "logs.jsonl", "line": i + 1},
                 "disposition": {"place": "rejected", "stage": "read", "reason": "not valid JSON (column 3)"}}
                for i in range(4_500)]
    prompt = "You are the support assistant of a shop that sells tents. " * 40
    train = [{"messages": [{"role": "system", "content": prompt}, *row["messages"]]} for row in kept(300)]
    page = built_run(tmp_path, [{"stage": "read"}], {"train": train, "rejected": rejected}).read_text(encoding="utf-8")
    assert "rejected: 2,000 of 4,500 (an even sample)" in page and "train: all 300" in page
    assert page.count(prompt) == 1, "a system prompt every record repeats is embedded once"
    data = json.loads(re.search(r'id="records-data">(.*?)</script>', page, re.S).group(1))
    lines = [int(r["source"].rsplit(":", 1)[1]) for r in data["records"] if r["place"] == "rejected"]
    assert len(lines) == 2_000 and lines[0] == 1 and lines[-1] >= 4_497  # the cap, spread over the whole file
    assert {b - a for a, b in zip(lines, lines[1:])} == {2, 3}


def test_a_damaged_run_folder_gives_one_line_naming_the_file_and_line(tmp_path):
    built_run(tmp_path, [{"stage": "read"}], {"train": kept(3)})
    with open(tmp_path / "train.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"messages": [\n')
    result = run_cli("report", tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {tmp_path / 'train.jsonl'}:4: not valid JSON (unexpected end of data): was this run folder edited or cut short?"
    (tmp_path / "manifest.json").write_text('{"counts": {}}', encoding="utf-8")
    result = run_cli("report", tmp_path)
    assert result.returncode == 2 and result.stderr.strip().endswith("manifest.json: not a dataprep manifest: recipe, stages missing")


def test_the_page_states_what_the_export_measured_for_a_shorter_system_prompt(tmp_path):
    prompt = "You are the helpful support assistant of a shop that sells tents and stoves. " * 20
    logs = [{"timestamp": f"2026-11-{1 + i % 20:02d}T09:00:00Z",
             "request": {"model": "gpt-4.1-mini", "messages": [{"role": "system", "content": prompt},
                                                                {"role": "user", "content": f"question {i} about tent {i * 7}"}]},
             "response": {"choices": [{"message": {"role": "assistant", "content": f"answer {i}: size {i * 3}"}, "finish_reason": "stop"}]}}
            for i in range(30)]
    write_jsonl(tmp_path / "logs" / "chat.jsonl", logs)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"name": "short prompt", "inputs": [{"path": "logs"}], "stages": [{"mine": {}}, {"split": {}}],
                                  "export": {"formats": ["openai"], "options": {"system_prompt": "drop"}}}), encoding="utf-8")
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    saved = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))["exports"]["system_prompt"]
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert saved["tokens_saved_per_call"] > 300 and f"<b>{saved['tokens_saved_per_call']:,} tokens per call</b>" in page
    assert f"<b>${saved['usd_per_month']:,.2f} a month</b>" in page


def test_the_page_lists_what_each_export_left_out_and_the_provider_limits(tmp_path):
    write_jsonl(tmp_path / "logs" / "chat.jsonl", [
        {"messages": [{"role": "user", "content": [{"type": "text", "text": f"What is in photo {i}?"},
                                                   {"type": "image_url", "image_url": {"url": "https://example.com/p.png"}}]},
                      {"role": "assistant", "content": f"A tent, number {i}."}]} for i in range(3)])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"inputs": [{"path": "logs"}], "stages": [{"mine": {}}],
                                  "export": {"formats": ["openai", "bedrock"]}}), encoding="utf-8")
    assert run_cli("run", recipe, "--out", tmp_path / "run").returncode == 0
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    exports = page[page.index('<section id="exports">'):]
    exports = exports[:exports.index("</section>")]
    assert "<td>bedrock</td>" in exports and "image_url" in exports  # left out of bedrock, and why
    assert "at least 10" in exports or "minimum" in exports  # 3 examples: under OpenAI's minimum
