"""OpenAI-family readers (chat completions, Responses, Batch) and the table reader: the exact
records each fixture line becomes, the reason each broken line is rejected, nothing lost."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow
import pyarrow.parquet as parquet
import pytest

from conftest import read_jsonl, run_cli
from dataprep.errors import InputError
from dataprep.formats import detect, read_inputs
from dataprep.jsonl import BadLine
from dataprep.recipe import InputSpec
from dataprep.record import Record, derived_id

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
CHAT_LOG = FIXTURES / "openai-chat" / "support_log.jsonl"
STORED = FIXTURES / "openai-chat" / "stored_completions.jsonl"
RESPONSES_LOG = FIXTURES / "openai-responses" / "support_log.jsonl"
BATCH = FIXTURES / "openai-batch"
TICKETS = FIXTURES / "table" / "tickets.csv"

SYSTEM = {"role": "system", "content": "You are Pip, the support assistant of Northwind Bikes. Be brief. "
                                       "Use lookup_order for order questions."}
LOOKUP_ORDER = {"type": "function", "function": {
    "name": "lookup_order", "description": "Find an order by its number.", "strict": False,
    "parameters": {"type": "object", "properties": {"order_number": {"type": "string"}}, "required": ["order_number"]}}}
ORDER_CALL = {"id": "call_Qm3vX1", "type": "function",
              "function": {"name": "lookup_order", "arguments": '{"order_number":"NB-20417"}'}}


def read(*paths: Path, fmt: str = "auto", mapping: dict | None = None) -> list[Record | BadLine]:
    return list(read_inputs([InputSpec(str(path), fmt, mapping or {}) for path in paths]))


def by_line(items: list[Record | BadLine]) -> dict[int, list[Record | BadLine]]:
    lines: dict[int, list] = {}
    for item in items:
        lines.setdefault(item.source["line"] if isinstance(item, Record) else item.line, []).append(item)
    return lines


def rejected(items: list[Record | BadLine]) -> dict[int, str]:
    return {item.line: item.reason for item in items if isinstance(item, BadLine)}


def nonblank_lines(path: Path) -> set[int]:
    return {number for number, text in enumerate(path.read_bytes().splitlines(), start=1) if text.strip()}


def record_at(items: list[Record | BadLine], line: int) -> dict:
    [record] = by_line(items)[line]
    assert isinstance(record, Record), record
    return record.to_dict()


# -- detection ------------------------------------------------------------------------------
@pytest.mark.parametrize("path, reader", [
    (CHAT_LOG, "openai-chat"), (STORED, "openai-chat"), (RESPONSES_LOG, "openai-responses"),
    (BATCH / "batch_input.jsonl", "openai-batch"), (BATCH / "batch_output.jsonl", "openai-batch"),
    (BATCH / "batch_errors.jsonl", "openai-batch"), (TICKETS, "table"), (FIXTURES / "table" / "chats.tsv", "table"),
])
def test_detect_picks_the_reader(path, reader):
    assert detect(path).name == reader


def test_sample_data_logs_are_detected_as_openai_chat():
    assert detect(Path(__file__).parent.parent / "sample_data" / "logs" / "openai_chat.jsonl").name == "openai-chat"


# -- OpenAI chat completions ------------------------------------------------------------------
def test_chat_log_every_nonblank_line_is_a_record_or_a_rejected_line():
    items = read(CHAT_LOG)
    assert set(by_line(items)) == nonblank_lines(CHAT_LOG)
    assert sum(isinstance(item, Record) for item in items) == 10  # line 11 holds two choices
    assert len({item.id for item in items if isinstance(item, Record)}) == 10


def test_chat_first_turn_exact_record():
    record = record_at(read(CHAT_LOG), 1)
    assert record == {
        "id": derived_id("openai-chat", "support_log.jsonl", 1, "chatcmpl-B1a2c3"),
        "messages": [SYSTEM, {"role": "user", "content": "Hi! Do you ship to Canada?"},
                     {"role": "assistant", "content": "Yes, we ship to Canada. Delivery takes 5 to 8 business days."}],
        "tools": [LOOKUP_ORDER],
        "source": {"format": "openai-chat", "file": str(CHAT_LOG), "line": 1, "trace_id": "chatcmpl-B1a2c3",
                   "model": "gpt-4.1-mini-2025-04-14", "timestamp": "2025-03-04T10:15:02Z", "finish_reason": "stop",
                   "conversation_id": "conv_8d1f"},
        "feedback": {"thumbs": "up"},
        "meta": {"metadata": {"app": "help-widget", "conversation_id": "conv_8d1f"}},
    }


def test_chat_tool_call_reply_has_double_encoded_arguments_repaired():
    record = record_at(read(CHAT_LOG), 2)
    assert record["messages"][-2:] == [{"role": "user", "content": "Where is my order NB-20417?"},
                                       {"role": "assistant", "content": None, "tool_calls": [ORDER_CALL]}]
    assert record["source"]["finish_reason"] == "tool_calls"
    assert record["source"]["conversation_id"] == "conv_8d1f"


def test_chat_history_with_tool_result_and_a_correction():
    record = record_at(read(CHAT_LOG), 3)
    assert record["messages"][4:] == [
        {"role": "assistant", "content": None, "tool_calls": [ORDER_CALL]},
        {"role": "tool", "tool_call_id": "call_Qm3vX1", "content": '{"status": "shipped", "carrier": "UPS", "eta": "2025-03-07"}'},
        {"role": "assistant", "content": "Your order shipped with UPS and should arrive on March 7."}]
    assert record["feedback"] == {
        "thumbs": "down", "comments": ["missing tracking link"],
        "correction": "Your order NB-20417 shipped with UPS and should arrive on March 7. "
                      "You can track it from the link in your shipping email."}
    assert "rejected_reply" not in record  # the mine stage applies corrections, not the reader


def test_chat_streamed_text_is_reassembled():
    record = record_at(read(CHAT_LOG), 4)
    assert record["messages"][-1] == {"role": "assistant", "content": "For safety reasons, worn helmets cannot be returned."}
    assert record["source"] == {"format": "openai-chat", "file": str(CHAT_LOG), "line": 4, "trace_id": "chatcmpl-B1s9",
                                "model": "gpt-4.1-mini-2025-04-14", "timestamp": "2025-03-04T11:02:10Z",
                                "finish_reason": "stop", "streamed": True, "conversation_id": "sess_41"}
    assert "tools" not in record


def test_chat_streamed_tool_call_fragments_are_joined_by_index():
    record = record_at(read(CHAT_LOG), 5)
    assert record["messages"][-1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_a1", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order_number":"NB-1"}'}},
        {"id": "call_b2", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order_number":"NB-2"}'}}]}
    assert record["source"]["finish_reason"] == "tool_calls"


def test_chat_raw_sse_body_is_reassembled():
    record = record_at(read(CHAT_LOG), 16)
    assert record["messages"] == [{"role": "user", "content": "Are you open on Sunday?"},
                                  {"role": "assistant", "content": "Yes, 10am to 4pm."}]
    assert record["source"]["streamed"] is True


def test_chat_top_level_params_with_legacy_functions():
    record = record_at(read(CHAT_LOG), 10)
    assert record["messages"] == [
        {"role": "user", "content": "Track NB-30001"},
        {"role": "assistant", "content": None, "tool_calls": [  # given an id, as a tool call needs one
            {"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order_number":"NB-30001"}'}}]}]
    assert record["tools"] == [{"type": "function", "function": {
        "name": "lookup_order", "parameters": {"type": "object", "properties": {"order_number": {"type": "string"}}}}}]
    assert record["source"]["user"] == "cust_77"
    assert "conversation_id" not in record["source"]  # an end user has many conversations
    assert record["source"]["finish_reason"] == "function_call"


def test_a_broken_stream_event_is_quoted_cut_between_tokens_so_the_scrubber_sees_whole_values(tmp_path):
    event = "data: {broken " + "x" * 60 + " mail priya.raman@example.org}"  # the email crosses the 80th character
    log = tmp_path / "sse.jsonl"
    log.write_text(json.dumps({"request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                               "response": event + "\n\ndata: [DONE]\n"}) + "\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"inputs: [{{path: {log}, format: openai-chat}}]\nstages: [{{mine: {{}}}}]\n")
    assert run_cli("run", recipe, "--out", tmp_path / "run").returncode == 0
    [row] = read_jsonl(tmp_path / "run" / "rejected.jsonl")
    assert row["disposition"]["reason"].startswith("the streamed response holds an event that is not JSON: '{broken xxx")
    assert "priya" not in json.dumps(row)


LEGACY_FUNCTIONS_CALL = {
    "model": "gpt-3.5-turbo", "functions": [{"name": "lookup_order", "parameters": {"type": "object"}}],
    "messages": [{"role": "user", "content": "Track NB-30001 and NB-30002"},
                 {"role": "assistant", "content": None, "function_call": {"name": "lookup_order", "arguments": '{"n": 1}'}},
                 {"role": "function", "name": "lookup_order", "content": '{"status": "shipped"}'},
                 {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {
                     "name": "lookup_order", "arguments": '{"n": 2}'}}]},
                 {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "packed"}'}],
    "response": {"id": "chatcmpl-L1", "choices": [{"message": {"role": "assistant", "content": "One shipped, one packed."},
                                                   "finish_reason": "stop"}]}}


def test_chat_legacy_function_messages_answer_the_call_they_follow(tmp_path):
    """A logged ``function_call`` has no id and its ``function`` answer names only the function:
    the call gets an id no other call holds, and the answer becomes the tool message naming it."""
    log = tmp_path / "legacy.jsonl"
    log.write_text(json.dumps(LEGACY_FUNCTIONS_CALL) + "\n")
    [record] = [item.to_dict() for item in read(log)]
    assert [(m["role"], m.get("tool_call_id"), [c["id"] for c in m.get("tool_calls", [])]) for m in record["messages"]] == [
        ("user", None, []), ("assistant", None, ["call_2"]), ("tool", "call_2", []),
        ("assistant", None, ["call_1"]), ("tool", "call_1", []), ("assistant", None, [])]


def test_legacy_function_calling_logs_export_to_openai_from_the_cli(tmp_path):
    """Before the calls were linked, a legacy call in train stopped every export: 'has no id'."""
    log = tmp_path / "legacy.jsonl"
    log.write_text(json.dumps(LEGACY_FUNCTIONS_CALL) + "\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"inputs: [{{path: {log}}}]\nstages: [{{mine: {{}}}}]\nexport: {{formats: [openai]}}\n")
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    [row] = read_jsonl(tmp_path / "run" / "exports" / "train.openai.jsonl")
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert row["messages"][2]["tool_call_id"] == row["messages"][1]["tool_calls"][0]["id"]


def test_chat_http_level_log_with_two_choices_gives_two_records():
    first, second = by_line(read(CHAT_LOG))[11]
    assert [first.messages[-1]["content"], second.messages[-1]["content"]] == ["The Spoke", "Chain Letter"]
    assert [first.source["choice"], second.source["choice"]] == [0, 1]
    assert first.messages[:-1] == second.messages[:-1] == [{"role": "user", "content": "Suggest a name for our newsletter"}]


def test_chat_refusal_is_kept_on_the_reply():
    record = record_at(read(CHAT_LOG), 13)
    assert record["messages"][-1] == {"role": "assistant", "content": None,
                                      "refusal": "I can't share other customers' information."}
    assert record["source"]["timestamp"] == "2025-03-04T11:11:40Z"


def test_chat_broken_lines_are_rejected_with_reasons():
    assert rejected(read(CHAT_LOG)) == {
        6: "the call failed: rate_limit_exceeded: Rate limit reached for gpt-4.1-mini in organization org-x on "
           "requests per min (RPM): Limit 500, Used 500, Requested 1.",
        7: "not valid JSON (unexpected end of data at column 133)",
        8: "response.choices should be a list, got a string",
        9: "response.choices is empty: the call produced no reply",
        12: "the call failed (HTTP 500): server_error: The server had an error while processing your request.",
        14: "the line should be an object, got a list",
        17: "'response' is missing: the log has no reply for this call",
        18: "request.messages[0].role is missing",
    }


def test_stored_completions_with_attached_messages():
    items = read(STORED)
    assert record_at(items, 1) == {
        "id": derived_id("openai-chat", "stored_completions.jsonl", 1, "chatcmpl-AyPNinnUqUDYo9SAdA52NobMflmj2"),
        "messages": [{"role": "developer", "content": "Answer as Pip from Northwind Bikes."},
                     {"role": "user", "content": "How long is the warranty on frames?"},
                     {"role": "assistant", "content": "Frames carry a lifetime warranty for the original owner."}],
        "source": {"format": "openai-chat", "file": str(STORED), "line": 1,
                   "trace_id": "chatcmpl-AyPNinnUqUDYo9SAdA52NobMflmj2", "model": "gpt-4.1-2025-04-14",
                   "timestamp": "2025-02-07T20:36:50Z", "finish_reason": "stop", "conversation_id": "web-991"},
        "meta": {"metadata": {"session_id": "web-991"}},
    }
    page = by_line(items)[2]
    assert [(r.source["trace_id"], r.messages) for r in page] == [
        ("chatcmpl-AyPO1", [{"role": "user", "content": "Do you sell gift cards?"},
                            {"role": "assistant", "content": "Yes, from $25 to $500."}]),
        ("chatcmpl-AyPO2", [{"role": "user", "content": "What sizes does the Trailblazer come in?"},
                            {"role": "assistant", "content": "S, M, L and XL."}])]
    assert rejected(items) == {3: "stored completion 'chatcmpl-AyPO3' has no input messages: attach them from "
                                  "GET /v1/chat/completions/{id}/messages as 'messages'"}


# -- OpenAI Responses ---------------------------------------------------------------------------
INSTRUCTIONS = {"role": "system", "content": "You are Pip, the support assistant of Northwind Bikes. Be brief."}
RESPONSES_TOOL = {"type": "function", "function": {
    "name": "lookup_order", "description": "Find an order by its number.", "strict": True,
    "parameters": {"type": "object", "properties": {"order_number": {"type": "string"}}, "required": ["order_number"],
                   "additionalProperties": False}}}
HISTORY = [INSTRUCTIONS, {"role": "user", "content": "Hi, do you ship to Canada?"},
           {"role": "assistant", "content": "Yes, delivery takes 5 to 8 business days."},
           {"role": "user", "content": "Where is order NB-20417?"}]
RESPONSES_CALL = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "call_Zx81", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order_number":"NB-20417"}'}}]}


def test_responses_every_nonblank_line_is_accounted_for():
    items = read(RESPONSES_LOG)
    assert set(by_line(items)) == nonblank_lines(RESPONSES_LOG)
    assert rejected(items) == {7: "the call failed: server_error: The model failed to generate a response.",
                               8: "not valid JSON (unexpected end of data at column 47)",
                               9: "response.output should be a list, got an object"}


def test_responses_instructions_and_string_input():
    assert record_at(read(RESPONSES_LOG), 1) == {
        "id": derived_id("openai-responses", "support_log.jsonl", 1, "resp_68a0"),
        "messages": HISTORY[:3],
        "source": {"format": "openai-responses", "file": str(RESPONSES_LOG), "line": 1, "trace_id": "resp_68a0",
                   "model": "gpt-4.1-2025-04-14", "timestamp": "2025-03-05T09:00:00Z", "finish_reason": "stop",
                   "conversation_id": "sess_r1"},
        "feedback": {"thumbs": "up"},
        "meta": {"metadata": {"session_id": "sess_r1"}},
    }


def test_responses_function_call_output_item_becomes_a_tool_call():
    record = record_at(read(RESPONSES_LOG), 2)
    assert record["messages"] == [*HISTORY, RESPONSES_CALL]  # reasoning item left out, arguments repaired
    assert record["tools"] == [RESPONSES_TOOL]
    assert record["source"]["finish_reason"] == "tool_calls"
    assert record["source"]["skipped_tools"] == ["web_search_preview"]


def test_responses_function_call_output_in_input_becomes_a_tool_message():
    record = record_at(read(RESPONSES_LOG), 3)
    assert record["messages"] == [*HISTORY, RESPONSES_CALL,
                                  {"role": "tool", "tool_call_id": "call_Zx81",
                                   "content": '{"status": "shipped", "eta": "2025-03-07"}'},
                                  {"role": "assistant", "content": "It shipped and should arrive on March 7."}]
    assert record["feedback"] == {"thumbs": "down", "comments": ["should include the carrier"],
                                  "correction": "It shipped with UPS and should arrive on March 7."}


def test_responses_call_chained_to_a_logged_call_gets_that_calls_conversation_first():
    record = record_at(read(RESPONSES_LOG), 4)
    assert record["messages"] == [*HISTORY[:3], {"role": "user", "content": "And to Mexico?"},
                                  {"role": "assistant", "content": "Not yet, sorry."}]
    assert record["source"]["previous_response_id"] == "resp_68a0"
    assert record["source"]["conversation_id"] == "sess_r2"  # whole now: collapsed like any re-sent history


def test_responses_call_chained_to_a_call_not_in_the_input_keeps_its_turn_and_is_grouped(tmp_path):
    lines = RESPONSES_LOG.read_text().splitlines()
    alone = tmp_path / "later.jsonl"
    alone.write_text(lines[3] + "\n")  # its earlier call resp_68a0 is in another file, not given
    [record] = [item.to_dict() for item in read(alone)]
    assert record["messages"] == [{"role": "user", "content": "And to Mexico?"},
                                  {"role": "assistant", "content": "Not yet, sorry."}]
    assert record["groups"] == {"conversation": "sess_r2"}
    assert "conversation_id" not in record["source"]


def test_responses_stream_events_and_incomplete_and_hosted_items():
    items = read(RESPONSES_LOG)
    assert record_at(items, 5)["messages"][-1] == {"role": "assistant", "content": "Yes, in all sizes."}
    truncated = record_at(items, 6)
    assert truncated["messages"][-1] == {"role": "assistant", "content": "Our warranty covers frames for"}
    assert truncated["source"]["finish_reason"] == "length"
    with_image = record_at(items, 10)
    assert with_image["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Is this bike on sale?"},
                                     {"type": "image_url", "image_url": {"url": "https://example.com/bike.jpg"}}]},
        {"role": "assistant", "content": "Yes, it is 20% off this week."}]
    assert with_image["source"]["skipped_items"] == ["web_search_call"]


# -- OpenAI Batch -------------------------------------------------------------------------------
BATCH_FILES = [BATCH / "batch_input.jsonl", BATCH / "batch_output.jsonl", BATCH / "batch_errors.jsonl"]


def batch_rejected(items):
    return {(Path(item.file).name, item.line): item.reason for item in items if isinstance(item, BadLine)}


@pytest.mark.parametrize("given", [[BATCH], BATCH_FILES, BATCH_FILES[::-1]], ids=["folder", "files", "reversed"])
def test_batch_files_are_joined_on_custom_id(given):
    items = read(*given)
    records = [item for item in items if isinstance(item, Record)]
    assert [(r.source["trace_id"], r.source["line"], r.source["output_line"], r.messages[-1]["content"])
            for r in records] == [("ticket-001", 1, 4, "shipping"), ("ticket-002", 2, 1, "warranty"),
                                  ("ticket-006", 6, 3, "other")]
    inputs, outputs = str(BATCH / "batch_input.jsonl"), str(BATCH / "batch_output.jsonl")
    assert records[0].to_dict() == {
        "id": derived_id("openai-batch", "batch_input.jsonl", 1, "ticket-001"),
        "messages": [{"role": "system", "content": "Classify the support ticket as one of: shipping, returns, "
                                                   "warranty, other. Answer with the label only."},
                     {"role": "user", "content": "My parcel has not arrived after two weeks."},
                     {"role": "assistant", "content": "shipping"}],
        "source": {"format": "openai-batch", "file": inputs, "line": 1, "trace_id": "ticket-001",
                   "model": "gpt-4.1-mini-2025-04-14", "timestamp": "2025-03-05T18:40:01Z", "finish_reason": "stop",
                   "request_id": "req_0001c1e", "output_file": outputs, "output_line": 4},
    }
    assert records[2].messages[0]["role"] == "system"  # a /v1/responses body: instructions -> system


def test_batch_failures_and_unmatched_lines_are_rejected_where_they_are():
    items = read(BATCH)
    inputs = str(BATCH / "batch_input.jsonl")
    assert batch_rejected(items) == {
        ("batch_errors.jsonl", 1): "batch request 'ticket-003' failed: batch_expired: This request could not be "
                                   f"executed before the completion window expired. (input at {inputs}:3)",
        ("batch_output.jsonl", 2): "batch request 'ticket-004' failed (HTTP 400): integer_below_min_value: "
                                   f"Invalid 'max_tokens': integer below minimum value. (input at {inputs}:4)",
        ("batch_input.jsonl", 5): "not valid JSON (unexpected end of data at column 68)",
        ("batch_input.jsonl", 7): "batch url /v1/embeddings is not a chat call; only /v1/chat/completions, "
                                  f"/v1/responses become records (output at {BATCH / 'batch_output.jsonl'}:5)",
        ("batch_input.jsonl", 8): "no batch output line has custom_id 'ticket-008'; give the output and error files "
                                  "together with the input file",
        ("batch_input.jsonl", 9): f"custom_id 'ticket-001' repeats the input at {inputs}:1",
        ("batch_output.jsonl", 6): "no batch input line has custom_id 'ticket-099'; give the input file together "
                                   "with its output files",
    }


def test_batch_nothing_lost_each_input_line_one_item_each_output_paired_or_reported():
    items = read(BATCH)
    input_lines = len(nonblank_lines(BATCH / "batch_input.jsonl"))
    unpaired_outputs = 1  # ticket-099
    assert len(items) == input_lines + unpaired_outputs
    covered = {(Path(i.file).name, i.line) for i in items if isinstance(i, BadLine)}
    covered |= {(Path(r.source["output_file"]).name, r.source["output_line"]) for r in items if isinstance(r, Record)}
    covered |= {("batch_output.jsonl", 5)}  # the embeddings output, named in its input's reason
    assert {("batch_output.jsonl", n) for n in nonblank_lines(BATCH / "batch_output.jsonl")} <= covered
    assert ("batch_errors.jsonl", 1) in covered


def test_batch_input_alone_rejects_every_request_for_want_of_outputs():
    items = read(BATCH / "batch_input.jsonl")
    assert not any(isinstance(item, Record) for item in items)
    assert len(items) == len(nonblank_lines(BATCH / "batch_input.jsonl"))


# -- tables -------------------------------------------------------------------------------------
TICKET_MAPPING = {"input": "question", "output": "agent_answer", "system": "system_prompt", "conversation_id": "conversation",
                  "timestamp": "created", "model": "model", "thumbs": "thumb", "score": "csat", "comment": "note",
                  "correction": "fix", "category": "topic", "id": "ticket_id"}


def test_csv_rows_with_a_full_mapping():
    items = read(TICKETS, mapping=TICKET_MAPPING)
    assert record_at(items, 2) == {
        "id": derived_id("table", "tickets.csv", 2, "T-1"),
        "messages": [{"role": "system", "content": "You are Pip from Northwind Bikes."},
                     {"role": "user", "content": "Do you ship to Canada?"},
                     {"role": "assistant", "content": "Yes, delivery takes 5 to 8 business days."}],
        "source": {"format": "table", "file": str(TICKETS), "line": 2, "trace_id": "T-1", "conversation_id": "c-1",
                   "model": "gpt-4.1-mini", "timestamp": "2025-03-01T10:00:00Z", "category": "shipping"},
        "feedback": {"thumbs": "up", "scores": {"csat": 5}},
        "tags": ["category:shipping"],
    }
    multiline = record_at(items, 3)  # the question spans lines 3-4 of the file
    assert multiline["messages"][0] == {"role": "user", "content": "Can I return\na helmet I wore once?"}
    assert multiline["feedback"] == {
        "thumbs": "down", "scores": {"csat": 2}, "comments": ["too short"],
        "correction": "No, worn helmets cannot be returned for safety reasons, but our crash replacement program "
                      "gives you 40% off a new one."}
    assert multiline["source"]["timestamp"] == "2025-03-01T10:00:00Z"  # unix seconds
    unreadable_score = record_at(items, 6)
    assert unreadable_score["meta"] == {"csat": "n/a"} and unreadable_score["feedback"] == {"thumbs": "up"}


def test_csv_bad_rows_are_rejected_at_their_line():
    items = read(TICKETS, mapping=TICKET_MAPPING)
    assert rejected(items) == {
        5: "the output cell (column 'agent_answer') is empty",
        7: "the row has 13 cells but the header has 12 (a stray delimiter or quote?)",
        8: "not UTF-8 (a byte that is not UTF-8 in column 'question')",
    }
    assert len(items) == 6  # six data rows: 3 records + 3 rejected


def test_table_mapping_errors_name_the_file_and_the_columns():
    with pytest.raises(InputError) as missing:
        read(TICKETS, mapping={"input": "question", "output": "answer"})
    assert missing.value.describe() == (f"{TICKETS}: mapped column 'answer' is not in the table; its columns are: "
                                        "ticket_id, question, agent_answer, system_prompt, conversation, created, "
                                        "model, thumb, csat, note, fix, topic")
    with pytest.raises(InputError, match="unknown mapping key 'reply'"):
        read(TICKETS, mapping={"input": "question", "reply": "agent_answer"})
    with pytest.raises(InputError, match="the mapping needs 'input' and 'output' columns"):
        read(TICKETS)


def test_tsv_and_forced_jsonl_tables():
    tsv = FIXTURES / "table" / "chats.tsv"
    items = read(tsv, mapping={"input": "prompt", "output": "reply", "thumbs": "rating"})
    assert record_at(items, 2)["feedback"] == {"thumbs": "up"}
    assert rejected(items) == {3: "the output cell (column 'reply') is empty"}
    rows = FIXTURES / "table" / "rows.jsonl"
    items = read(rows, fmt="table", mapping={"input": "q", "output": "a", "score": "stars"})
    assert record_at(items, 1)["messages"] == [{"role": "user", "content": "Do you repair e-bikes?"},
                                                {"role": "assistant", "content": "Yes, at our Portland shop."}]
    assert record_at(items, 1)["feedback"] == {"scores": {"stars": 4}}
    assert rejected(items) == {2: "the output cell (column 'a') is empty", 3: "a table row must be a JSON object"}


def test_parquet_streams_rows_with_default_mapping_and_messages_column(tmp_path):
    path = tmp_path / "pairs.parquet"
    parquet.write_table(pyarrow.table({"input": ["Do you ship to Canada?", "Hi", "Any discounts?"],
                                       "output": ["Yes.", None, "10% for members."],
                                       "thumbs": [True, False, None]}), path, row_group_size=2)
    items = read(path)  # columns named like the mapping keys need no mapping
    assert [item.feedback if isinstance(item, Record) else item.reason for item in items] == [
        {"thumbs": "up"}, "the output cell (column 'output') is empty", {}]
    assert items[2].source == {"format": "table", "file": str(path), "line": 3}

    conversations = tmp_path / "conversations.parquet"
    parquet.write_table(pyarrow.table({"conversation": [
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}],
        [{"role": "user", "content": "Bye"}]]}), conversations)
    items = read(conversations, mapping={"messages": "conversation"})
    assert items[0].messages == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]
    assert isinstance(items[1], Record) and items[1].target is None  # no reply: the mine stage drops empty replies


def test_a_file_that_is_not_parquet_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_text("not parquet")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read(path)


# -- through the runner and the CLI ---------------------------------------------------------------
def test_recipe_run_places_every_line(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({"name": "openai-formats", "inputs": [
        {"path": str(CHAT_LOG)}, {"path": str(STORED)}, {"path": str(RESPONSES_LOG)}, {"path": str(BATCH)},
        {"path": str(TICKETS), "mapping": TICKET_MAPPING}], "stages": []}))
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    expected_records = 10 + 3 + 7 + 3 + 3
    expected_rejected = 8 + 1 + 3 + 7 + 3
    assert manifest["counts"]["train"] == expected_records
    assert manifest["counts"]["rejected"] == expected_rejected
    assert manifest["counts"]["input"] == expected_records + expected_rejected
    rejected_lines = read_jsonl(tmp_path / "run" / "rejected.jsonl")
    assert {(Path(r["source"]["file"]).name, r["source"]["line"]) for r in rejected_lines} >= {
        ("support_log.jsonl", 7), ("batch_errors.jsonl", 1), ("tickets.csv", 8)}


def test_dataprep_mine_on_the_fixtures_accounts_for_every_item(tmp_path):
    folders = [FIXTURES / "openai-chat", FIXTURES / "openai-responses", BATCH]
    items = read(*folders)
    result = run_cli("mine", *folders, "--out", tmp_path / "mined.jsonl")
    assert result.returncode == 0, result.stderr
    placed = [read_jsonl(tmp_path / name) for name in ("mined.jsonl", "mined.rejected.jsonl", "mined.duplicates.jsonl")]
    assert sum(map(len, placed)) == len(items)
    unreadable = [row for row in placed[1] if row["disposition"]["stage"] == "read"]
    assert len(unreadable) == sum(isinstance(item, BadLine) for item in items)


def test_dataprep_mine_on_a_table_without_mapping_is_a_one_line_error(tmp_path):
    result = run_cli("mine", TICKETS, "--out", tmp_path / "mined.jsonl")
    assert result.returncode == 2
    assert "the mapping needs 'input' and 'output' columns" in result.stderr
    assert "Traceback" not in result.stderr


def test_csv_with_an_unclosed_quote_rejects_that_row_instead_of_swallowing_the_file(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text('input,output\nDo you ship to Canada?,Yes.\nWhere is my order?,"It shipped\nHi,Hello\n')
    items = read(path)
    assert record_at(items, 2)["messages"][-1] == {"role": "assistant", "content": "Yes."}
    assert rejected(items) == {3: "unreadable CSV row: unexpected end of data; reading resumed at line 4"}
    assert record_at(items, 4)["messages"] == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
