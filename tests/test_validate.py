"""dataprep validate: every rule class on the right line, stats, --json shape, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.errors import InputError, UsageError
from dataprep.tokens import count_messages
from dataprep.validate import Checker, validate_file

FIXTURES = Path(__file__).parent / "fixtures" / "validate"
OPENAI_SEEDED = FIXTURES / "openai_seeded.jsonl"
BEDROCK_SEEDED = FIXTURES / "bedrock_seeded.jsonl"

# line -> the error classes seeded on it (line 1 is a clean example with a tool round trip)
OPENAI_EXPECTED = {
    2: {"data_type"},
    3: {"missing_messages_list"},
    4: {"message_missing_key"},
    5: {"message_unrecognized_key"},
    6: {"unrecognized_role"},
    7: {"missing_content"},
    8: {"example_missing_assistant_message"},
    9: {"tool_call_invalid_arguments"},
    10: {"tool_call_missing_id"},
    11: {"tool_call_id_unknown"},
    12: {"tool_message_missing_id"},
    13: {"tool_calls_not_assistant"},
    14: {"tool_call_malformed"},
    15: {"tool_call_duplicate_id"},
    16: {"invalid_weight"},
    17: {"weight_not_assistant"},
    18: {"tools_invalid"},
    19: {"invalid_json"},
    20: {"invalid_utf8"},
    21: {"schema"},
    22: {"missing_content"},
}
BEDROCK_EXPECTED = {
    2: {"unrecognized_key"},
    3: {"invalid_system"},
    4: {"not_alternating"},
    5: {"first_message_not_user"},
    6: {"last_message_not_assistant"},
    7: {"unrecognized_role"},
    8: {"missing_content"},
    9: {"message_unrecognized_key"},
    10: {"too_few_messages", "last_message_not_assistant"},
    11: {"unrecognized_key", "missing_messages_list"},
    12: {"data_type"},
}

SYSTEM = {"role": "system", "content": "You are Parcelly's support assistant."}


def classes_by_line(problems) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    for problem in problems:
        found[problem.line].add(problem.cls)
    return dict(found)


def write_lines(path: Path, values) -> Path:
    path.write_text("".join(json.dumps(value) + "\n" for value in values), encoding="utf-8")
    return path


def clean_openai(n: int) -> list[dict]:
    return [{"messages": [SYSTEM, {"role": "user", "content": f"Question {i}?"},
                          {"role": "assistant", "content": f"Answer {i}."}]} for i in range(n)]


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run ``dataprep ARGS`` in this process through ``cli.main`` (as the console script does)."""
    from dataprep import cli

    monkeypatch.setattr(cli.out, "width", 200)
    monkeypatch.setattr(cli.err, "width", 200)

    def run(*args: str) -> Ran:
        monkeypatch.setattr(sys, "argv", ["dataprep", *args])
        code = 0
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


# -- rules ----------------------------------------------------------------------------------------
def test_openai_seeded_file_reports_each_class_on_its_line():
    report = validate_file(OPENAI_SEEDED, "openai")
    assert classes_by_line(report.errors) == OPENAI_EXPECTED
    assert not report.ok
    assert report.stats["examples"] == 22
    assert report.stats["examples_with_errors"] == 21
    assert report.stats["errors_by_class"]["missing_content"] == 2


def test_openai_seeded_file_warnings():
    report = validate_file(OPENAI_SEEDED, "openai")
    # line 10's call is the last message (the reply being taught), so it needs no answer;
    # on lines 11 and 12 the tool message does not answer it
    assert classes_by_line(report.warnings) == {4: {"missing_user_message"}, 11: {"tool_call_unanswered"},
                                                12: {"tool_call_unanswered"}}


def test_bedrock_seeded_file_reports_each_rule_on_its_line():
    report = validate_file(BEDROCK_SEEDED, "bedrock")
    assert classes_by_line(report.errors) == BEDROCK_EXPECTED


def test_dpo_rules(tmp_path):
    prompt = {"messages": [SYSTEM, {"role": "user", "content": "Do you ship to Canada?"}]}
    good = {"input": prompt, "preferred_output": [{"role": "assistant", "content": "Yes."}],
            "non_preferred_output": [{"role": "assistant", "content": "No."}]}
    lines = [
        good,
        {**good, "input": "Do you ship to Canada?"},
        {**good, "preferred_output": [{"role": "assistant", "content": "Yes."}, {"role": "assistant", "content": "Really."}]},
        {**good, "non_preferred_output": [{"role": "user", "content": "No."}]},
        {**good, "input": {"messages": [*prompt["messages"], {"role": "assistant", "content": "Hm."}]}},
        {**good, "preferred_output": [{"role": "assistant", "content": None, "tool_calls": []}]},
        {**good, "metadata": {"id": 1}},
        {**good, "non_preferred_output": [{"role": "assistant", "content": "Yes."}]},
    ]
    report = validate_file(write_lines(tmp_path / "dpo.jsonl", lines), "openai-dpo")
    assert classes_by_line(report.errors) == {
        2: {"missing_input"},
        3: {"invalid_output"},
        4: {"invalid_output"},
        5: {"input_ends_with_assistant"},
        6: {"invalid_output", "missing_content"},
        7: {"unrecognized_key"},
    }
    assert classes_by_line(report.warnings)[8] == {"identical_outputs"}


def test_clean_file_passes_with_token_stats(tmp_path):
    examples = clean_openai(10)
    report = validate_file(write_lines(tmp_path / "clean.jsonl", examples), "openai")
    assert report.ok and report.errors == [] and report.warnings == []
    expected = [count_messages(example["messages"]) for example in examples]
    tokens = report.stats["tokens"]
    assert tokens["counted_examples"] == 10
    assert tokens["total"] == sum(expected)
    assert tokens["max"] == max(expected)


def test_token_count_follows_the_cookbook_accounting():
    # "hello world" is 2 cl100k tokens; 3 framing tokens per message; 3 to prime the reply
    assert count_messages([{"role": "user", "content": "hello world"}]) == 8
    assert count_messages([{"role": "user", "content": "hello world", "name": "ana"}]) == 8 + 1 + 1


def test_training_cost_estimate(tmp_path):
    path = write_lines(tmp_path / "clean.jsonl", clean_openai(10))
    report = validate_file(path, "openai", {"price_per_million_tokens": 1000.0})
    cost = report.stats["training_cost"]
    total = report.stats["tokens"]["total"]
    assert cost["epochs"] == 10  # OpenAI's heuristic: 100 // 10 examples
    assert cost["billed_tokens"] == total * 10
    assert cost["estimated_usd"] == round(total * 10 * 1000.0 / 1e6, 2) > 1


def test_epochs_setting_and_env(tmp_path, monkeypatch):
    path = write_lines(tmp_path / "clean.jsonl", clean_openai(10))
    assert validate_file(path, "openai", {"epochs": 2}).stats["training_cost"]["epochs"] == 2
    monkeypatch.setenv("DATAPREP_EPOCHS", "4")
    assert validate_file(path, "openai").stats["training_cost"]["epochs"] == 4
    monkeypatch.setenv("DATAPREP_EPOCHS", "many")
    with pytest.raises(UsageError, match="DATAPREP_EPOCHS"):
        validate_file(path, "openai")


def test_examples_over_the_context_limit_are_errors(tmp_path, monkeypatch):
    examples = clean_openai(10)
    examples[3]["messages"][1]["content"] = "word " * 200
    path = write_lines(tmp_path / "long.jsonl", examples)
    report = validate_file(path, "openai", {"context_limit": 100})
    assert classes_by_line(report.errors) == {4: {"example_too_long"}}
    assert report.stats["over_context_limit"] == 1
    monkeypatch.setenv("DATAPREP_CONTEXT_LIMIT", "100")
    assert classes_by_line(validate_file(path, "openai").errors) == {4: {"example_too_long"}}


def test_empty_and_small_files(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert [(p.line, p.cls) for p in validate_file(empty, "openai").errors] == [(0, "empty_file")]
    small = validate_file(write_lines(tmp_path / "small.jsonl", clean_openai(3)), "openai")
    assert small.ok and [(p.line, p.cls) for p in small.warnings] == [(0, "too_few_examples")]


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(InputError, match="cannot open"):
        validate_file(tmp_path / "nope.jsonl", "openai")
    with pytest.raises(UsageError, match="openai, openai-dpo, bedrock"):
        validate_file(OPENAI_SEEDED, "gemini")


# -- the command ----------------------------------------------------------------------------------
def test_an_empty_file_is_a_data_error_with_or_without_format(tmp_path):
    empty = tmp_path / "train.jsonl"
    empty.write_text("", encoding="utf-8")
    for extra in ([], ["--format", "openai"]):
        result = subprocess.run([sys.executable, "-m", "dataprep", "validate", str(empty), "--json", *extra],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 1, result.stderr
        assert [e["class"] for e in json.loads(result.stdout)["errors"]] == ["empty_file"]


def test_cli_json_prints_one_object_and_exits_1():
    # a real process once: the console script's exit code and stdout as a script sees them
    result = subprocess.run([sys.executable, "-m", "dataprep.cli", "validate", str(OPENAI_SEEDED), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    report = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert set(report) == {"ok", "errors", "warnings", "stats"}
    assert report["ok"] is False
    assert {"line": 20, "class": "invalid_utf8", "message": "not UTF-8 (byte 0xe9 at column 47)"} in report["errors"]
    assert {(e["line"], e["class"]) for e in report["errors"]} == {
        (line, cls) for line, classes in OPENAI_EXPECTED.items() for cls in classes}
    assert all(set(w) == {"line", "class", "message"} for w in report["warnings"])


def test_cli_clean_file_exits_0(tmp_path, run_cli):
    path = write_lines(tmp_path / "clean.jsonl", clean_openai(10))
    result = run_cli("validate", str(path))
    assert result.returncode == 0, result.stderr
    assert "ok: no errors" in result.stdout
    bedrock = write_lines(tmp_path / "bedrock.jsonl", [{"messages": [{"role": "user", "content": "Hi"},
                                                                     {"role": "assistant", "content": "Hello!"}]}])
    assert run_cli("validate", str(bedrock), "--format", "bedrock", "--json").returncode == 0


def test_cli_human_mode_lists_problems_by_line(run_cli):
    result = run_cli("validate", str(BEDROCK_SEEDED), "--format", "bedrock")
    assert result.returncode == 1
    row = next(line for line in result.stdout.splitlines() if "first_message_not_user" in line)
    assert row.split("│")[1].strip() == "5"
    assert "13 errors" in result.stdout


def test_cli_unreadable_input_exits_2_with_one_line(tmp_path, run_cli):
    missing = tmp_path / "missing.jsonl"
    result = run_cli("validate", str(missing))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {missing}: cannot open: No such file or directory"]
    assert result.stdout == ""
    wrong = run_cli("validate", str(OPENAI_SEEDED), "--format", "gemini")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr


# -- robustness: any JSON line gets problems, never a traceback -----------------------------------------
json_values = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=4)
                           | st.sampled_from(["system", "user", "assistant", "tool", "function", "bot", "{}", "call_1"]),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                           max_leaves=8)


def shaped(**fields):
    """Dicts with any subset of ``fields``, each either its own shape or any JSON value."""
    return st.fixed_dictionaries({}, optional={key: shape | json_values for key, shape in fields.items()}) | json_values


function = shaped(name=st.sampled_from(["lookup_order", "bad name"]), arguments=st.sampled_from(['{"a": 1}', "[1]", "{"]),
                  parameters=st.just({"type": "object"}))
call = shaped(id=st.sampled_from(["call_1", "call_2", ""]), type=st.just("function"), function=function)
message = shaped(role=st.sampled_from(["system", "user", "assistant", "tool"]), content=st.text(max_size=4),
                 tool_calls=st.lists(call, max_size=2), tool_call_id=st.sampled_from(["call_1", "call_9"]),
                 weight=st.sampled_from([0, 1, 2]), name=st.text(max_size=3))
messages = st.lists(message, max_size=4)
tools = st.lists(shaped(type=st.just("function"), function=function), max_size=2)
example = shaped(messages=messages, tools=tools, system=st.text(max_size=3), input=shaped(messages=messages, tools=tools),
                 preferred_output=st.lists(message, max_size=2), non_preferred_output=st.lists(message, max_size=2))


@settings(max_examples=300, deadline=None)
@given(value=example, fmt=st.sampled_from(["openai", "openai-dpo", "bedrock"]))
def test_any_json_value_gets_problems_not_a_traceback(value, fmt):
    checked = Checker.for_format(fmt).check(value, 1)
    assert all(problem.line == 1 and problem.cls for problem in checked.errors + checked.warnings)


# -- the format told from the file ----------------------------------------------------------------
RECORDS = Path(__file__).parent / "fixtures" / "export" / "records.jsonl"


@pytest.mark.parametrize("fmt,options", [("openai", {}), ("openai-dpo", {}), ("bedrock", {}), ("sharegpt", {}),
                                         ("alpaca", {}), ("trl", {"trl_style": "messages"}),
                                         ("trl", {"trl_style": "prompt-completion"}), ("trl", {"trl_style": "preference"})])
def test_each_export_is_told_apart_and_passes(tmp_path, fmt, options):
    from dataprep.export import export_file
    from dataprep.exporters.core import ExportOptions

    path = tmp_path / f"train.{fmt}.jsonl"
    export_file([RECORDS], fmt, path, ExportOptions.parse(options))
    report = validate_file(path)
    assert (report.stats["format"], report.stats["format_detected"]) == (fmt, True)
    assert report.ok, report.errors


def test_cli_validates_a_dpo_file_without_being_told_its_format(tmp_path, run_cli):
    pair = {"input": {"messages": [SYSTEM, {"role": "user", "content": "Do you ship to Canada?"}]},
            "preferred_output": [{"role": "assistant", "content": "Yes."}],
            "non_preferred_output": [{"role": "assistant", "content": "No."}]}
    path = write_lines(tmp_path / "train.openai-dpo.jsonl", [pair] * 10)
    result = run_cli("validate", str(path), "--json")
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["stats"]["format"] == "openai-dpo" and report["errors"] == []
    human = run_cli("validate", str(path))
    assert "as openai-dpo (told from its first lines" in human.stdout and "ok: no errors" in human.stdout
    # --format still overrides: read as chat SFT, every line lacks its messages
    forced = run_cli("validate", str(path), "--format", "openai", "--json")
    assert forced.returncode == 1 and {e["class"] for e in json.loads(forced.stdout)["errors"]} == {"missing_messages_list"}


def test_a_file_in_no_known_format_exits_2_with_one_line(tmp_path, run_cli):
    path = write_lines(tmp_path / "rows.jsonl", [{"question": "Hi?", "answer": "Hello."}])
    result = run_cli("validate", str(path))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: cannot tell the format from its first lines; pass --format "
        "(openai, openai-dpo, bedrock, trl, sharegpt, alpaca)"]


def test_sharegpt_rules_follow_llama_factory():
    report = validate_file(FIXTURES / "sharegpt_seeded.jsonl")
    assert report.stats["format"] == "sharegpt"
    assert classes_by_line(report.errors) == {2: {"not_alternating"}, 3: {"last_turn_not_assistant"},
                                              4: {"function_call_invalid"}, 5: {"tools_invalid"},
                                              6: {"not_alternating"}, 7: {"missing_conversations"}}


def test_alpaca_rules():
    report = validate_file(FIXTURES / "alpaca_seeded.jsonl")
    assert report.stats["format"] == "alpaca"
    assert classes_by_line(report.errors) == {2: {"missing_instruction"}, 3: {"missing_content"}, 4: {"schema"}, 5: {"schema"}}


def test_trl_rules_in_each_style():
    report = validate_file(FIXTURES / "trl_seeded.jsonl")
    assert report.stats["format"] == "trl"  # line 1's object arguments mark the file as TRL, not OpenAI
    assert classes_by_line(report.errors) == {2: {"example_missing_assistant_message"}, 3: {"prompt_ends_with_assistant"},
                                              5: {"schema"}}
    assert classes_by_line(report.warnings) == {4: {"identical_outputs"}}
    assert report.stats["training_cost"] is None  # trained on your own hardware: nothing billed per token


def test_bedrock_record_caps_are_warnings_in_validate(tmp_path):
    line = {"system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    report = validate_file(write_lines(tmp_path / "big.jsonl", [line] * 10_001))
    assert report.ok and [(p.line, p.cls) for p in report.warnings] == [(0, "too_many_examples")]
