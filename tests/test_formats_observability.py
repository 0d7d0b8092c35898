"""Readers for Anthropic, LangSmith, Langfuse, OpenTelemetry GenAI, LiteLLM and Helicone logs.

Each fixture under tests/fixtures/formats/<reader>/ is written in the format's own shape
(multi-turn, tool use, streaming, feedback, corrections, broken lines). The tests check the
exact records a reader makes, the reason for every line it cannot use, and that every input
line ends somewhere: in a record (``source.line``, or ``source.joined`` for feedback, scores,
batch requests and traces folded into it) or as a rejected line.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import SAMPLE_DATA, read_jsonl, run_cli
from dataprep.formats import ReadOptions, detect, expand_paths, get_reader, read_inputs
from dataprep.jsonl import BOM, BadLine
from dataprep.recipe import InputSpec, load_recipe
from dataprep.record import Record
from dataprep.runner import run_recipe
from dataprep.schemas import errors as schema_errors

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
READERS = ["anthropic-messages", "anthropic-batch", "langsmith", "langfuse", "otel-genai", "litellm", "helicone"]
FOLDERS = {"anthropic-messages": ["anthropic-messages"], "anthropic-batch": ["anthropic-batch"],
           "langsmith": ["langsmith"], "langfuse": ["langfuse/api", "langfuse/blob"], "otel-genai": ["otel-genai"],
           "litellm": ["litellm"], "helicone": ["helicone"]}
ALL_FOLDERS = [folder for folders in FOLDERS.values() for folder in folders]
SYSTEM = "You are Lark, the support assistant of Larkfield Outfitters. Be brief and friendly."
CLASSIFY = "Classify the support message into one of: refund, shipping, product, other. Answer with the label only."
LOOKUP_TOOL = {"type": "function", "function": {
    "name": "lookup_order", "description": "Find an order by its number.",
    "parameters": {"type": "object", "properties": {"order_number": {"type": "string"}}, "required": ["order_number"]}}}
TICKET_TOOL = {"type": "function", "function": {
    "name": "create_ticket", "description": "Open a ticket for the human team.",
    "parameters": {"type": "object", "properties": {"category": {"type": "string"}, "summary": {"type": "string"}},
                   "required": ["category", "summary"]}}}


def path(name: str) -> str:
    return str(FIXTURES / name)


def read(folder: str) -> list[Record | BadLine]:
    return list(read_inputs([InputSpec(path=path(folder))]))


def records(items: list) -> list[dict]:
    return [item.to_dict() for item in items if isinstance(item, Record)]


def by_line(items: list, name: str) -> dict[int, dict]:
    """The records of one file, by their line (one record per line in these fixtures)."""
    return {row["source"]["line"]: row for row in records(items) if row["source"]["file"] == path(name)}


def rejected(items: list) -> dict[tuple[str, int], str]:
    return {(Path(item.file).relative_to(FIXTURES).as_posix(), item.line): item.reason
            for item in items if isinstance(item, BadLine)}


def call(role: str, content, **extra) -> dict:
    return {"role": role, "content": content, **extra}


def tool_call(call_id: str, name: str, arguments: dict) -> dict:
    return {"type": "function", "function": {"name": name, "arguments": json.dumps(arguments, separators=(",", ":"))},
            "id": call_id}


# -- detection -------------------------------------------------------------------------------------
DETECTED = {
    "anthropic-messages/messages.jsonl": "anthropic-messages",
    "anthropic-batch/requests.jsonl": "anthropic-batch",
    "anthropic-batch/results.jsonl": "anthropic-batch",
    "langsmith/runs.jsonl": "langsmith",
    "langsmith/feedback.jsonl": "langsmith",
    "langfuse/api/traces.jsonl": "langfuse",
    "langfuse/api/observations.jsonl": "langfuse",
    "langfuse/api/scores.jsonl": "langfuse",
    "langfuse/blob/observations_v2.jsonl": "langfuse",
    "langfuse/blob/scores.jsonl": "langfuse",
    "otel-genai/spans.jsonl": "otel-genai",
    "otel-genai/export.json": "otel-genai",
    "litellm/standard_payload.jsonl": "litellm",
    "litellm/spend_logs.jsonl": "litellm",
    "helicone/export.jsonl": "helicone",
}


@pytest.mark.parametrize("name", sorted(DETECTED))
def test_detect_picks_the_reader_for_each_fixture(name):
    assert detect(FIXTURES / name).name == DETECTED[name]


def test_the_sample_anthropic_log_is_read_whole():
    items = read(str(SAMPLE_DATA / "logs" / "anthropic_messages.jsonl"))
    assert detect(SAMPLE_DATA / "logs" / "anthropic_messages.jsonl").name == "anthropic-messages"
    assert len(records(items)) == 681
    assert sorted((item.line, item.reason.split(" (")[0]) for item in items if isinstance(item, BadLine)) == [
        (165, "not valid JSON"), (683, "not UTF-8")]


# -- every line ends somewhere --------------------------------------------------------------------
def input_lines(folder: str) -> set[tuple[str, int]]:
    lines = set()
    for file in expand_paths(path(folder)):
        if file.suffix == ".json":  # one whole JSON document: its line 1 stands for the file
            lines.add((str(file), 1))
            continue
        lines |= {(str(file), number) for number, raw in enumerate(file.read_bytes().splitlines(), 1) if raw.strip()}
    return lines


def accounted(items: list) -> set[tuple[str, int]]:
    places = set()
    for item in items:
        if isinstance(item, BadLine):
            places.add((item.file, item.line))
        else:
            places.add((item.source["file"], item.source["line"]))
            places |= {(joined["file"], joined["line"]) for joined in item.source.get("joined", [])}
    return places


@pytest.mark.parametrize("folder", ALL_FOLDERS)
def test_every_input_line_becomes_a_record_or_a_rejected_line(folder):
    assert accounted(read(folder)) == input_lines(folder)


@pytest.mark.parametrize("folder", ALL_FOLDERS)
def test_every_record_keeps_the_record_contract(folder):
    for row in records(read(folder)):
        assert list(schema_errors("record", row)) == [], row["source"]


# -- Anthropic Messages ---------------------------------------------------------------------------
Q1, A1 = "Hi! Do you ship to Canada?", "Yes, we ship to Canada. Delivery takes 5 to 8 business days and costs $14."
Q2 = "Where is my order LF-20931?"
LOOKUP_CALL = tool_call("toolu_01A09q90qw90lq917835lq9", "lookup_order", {"order_number": "LF-20931"})


def test_anthropic_messages_become_openai_chat_with_tools_and_feedback():
    items = read("anthropic-messages")
    rows = by_line(items, "anthropic-messages/messages.jsonl")
    source = {"format": "anthropic-messages", "file": path("anthropic-messages/messages.jsonl"),
              "model": "claude-sonnet-4-5-20250929"}
    assert rows[1] == {
        "id": rows[1]["id"],
        "messages": [call("system", SYSTEM), call("user", Q1), call("assistant", A1)],
        "source": {**source, "line": 1, "trace_id": "msg_01XFDUDYJgAACzvnptvVoYEL", "finish_reason": "stop",
                   "conversation_id": "sess_a1", "timestamp": "2026-11-12T10:00:00Z"},
        "feedback": {"thumbs": "up"}}
    assert rows[2]["messages"][-1] == call("assistant", "Let me look that up.", tool_calls=[LOOKUP_CALL])
    assert rows[2]["tools"] == [LOOKUP_TOOL, TICKET_TOOL]
    assert rows[2]["source"]["finish_reason"] == "tool_calls"
    assert rows[3] == {
        "id": rows[3]["id"],
        "messages": [call("system", SYSTEM), call("user", Q1), call("assistant", A1), call("user", Q2),
                     call("assistant", "Let me look that up.", tool_calls=[LOOKUP_CALL]),
                     {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9",
                      "content": '{"status": "shipped", "carrier": "UPS", "eta": "2026-11-14"}'},
                     call("assistant", "Your order LF-20931 has shipped with UPS and should arrive on November 14.")],
        "tools": [LOOKUP_TOOL, TICKET_TOOL],
        "source": {**source, "line": 3, "trace_id": "msg_01Bw7rTz3kd8", "finish_reason": "stop",
                   "conversation_id": "sess_a1", "timestamp": "2026-11-12T10:01:12Z"},
        "feedback": {"thumbs": "down", "comments": ["wrong delivery date"],
                     "correction": "Your order LF-20931 has shipped with UPS and should arrive on November 15."}}
    assert len({row["id"] for row in rows.values()}) == len(rows) == 8


def test_anthropic_truncation_streaming_images_prefill_and_refusals():
    rows = by_line(read("anthropic-messages"), "anthropic-messages/messages.jsonl")
    assert rows[4]["source"]["finish_reason"] == "length"
    assert rows[5]["messages"][-1] == call("assistant", "Sorry about that! I'm opening a ticket.", tool_calls=[
        tool_call("toolu_01T1x", "create_ticket", {"category": "damaged", "summary": "Tent pole arrived broken"})])
    assert rows[5]["source"]["streamed"] is True and rows[5]["source"]["trace_id"] == "msg_01Stream9"
    assert rows[5]["source"]["finish_reason"] == "tool_calls"
    assert rows[8]["messages"][1] == call("user", [
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}},
        {"type": "text", "text": "Is this jacket the Ridge Shell?"}])
    # a prefilled assistant turn and its continuation are one target
    assert rows[9]["messages"] == [call("system", "Classify the message. Answer with JSON."),
                                   call("user", "I want my money back for the stove"),
                                   call("assistant", '{"intent": "refund"}')]
    assert rows[10]["messages"][-1] == call("assistant", "")
    assert rows[10]["source"]["finish_reason"] == "refusal"


def test_anthropic_lines_without_a_usable_call_say_why():
    bad = rejected(read("anthropic-messages"))
    assert bad[("anthropic-messages/messages.jsonl", 6)] == "the call failed: overloaded_error: Overloaded"
    assert bad[("anthropic-messages/messages.jsonl", 7)].startswith("not valid JSON")
    assert bad[("anthropic-messages/messages.jsonl", 11)] == "request.messages should be a list, got a string"
    assert len(bad) == 3


def test_anthropic_batch_joins_results_to_requests_in_any_order():
    items = read("anthropic-batch")
    rows = by_line(items, "anthropic-batch/results.jsonl")
    source = {"format": "anthropic-batch", "file": path("anthropic-batch/results.jsonl"),
              "model": "claude-haiku-4-5-20251001", "finish_reason": "stop"}
    assert rows[3] == {"id": rows[3]["id"],
                       "messages": [call("system", CLASSIFY), call("user", "Where is my parcel? It's been 10 days."),
                                    call("assistant", "shipping")],
                       "source": {**source, "line": 3, "trace_id": "ticket-001",
                                  "joined": [{"file": path("anthropic-batch/requests.jsonl"), "line": 1}]}}
    assert rows[1]["messages"] == [
        call("system", SYSTEM), call("user", "Status of LF-30077?"),
        call("assistant", None, tool_calls=[tool_call("toolu_b2", "lookup_order", {"order_number": "LF-30077"})]),
        {"role": "tool", "tool_call_id": "toolu_b2", "content": "delivered 2026-11-03"},
        call("assistant", "Order LF-30077 was delivered on November 3.")]
    assert rows[1]["tools"] == [LOOKUP_TOOL] and rows[1]["source"]["trace_id"] == "ticket-002"
    results = path("anthropic-batch/results.jsonl")
    assert rejected(items) == {
        ("anthropic-batch/results.jsonl", 2): "batch request 'ticket-004' expired: the batch expired before this "
                                              "request ran",
        ("anthropic-batch/requests.jsonl", 4): f"its result ({results}:2) was rejected: batch request 'ticket-004' "
                                               "expired: the batch expired before this request ran",
        ("anthropic-batch/results.jsonl", 4): "batch request 'ticket-003' errored: invalid_request_error: max_tokens: "
                                              "Field required",
        ("anthropic-batch/requests.jsonl", 3): f"its result ({results}:4) was rejected: batch request 'ticket-003' "
                                               "errored: invalid_request_error: max_tokens: Field required",
        ("anthropic-batch/results.jsonl", 5): "no request with custom_id 'ticket-999' in the input; add the batch's "
                                              "request file",
        ("anthropic-batch/results.jsonl", 6): "neither a batch request ({custom_id, params}) nor a batch result "
                                              "({custom_id, result})",
        ("anthropic-batch/requests.jsonl", 5): "batch request 'ticket-005' has no result in the input"}


# -- LangSmith ----------------------------------------------------------------------------------
Q_REFUND = "I returned the Ridge Shell (order LF-41002). When do I get my refund?"
ROOT_RUN = "0193f0a1-7c2e-7d40-9a51-1f2e3d4c5b6a"
REFUND_CALL = tool_call("call_Vx9a1", "lookup_order", {"order_number": "LF-41002"})


def test_langsmith_llm_runs_in_both_shapes_with_their_feedback():
    items = read("langsmith")
    rows = by_line(items, "langsmith/runs.jsonl")
    assert sorted(rows) == [2, 4, 5, 6]
    # raw OpenAI kwargs (a wrapped client): the first call of the trace asks for a tool
    assert rows[2]["messages"] == [call("system", SYSTEM), call("user", Q_REFUND),
                                   call("assistant", None, tool_calls=[REFUND_CALL])]
    assert rows[2]["source"] == {"format": "langsmith", "file": path("langsmith/runs.jsonl"), "line": 2,
                                 "trace_id": ROOT_RUN, "conversation_id": "thr-8812",
                                 "timestamp": "2026-11-12T11:00:00.120000Z", "model": "gpt-4o-mini-2024-07-18",
                                 "finish_reason": "tool_calls"}
    assert "feedback" not in rows[2]
    # the user's thumbs and correction were given on the trace's root run: they belong to its last model call
    assert rows[4] == {
        "id": rows[4]["id"],
        "messages": [call("system", SYSTEM), call("user", Q_REFUND), call("assistant", None, tool_calls=[REFUND_CALL]),
                     {"role": "tool", "content": '{"status": "refunded", "amount": 189, "date": "2026-11-10"}',
                      "tool_call_id": "call_Vx9a1"},
                     call("assistant", "Your refund of $189 was issued on November 10.")],
        "tools": [LOOKUP_TOOL],
        "source": {"format": "langsmith", "file": path("langsmith/runs.jsonl"), "line": 4, "trace_id": ROOT_RUN,
                   "conversation_id": "thr-8812", "timestamp": "2026-11-12T11:00:01.400000Z",
                   "model": "gpt-4o-mini-2024-07-18", "finish_reason": "stop",
                   "joined": [{"file": path("langsmith/feedback.jsonl"), "line": 1}]},
        "feedback": {"thumbs": "down", "comments": ["the refund went out on the 11th"],
                     "correction": "Your refund of $189 was issued on November 11."},
        "meta": {"metadata": {"ls_provider": "openai", "ls_model_type": "chat", "ls_model_name": "gpt-4o-mini",
                              "thread_id": "thr-8812", "revision_id": "v2.3.1"}}}
    # LangChain's serialized messages (lc constructor form) and generations
    assert rows[5]["messages"] == [
        call("system", SYSTEM), call("user", "Is order LF-50210 on its way?"),
        call("assistant", None, tool_calls=[tool_call("call_lc7", "lookup_order", {"order_number": "LF-50210"})]),
        {"role": "tool", "content": "in transit, eta 2026-11-15", "tool_call_id": "call_lc7"},
        call("assistant", "Yes! LF-50210 is in transit and should arrive on November 15.")]
    assert rows[5]["tools"] == [LOOKUP_TOOL]
    assert rows[5]["source"]["conversation_id"] == "sess-9" and rows[5]["source"]["model"] == "gpt-4o-2024-08-06"
    assert rows[5]["feedback"] == {"thumbs": "up", "scores": {"correctness": 0.8}, "comments": ["mostly right"]}
    # messages_to_dict form ({"type": "human", "data": ...}), Anthropic content blocks, feedback_stats only
    assert rows[6]["messages"] == [call("system", SYSTEM), call("user", "Do you price match?"),
                                   call("assistant", "We don't price match, but we run a sale every season.")]
    assert rows[6]["source"]["finish_reason"] == "stop" and rows[6]["source"]["model"] == "claude-haiku-4-5-20251001"
    assert rows[6]["feedback"] == {"thumbs": "down"}


def test_langsmith_other_runs_errors_and_orphan_feedback_are_rejected_with_reasons():
    assert rejected(read("langsmith")) == {
        ("langsmith/runs.jsonl", 1): "not a model call (run_type chain)",
        ("langsmith/runs.jsonl", 3): "not a model call (run_type tool)",
        ("langsmith/runs.jsonl", 7): "the call failed: RateLimitError('Error code: 429 - Rate limit reached for "
                                     "gpt-4o-mini')",
        ("langsmith/runs.jsonl", 8): "not valid JSON (unexpected end of data at column 63)",
        ("langsmith/feedback.jsonl", 4): "feedback for '0193ffff-9999-7999-8999-999999999999', which is not a model "
                                         "call in the input",
        ("langsmith/feedback.jsonl", 5): "feedback for '0193f0a1-7c40-71aa-b2c3-3b4c5d6e7f80', which is not a model "
                                         "call in the input"}


# -- Langfuse -----------------------------------------------------------------------------------
LF_Q = "Can I swap the Basecamp stove for the larger one?"


def test_langfuse_api_generations_with_sessions_scores_and_a_trace_level_correction():
    items = read("langfuse/api")
    rows = by_line(items, "langfuse/api/observations.jsonl")
    assert sorted(rows) == [2, 3]
    decide_call = tool_call("call_lf1", "lookup_order", {"order_number": "LF-61001"})
    assert rows[2] == {  # a double-encoded tool-call argument string is repaired
        "id": rows[2]["id"],
        "messages": [call("system", SYSTEM), call("user", LF_Q), call("assistant", None, tool_calls=[decide_call])],
        "tools": [LOOKUP_TOOL],
        "source": {"format": "langfuse", "file": path("langfuse/api/observations.jsonl"), "line": 2,
                   "trace_id": "trace-lf-1", "conversation_id": "sess-lf-1", "timestamp": "2026-11-12T15:00:00.200000Z",
                   "model": "gpt-4o-mini", "finish_reason": "tool_calls",
                   "joined": [{"file": path("langfuse/api/traces.jsonl"), "line": 1},
                              {"file": path("langfuse/api/scores.jsonl"), "line": 1}]},
        "feedback": {"thumbs": "up"},
        "meta": {"metadata": {"finish_reason": "tool_calls"}}}
    assert rows[3]["messages"][-2:] == [
        {"role": "tool", "content": '{"item": "Basecamp stove", "delivered": "2026-11-02"}',
         "tool_call_id": "call_lf1"},
        call("assistant", "Yes, exchanges are free within 60 days.")]
    # the CORRECTION score is trace-level: it goes to the trace's last generation that answered
    assert rows[3]["feedback"] == {
        "scores": {"helpfulness": 0.6}, "comments": ["did not mention the label"],
        "correction": "Yes, exchanges are free within 60 days. Bring the stove to any store or use the prepaid label."}
    assert rows[3]["source"]["joined"] == [{"file": path("langfuse/api/traces.jsonl"), "line": 1},
                                           {"file": path("langfuse/api/scores.jsonl"), "line": 3},
                                           {"file": path("langfuse/api/scores.jsonl"), "line": 2}]
    # a trace fetched with its details: its generation and score are inside the trace line
    traced = by_line(items, "langfuse/api/traces.jsonl")[3]
    assert traced["messages"] == [call("system", SYSTEM), call("user", "What are your opening hours?"),
                                  call("assistant", "Our stores open 9am to 6pm, Monday to Saturday.")]
    assert traced["source"]["conversation_id"] == "sess-lf-3" and "joined" not in traced["source"]
    assert traced["feedback"] == {"thumbs": "up"}
    assert rejected(items) == {
        ("langfuse/api/observations.jsonl", 1): "not a model call (SPAN observation retrieve-policy)",
        ("langfuse/api/observations.jsonl", 4): "the call failed: Error code: 429 - Rate limit exceeded",
        ("langfuse/api/observations.jsonl", 5): "not a model call (EVENT observation user-opened-chat)",
        ("langfuse/api/observations.jsonl", 6): "not valid JSON (unexpected end of data at column 70)",
        ("langfuse/api/scores.jsonl", 4): "score for 'trace-gone', which is not a model call in the input",
        ("langfuse/api/traces.jsonl", 2): "trace 'trace-lf-2' has no answered model call (GENERATION with output) "
                                          "in the input"}


def test_langfuse_blob_export_in_snake_case_with_json_text_columns():
    items = read("langfuse/blob")
    [row] = records(items)
    assert row == {
        "id": row["id"],
        "messages": [call("system", SYSTEM), call("user", "Is the Trail 40 pack waterproof?"),
                     call("assistant", "It is water-resistant; add the rain cover for heavy rain.")],
        "source": {"format": "langfuse", "file": path("langfuse/blob/observations_v2.jsonl"), "line": 2,
                   "trace_id": "trace-blob-1", "conversation_id": "sess-blob-7",
                   "timestamp": "2026-11-13T09:00:00.250000Z", "model": "gpt-4o-mini",
                   "joined": [{"file": path("langfuse/blob/scores.jsonl"), "line": 1},
                              {"file": path("langfuse/blob/scores.jsonl"), "line": 2}]},
        "feedback": {"scores": {"outcome": "resolved"}, "thumbs": "down", "comments": ["too vague"]}}
    assert rejected(items) == {
        ("langfuse/blob/observations_v2.jsonl", 1): "not a model call (SPAN observation handle-message)"}


# -- OpenTelemetry GenAI ---------------------------------------------------------------------------
def test_otel_current_and_flattened_genai_spans():
    items = read("otel-genai")
    current = by_line(items, "otel-genai/spans.jsonl")[1]
    assert current == {
        "id": current["id"],
        "messages": [call("system", SYSTEM), call("user", "Where is order LF-70015?"),
                     call("assistant", None, tool_calls=[
                         tool_call("call_VSPygqKTWdrhaFErNvMV18Yl", "lookup_order", {"order_number": "LF-70015"})]),
                     {"role": "tool", "tool_call_id": "call_VSPygqKTWdrhaFErNvMV18Yl",
                      "content": '{"status":"out for delivery"}'},
                     call("assistant", "Order LF-70015 is out for delivery today.")],
        "tools": [LOOKUP_TOOL],
        "source": {"format": "otel-genai", "file": path("otel-genai/spans.jsonl"), "line": 1,
                   "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "conversation_id": "conv-otel-1",
                   "timestamp": "2026-11-12T10:00:00.005000Z", "model": "gpt-4o-mini-2024-07-18",
                   "finish_reason": "stop"}}
    flat = by_line(items, "otel-genai/spans.jsonl")[2]
    ticket = tool_call("call_flat1", "create_ticket", {"category": "defect", "summary": "Boots leak"})
    assert flat["messages"] == [call("system", SYSTEM), call("user", "Open a ticket: my boots leak."),
                                call("assistant", None, tool_calls=[ticket])]
    assert flat["tools"] == [TICKET_TOOL]
    assert flat["source"]["conversation_id"] == "sess-otel-2" and flat["source"]["finish_reason"] == "tool_calls"
    # a whole-file (pretty-printed) export; Anthropic's end_turn is "stop"
    document = by_line(items, "otel-genai/export.json")[1]
    assert document["messages"] == [call("user", "Do you have gift cards?"),
                                    call("assistant", "Yes, from $25 to $200.")]
    assert document["source"]["finish_reason"] == "stop" and document["source"]["model"] == "claude-haiku-4-5"
    assert rejected(items) == {
        ("otel-genai/spans.jsonl", 3): "no model call in this OTLP export (2 spans: 'GET /healthz', 'SELECT orders')",
        ("otel-genai/spans.jsonl", 4): "the call failed: Error code: 429 - rate limit reached",
        ("otel-genai/spans.jsonl", 5): "not valid JSON (unexpected end of data at column 62)"}


# -- LiteLLM and Helicone -------------------------------------------------------------------------
def test_litellm_standard_payloads_and_spend_logs():
    items = read("litellm")
    payloads = by_line(items, "litellm/standard_payload.jsonl")
    assert payloads[1] == {
        "id": payloads[1]["id"],
        "messages": [call("system", SYSTEM), call("user", "Can I pick up my order in the Denver store?"),
                     call("assistant", "Yes, choose Denver at checkout and we'll email you when it's ready.")],
        "tools": [LOOKUP_TOOL],
        "source": {"format": "litellm", "file": path("litellm/standard_payload.jsonl"), "line": 1,
                   "trace_id": "chatcmpl-B1x2", "model": "gpt-4o-mini-2024-07-18",
                   "timestamp": "2026-11-12T11:00:00.512000Z", "finish_reason": "stop", "conversation_id": "sess-ll-1"},
        # the caller's metadata and the proxy's, kept (later stages read e.g. an intent from it)
        "meta": {"metadata": {"session_id": "sess-ll-1", "user_api_key_hash": "88dc",
                              "user_api_key_alias": "support-web", "spend_logs_metadata": None,
                              "requester_metadata": {"session_id": "sess-ll-1"}}}}
    # an Anthropic /v1/messages call through the proxy; the system prompt was a model parameter
    assert payloads[2]["messages"] == [call("system", SYSTEM), call("user", "Do the Ridge boots run small?"),
                                       call("assistant", "They run half a size small, so size up.")]
    assert payloads[2]["source"]["model"] == "claude-haiku-4-5-20251001"
    assert payloads[5]["messages"][-1] == call("assistant", "Bye! Enjoy the trail.")  # under standard_logging_object
    spend = by_line(items, "litellm/spend_logs.jsonl")
    assert spend[1]["source"]["conversation_id"] == "sess-sl-1" and spend[1]["tools"] == [LOOKUP_TOOL]
    assert spend[1]["source"]["timestamp"] == "2026-11-12T16:00:00.120000Z"
    assert spend[3]["messages"] == [call("user", "Is the outlet store open on Sunday?"), call("assistant", "Yes, from")]
    assert spend[3]["source"]["finish_reason"] == "length"  # JSON-text columns of a database dump
    assert rejected(items) == {
        ("litellm/standard_payload.jsonl", 3): "the call failed: litellm.RateLimitError: RateLimitError: "
                                               "OpenAIException - Rate limit reached",
        ("litellm/standard_payload.jsonl", 4): "not a chat call (call_type aembedding)",
        ("litellm/spend_logs.jsonl", 2): "the log holds no response (spend logs keep it only with "
                                         "store_prompts_in_spend_logs)"}


def test_helicone_openai_and_anthropic_rows_with_feedback_and_sessions():
    items = read("helicone")
    rows = by_line(items, "helicone/export.jsonl")
    assert rows[1] == {
        "id": rows[1]["id"],
        "messages": [call("system", SYSTEM), call("user", "How do I wash a down sleeping bag?"),
                     call("assistant", "Use a front-loading washer on gentle with down soap, then tumble dry low "
                                       "with dryer balls.")],
        "source": {"format": "helicone", "file": path("helicone/export.jsonl"), "line": 1,
                   "trace_id": "8f0e2b1c-5d4a-4e3f-9a8b-7c6d5e4f3a21", "model": "gpt-4o-mini-2024-07-18",
                   "timestamp": "2026-11-12T17:00:00Z", "finish_reason": "stop", "conversation_id": "sess-hc-1",
                   "user": "cust-500"},
        "feedback": {"thumbs": "up", "scores": {"accuracy": 0.9}},
        "meta": {"metadata": {"Helicone-Session-Id": "sess-hc-1", "Helicone-Session-Path": "/support",
                              "App": "support-web"}}}
    assert rows[2]["messages"] == [call("system", SYSTEM), call("user", "Has LF-88001 shipped?"),
                                   call("assistant", None, tool_calls=[
                                       tool_call("toolu_hc1", "lookup_order", {"order_number": "LF-88001"})])]
    assert rows[2]["tools"] == [LOOKUP_TOOL] and rows[2]["feedback"] == {"thumbs": "down"}
    assert rows[2]["source"]["finish_reason"] == "tool_calls" and rows[2]["source"]["conversation_id"] == "sess-hc-2"
    assert rejected(items) == {
        ("helicone/export.jsonl", 3): "the call failed (HTTP 429): rate_limit_exceeded: Rate limit reached for "
                                      "gpt-4o-mini",
        ("helicone/export.jsonl", 4): "the row has no request_body (export with --include-body)"}


# -- through a run and the CLI ----------------------------------------------------------------------
def test_a_recipe_reading_every_fixture_accounts_for_each_record(tmp_path):
    inputs = "".join(f"  - path: {path(folder)}\n" for folder in ALL_FOLDERS)
    (tmp_path / "recipe.yaml").write_text(f"name: formats\ninputs:\n{inputs}stages: []\n", encoding="utf-8")
    manifest = run_recipe(load_recipe(tmp_path / "recipe.yaml"), tmp_path / "run").manifest
    items = [item for folder in ALL_FOLDERS for item in read(folder)]
    train, rejected_rows = read_jsonl(tmp_path / "run" / "train.jsonl"), read_jsonl(tmp_path / "run" / "rejected.jsonl")
    assert manifest["counts"]["input"] == len(items) == len(train) + len(rejected_rows)
    assert len(train) == len(records(items)) == 28
    assert {row["source"]["format"] for row in train} == set(READERS)
    assert all(row["disposition"]["reason"] and row["source"]["line"] for row in rejected_rows)


def test_dataprep_mine_reads_a_folder_of_mixed_formats(tmp_path):
    result = run_cli("mine", FIXTURES / "helicone", FIXTURES / "otel-genai", "--out", tmp_path / "mined.jsonl")
    assert result.returncode == 0, result.stderr
    mined = read_jsonl(tmp_path / "mined.jsonl")
    assert sorted(row["source"]["format"] for row in mined) == ["helicone", "helicone", "otel-genai", "otel-genai",
                                                                "otel-genai"]
    assert len(read_jsonl(tmp_path / "mined.rejected.jsonl")) == 5


# -- fuzzing: no traceback, no lost line --------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(string.printable, max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["request", "response", "messages", "content", "role", "type", "custom_id", "params", "result", "run_type",
         "inputs", "outputs", "run_id", "key", "score", "traceId", "trace_id", "startTime", "name", "value", "dataType",
         "resourceSpans", "scopeSpans", "spans", "attributes", "call_type", "request_id",
         "request_created_at", "request_body", "response_body", "id", "timestamp", "sessionId", "userId",
         "observations", "generations", "choices", "message", "text", "stop_reason"]), inner, max_size=6),
    max_leaves=20)
LINES = st.lists(JSON_VALUES.map(lambda value: orjson.dumps(value)) | st.binary(max_size=30), min_size=1, max_size=6)


@pytest.mark.parametrize("reader", READERS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=LINES)
@example(lines=[b"(\xb5/\xfd"])  # zstd's magic bytes and nothing after: a plain line, not an empty stream
def test_fuzzed_lines_never_crash_a_reader_or_get_lost(reader, lines, tmp_path):
    folder = tmp_path / reader
    folder.mkdir(exist_ok=True)
    file = folder / "fuzz.jsonl"
    file.write_bytes(b"\n".join(line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines) + b"\n")
    items = list(get_reader(reader).read_files([file], ReadOptions()))
    expected = {(str(file), number) for number, raw in enumerate(file.read_bytes().removeprefix(BOM).split(b"\n"), 1)
                if raw.strip()}
    whole_document = {(str(file), 1)}  # the OTLP reader reads a file that is one JSON document as its line 1
    assert accounted(items) == expected or (reader == "otel-genai" and accounted(items) == whole_document)
    assert all(isinstance(item, (Record, BadLine)) for item in items)
    assert all(list(schema_errors("record", row)) == [] for row in records(items))


def mutated(value, data):
    """``value`` with one part, picked at random at any depth, replaced by a random JSON value (a wrong type, often)."""
    if isinstance(value, (dict, list)) and value and data.draw(st.integers(0, 3)) > 0:
        key = data.draw(st.sampled_from(list(value) if isinstance(value, dict) else list(range(len(value)))))
        copy = dict(value) if isinstance(value, dict) else list(value)
        copy[key] = mutated(value[key], data)
        return copy
    return data.draw(JSON_VALUES)


@pytest.mark.parametrize("folder", ALL_FOLDERS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fixtures_with_a_part_replaced_by_a_wrong_value_never_crash_or_lose_a_line(folder, data, tmp_path):
    files = []
    for source in expand_paths(path(folder)):
        if source.suffix != ".jsonl":
            continue
        lines = source.read_bytes().splitlines()
        for index in data.draw(st.sets(st.integers(0, len(lines) - 1), max_size=2)):
            try:
                lines[index] = orjson.dumps(mutated(orjson.loads(lines[index]), data))
            except orjson.JSONDecodeError:
                lines[index] = lines[index][: data.draw(st.integers(0, len(lines[index])))]  # cut a broken line shorter
        target = tmp_path / source.name
        target.write_bytes(b"\n".join(lines) + b"\n")
        files.append(target)
    reader = get_reader(DETECTED[f"{folder}/{files[0].name}"])
    items = list(reader.read_files(files, ReadOptions()))
    expected = {(str(file), number) for file in files
                for number, raw in enumerate(file.read_bytes().split(b"\n"), 1) if raw.strip()}
    assert accounted(items) == expected
    for row in records(items):  # a wrong value deep inside is rejected, never passed on to break a later stage
        assert list(schema_errors("record", row)) == [], row


def test_a_trace_logged_twice_accounts_for_both_lines(tmp_path):
    """Found by the fuzz test: two trace lines with one id (here both without one) lost a line."""
    source = FIXTURES / "langfuse" / "api"
    for name in ("observations.jsonl", "scores.jsonl"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    traces = [orjson.loads(line) for line in (source / "traces.jsonl").read_bytes().splitlines() if line.strip()]
    twice = {**traces[0], "id": None}
    (tmp_path / "traces.jsonl").write_bytes(orjson.dumps(twice) + b"\n" + orjson.dumps(twice) + b"\n")
    items = list(get_reader("langfuse").read_files(sorted(tmp_path.glob("*.jsonl")), ReadOptions()))
    assert {(file, line) for file, line in accounted(items) if file.endswith("traces.jsonl")} == \
        {(str(tmp_path / "traces.jsonl"), 1), (str(tmp_path / "traces.jsonl"), 2)}
