"""Reading what teams really export: compressed files, folders with other files in them, BOMs,
CSV dialects and broken quotes, chained Responses calls, files reached twice, huge lines, content
logged as JSON, and the one list of reader names."""

from __future__ import annotations

import bz2
import gzip
import json
import tracemalloc
from pathlib import Path

import pytest
import zstandard

from conftest import chat, read_jsonl, run_cli, write_jsonl
from dataprep import schemas
from dataprep.errors import InputError
from dataprep.formats import READERS, _load_readers, read_inputs, reader_names
from dataprep.jsonl import BadLine, iter_lines
from dataprep.recipe import InputSpec
from dataprep.record import Record

COMPRESSORS = {"gzip": gzip.compress, "bz2": bz2.compress, "zstd": lambda data: zstandard.ZstdCompressor().compress(data)}
LOG_LINES = [json.dumps(chat(f"question {n}", f"answer {n}")) for n in range(3)]


def jsonl_bytes(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8")


def read(*specs: InputSpec, **kwargs) -> list[Record | BadLine]:
    return list(read_inputs(specs, **kwargs))


def spec(path: Path, **options) -> InputSpec:
    return InputSpec(str(path), **options)


def replies(items: list[Record | BadLine]) -> list[str]:
    return [item.messages[-1]["content"] for item in items if isinstance(item, Record)]


def mine(tmp_path: Path, *inputs: Path, fmt: str | None = None) -> tuple[object, list[dict], list[dict]]:
    out = tmp_path / "out" / "mined.jsonl"
    result = run_cli("mine", *inputs, "--out", out, *(["--format", fmt] if fmt else []))
    return result, read_jsonl(out), read_jsonl(out.with_name("mined.rejected.jsonl"))


# -- 1. compressed inputs ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", COMPRESSORS)
def test_dataprep_mine_reads_a_compressed_log_whatever_its_name(tmp_path, kind):
    bad = LOG_LINES[:1] + ["{not json"] + LOG_LINES[1:]
    log = tmp_path / "logs" / "export.bin"  # the name says nothing: the magic bytes do
    log.parent.mkdir()
    log.write_bytes(COMPRESSORS[kind](jsonl_bytes(bad)))
    result, mined, rejected = mine(tmp_path, log)
    assert result.returncode == 0, result.stderr
    assert sorted(r["messages"][-1]["content"] for r in mined) == ["answer 0", "answer 1", "answer 2"]
    assert [(r["source"]["file"], r["source"]["line"]) for r in rejected] == [(str(log), 2)]


@pytest.mark.parametrize("kind", COMPRESSORS)
def test_compressed_files_are_read_in_folders_and_globs(tmp_path, kind):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.jsonl.gz").write_bytes(COMPRESSORS[kind](jsonl_bytes(LOG_LINES[:2])))
    (folder / "b.jsonl").write_bytes(jsonl_bytes(LOG_LINES[2:]))
    assert sorted(replies(read(spec(folder)))) == ["answer 0", "answer 1", "answer 2"]
    assert sorted(replies(read(spec(folder / "*.gz")))) == ["answer 0", "answer 1"]


def test_a_compressed_csv_is_read_as_a_table(tmp_path):
    table = tmp_path / "tickets.csv.gz"
    table.write_bytes(gzip.compress(b"question,answer\nWhere is my order?,It shipped.\n"))
    items = read(spec(table, mapping={"input": "question", "output": "answer"}))
    assert replies(items) == ["It shipped."]


def test_a_cut_short_gzip_keeps_what_it_read_and_says_where_it_broke(tmp_path):
    log = tmp_path / "cut.jsonl.gz"
    whole = gzip.compress(jsonl_bytes(LOG_LINES * 2000))
    log.write_bytes(whole[: len(whole) // 2])
    items = read(spec(log))
    assert len(replies(items)) > 100
    [bad] = [item for item in items if isinstance(item, BadLine)]
    assert bad.file == str(log) and bad.line == len(replies(items)) + 1
    assert "damaged or cut short" in bad.reason


def test_a_plain_log_starting_with_gzip_magic_bytes_is_read_as_plain(tmp_path):
    log = tmp_path / "odd.jsonl"
    log.write_bytes(b"\x1f\x8b not gzip at all\n" + jsonl_bytes(LOG_LINES[:1]))
    items = read(spec(log, format="records"))
    assert replies(items) == ["answer 0"]
    assert [(item.line, item.reason[:10]) for item in items if isinstance(item, BadLine)] == [(1, "not UTF-8 ")]


def test_a_compressed_log_is_streamed_not_decompressed_whole(tmp_path):
    log = tmp_path / "big.jsonl.zst"
    text = jsonl_bytes(LOG_LINES * 100_000)  # ~9 MB of text, a few hundred KB compressed
    log.write_bytes(zstandard.ZstdCompressor().compress(text))
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_lines(log))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 300_000
    assert peak < len(text) / 4


# -- 2. folders hold other files -------------------------------------------------------------------
def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    write_jsonl(folder / "calls.jsonl", [chat("hi", "hello")])
    (folder / "README.txt").write_text("Exported from the support bot on 2026-11-02.\n")
    (folder / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (folder / "empty.jsonl").write_bytes(b"")
    return folder


def test_files_in_a_folder_that_no_reader_knows_are_skipped_with_a_warning(tmp_path):
    folder = mixed_folder(tmp_path)
    result, mined, _ = mine(tmp_path, folder)
    assert result.returncode == 0, result.stderr
    assert [r["messages"][-1]["content"] for r in mined] == ["hello"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3
    assert any("README.txt" in line for line in warnings) and any("shot.png" in line for line in warnings)
    assert any("empty.jsonl: empty file" in line for line in warnings)


def test_a_run_manifest_lists_the_skipped_files_with_reasons(tmp_path):
    mixed_folder(tmp_path)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"inputs": [{"path": "export"}], "stages": []}))
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    skipped = {Path(item["path"]).name: item["reason"] for item in manifest["inputs"]["skipped"]}
    assert set(skipped) == {"README.txt", "shot.png", "empty.jsonl"}
    assert skipped["empty.jsonl"] == "empty file"
    assert manifest["counts"]["input"] == 1 and manifest["counts"]["train"] == 1


def test_a_folder_with_nothing_readable_is_a_one_line_error(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "README.txt").write_text("nothing to see\n")
    result, _, _ = mine(tmp_path, folder)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "nothing readable" in result.stderr and "README.txt" in result.stderr


def test_a_file_named_on_the_command_line_that_no_reader_knows_is_an_error_naming_it(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("just notes\n")
    log = write_jsonl(tmp_path / "calls.jsonl", [chat("hi", "hello")])
    result, _, _ = mine(tmp_path, log, notes)
    assert result.returncode == 2
    assert str(notes) in result.stderr and result.stderr.count("\n") == 1


# -- 3. byte order marks -----------------------------------------------------------------------------
def test_a_bom_does_not_cost_the_first_record_of_a_jsonl_file(tmp_path):
    log = tmp_path / "excel-saved.jsonl"
    log.write_bytes(b"\xef\xbb\xbf" + jsonl_bytes(LOG_LINES))
    items = read(spec(log))
    assert replies(items) == ["answer 0", "answer 1", "answer 2"]
    assert not [item for item in items if isinstance(item, BadLine)]


def test_a_bom_does_not_rename_the_first_csv_column(tmp_path):
    table = tmp_path / "tickets.csv"
    table.write_bytes(b"\xef\xbb\xbfquestion,answer\nWhere is my order?,It shipped.\n")
    assert replies(read(spec(table, mapping={"input": "question", "output": "answer"}))) == ["It shipped."]


# -- 4. CSV dialects and broken quotes -------------------------------------------------------------
@pytest.mark.parametrize("delimiter", [";", "|", "\t"])
def test_the_csv_delimiter_is_sniffed(tmp_path, delimiter):
    table = tmp_path / "tickets.csv"
    table.write_text(f"question{delimiter}answer\nWhere, exactly, is my order?{delimiter}It shipped, today.\n")
    items = read(spec(table, mapping={"input": "question", "output": "answer"}))
    assert [item.messages for item in items] == [[{"role": "user", "content": "Where, exactly, is my order?"},
                                                  {"role": "assistant", "content": "It shipped, today."}]]


def test_the_mapping_can_name_the_delimiter(tmp_path):
    table = tmp_path / "tickets.txt"
    table.write_text("question;answer\nA;B\n")
    items = read(spec(table, format="table", mapping={"input": "question", "output": "answer", "delimiter": "semicolon"}))
    assert replies(items) == ["B"]
    with pytest.raises(InputError, match="delimiter"):
        read(spec(table, format="table", mapping={"input": "question", "output": "answer", "delimiter": "::"}))


def test_an_unclosed_quote_loses_only_its_row_in_a_long_table(tmp_path):
    rows = [f"question {n},answer {n}" for n in range(500)]
    rows[100] = 'question 100,"answer 100 never closed'
    table = tmp_path / "tickets.csv"
    table.write_text("question,answer\n" + "\n".join(rows) + "\n")
    items = read(spec(table, mapping={"input": "question", "output": "answer"}))
    assert len(replies(items)) == 499 and replies(items)[-1] == "answer 499"
    assert [(item.line, item.reason) for item in items if isinstance(item, BadLine)] == [
        (102, "unreadable CSV row: unexpected end of data; reading resumed at line 103")]


def test_a_quote_running_past_the_row_line_limit_is_cut_there(tmp_path):
    from dataprep.formats.tabular import MAX_ROW_LINES

    rows = ['a,"opened and never closed'] + [f"question {n},answer {n}" for n in range(MAX_ROW_LINES + 5)]
    table = tmp_path / "tickets.csv"
    table.write_text("question,answer\n" + "\n".join(rows) + "\n")
    items = read(spec(table, mapping={"input": "question", "output": "answer"}))
    [bad] = [item for item in items if isinstance(item, BadLine)]
    assert bad.line == 2 and "over 10,000 lines" in bad.reason
    assert len(replies(items)) == MAX_ROW_LINES + 5


def test_a_multi_line_quoted_cell_is_still_one_row(tmp_path):
    table = tmp_path / "tickets.csv"
    table.write_text('question,answer\n"Where is\nmy order?","It shipped.\n\nTrack it here."\nA,B\n')
    items = read(spec(table, mapping={"input": "question", "output": "answer"}))
    assert [(item.source["line"], item.messages[-1]["content"]) for item in items] == [
        (2, "It shipped.\n\nTrack it here."), (6, "B")]


# -- 5. Responses calls chained by previous_response_id ----------------------------------------------
def responses_line(response_id: str, previous: str | None, said: str, replied: str) -> dict:
    request = {"model": "gpt-4.1", "instructions": "Be brief.", "input": said}
    if previous:
        request["previous_response_id"] = previous
    return {"request": request, "response": {
        "id": response_id, "object": "response", "status": "completed", "model": "gpt-4.1",
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": replied}]}]}}


def test_chained_responses_calls_become_one_conversation_and_the_earlier_calls_are_accounted_for(tmp_path):
    log = write_jsonl(tmp_path / "responses.jsonl", [
        responses_line("resp_3", "resp_2", "And to Mexico?", "Not yet."),  # logs need not be in order
        responses_line("resp_1", None, "Do you ship to Canada?", "Yes."),
        responses_line("resp_2", "resp_1", "How long does it take?", "5 to 8 days."),
        responses_line("resp_4", "resp_2", "And to Chile?", "Yes, 10 days."),  # a branch
    ])
    result, mined, _ = mine(tmp_path, log)
    assert result.returncode == 0, result.stderr
    said = {r["source"]["trace_id"]: [m["content"] for m in r["messages"]] for r in mined}
    assert said == {
        "resp_3": ["Be brief.", "Do you ship to Canada?", "Yes.", "How long does it take?", "5 to 8 days.",
                   "And to Mexico?", "Not yet."],
        "resp_4": ["Be brief.", "Do you ship to Canada?", "Yes.", "How long does it take?", "5 to 8 days.",
                   "And to Chile?", "Yes, 10 days."]}
    duplicates = read_jsonl(tmp_path / "out" / "mined.duplicates.jsonl")
    assert sorted(r["source"]["trace_id"] for r in duplicates) == ["resp_1", "resp_2"]


def test_a_chain_call_with_new_instructions_puts_them_first(tmp_path):
    later = responses_line("resp_2", "resp_1", "Now in French?", "Oui.")
    later["request"]["instructions"] = "Answer in French."
    log = write_jsonl(tmp_path / "responses.jsonl", [responses_line("resp_1", None, "Hi", "Hello."), later])
    [_, joined] = read(spec(log))
    assert [m["content"] for m in joined.messages] == ["Answer in French.", "Hi", "Hello.", "Now in French?", "Oui."]


# -- 6. files reached twice, and the run's own folder ------------------------------------------------
def test_a_file_reached_twice_is_read_once(tmp_path):
    log = write_jsonl(tmp_path / "logs" / "calls.jsonl", [chat("hi", "hello")])
    (tmp_path / "logs" / "link.jsonl").symlink_to(log)
    items = read(spec(log), spec(log), spec(tmp_path / "logs"), spec(tmp_path / "logs" / "*.jsonl"))
    assert replies(items) == ["hello"]


def test_a_run_folder_inside_an_input_folder_is_not_read_back(tmp_path):
    write_jsonl(tmp_path / "calls.jsonl", [chat("hi", "hello"), chat("bye", "goodbye")])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"inputs": [{"path": "."}], "stages": []}))
    for _ in range(2):  # the second run finds the first run's outputs in the input folder
        result = run_cli("run", recipe, "--out", tmp_path / "run")
        assert result.returncode == 0, result.stderr
        manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
        assert manifest["counts"]["input"] == 2, manifest["counts"]


def test_excluded_folders_are_left_out_of_folders_and_globs(tmp_path):
    write_jsonl(tmp_path / "calls.jsonl", [chat("hi", "hello")])
    write_jsonl(tmp_path / "run" / "train.jsonl", [chat("old", "output")])
    assert replies(read(spec(tmp_path), exclude=[tmp_path / "run"])) == ["hello"]
    assert replies(read(spec(tmp_path / "**" / "*.jsonl"), exclude=[tmp_path / "run"])) == ["hello"]


# -- 7. line length limit ------------------------------------------------------------------------------
def test_a_line_over_max_line_bytes_is_rejected_and_the_next_line_read(tmp_path):
    huge = json.dumps(chat("x" * 5000, "too long"))
    log = tmp_path / "calls.jsonl"
    log.write_bytes(jsonl_bytes([LOG_LINES[0], huge, LOG_LINES[1]]))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"inputs": [{"path": "calls.jsonl", "max_line_bytes": 1000}], "stages": []}))
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert [r["messages"][-1]["content"] for r in read_jsonl(tmp_path / "run" / "train.jsonl")] == ["answer 0", "answer 1"]
    [rejected] = read_jsonl(tmp_path / "run" / "rejected.jsonl")
    assert rejected["source"] == {"file": str(log), "line": 2}
    assert rejected["disposition"]["reason"] == f"line is {len(huge):,} bytes, over the 1,000 bytes limit (max_line_bytes)"


def test_an_over_long_line_is_never_held_whole(tmp_path):
    log = tmp_path / "calls.jsonl"
    with open(log, "wb") as handle:
        handle.write(b'{"messages": "' + b"x" * (30 * 2**20) + b'"}\n')
        handle.write(jsonl_bytes(LOG_LINES[:1]))
    tracemalloc.start()
    try:
        items = read(spec(log, max_line_bytes=2**20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert replies(items) == ["answer 0"]
    assert items[0].reason == "line is 30 MB, over the 1 MB limit (max_line_bytes)"
    assert peak < 8 * 2**20


def test_max_line_bytes_is_in_the_recipe_schema_with_its_default():
    option = schemas.load("recipe")["properties"]["inputs"]["items"]["properties"]["max_line_bytes"]
    assert option["default"] == 64 * 2**20 and option["description"]


# -- 8. content logged as a JSON value ---------------------------------------------------------------
def test_message_content_logged_as_an_object_is_kept_as_json_text(tmp_path):
    log = write_jsonl(tmp_path / "calls.jsonl", [{
        "request": {"model": "gpt-4.1", "messages": [{"role": "user", "content": {"text": "hi", "lang": "en"}}]},
        "response": {"object": "chat.completion", "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": [1, "two"]}}]}}])
    [record] = read(spec(log))
    assert json.loads(record.messages[0]["content"]) == {"text": "hi", "lang": "en"}
    assert json.loads(record.messages[1]["content"]) == [1, "two"]


def test_responses_message_content_logged_as_an_object_is_kept_as_json_text(tmp_path):
    line = responses_line("resp_1", None, "unused", "Yes.")
    line["request"]["input"] = [{"type": "message", "role": "user", "content": {"question": "ship to Canada?"}}]
    [record] = read(spec(write_jsonl(tmp_path / "responses.jsonl", [line])))
    assert json.loads(record.messages[1]["content"]) == {"question": "ship to Canada?"}


# -- 9. one list of reader names ---------------------------------------------------------------------
def test_the_recipe_schema_format_enum_is_the_reader_list():
    fmt = schemas.load("recipe")["properties"]["inputs"]["items"]["properties"]["format"]
    assert fmt["enum"] == ["auto", *reader_names()]


def test_every_registered_reader_is_listed_and_every_listed_one_registered():
    _load_readers()
    assert sorted(READERS) == reader_names()
    assert all(READERS[name].description for name in reader_names())


def test_mine_help_and_the_unknown_format_error_name_every_reader(tmp_path):
    help_text = " ".join(run_cli("mine", "--help", env={"COLUMNS": "300"}).stdout.split())
    log = write_jsonl(tmp_path / "calls.jsonl", [chat("hi", "hello")])
    result, _, _ = mine(tmp_path, log, fmt="openai-chats")
    assert result.returncode == 2
    for name in reader_names():
        assert f"{name}:" in help_text
        assert name in result.stderr


def test_files_in_hidden_folders_of_an_input_folder_are_not_read(tmp_path):
    write_jsonl(tmp_path / "logs" / "a.jsonl", [chat("question one", "answer one")])
    write_jsonl(tmp_path / "logs" / ".cache" / "b.jsonl", [chat("cached question", "cached answer")])
    write_jsonl(tmp_path / "logs" / ".hidden.jsonl", [chat("hidden question", "hidden answer")])
    result = run_cli("mine", tmp_path / "logs", "--out", tmp_path / "mined.jsonl")
    assert result.returncode == 0, result.stderr
    assert [row["messages"][0]["content"] for row in read_jsonl(tmp_path / "mined.jsonl")] == ["question one"]


def test_a_file_cut_in_pieces_gives_every_line_once_with_its_number(tmp_path, monkeypatch):
    """Pieces end at line ends and know the number of their first line, wherever a line crosses
    the blocks the file is scanned in: blank lines, a BOM, no newline at the end, tiny pieces."""
    import random

    from dataprep import jsonl
    from dataprep.jsonl import piece_lines, split_file

    rng = random.Random(3)
    monkeypatch.setattr(jsonl, "SPLIT_BLOCK", 64)  # lines cross blocks all the time
    for case in range(12):
        lines = [b"" if rng.random() < 0.1 else b'{"n": %d, "pad": "%s"}' % (n, b"x" * rng.randint(0, 200))
                 for n in range(rng.randint(1, 120))]
        data = (b"\xef\xbb\xbf" if case % 3 == 0 else b"") + b"\n".join(lines) + (b"\n" if case % 2 else b"")
        path = tmp_path / f"log{case}.jsonl"
        path.write_bytes(data)
        whole = [(line.line, line.value) for line in iter_lines(path)]
        for piece_bytes in (1, 100, 1000, 10**6):
            pieces = split_file(path, piece_bytes)
            assert pieces[0].start == 0 and pieces[-1].end == len(data)
            assert all(a.end == b.start and data[a.end - 1:a.end] == b"\n" for a, b in zip(pieces, pieces[1:]))
            got = [(line.line, line.value) for piece in pieces for line in piece_lines(piece, data[piece.start:piece.end])]
            assert got == whole, (case, piece_bytes)
