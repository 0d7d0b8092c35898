"""dataprep export: exact rows per format, validated before writing, nothing written on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataprep.errors import DataprepError, RecipeError, UsageError
from dataprep.export import export_file, export_run
from dataprep.exporters.core import ExportInvalid, ExportOptions
from dataprep.exporters.hf import dataset_card
from dataprep.validate import validate_file
from test_validate import run_cli  # noqa: F401  (the fixture)

RECORDS = Path(__file__).parent / "fixtures" / "export" / "records.jsonl"
SYSTEM = {"role": "system", "content": "You are Parcelly's support assistant."}
TOOLS = [{"type": "function", "function": {"name": "lookup_order", "description": "Find an order by id.",
          "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]
CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order_id":"1234"}'}}
TOOL_RESULT = {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "in transit"}'}
RESET = [{"role": "user", "content": "How do I reset my password?"},
         {"role": "assistant", "content": "Open Settings, then Security, then Reset password."}]
CANADA_Q = {"role": "user", "content": "Do you ship to Canada?"}
CANADA_A = {"role": "assistant", "content": "Yes, we ship to Canada in 5-7 business days."}
CANADA_WRONG = {"role": "assistant", "content": "No, we only ship within the US."}
GREETING = {"role": "assistant", "content": "Hi, I'm Parcelly. Ask me anything."}
LATE = [{"role": "user", "content": "My parcel is late."}, {"role": "user", "content": "Tracking says nothing."}]
ORDER_NO = {"role": "assistant", "content": "Sorry about that. What is the order number?"}
HI = {"role": "user", "content": "Hi"}
HELLO = {"role": "assistant", "content": "Hello! How can I help?"}
ADDRESS_Q = {"role": "user", "content": "Can I change my delivery address?"}
ADDRESS_A = {"role": "assistant", "content": "Yes, until the parcel ships: Orders, then Edit address."}
WHERE = {"role": "user", "content": "Where is order 1234?"}
TRANSIT = {"role": "assistant", "content": "Order 1234 is in transit."}


def export(fmt: str, out: Path, options: dict | None = None, inputs: list[Path] | None = None):
    summary = export_file(inputs or [RECORDS], fmt, out, ExportOptions.parse(options))
    return summary, read_jsonl(out) if out.suffix == ".jsonl" else None


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_records(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


# -- each format, exact rows ---------------------------------------------------------------------------
def test_openai_rows(tmp_path):
    summary, rows = export("openai", tmp_path / "train.openai.jsonl")
    assert rows == [
        {"messages": [SYSTEM, *RESET]},
        {"messages": [SYSTEM, HI, {**HELLO, "weight": 0}, ADDRESS_Q, {**ADDRESS_A, "weight": 1}]},
        {"messages": [SYSTEM, WHERE, {"role": "assistant", "content": None, "tool_calls": [CALL]}, TOOL_RESULT, TRANSIT],
         "tools": TOOLS},
        {"messages": [CANADA_Q, CANADA_A]},  # pending review is still exported: review is a state
        {"messages": [GREETING, *LATE, ORDER_NO]},
    ]
    assert (summary.records_in, summary.written, dict(summary.skipped)) == (5, 5, {})
    assert validate_file(tmp_path / "train.openai.jsonl", "openai").ok


def test_openai_exclude_pending(tmp_path):
    summary, rows = export("openai", tmp_path / "out.jsonl", {"exclude_pending": True})
    assert len(rows) == 4 and {"messages": [CANADA_Q, CANADA_A]} not in rows
    assert dict(summary.skipped) == {"review pending (exclude_pending)": 1}


def test_openai_dpo_rows(tmp_path):
    summary, rows = export("openai-dpo", tmp_path / "dpo.jsonl")
    assert rows == [{"input": {"messages": [CANADA_Q]}, "preferred_output": [CANADA_A], "non_preferred_output": [CANADA_WRONG]}]
    assert dict(summary.skipped) == {"no rejected reply to prefer against": 4}
    assert validate_file(tmp_path / "dpo.jsonl", "openai-dpo").ok


def test_bedrock_rows(tmp_path):
    summary, rows = export("bedrock", tmp_path / "bedrock.jsonl")
    assert rows == [
        {"system": SYSTEM["content"], "messages": RESET},
        {"system": SYSTEM["content"], "messages": [HI, HELLO, ADDRESS_Q, ADDRESS_A]},
        {"messages": [CANADA_Q, CANADA_A]},
        # the greeting before the user spoke is dropped; the two user turns are merged
        {"messages": [{"role": "user", "content": "My parcel is late.\n\nTracking says nothing."}, ORDER_NO]},
    ]
    assert dict(summary.skipped) == {"has tool calls (the format has no tool turns)": 1}
    assert validate_file(tmp_path / "bedrock.jsonl", "bedrock").ok


def test_trl_rows_in_each_style(tmp_path):
    call = {**CALL, "function": {"name": "lookup_order", "arguments": {"order_id": "1234"}}}
    _, messages = export("trl", tmp_path / "trl.jsonl")
    assert messages[1] == {"messages": [SYSTEM, HI, HELLO, ADDRESS_Q, ADDRESS_A]}
    assert messages[2] == {"messages": [SYSTEM, WHERE, {"role": "assistant", "content": None, "tool_calls": [call]},
                                        TOOL_RESULT, TRANSIT], "tools": TOOLS}
    assert len(messages) == 5
    _, completions = export("trl", tmp_path / "pc.jsonl", {"trl_style": "prompt-completion"})
    assert completions[0] == {"prompt": [SYSTEM, RESET[0]], "completion": [RESET[1]]}
    assert len(completions) == 5
    summary, preference = export("trl", tmp_path / "pref.jsonl", {"trl_style": "preference"})
    assert preference == [{"prompt": [CANADA_Q], "chosen": [CANADA_A], "rejected": [CANADA_WRONG]}]
    assert summary.skipped["no rejected reply to prefer against"] == 4


def test_sharegpt_rows(tmp_path):
    _, rows = export("sharegpt", tmp_path / "sharegpt.jsonl")
    assert rows[2] == {
        "conversations": [
            {"from": "system", "value": SYSTEM["content"]},
            {"from": "human", "value": "Where is order 1234?"},
            {"from": "function_call", "value": '{"name":"lookup_order","arguments":{"order_id":"1234"}}'},
            {"from": "observation", "value": '{"status": "in transit"}'},
            {"from": "gpt", "value": "Order 1234 is in transit."},
        ],
        "tools": json.dumps([TOOLS[0]["function"]], separators=(",", ":")),
    }
    assert rows[4] == {"conversations": [{"from": "human", "value": "My parcel is late.\nTracking says nothing."},
                                         {"from": "gpt", "value": ORDER_NO["content"]}]}
    assert len(rows) == 5


def test_alpaca_rows(tmp_path):
    summary, rows = export("alpaca", tmp_path / "alpaca.jsonl")
    assert rows == [
        {"instruction": RESET[0]["content"], "input": "", "output": RESET[1]["content"], "system": SYSTEM["content"]},
        {"instruction": ADDRESS_Q["content"], "input": "", "output": ADDRESS_A["content"], "system": SYSTEM["content"],
         "history": [["Hi", "Hello! How can I help?"]]},
        {"instruction": CANADA_Q["content"], "input": "", "output": CANADA_A["content"]},
        {"instruction": "My parcel is late.\n\nTracking says nothing.", "input": "", "output": ORDER_NO["content"]},
    ]
    assert summary.skipped["has tool calls (the format has no tool turns)"] == 1


# -- validation before writing -------------------------------------------------------------------------
def test_invalid_export_errors_and_writes_nothing(tmp_path):
    records = write_records(tmp_path / "in.jsonl", [
        {"id": "ok", "messages": RESET},
        {"id": "rec-empty-user", "messages": [{"role": "user", "content": ""}, RESET[1]]},
    ])
    out = tmp_path / "out.jsonl"
    with pytest.raises(ExportInvalid) as caught:
        export("openai", out, inputs=[records])
    assert caught.value.line == 2 and caught.value.file == str(records)
    assert "record rec-empty-user would fail openai validation: missing_content" in caught.value.message
    assert list(tmp_path.iterdir()) == [records]  # no output, no temp file left behind


def test_failed_export_keeps_the_previous_file(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    records = write_records(tmp_path / "in.jsonl", [{"messages": [RESET[0], {"role": "assistant", "content": "   "}]}])
    with pytest.raises(ExportInvalid):
        export("bedrock", out, inputs=[records])
    assert out.read_text(encoding="utf-8") == "previous\n"


def test_schema_formats_are_checked_too(tmp_path):
    records = write_records(tmp_path / "in.jsonl", [{"id": "no-question", "messages": [{"role": "assistant", "content": "Hello"}]}])
    with pytest.raises(ExportInvalid, match="record no-question would fail trl validation: schema: prompt"):
        export("trl", tmp_path / "out.jsonl", {"trl_style": "prompt-completion"}, inputs=[records])
    assert not (tmp_path / "out.jsonl").exists()


def test_export_that_writes_nothing_is_an_error(tmp_path):
    records = write_records(tmp_path / "in.jsonl", [{"messages": RESET}])
    with pytest.raises(DataprepError, match="no record could be exported as openai-dpo: no rejected reply to prefer against \\(1\\)"):
        export("openai-dpo", tmp_path / "dpo.jsonl", inputs=[records])
    assert not (tmp_path / "dpo.jsonl").exists()


def test_examples_over_the_context_limit_are_skipped_and_counted(tmp_path):
    records = write_records(tmp_path / "in.jsonl", [{"messages": RESET}, {"messages": [{"role": "user", "content": "word " * 300}, RESET[1]]}])
    summary, rows = export("openai", tmp_path / "out.jsonl", {"context_limit": 100}, inputs=[records])
    assert rows == [{"messages": RESET}]
    assert dict(summary.skipped) == {"over the context limit": 1}


def test_bad_input_line_is_an_input_error(tmp_path):
    records = tmp_path / "in.jsonl"
    records.write_text(json.dumps({"messages": RESET}) + "\n{broken\n", encoding="utf-8")
    with pytest.raises(DataprepError) as caught:
        export("openai", tmp_path / "out.jsonl", inputs=[records])
    assert (caught.value.file, caught.value.line) == (str(records), 2)
    assert not (tmp_path / "out.jsonl").exists()


def test_wrong_options_and_formats():
    with pytest.raises(RecipeError, match="export.options.*trl_styl.*allowed keys: context_limit, epochs, exclude_pending"):
        ExportOptions.parse({"trl_styl": "messages"})
    with pytest.raises(RecipeError, match="export.options.trl_style"):
        ExportOptions.parse({"trl_style": "chatml"})
    with pytest.raises(UsageError, match="unknown export format 'jsonl'"):
        export_file([RECORDS], "jsonl", Path("unused.jsonl"), ExportOptions())


# -- hf ---------------------------------------------------------------------------------------------------
def test_hf_export_loads_back_with_its_card(tmp_path):
    import datasets

    out = tmp_path / "hf"
    summary, _ = export("hf", out)
    loaded = datasets.load_from_disk(str(out))
    assert {split: len(rows) for split, rows in loaded.items()} == {"train": 4, "eval": 1}
    assert loaded["eval"][0]["id"] == "greeting"
    tools_row = loaded["train"][2]
    assert tools_row["id"] == "tools" and json.loads(tools_row["tools"]) == TOOLS
    assert tools_row["messages"][2]["tool_calls"] == [CALL]
    assert tools_row["messages"][3]["tool_call_id"] == "call_1"
    assert sorted(p.name for p in (out / "data").iterdir()) == ["eval.parquet", "train.parquet"]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "path: data/train.parquet" in card and "| train | 4 |" in card and "| eval | 1 |" in card
    assert "1 of 5 examples (20.0%) were picked for review" in card
    assert summary.written == 5


def test_hf_export_is_byte_identical_for_the_same_records(tmp_path):
    export("hf", tmp_path / "one")
    export("hf", tmp_path / "two")
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert "train/state.json" in map(str, files)
    assert all((tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes() for f in files)


def test_dataset_card_from_a_manifest():
    manifest = {"dataprep_version": "0.1.0",
                "recipe": {"path": "recipes/quickstart.yaml", "sha256": "abcdef1234567890",
                           "content": {"name": "quickstart", "inputs": [{"path": "../sample_data/logs"}],
                                       "stages": [{"mine": {}}, {"dedup": {"threshold": 0.8}}]}},
                "counts": {"input": 100, "created": 0, "train": 80, "eval": 0, "rag_candidates": 5, "duplicates": 10, "rejected": 5}}
    card = dataset_card(manifest)
    assert card.startswith("---\n") and "# quickstart" in card
    assert "- `../sample_data/logs` (format auto)" in card
    assert '- `dedup` {"threshold":0.8}' in card
    assert "| duplicates | 10 |" in card and "| input | 100 |" in card
    assert "PII was scrubbed by pattern matching" in card


# -- a run's export section --------------------------------------------------------------------------------
def test_export_run_writes_each_split_and_format(tmp_path):
    lines = RECORDS.read_text(encoding="utf-8").splitlines()
    (tmp_path / "train.jsonl").write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    (tmp_path / "eval.jsonl").write_text(lines[4] + "\n", encoding="utf-8")
    (tmp_path / "manifest.json").write_text(json.dumps({"recipe": {"content": {"name": "demo"}}}), encoding="utf-8")
    result = export_run(tmp_path, ["openai", "bedrock", "hf"], {"price_per_million_tokens": 5.0})
    exports = tmp_path / "exports"
    assert sorted(p.name for p in exports.iterdir()) == ["eval.bedrock.jsonl", "eval.openai.jsonl", "hf",
                                                         "train.bedrock.jsonl", "train.openai.jsonl"]
    assert result["openai"]["train"]["written"] == 4 and result["openai"]["eval"]["written"] == 1
    assert result["bedrock"]["train"]["skipped"] == {"has tool calls (the format has no tool turns)": 1}
    assert result["openai"]["train"]["training_cost"]["price_per_million_tokens"] == 5.0
    assert result["hf"]["splits"] == {"eval": 1, "train": 4}
    assert (result["hf"]["path"], result["openai"]["eval"]["path"]) == ("exports/hf", "exports/eval.openai.jsonl")
    assert "# demo" in (exports / "hf" / "README.md").read_text(encoding="utf-8")


def test_export_run_leaves_out_an_empty_split(tmp_path):
    (tmp_path / "train.jsonl").write_text(RECORDS.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "eval.jsonl").write_text("", encoding="utf-8")
    result = export_run(tmp_path, ["openai"], {})
    assert list(result["openai"]) == ["train"]
    assert not (tmp_path / "exports" / "eval.openai.jsonl").exists()


# -- the command ----------------------------------------------------------------------------------------------
def test_cli_export_then_validate(tmp_path, run_cli):
    out = tmp_path / "train.openai.jsonl"
    result = run_cli("export", str(RECORDS), "--format", "openai", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "records in" in result.stderr and "written" in result.stderr
    assert len(read_jsonl(out)) == 5
    assert run_cli("validate", str(out), "--json").returncode == 0


def test_cli_export_failure_is_one_line_exit_2(tmp_path, run_cli):
    # a valid record that OpenAI would refuse: a tool message answering no call
    orphan = [RESET[0], {"role": "tool", "content": "{}"}, RESET[1]]
    records = write_records(tmp_path / "in.jsonl", [{"id": "orphan-tool", "messages": orphan}])
    result = run_cli("export", str(records), "--format", "openai", "--out", str(tmp_path / "out.jsonl"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {records}:1: record orphan-tool would fail openai validation: tool_message_missing_id: "
        "messages[1] is a tool message without tool_call_id; nothing was written"]
    assert not (tmp_path / "out.jsonl").exists()
