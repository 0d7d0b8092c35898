"""Whatever conversations the logs hold, mine and every export between them place each one: a
record mine lets through is written by every format or skipped by it with a reason, and never
stops an export ("nothing was written"). Conversations are drawn by hypothesis from what real
logs show: blank and whitespace turns, turns out of order, tool calls without ids or with ids
used twice, broken arguments, names OpenAI refuses, tool results answering nothing, legacy
function messages, image, audio and blank text parts, refusals, weights and corrections."""

from __future__ import annotations

import io
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from conftest import read_jsonl, write_jsonl
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

FORMATS = ["openai", "openai-dpo", "bedrock", "trl", "sharegpt", "alpaca", "hf"]
PLACES = ("train", "eval", "rag_candidates", "duplicates", "rejected")

texts = st.sampled_from([None, "", "  ", "\n", "Where is my order?", "It shipped.", "<b>hi</b>", "[bold]x[/]", "\x1b[31m"])
parts = st.lists(st.sampled_from([
    {"type": "text", "text": ""}, {"type": "text", "text": "see this"},
    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}, {"type": "image_url", "image_url": {"url": ""}},
    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]), min_size=1, max_size=2)
calls = st.lists(st.fixed_dictionaries(
    {"type": st.just("function"),
     "function": st.fixed_dictionaries({"name": st.sampled_from(["lookup", "get_order", "look up"]),
                                        "arguments": st.sampled_from(['{"n": 1}', "{}", '{"n": ', "[1]", "null"])})},
    optional={"id": st.sampled_from(["c1", "c2"])}), min_size=1, max_size=2)
messages = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "developer", "user", "assistant"]),
                           "content": st.one_of(texts, parts)}),
    st.fixed_dictionaries({"role": st.just("assistant"), "content": texts, "tool_calls": calls}),
    st.fixed_dictionaries({"role": st.just("assistant"), "content": st.none(), "refusal": st.just("I can't.")}),
    st.fixed_dictionaries({"role": st.just("assistant"), "content": texts, "weight": st.sampled_from([0, 1])}),
    st.fixed_dictionaries({"role": st.just("tool"), "content": texts}, optional={"tool_call_id": st.sampled_from(["c1", "c9"])}),
    st.fixed_dictionaries({"role": st.just("function"), "name": st.sampled_from(["lookup", "get_order"]), "content": texts}))
tools = st.lists(st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries(
    {"name": st.sampled_from(["lookup", "lookup", "get_order", "look up"]), "parameters": st.just({"type": "object"})})}),
    min_size=1, max_size=2)
records = st.lists(st.fixed_dictionaries(
    {"messages": st.lists(messages, min_size=1, max_size=6)},
    optional={"tools": tools, "feedback": st.fixed_dictionaries({"correction": st.sampled_from(["Fixed.", ""])})}),
    min_size=1, max_size=25)


@pytest.mark.parametrize("keep", [False, True], ids=["default filters", "empty and refused replies kept"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(logged=records)
def test_every_export_writes_or_skips_with_a_reason_whatever_mine_lets_through(tmp_path_factory, keep, logged):
    tmp = tmp_path_factory.mktemp("fuzz")
    rows = [{"id": f"r{index}", **record} for index, record in enumerate(logged)]
    write_jsonl(tmp / "in.jsonl", rows)
    mine = {"drop_empty": False, "drop_refusals": False} if keep else {}
    recipe = tmp / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"inputs": [{"path": str(tmp / "in.jsonl"), "format": "records"}],
                                      "stages": [{"mine": mine}], "export": {"formats": FORMATS}}), encoding="utf-8")
    manifest = run_recipe(load_recipe(recipe), tmp / "run", console=Console(file=io.StringIO())).manifest
    placed = {place: [row["id"] for row in read_jsonl(tmp / "run" / f"{place}.jsonl")] for place in PLACES}
    assert sorted(sum(placed.values(), [])) == sorted(row["id"] for row in rows)  # each record in exactly one place
    for fmt in FORMATS:  # every format accounts for every record it was given, or says why it wrote none
        found = manifest["exports"].get(fmt, {})
        for export in [found] if "written" in found else found.values():  # hf: one dataset of both splits
            if "records_in" in export:
                assert export["records_in"] == export["written"] + sum(export["skipped"].values()), json.dumps(export)
            else:
                assert export["written"] == 0 and export["skipped_because"].startswith("no record could be exported")
