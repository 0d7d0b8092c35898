"""dataprep export: exact rows per format, validated before writing, nothing written on failure."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from dataprep.errors import DataprepError, RecipeError, UsageError
from conftest import SAMPLE_DATA, write_jsonl
from dataprep.export import export_file, export_run
from dataprep.exporters.core import ExportInvalid, ExportOptions
from dataprep.exporters.hf import dataset_card
from dataprep.providers.pricing import Prices
from dataprep.record import PLACES
from dataprep.tokens import count_text
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
    call = {"id": "c1", "type": "function", "function": {"name": "look up", "arguments": "{}"}}  # a name OpenAI refuses
    records = write_records(tmp_path / "in.jsonl", [{"messages": [RESET[0], {"role": "assistant", "content": None,
                                                                             "tool_calls": [call]}]}])
    with pytest.raises(ExportInvalid):
        export("openai", out, inputs=[records])
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
    records = {row["id"]: row for row in read_jsonl(RECORDS)}
    for row in [*loaded["train"], *loaded["eval"]]:  # where each example came from travels with it
        record = records[row["id"]]
        assert row["tags"] == record.get("tags", [])
        assert json.loads(row["source"]) == record.get("source", {})
        assert json.loads(row["provenance"]) == record.get("provenance", [])
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


# -- every assistant text and tool call survives (or the record is left out, counted) ---------------------
CONVERSATION = Path(__file__).parent / "fixtures" / "export" / "conversation.jsonl"
SAID = ["Let me check.", "Order 1234 has shipped; 5678 is in transit.", "Happy to help."]
CALLED = [("lookup_order", {"order_id": "1234"}), ("track_parcel", {"order_id": "5678"})]
RESULTS = ['{"status": "shipped"}', '{"status": "in transit"}']


def strings_in(value) -> list[str]:
    """Every string in a row, with JSON text opened up (tool calls and arguments may be either)."""
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_in(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    if isinstance(value, str):
        try:
            opened = json.loads(value)
        except ValueError:
            return [value]
        return [value, *strings_in(opened)] if isinstance(opened, (dict, list)) else [value]
    return []


def calls_in(value) -> list[tuple[str, dict]]:
    """(name, arguments) of every tool call anywhere in a row, arguments as objects."""
    found = []
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if isinstance(value, dict):
        if isinstance(value.get("name"), str) and "arguments" in value:  # a call's function, or a ShareGPT call
            arguments = value["arguments"]
            found.append((value["name"], json.loads(arguments) if isinstance(arguments, str) else arguments))
        found += [call for item in value.values() for call in calls_in(item)]
    elif isinstance(value, list):
        found += [call for item in value for call in calls_in(item)]
    return found


@pytest.mark.parametrize("fmt", ["openai", "trl", "hf"])
def test_tool_conversations_keep_every_reply_call_and_result(tmp_path, fmt):
    out = tmp_path / ("hf" if fmt == "hf" else f"out.{fmt}.jsonl")
    summary = export_file([CONVERSATION], fmt, out, ExportOptions())
    if fmt == "hf":
        import datasets
        rows = list(datasets.load_from_disk(str(out))["train"])
    else:
        rows = read_jsonl(out)
    assert summary.written == 2 and len(rows) == 2
    texts = strings_in(rows[0])
    assert all(said in texts for said in SAID) and all(result in texts for result in RESULTS)
    assert sorted(calls_in(rows[0]["messages"])) == CALLED
    assert sorted(calls_in(rows[1]["messages"])) == CALLED


def test_sharegpt_leaves_out_text_beside_a_call_and_keeps_parallel_calls(tmp_path):
    summary, rows = export("sharegpt", tmp_path / "out.jsonl", inputs=[CONVERSATION])
    # a ShareGPT turn holds text or calls: rather than lose "Let me check.", the record is left out and counted
    assert dict(summary.skipped) == {"assistant text and a tool call in one message (a ShareGPT turn holds one or the other)": 1}
    assert rows == [{"conversations": [
        {"from": "human", "value": "Where are orders 1234 and 5678?"},
        {"from": "function_call", "value": json.dumps([{"name": n, "arguments": a} for n, a in CALLED], separators=(",", ":"))},
        {"from": "observation", "value": "\n".join(RESULTS)},
        {"from": "gpt", "value": SAID[1]}],
        "tools": rows[0]["tools"]}]
    assert validate_file(tmp_path / "out.jsonl", "sharegpt").ok


@pytest.mark.parametrize("fmt", ["bedrock", "alpaca", "openai-dpo"])
def test_formats_without_tool_turns_leave_tool_conversations_out_counted(tmp_path, fmt):
    with pytest.raises(DataprepError, match=f"no record could be exported as {fmt}: .*\\(2\\)"):
        export(fmt, tmp_path / "out.jsonl", inputs=[CONVERSATION])
    assert not (tmp_path / "out.jsonl").exists()


# -- images, audio and files ------------------------------------------------------------------------------
MEDIA = Path(__file__).parent / "fixtures" / "export" / "media.jsonl"
IMAGE_URL = {"url": "https://example.com/box.png", "detail": "low"}


def test_openai_keeps_images_and_counts_what_it_cannot_take(tmp_path):
    summary, rows = export("openai", tmp_path / "out.jsonl", inputs=[MEDIA])
    assert rows[0]["messages"][1]["content"] == [{"type": "text", "text": "Is this box damaged?"},
                                                 {"type": "image_url", "image_url": IMAGE_URL}]
    assert len(rows) == 2 and rows[1]["messages"][0]["content"] == "Do you ship to Canada?"
    assert dict(summary.skipped) == {"has input_audio content (openai takes text and images)": 1,
                                     "has file content (openai takes text and images)": 1}
    assert validate_file(tmp_path / "out.jsonl", "openai").ok


def test_trl_keeps_images_as_chat_template_parts(tmp_path):
    summary, rows = export("trl", tmp_path / "out.jsonl", inputs=[MEDIA])
    assert rows[0]["messages"][1]["content"] == [{"type": "text", "text": "Is this box damaged?"},
                                                 {"type": "image", "url": IMAGE_URL["url"]}]
    assert summary.written == 2 and sum(summary.skipped.values()) == 2


def test_hf_keeps_every_part(tmp_path):
    import datasets

    summary, _ = export("hf", tmp_path / "hf", inputs=[MEDIA])
    rows = {row["id"]: row for row in datasets.load_from_disk(str(tmp_path / "hf"))["train"]}
    assert summary.written == 4 and set(rows) == {"image", "audio", "file", "text"}
    image_user = rows["image"]["messages"][1]
    assert image_user["content"] == "Is this box damaged?"
    assert [(p["type"], p["text"], json.loads(p["data"]) if p["data"] else None) for p in image_user["parts"]] == [
        ("text", "Is this box damaged?", None), ("image_url", None, IMAGE_URL)]
    assert json.loads(rows["audio"]["messages"][0]["parts"][0]["data"]) == {"data": "UklGRg==", "format": "wav"}
    assert rows["file"]["messages"][0]["parts"][1]["type"] == "file"
    assert rows["text"]["messages"][0]["parts"] is None


@pytest.mark.parametrize("fmt", ["bedrock", "sharegpt", "alpaca"])
def test_text_only_formats_leave_media_out_counted(tmp_path, fmt):
    summary, rows = export(fmt, tmp_path / "out.jsonl", inputs=[MEDIA])
    assert len(rows) == 1 and "Canada" in json.dumps(rows[0])
    assert dict(summary.skipped) == {f"has {kind} content ({fmt} takes text only)": 1 for kind in ("image_url", "input_audio", "file")}


def test_a_run_with_images_exports_what_fits_and_says_what_it_left_out(tmp_path):
    (tmp_path / "train.jsonl").write_text(MEDIA.read_text(encoding="utf-8"), encoding="utf-8")
    result = export_run(tmp_path, ["trl", "bedrock"], {})
    assert result["trl"]["train"]["written"] == 2
    assert result["bedrock"]["train"]["skipped"]["has image_url content (bedrock takes text only)"] == 1


# -- provider limits: warnings, not failures ----------------------------------------------------------------
def pairs(n: int) -> list[dict]:
    return [{"id": f"pair-{i}", "messages": [{"role": "user", "content": f"Do you ship to region {i}?"}, CANADA_A],
             "rejected_reply": CANADA_WRONG} for i in range(n)]


def test_a_dpo_export_under_openais_minimum_is_written_with_a_warning(tmp_path):
    write_records(tmp_path / "train.jsonl", pairs(7))
    write_records(tmp_path / "eval.jsonl", [{**pair, "split": "eval"} for pair in pairs(3)])
    result = export_run(tmp_path, ["openai-dpo", "openai"], {})
    assert len(read_jsonl(tmp_path / "exports" / "train.openai-dpo.jsonl")) == 7
    expected = {"format": "openai-dpo", "split": "train", "class": "too_few_examples",
                "message": "7 examples; OpenAI fine-tuning needs at least 10"}
    assert result["openai-dpo"]["train"]["limits"] == [{k: expected[k] for k in ("class", "message", "split")}]
    # a validation file has no minimum; the SFT files are as short, so they are warned about too
    assert result["warnings"] == [expected, {**expected, "format": "openai"}]


def test_bedrock_record_caps_are_warnings(tmp_path):
    records = [{"id": f"r{i}", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": f"Hello {i}"}]}
               for i in range(1001)]
    summary = export_file([write_records(tmp_path / "in.jsonl", [{**r, "split": "eval"} for r in records])],
                          "bedrock", tmp_path / "out.jsonl", ExportOptions())
    limits = summary.to_dict(ExportOptions())["limits"]
    assert limits == [{"class": "too_many_examples", "split": "eval",
                       "message": "1,001 examples; Bedrock takes at most 1,000 validation records"}]
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 1001


def test_the_target_models_context_sets_the_limit(tmp_path):
    long_reply = {"role": "assistant", "content": "word " * 20_000}  # ~20k tokens: fits gpt-4.1, not gpt-3.5-turbo
    records = write_records(tmp_path / "in.jsonl", [{"messages": RESET}, {"messages": [RESET[0], long_reply]}])
    summary, rows = export("openai", tmp_path / "a.jsonl", {"model": "gpt-4.1-mini"}, inputs=[records])
    assert len(rows) == 2 and not summary.skipped
    summary, rows = export("openai", tmp_path / "b.jsonl", {"model": "gpt-3.5-turbo-0125"}, inputs=[records])
    assert rows == [{"messages": RESET}] and dict(summary.skipped) == {"over the context limit": 1}
    summary, _ = export("openai", tmp_path / "c.jsonl", {"model": "my-own-model"}, inputs=[records])
    assert {limit["class"] for limit in summary.to_dict(ExportOptions.parse({"model": "my-own-model"}))["limits"]} == {
        "too_few_examples", "unknown_model"}


# -- nothing to export ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["openai", "openai-dpo", "bedrock", "trl", "sharegpt", "alpaca", "hf"])
def test_empty_input_writes_nothing_and_says_so(tmp_path, run_cli, fmt):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / ("hf" if fmt == "hf" else "out.jsonl")
    result = run_cli("export", str(empty), "--format", fmt, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "nothing to export" in result.stderr and "holds no records" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl"]


def test_a_run_with_no_records_exports_nothing_without_failing(tmp_path):
    for split in ("train", "eval"):
        (tmp_path / f"{split}.jsonl").write_text("", encoding="utf-8")
    result = export_run(tmp_path, ["openai", "hf"], {"system_prompt": "drop"})
    assert result["openai"] == {} and result["hf"]["written"] == 0 and "holds no records" in result["hf"]["skipped_because"]
    assert result["system_prompt"]["calls_observed"] == 0 and result["system_prompt"]["usd_per_month"] is None
    assert not (tmp_path / "exports" / "hf").exists()


def test_a_killed_hf_export_is_cleaned_up_by_the_next(tmp_path):
    exports = tmp_path / "exports"
    for stale in (".hf.k3j4h5g6.tmp", ".hf-cache.a1b2c3d4.tmp", ".hf-old.z9y8x7w6.tmp"):
        (exports / stale / "data").mkdir(parents=True)
        (exports / stale / "data" / "train.parquet").write_bytes(b"PAR1 half written")
    (tmp_path / "train.jsonl").write_text(RECORDS.read_text(encoding="utf-8"), encoding="utf-8")
    export_run(tmp_path, ["hf"], {})
    assert sorted(p.name for p in exports.iterdir()) == ["hf"]


def test_resume_removes_a_half_written_hf_export(tmp_path, run_cli):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"name: tiny\ninputs:\n  - path: {RECORDS}\nstages:\n  - split: {{eval_size: 0.2}}\n"
                      "export:\n  formats: [hf]\n", encoding="utf-8")
    run = tmp_path / "run"
    assert run_cli("run", str(recipe), "--out", str(run)).returncode == 0
    staging = run / "exports" / ".hf.q1w2e3r4.tmp"
    (staging / "data").mkdir(parents=True)  # what kill -9 during the hf export leaves
    result = run_cli("run", str(recipe), "--out", str(run), "--resume")
    assert result.returncode == 0, result.stderr
    assert not staging.exists() and (run / "exports" / "hf" / "dataset_dict.json").is_file()


# -- training under a short system prompt (issue 16) -----------------------------------------------------------
SHORT = "You are Parcelly support."


def test_replace_with_puts_one_short_system_prompt_in_every_record(tmp_path):
    _, rows = export("openai", tmp_path / "out.jsonl", {"system_prompt": {"replace_with": SHORT}})
    assert len(rows) == 5
    assert all([m for m in row["messages"] if m["role"] == "system"] == [{"role": "system", "content": SHORT}]
               and row["messages"][0]["role"] == "system" for row in rows)
    _, bedrock = export("bedrock", tmp_path / "bedrock.jsonl", {"system_prompt": {"replace_with": SHORT}})
    assert {row["system"] for row in bedrock} == {SHORT}


def test_drop_removes_every_system_prompt(tmp_path):
    _, rows = export("openai", tmp_path / "out.jsonl", {"system_prompt": "drop"})
    assert len(rows) == 5 and not any(m["role"] == "system" for row in rows for m in row["messages"])
    _, sharegpt = export("sharegpt", tmp_path / "sharegpt.jsonl", {"system_prompt": "drop"})
    assert not any(turn["from"] == "system" for row in sharegpt for turn in row["conversations"])


def test_a_wrong_system_prompt_option_fails_when_the_recipe_loads(tmp_path):
    from dataprep.recipe import load_recipe

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"inputs:\n  - path: {RECORDS}\nstages:\n  - split: {{}}\n"
                      "export:\n  formats: [openai]\n  options: {system_prompt: {replace: short}}\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="export.options.system_prompt"):
        load_recipe(recipe)


def logged_calls() -> list[tuple[datetime, str]]:
    """(when, system prompt) of every call in the quickstart's logs, read straight from the files."""
    calls = []
    for name in ("openai_chat.jsonl", "anthropic_messages.jsonl"):
        for raw in (SAMPLE_DATA / "logs" / name).read_bytes().splitlines():
            try:
                log = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(log, dict) or not log.get("timestamp"):
                continue
            request = log.get("request") or {}
            system = request.get("system") if "system" in request else "\n\n".join(
                m["content"] for m in request.get("messages", []) if m.get("role") in ("system", "developer"))
            when = datetime.fromisoformat(log["timestamp"].replace("Z", "+00:00"))
            calls.append((when, system or ""))
    return calls


def test_system_prompt_savings_on_the_quickstart_logs(tmp_path, quickstart_run):
    for name in [f"{place}.jsonl" for place in PLACES] + ["manifest.json"]:
        shutil.copy(quickstart_run / name, tmp_path / name)
    result = export_run(tmp_path, ["openai"], {"system_prompt": {"replace_with": SHORT}})
    saved = result["system_prompt"]

    calls = logged_calls()
    before = round(sum(count_text(system) for _, system in calls) / len(calls))
    after = count_text(SHORT)
    days = (max(when for when, _ in calls) - min(when for when, _ in calls)).total_seconds() / 86_400
    per_month = len(calls) / days * 365.25 / 12
    price = Prices().for_model("gpt-4.1-mini")["input"]  # the quickstart's synth model
    assert before > 2 * after > 0
    assert {k: saved[k] for k in ("mode", "tokens_before", "tokens_after", "tokens_saved_per_call", "calls_observed", "model")} == {
        "mode": "replace_with", "tokens_before": before, "tokens_after": after, "tokens_saved_per_call": before - after,
        "calls_observed": len(calls), "model": "gpt-4.1-mini"}
    assert saved["days_observed"] == pytest.approx(days, abs=1e-3)
    assert saved["calls_per_month"] == pytest.approx(per_month, abs=0.1)
    assert saved["usd_per_month"] == pytest.approx((before - after) * per_month * price / 1e6, abs=0.01)
    exported = read_jsonl(tmp_path / "exports" / "train.openai.jsonl")
    assert {m["content"] for row in exported for m in row["messages"] if m["role"] == "system"} == {SHORT}


def test_system_prompt_savings_without_timestamps_has_no_rate(tmp_path):
    (tmp_path / "train.jsonl").write_text(RECORDS.read_text(encoding="utf-8"), encoding="utf-8")
    saved = export_run(tmp_path, ["openai"], {"system_prompt": "drop", "model": "gpt-4o-mini"})["system_prompt"]
    # three of the five records carry the 8-token prompt; none says when it was made
    assert saved == {"mode": "drop", "tokens_before": round(3 * count_text(SYSTEM["content"]) / 5), "tokens_after": 0,
                     "tokens_saved_per_call": round(3 * count_text(SYSTEM["content"]) / 5), "calls_observed": 0,
                     "days_observed": 0.0, "calls_per_month": None, "model": "gpt-4o-mini", "usd_per_month": None}


def test_the_quickstart_manifest_warns_about_each_training_file_under_openai_s_minimum(quickstart_run):
    manifest = json.loads((quickstart_run / "manifest.json").read_text(encoding="utf-8"))
    warned = {(w["format"], w["split"]) for w in manifest["exports"]["warnings"] if w["class"] == "too_few_examples"}
    for fmt in ("openai", "openai-dpo"):  # the minimum is the training file's (a validation file has none)
        written = len(read_jsonl(quickstart_run / "exports" / f"train.{fmt}.jsonl"))
        assert ((fmt, "train") in warned) == (0 < written < 10), (fmt, written)


def test_a_small_export_warns_it_is_under_openai_s_minimum(tmp_path):
    records = write_jsonl(tmp_path / "records.jsonl", [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]} for i in range(7)])
    summary = export_file([records], "openai", tmp_path / "out.jsonl", ExportOptions())
    assert {"class": "too_few_examples", "message": "7 examples; OpenAI fine-tuning needs at least 10"} in [
        {key: limit[key] for key in ("class", "message")} for limit in summary.to_dict(ExportOptions()).get("limits", [])]


def test_a_greeting_before_the_user_spoke_is_left_out_and_counted(tmp_path):
    for fmt in ("bedrock", "alpaca", "sharegpt"):
        summary, rows = export(fmt, tmp_path / f"{fmt}.jsonl")
        assert GREETING["content"] not in json.dumps(rows)
        assert summary.warnings["assistant_turn_before_user_left_out"] == 1, fmt
    summary, rows = export("openai", tmp_path / "openai.jsonl")
    assert GREETING in rows[4]["messages"] and "assistant_turn_before_user_left_out" not in summary.warnings


def test_a_hostile_part_type_is_named_unrecognised(tmp_path):
    hostile = {"role": "user", "content": [{"type": "[bold]\x1b[31mboom"}, {"type": "text", "text": "Hi"}]}
    records = write_records(tmp_path / "in.jsonl", [{"messages": [hostile, RESET[1]]}, {"messages": RESET}])
    summary, _ = export("bedrock", tmp_path / "out.jsonl", inputs=[records])
    assert dict(summary.skipped) == {"has unrecognised content (bedrock takes text only)": 1}


def test_broken_image_parts_are_left_out_not_fatal(tmp_path):
    def asking(image_url):
        return {"messages": [{"role": "user", "content": [{"type": "text", "text": "Look"}, {"type": "image_url", "image_url": image_url}]},
                             RESET[1]]}
    records = write_records(tmp_path / "in.jsonl", [asking({"url": None}), asking({"url": "https://example.com/a.png", "detail": "ultra"}),
                                                    {"messages": RESET}])
    for fmt in ("openai", "trl"):
        summary, rows = export(fmt, tmp_path / f"out.{fmt}.jsonl", inputs=[records])
        assert dict(summary.skipped) == {"has an image_url part without a url": 1} and len(rows) == 2
    assert rows[0]["messages"][0]["content"][1] == {"type": "image", "url": "https://example.com/a.png"}
    _, openai_rows = export("openai", tmp_path / "again.jsonl", inputs=[records])
    assert openai_rows[0]["messages"][0]["content"][1] == {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
