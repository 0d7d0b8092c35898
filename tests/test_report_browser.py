"""The run report as a browser shows it: charts drawn, log content inert, records browsable.

Each check opens a copy of report.html with a probe script appended: after the page has run,
the probe writes what a person would see (innerText, title, what is clipped, what ran) into
the DOM, and Chromium's --dump-dom hands it back.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import run_cli, write_jsonl

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
needs_chromium = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium is not installed")

# Each payload, if it ever ran, would leave a mark the probe reads: window.__pwned or the title.
PAYLOADS = ["<script>window.__pwned='script';document.title='PWNED'</script>",
            "<img src=x onerror=\"window.__pwned='img';document.title='PWNED'\">",
            "\"><svg onload=\"window.__pwned='svg'\">",
            "<a href=\"javascript:window.__pwned='link'\">click</a>",
            "[bold]rich[/] </script><script>window.__pwned='close'</script> \u2028 &amp; &lt;b&gt;"]
RECIPE_NAME = PAYLOADS[0] + PAYLOADS[2]
PROBE = """<script>
window.addEventListener("load", function () { setTimeout(function () {
  var live = document.querySelectorAll("[onerror],[onload],[onclick],a[href^='javascript:'],main img,main a");
  var clipped = Array.prototype.filter.call(document.querySelectorAll("svg text"), function (t) {
    var box = t.getBoundingClientRect(), frame = t.ownerSVGElement.getBoundingClientRect();
    return box.left < frame.left - 0.5 || box.right > frame.right + 0.5 || box.top < frame.top - 0.5 || box.bottom > frame.bottom + 0.5;
  }).map(function (t) { return t.textContent; });
  var view = document.getElementById("record-view"), list = document.getElementById("record-list");
  var out = {pwned: window.__pwned || null, title: document.title, live: live.length, clipped: clipped,
             text: document.body.innerText, listed: list ? list.innerText : "", opened: view ? view.innerText : "",
             turns: view ? Array.prototype.map.call(view.querySelectorAll(".turn .role"), function (r) { return r.textContent; }) : []};
  var pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, 300); });
</script>"""


def look(page: Path, tmp_path: Path, fragment: str = "") -> dict:
    """What a person sees on ``page`` (opened at ``#fragment``) once its scripts have run."""
    probed = tmp_path / f"probed-{len(list(tmp_path.glob('probed-*')))}.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
                          "--dump-dom", probed.as_uri() + (f"#{fragment}" if fragment else "")],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the page did not finish loading"
    return json.loads(html.unescape(found.group(1)))


# -- a run whose logs are hostile -----------------------------------------------------------------------
def chat_log(user: str, reply: str, intent: str) -> dict:
    return {"request": {"model": "gpt-4.1-mini", "metadata": {"intent": intent},
                        "messages": [{"role": "system", "content": "You are the support bot."}, {"role": "user", "content": user}]},
            "response": {"choices": [{"message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}]}}


def tool_record(index: int, payload: str) -> dict:
    return {"messages": [{"role": "user", "content": f"where is order <ORDER_1>? case {index} {payload}"},
                         {"role": "assistant", "content": None, "tool_calls": [
                             {"id": f"call_{index}", "type": "function",
                              "function": {"name": "lookup_order", "arguments": json.dumps({"note": payload})}}]},
                         {"role": "tool", "tool_call_id": f"call_{index}", "content": f"shipped {payload}"},
                         {"role": "assistant", "content": f"Order <ORDER_1> shipped on day {index}."}],
            "tags": [payload, f"batch:{index % 2}"]}


#: an app's tool names are not scrubbed (they are structure); one no export can hold is rejected, its reason naming it
HOSTILE_TOOL = "refund<img src=x onerror=\"window.__pwned='tool'\">"


def conflicting_call(name: str) -> dict:
    """Two of these, calling different tools on one input: a labeling conflict whose reason names both tools."""
    return {"messages": [{"role": "user", "content": "my parcel never came, sort it out"},
                         {"role": "assistant", "content": None, "tool_calls": [
                             {"id": "call_x", "type": "function", "function": {"name": name, "arguments": "{}"}}]}]}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    topics = ["refund", "shipping", "sizes", "returns", "warranty", "stock", "hours", "gift cards"]
    logs = [chat_log(f"question {i} about {topics[i % 8]} number {i * 7}, mail me at jane{i}@example.com {PAYLOADS[i % 5]}",
                     f"Reply {i}: {topics[i % 8]} answer {i * 13} {PAYLOADS[(i + 1) % 5]}", PAYLOADS[i % 5])
            for i in range(40)]
    logs.append(chat_log("please refund me", f"I will not {PAYLOADS[1]}", "refusal"))
    write_jsonl(root / "logs" / "chat.jsonl", [*logs, '{"request": "' + PAYLOADS[0]])
    write_jsonl(root / "logs" / "records.jsonl", [tool_record(i, PAYLOADS[i % 5]) for i in range(10)]
                + [conflicting_call(name) for name in ("refund_order", "escalate_to_human", HOSTILE_TOOL)])
    recipe = root / "recipe.yaml"
    recipe.write_text(json.dumps({"name": RECIPE_NAME, "seed": 1, "inputs": [{"path": "logs"}],
                                  "stages": [{"mine": {"refusal_phrases": ["I will not"]}}, {"dedup": {}},
                                             {"split": {"eval_size": 0.2}}]}), encoding="utf-8")
    result = run_cli("run", recipe, "--out", root / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "run"


@needs_chromium
def test_nothing_from_the_logs_runs_and_placeholders_show_as_text(hostile_run, tmp_path):
    page = hostile_run / "report.html"
    for fragment in ("", "place=rejected", "q=" + quote("order <ORDER_1>")):
        seen = look(page, tmp_path, fragment)
        assert seen["pwned"] is None and seen["title"] == f"dataprep report · {RECIPE_NAME}" and seen["live"] == 0, seen["pwned"]
    assert RECIPE_NAME in seen["text"], "the recipe name is shown as the text it is"
    assert PAYLOADS[1] in seen["text"], "a category (the app's logged intent) is shown as text"
    assert "refusal: reply contains 'I will not'" in seen["text"]


@needs_chromium
def test_an_opened_record_is_a_chat_with_its_tool_calls_as_text(hostile_run, tmp_path):
    records = [json.loads(line) for line in (hostile_run / "train.jsonl").read_text(encoding="utf-8").split("\n") if line]  # not splitlines: U+2028 is inside a record
    tool_use = next(r for r in records if any(m.get("tool_calls") for m in r["messages"]))
    seen = look(hostile_run / "report.html", tmp_path, "open=" + quote(tool_use["id"]))
    assert seen["pwned"] is None and seen["live"] == 0
    assert [role.split(" · ")[0] for role in seen["turns"]] == [m["role"] for m in tool_use["messages"]]
    assert "Order <ORDER_1> shipped" in seen["opened"]
    assert "→ lookup_order(" in seen["opened"] and any("result of call_" in role for role in seen["turns"])
    for tag in tool_use["tags"]:
        assert tag in seen["opened"]


@needs_chromium
def test_filters_and_search_from_the_address_list_the_matching_records(hostile_run, tmp_path):
    page = hostile_run / "report.html"
    counts = json.loads((hostile_run / "manifest.json").read_text(encoding="utf-8"))["counts"]
    rejected = look(page, tmp_path, "place=rejected")
    assert f"\n{counts['rejected']} of {counts['input'] + counts['created']} embedded records match" in rejected["text"]
    assert "not valid JSON" in rejected["listed"] and "refusal" in rejected["listed"]
    assert "question 3 about" not in rejected["listed"]
    searched = look(page, tmp_path, "q=warranty")
    listed = searched["listed"]
    assert "warranty" in listed and "refund" not in listed and "shipping" not in listed
    by_tag = look(page, tmp_path, "tag=batch%3A1&place=train")
    assert "case 1 " in by_tag["listed"] and "case 2 " not in by_tag["listed"] and "question" not in by_tag["listed"]


@needs_chromium
def test_reasons_quoting_the_logs_show_as_text(hostile_run, tmp_path):
    records = [json.loads(line) for place in ("train", "eval")
               for line in (hostile_run / f"{place}.jsonl").read_text(encoding="utf-8").split("\n") if line]
    conflicts = [r for r in records if "conflict" in r["tags"]]
    assert len(conflicts) == 2, "the two tool calls on one input are one conflict, both kept for review"
    seen = look(hostile_run / "report.html", tmp_path, "open=" + quote(conflicts[0]["id"]))
    assert seen["pwned"] is None and seen["live"] == 0
    assert "different tool calls (refund_order vs escalate_to_human)" in seen["opened"]
    [hostile] = [r for r in (json.loads(line) for line in (hostile_run / "rejected.jsonl").read_text(encoding="utf-8").split("\n")
                             if line) if json.dumps(HOSTILE_TOOL) in r["disposition"]["reason"]]
    seen = look(hostile_run / "report.html", tmp_path, "open=" + quote(hostile["id"]))
    assert seen["pwned"] is None and seen["live"] == 0
    assert json.dumps(HOSTILE_TOOL) in seen["opened"], "the reason, quoting the tool's name, is shown as text"


def test_the_embedded_records_cannot_end_their_script_block(hostile_run):
    page = (hostile_run / "report.html").read_text(encoding="utf-8")
    data = re.search(r'<script type="application/json" id="records-data">(.*?)</script>', page, re.S).group(1)
    assert not re.search(r"[<>&\u2028\u2029]", data)
    embedded = json.loads(data)
    assert any("<ORDER_1>" in embedded["texts"][turn["text"]] for record in embedded["records"] for turn in record["turns"])
    assert len(re.findall(r"<script\b", page)) == 2, "only the page's own data block and script"
    assert not re.search(r"<script[^>]*\bsrc=", page)


# -- the quickstart, as a person sees it -------------------------------------------------------------------
@needs_chromium
def test_headless_chromium_renders_the_charts_without_clipping(quickstart_run, tmp_path):
    report = quickstart_run / "report.html"
    assert CHROMIUM, "CI must have chromium (the Makefile's test target installs it)"
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1280,2400", report.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    seen = look(report, tmp_path)
    assert seen["clipped"] == [], "chart text runs off the chart"
    assert "Where every record went" in seen["text"] and "Verdict" in seen["text"]
    assert "tokens per example" in seen["text"] and "share of examples" in seen["text"]
    assert "rejected: not UTF-8" in seen["text"] and "UTF-N" not in seen["text"]
    assert "rejected: the output cell is empty" in seen["text"]
