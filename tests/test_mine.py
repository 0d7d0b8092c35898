"""The mine stage: collapse of re-sent conversations, corrections, filters, PII scrubbing, and
nothing lost on the way (through a recipe run and through `dataprep mine`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import read_jsonl, run_cli, write_jsonl
from dataprep.errors import RecipeError
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe

PLACES = ("train", "eval", "rag_candidates", "duplicates", "rejected")
SYSTEM = {"role": "system", "content": "You are the Larkfield support assistant."}


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def bot(text: str | None, **extra) -> dict:
    return {"role": "assistant", "content": text, **extra}


def record(messages: list[dict], **fields) -> dict:
    return {"messages": messages, **fields}


def mine(tmp_path: Path, rows: list, options: str = "{}") -> dict[str, list[dict]]:
    """Run a recipe with only the mine stage over ``rows``; return every output file's records."""
    write_jsonl(tmp_path / "logs.jsonl", rows)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"name: t\ninputs:\n  - path: logs.jsonl\nstages:\n  - mine: {options}\n", encoding="utf-8")
    outcome = run_recipe(load_recipe(recipe), tmp_path / "run")
    files = {place: read_jsonl(tmp_path / "run" / f"{place}.jsonl") for place in PLACES}
    counts = outcome.manifest["counts"]
    assert {place: len(files[place]) for place in PLACES} == {place: counts[place] for place in PLACES}
    assert sum(counts[place] for place in PLACES) == counts["input"] == len(rows)
    files["stats"] = outcome.manifest["stages"][1]["stats"]
    return files


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {row["id"]: row for row in rows}


# -- collapse ------------------------------------------------------------------------------------
def growing_conversation() -> list[dict]:
    """Three calls of one conversation as a stateless API logs them: each re-sends the history."""
    turn1 = [SYSTEM, user("Where is order LK-1?"), bot("It ships tomorrow.")]
    turn2 = turn1 + [user("Can I change the address?"), bot("Yes, until it ships.")]
    turn3 = turn2 + [user("Thanks!"), bot("You're welcome.")]
    return [record(turn1, id="t1"), record(turn2, id="t2"), record(turn3, id="t3")]


def test_calls_that_are_prefixes_of_a_longer_call_are_absorbed_by_it(tmp_path):
    rows = growing_conversation()
    rows.insert(1, record([SYSTEM, user("Do you ship to Canada?"), bot("Yes.")], id="other"))
    out = mine(tmp_path, rows)
    assert [r["id"] for r in out["train"]] == ["other", "t3"]
    assert {r["id"]: r["disposition"]["keeper_id"] for r in out["duplicates"]} == {"t1": "t3", "t2": "t3"}
    assert all(r["disposition"]["reason"] == "absorbed by a longer call of the same conversation"
               for r in out["duplicates"])
    kept = by_id(out["train"])["t3"]
    assert len(kept["messages"]) == 7
    assert {"stage": "mine", "action": "collapsed", "absorbed": 2} in kept["provenance"]
    assert out["stats"]["collapsed"] == 2


def test_a_rejected_last_call_does_not_swallow_the_complete_calls_before_it(tmp_path):
    rows = growing_conversation()
    rows[2]["source"] = {"finish_reason": "length"}
    out = mine(tmp_path, rows)
    assert [r["id"] for r in out["train"]] == ["t2"]
    assert [(r["id"], r["disposition"]["keeper_id"]) for r in out["duplicates"]] == [("t1", "t2")]
    assert [r["id"] for r in out["rejected"]] == ["t3"]


def test_a_corrected_call_is_not_absorbed_by_the_call_that_logged_its_original_reply(tmp_path):
    rows = growing_conversation()
    rows[0]["feedback"] = {"correction": "It ships on Monday."}
    with_ids = [{**row, "source": {"conversation_id": "c"}} for row in rows]
    for folder, data in (("prefix", rows), ("conversation", with_ids)):
        out = mine(tmp_path / folder, data)
        assert sorted(r["id"] for r in out["train"]) == ["t1", "t3"]
        assert by_id(out["train"])["t1"]["messages"][-1]["content"] == "It ships on Monday."


def test_a_reply_matches_its_copy_in_the_next_call_despite_extra_fields_and_whitespace(tmp_path):
    first = record([user("Hi"), bot("Hello! How can I help?\n", refusal=None)], id="first")
    second = record([user("Hi"), bot("Hello! How can I help?"), user("Reset my password"), bot("Done.")], id="second")
    out = mine(tmp_path, [first, second])
    assert [r["id"] for r in out["train"]] == ["second"]
    assert out["duplicates"][0]["disposition"]["keeper_id"] == "second"


def test_a_shared_start_absorbs_into_the_longest_branch_and_branches_stay(tmp_path):
    start = [user("Hi"), bot("Hello!")]
    rows = [record(start, id="start"),
            record(start + [user("Refund please"), bot("Sure.")], id="branch-a"),
            record(start + [user("Track my order"), bot("It is on its way."), user("ok"), bot("Bye!")], id="branch-b"),
            record(start + [user("Refund please")], id="no-reply")]  # no reply: never absorbs nor is absorbed
    out = mine(tmp_path, rows, "{drop_empty: false}")
    assert sorted(r["id"] for r in out["train"]) == ["branch-a", "branch-b", "no-reply"]
    assert [(r["id"], r["disposition"]["keeper_id"]) for r in out["duplicates"]] == [("start", "branch-b")]


def test_calls_are_collapsed_per_conversation_id_keeping_the_longest(tmp_path):
    rows = [
        record([user("a1"), bot("r1")], id="c1-short", source={"conversation_id": "c1"}),
        record([user("a1"), bot("r1"), user("a2"), bot("r2"), user("a3"), bot("r3")], id="c1-long",
               source={"conversation_id": "c1"}),
        # edited history: not a prefix of the long call, but the same conversation
        record([user("a1"), bot("r1 (edited)"), user("a2"), bot("r2")], id="c1-edited", source={"conversation_id": "c1"}),
        record([user("b1"), bot("s1")], id="c2-only", source={"conversation_id": "c2"}),
        # a regeneration as long as the longest call is another reply, not re-sent history
        record([user("a1"), bot("r1"), user("a2"), bot("r2"), user("a3"), bot("r3 again")], id="c1-regenerated",
               source={"conversation_id": "c1"}),
    ]
    out = mine(tmp_path, rows)
    assert sorted(r["id"] for r in out["train"]) == ["c1-long", "c1-regenerated", "c2-only"]
    assert {r["id"]: r["disposition"]["keeper_id"] for r in out["duplicates"]} == {
        "c1-short": "c1-regenerated", "c1-edited": "c1-regenerated"}
    # the conversation id groups records but is an identity: it leaves as a keyed hash
    train = by_id(out["train"])
    c2_group, c1_group = train["c2-only"]["groups"]["conversation"], train["c1-long"]["groups"]["conversation"]
    assert c2_group.startswith("anon-") and "c2" not in c2_group and c1_group != c2_group
    assert train["c1-regenerated"]["groups"]["conversation"] == c1_group == train["c1-long"]["source"]["conversation_id"]


def test_prefix_mode_ignores_conversation_ids_and_off_keeps_every_call(tmp_path):
    rows = [
        record([user("a1"), bot("r1")], id="short", source={"conversation_id": "u-42"}),
        record([user("a1"), bot("r1"), user("a2"), bot("r2")], id="long", source={"conversation_id": "u-42"}),
        record([user("other"), bot("topic")], id="unrelated", source={"conversation_id": "u-42"}),
    ]
    out = mine(tmp_path / "prefix", rows, "{collapse: prefix}")
    assert sorted(r["id"] for r in out["train"]) == ["long", "unrelated"]
    assert [r["disposition"]["keeper_id"] for r in out["duplicates"]] == ["long"]
    out = mine(tmp_path / "off", rows, "{collapse: 'off'}")
    assert len(out["train"]) == 3 and not out["duplicates"]


def test_collapse_is_deterministic(tmp_path):
    rows = growing_conversation() + [record([user(f"q{i}"), bot(f"a{i}")]) for i in range(20)]
    mine(tmp_path, rows)
    (tmp_path / "run").rename(tmp_path / "first")
    mine(tmp_path, rows)
    for place in ("train", "duplicates"):
        assert (tmp_path / "first" / f"{place}.jsonl").read_bytes() == (tmp_path / "run" / f"{place}.jsonl").read_bytes()


# -- corrections ---------------------------------------------------------------------------------
def test_a_text_correction_becomes_the_target_and_the_reply_the_rejected_side(tmp_path):
    rows = [record([user("Can I return shoes after 40 days?"), bot("Yes, anytime.")], id="c",
                   feedback={"thumbs": "down", "correction": "No: returns are accepted within 30 days of delivery."})]
    out = mine(tmp_path, rows)
    [kept] = out["train"]
    assert kept["messages"][-1] == {"role": "assistant", "content": "No: returns are accepted within 30 days of delivery."}
    assert kept["rejected_reply"] == {"role": "assistant", "content": "Yes, anytime."}
    assert "corrected" in kept["tags"]
    assert {"stage": "mine", "action": "replaced_target", "why": "feedback correction"} in kept["provenance"]
    assert out["stats"]["corrected"] == 1


def test_a_message_correction_with_a_tool_call_becomes_the_target(tmp_path):
    correction = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": {"order_id": "LK-9"}}}]}
    rows = [record([user("Where is LK-9?"), bot("I don't know.")], feedback={"correction": correction})]
    [kept] = mine(tmp_path, rows)["train"]
    assert kept["messages"][-1]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order_id":"LK-9"}'}}]
    assert kept["rejected_reply"]["content"] == "I don't know."


def test_a_correction_equal_to_the_reply_or_empty_changes_nothing(tmp_path):
    rows = [record([user("q"), bot("same")], id="same", feedback={"correction": "same"}),
            record([user("q2"), bot("reply")], id="blank", feedback={"correction": "  "})]
    out = mine(tmp_path, rows)
    assert all("rejected_reply" not in r and "corrected" not in r.get("tags", []) for r in out["train"])
    assert len(out["train"]) == 2


def test_a_correction_of_the_wrong_shape_is_rejected_with_the_reason(tmp_path):
    rows = [record([user("q"), bot("a")], feedback={"correction": 42}),
            record([user("q"), bot("b")], feedback={"correction": {"role": "user", "content": "x"}})]
    out = mine(tmp_path, rows)
    assert [r["disposition"]["reason"] for r in out["rejected"]] == [
        "feedback.correction: 42 is not of type 'string', 'object', 'null'",  # not a record: refused at reading
        "feedback.correction must be text or an assistant message, got an object"]


# -- filters -------------------------------------------------------------------------------------
def test_default_filters_reject_errors_empty_truncated_and_refused_replies_with_reasons(tmp_path):
    rows = [
        record([user("ok"), bot("fine")], id="good"),
        record([user("q"), bot("partial")], id="error", source={"error": "rate_limit_exceeded: slow down"}),
        record([user("q"), bot("")], id="empty"),
        record([user("q")], id="no-reply"),
        record([user("q"), bot("The answer is")], id="cut", source={"finish_reason": "length"}),
        record([user("q"), bot("")], id="filtered", source={"finish_reason": "content_filter"}),
        record([user("q"), bot(None, refusal="I can't help with that.")], id="refused"),
        record([user("q"), bot(None, tool_calls=[{"type": "function", "function": {"name": "f", "arguments": "{}"}}])],
               id="tool-call-only"),
        record([user("q"), bot("cut but fixed")], id="cut-corrected", source={"finish_reason": "length"},
               feedback={"correction": "A complete answer."}),
    ]
    out = mine(tmp_path, rows)
    assert sorted(r["id"] for r in out["train"]) == ["cut-corrected", "good", "tool-call-only"]
    assert {r["id"]: r["disposition"]["reason"] for r in out["rejected"]} == {
        "error": "errored call: rate_limit_exceeded: slow down",
        "empty": "empty reply",
        "no-reply": "no assistant reply",
        "cut": "truncated reply (finish_reason length: the model hit its token limit)",
        "filtered": "refusal (finish_reason content_filter)",
        "refused": "refusal: I can't help with that.",
    }
    assert all(r["disposition"]["stage"] == "mine" for r in out["rejected"])
    assert out["stats"]["filtered"] == {"error": 1, "empty": 2, "truncated": 1, "refusal": 2}


def test_a_reason_quoting_logged_text_is_scrubbed_before_it_is_cut(tmp_path):
    """Cut first, an email across the cut ("priya.raman@examp…") is no longer one, and the scrubbing
    every reason gets later would keep it."""
    error = "upstream said: " + "x" * 262 + " mail priya.raman@example.org and call +44 7700 900123"
    out = mine(tmp_path, [record([user("q"), bot("partial")], id="error", source={"error": error})])
    [reason] = [r["disposition"]["reason"] for r in out["rejected"]]
    assert reason.startswith("errored call: upstream said: xxx") and "<EMAIL_1>" in reason
    assert "priya" not in reason and "7700" not in reason


def mined_and_exported(tmp_path: Path, rows: list, mine_options: str, formats: str) -> None:
    """Mine ``rows`` and export them from the CLI, as a user would, into ``tmp_path / "run"``."""
    write_jsonl(tmp_path / "in.jsonl", rows)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"inputs: [{{path: {tmp_path / 'in.jsonl'}}}]\nstages: [{{mine: {mine_options}}}]\n"
                      f"export: {{formats: [{formats}]}}\n")
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr


def test_refusals_and_empty_replies_kept_on_purpose_export_as_said_or_are_skipped_saying_why(tmp_path):
    """With drop_refusals and drop_empty off, a refusal is trained as the model said it, and an empty
    reply, which no format holds, is skipped with its reason; before, either stopped every export."""
    rows = [record([user("q1"), bot(None, refusal="I can't help with that.")], id="refused"),
            record([user("q2"), bot("")], id="empty"), record([user("q3"), bot("Sure.")], id="good")]
    mined_and_exported(tmp_path, rows, "{drop_refusals: false, drop_empty: false}", "openai, alpaca")
    exported = read_jsonl(tmp_path / "run" / "exports" / "train.openai.jsonl")
    assert sorted(row["messages"][-1]["content"] for row in exported) == ["I can't help with that.", "Sure."]
    assert sorted(row["output"] for row in read_jsonl(tmp_path / "run" / "exports" / "train.alpaca.jsonl")) == [
        "I can't help with that.", "Sure."]
    skipped = json.loads((tmp_path / "run" / "manifest.json").read_text())["exports"]
    assert "empty reply (kept by mine's drop_empty: false)" in json.dumps(skipped)


def test_what_no_export_can_hold_is_rejected_saying_why_and_the_export_goes_on(tmp_path):
    """A stream cut off inside the arguments (finish_reason still ``tool_calls``), a tool name with a
    space, an id used twice, a tool message answering no call, a tool defined twice, a blank tool
    result or earlier reply, a function result nothing asked for, blank system and user turns: in
    train, each stopped every export ("nothing was written")."""
    def calling(arguments: str = "{}", name: str = "lookup", ids: tuple = ("c1",)) -> dict:
        return bot(None, tool_calls=[{"id": i, "type": "function", "function": {"name": name, "arguments": arguments}}
                                     for i in ids])
    answer = {"role": "tool", "tool_call_id": "c1", "content": "{}"}
    lookup = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    rows = [record([user("Track NB-1"), calling('{"order": "NB-1"}'), answer, bot("Shipped.")], id="whole", tools=[lookup]),
            record([user("Track NB-2"), calling('{"order": "NB-')], id="cut", source={"finish_reason": "tool_calls"}),
            record([user("Track NB-3"), calling('["NB-3"]'), answer, bot("Shipped.")], id="list"),
            record([user("Track NB-4"), calling(name="look up"), answer, bot("Shipped.")], id="name"),
            record([user("Track NB-5"), calling(ids=("c1", "c1")), answer, bot("Shipped.")], id="twice"),
            record([user("Track NB-6"), calling(), {**answer, "tool_call_id": "c9"}, bot("Shipped.")], id="stray"),
            record([user("Track NB-7"), bot("Shipped.")], id="defined-twice", tools=[lookup, lookup]),
            record([user("Track NB-8"), calling(), {**answer, "content": ""}, bot("Shipped.")], id="blank-result"),
            record([user("Track NB-9"), bot(""), user("Well?"), bot("Shipped.")], id="blank-earlier-reply"),
            record([user("Track NB-10"), {"role": "function", "name": "lookup", "content": "{}"}, bot("Shipped.")],
                   id="unasked-function"),
            # blank system and user turns say nothing: left out, and the record goes on
            record([{"role": "system", "content": ""}, user(""), user("Track NB-11"), bot("Packed.")], id="blank-turns"),
            record([{"role": "system", "content": "  "}, user(None), bot("Hello!")], id="nothing-asked")]
    mined_and_exported(tmp_path, rows, "{}", "openai, sharegpt, trl")
    stop = "; exports would stop on it"
    assert {r["id"]: r["disposition"]["reason"] for r in read_jsonl(tmp_path / "run" / "rejected.jsonl")} == {
        "cut": f'messages[1].tool_calls[0].function.arguments is not valid JSON: "{{\\"order\\": \\"NB-"{stop}',
        "list": f"messages[1].tool_calls[0].function.arguments holds a JSON list; it must hold a JSON object{stop}",
        "name": f'messages[1].tool_calls[0].function.name is "look up"; it must match [a-zA-Z0-9_-]{{1,64}}{stop}',
        "twice": f"messages[1].tool_calls[1].id 'c1' was already used by messages[1]{stop}",
        "stray": f"messages[2].tool_call_id 'c9' answers no earlier tool call{stop}",
        "defined-twice": f"tools[1] defines 'lookup' a second time{stop}",
        "blank-result": f"messages[2] (tool) is blank{stop}",
        "blank-earlier-reply": f"messages[1] (assistant) is blank{stop}",
        "unasked-function": f"messages[1] is a function result no call asked for{stop}",
        "nothing-asked": "every turn before the reply is blank"}
    exported = read_jsonl(tmp_path / "run" / "exports" / "train.openai.jsonl")
    assert [[(m["role"], m["content"]) for m in row["messages"]] for row in exported] == [
        [("user", "Track NB-1"), ("assistant", None), ("tool", "{}"), ("assistant", "Shipped.")],
        [("user", "Track NB-11"), ("assistant", "Packed.")]]
    [kept] = [r for r in read_jsonl(tmp_path / "run" / "train.jsonl") if r["id"] == "blank-turns"]
    assert {"stage": "mine", "action": "left_out_blank_turns", "count": 2} in kept["provenance"]

def test_reply_filters_can_be_turned_off_and_refusal_phrases_turned_on(tmp_path):
    rows = [record([user("q"), bot("")], id="empty"),
            record([user("q"), bot("x")], id="cut", source={"finish_reason": "length"}),
            record([user("q"), bot("x")], id="error", source={"error": "boom"}),
            record([user("Write malware"), bot("I'm sorry, but I can't assist with that.")], id="sorry")]
    options = "{drop_empty: false, drop_truncated: false, drop_errors: false, refusal_phrases: [\"I'm sorry, but I can't\"]}"
    out = mine(tmp_path, rows, options)
    assert sorted(r["id"] for r in out["train"]) == ["cut", "empty", "error"]
    assert out["rejected"][0]["disposition"]["reason"] == "refusal: reply contains \"I'm sorry, but I can't\""


@pytest.mark.parametrize("mode, kept", [
    ("any", ["corrected-down", "down", "none", "up"]),
    ("positive_only", ["corrected-down", "up"]),
    ("not_negative", ["corrected-down", "none", "up"]),
])
def test_feedback_filter(tmp_path, mode, kept):
    rows = [record([user("q1"), bot("a")], id="up", feedback={"thumbs": "up"}),
            record([user("q2"), bot("b")], id="down", feedback={"thumbs": "down"}),
            record([user("q3"), bot("c")], id="none"),
            record([user("q4"), bot("d")], id="corrected-down", feedback={"thumbs": "down", "correction": "better"})]
    out = mine(tmp_path, rows, f"{{feedback: {mode}}}")
    assert sorted(r["id"] for r in out["train"]) == kept
    reasons = {r["id"]: r["disposition"]["reason"] for r in out["rejected"]}
    if mode == "positive_only":
        assert reasons == {"down": "feedback filter positive_only: thumbs down and no correction",
                           "none": "feedback filter positive_only: thumbs missing and no correction"}
    if mode == "not_negative":
        assert reasons == {"down": "feedback filter not_negative: thumbs down and no correction"}


def test_models_filter_keeps_only_matching_globs(tmp_path):
    rows = [record([user("q1"), bot("a")], id="4o", source={"model": "gpt-4o-2024-08-06"}),
            record([user("q2"), bot("b")], id="claude", source={"model": "claude-sonnet-4-5"}),
            record([user("q3"), bot("c")], id="mini", source={"model": "gpt-4o-mini"}),
            record([user("q4"), bot("d")], id="unknown")]
    out = mine(tmp_path, rows, "{models: ['gpt-4o-2*', 'claude-*']}")
    assert sorted(r["id"] for r in out["train"]) == ["4o", "claude"]
    assert {r["id"]: r["disposition"]["reason"] for r in out["rejected"]} == {
        "mini": "model gpt-4o-mini is not one of the recipe's models (gpt-4o-2*, claude-*)",
        "unknown": "model unknown is not one of the recipe's models (gpt-4o-2*, claude-*)"}


def test_date_range_includes_the_whole_until_day(tmp_path):
    stamps = {"before": "2024-05-31T23:59:59Z", "first": "2024-06-01T00:00:00Z", "zone": "2024-06-30T23:30:00-00:00",
              "last": "2024-06-30T23:59:59.5", "after": "2024-07-01T00:00:00+00:00", "bad": "last tuesday"}
    rows = [record([user(name), bot("a")], id=name, source={"timestamp": stamp}) for name, stamp in stamps.items()]
    rows.append(record([user("none"), bot("a")], id="none"))
    # unquoted YAML dates arrive as date objects; both spellings work
    out = mine(tmp_path, rows, "{since: 2024-06-01, until: '2024-06-30'}")
    assert sorted(r["id"] for r in out["train"]) == ["first", "last", "zone"]
    reasons = {r["id"]: r["disposition"]["reason"] for r in out["rejected"]}
    assert reasons["before"] == "call at 2024-05-31T23:59:59Z is before since 2024-06-01T00:00:00+00:00"
    assert reasons["after"].startswith("call at 2024-07-01T00:00:00+00:00 is after until 2024-06-30T23:59:59")
    assert reasons["bad"] == "timestamp 'last tuesday' is not an ISO 8601 date-time; the recipe keeps only calls in a date range"
    assert reasons["none"] == "no timestamp; the recipe keeps only calls in a date range"


def test_wrong_options_are_recipe_errors_naming_the_key(tmp_path):
    write_jsonl(tmp_path / "logs.jsonl", [record([user("q"), bot("a")])])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("inputs: [{path: logs.jsonl}]\nstages: [{mine: {feedbak: any}}]\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="feedbak.*allowed keys: .*feedback"):
        load_recipe(recipe)
    recipe.write_text("inputs: [{path: logs.jsonl}]\nstages: [{mine: {since: 'June'}}]\n", encoding="utf-8")
    with pytest.raises(RecipeError, match="mine.since: 'June' is not an ISO 8601 date"):
        run_recipe(load_recipe(recipe), tmp_path / "run")
    recipe.write_text("inputs: [{path: logs.jsonl}]\nstages: [{mine: {pii: {patterns: {emp: '(unclosed'}}}}]\n",
                      encoding="utf-8")
    done = run_cli("run", recipe, "--out", tmp_path / "run2")
    assert done.returncode == 2
    assert "mine.pii.patterns.emp: not a valid regular expression" in done.stderr


# -- PII -----------------------------------------------------------------------------------------
def test_a_recipes_own_patterns_scrub_broken_lines_and_the_reasons_that_quote_the_logs(tmp_path):
    """A broken line is set aside with its file and line, and an errored call with its error quoted
    in the reason (cut at 300 characters); both are scrubbed as the records are, with the patterns
    the recipe adds, not only the built-in detectors, and a reason before it is cut."""
    logs = tmp_path / "logs.jsonl"
    long_error = "lookup failed: " + "." * 276 + " EMP-765432 not on file"  # the reason's cut falls inside the badge
    write_jsonl(logs, [record([user("badge EMP-123456 is locked"), bot("I've unlocked it.")]),
                       record([user("and my other badge?"), bot("partial")], id="error",
                              source={"error": "lookup failed: no badge EMP-777777 on file"}),
                       record([user("and the third?"), bot("partial")], id="long", source={"error": long_error})])
    with logs.open("a", encoding="utf-8") as handle:
        handle.write('{"messages": [{"role": "user", "content": "my badge EMP-654321 and ana@example.org" BROKEN\n')
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("inputs: [{path: logs.jsonl}]\nstages: [{mine: {pii: {patterns: {employee_id: 'EMP-\\d{6}'}}}}]\n",
                      encoding="utf-8")
    run_recipe(load_recipe(recipe), tmp_path / "run")
    rejected = read_jsonl(tmp_path / "run" / "rejected.jsonl")
    [broken] = [row for row in rejected if "raw" in row]
    assert broken["source"]["line"] == 4
    assert "<EMPLOYEE_ID_1>" in broken["raw"] and "<EMAIL_1>" in broken["raw"]
    reasons = {row["id"]: row["disposition"]["reason"] for row in rejected if "messages" in row}
    assert reasons["error"] == "errored call: lookup failed: no badge <EMPLOYEE_ID_1> on file"
    assert reasons["long"].endswith(" <EMPLOYE…")  # the placeholder is what the cut shortens
    written = [path.read_text(encoding="utf-8") for path in (tmp_path / "run").rglob("*") if path.is_file()]
    assert not [text for text in written if any(badge in text for badge in ("EMP-123456", "EMP-777777", "EMP-654321", "EMP-7654"))]


def test_placeholders_are_consistent_within_a_record_and_numbered_per_record(tmp_path):
    first = record([
        SYSTEM,
        user("I'm jane.doe@example.com, call me on (415) 555-0123. Order #LK-48213 never came."),
        bot(None, tool_calls=[{"id": "c1", "type": "function", "function": {
            "name": "lookup_order", "arguments": json.dumps({"order_id": "LK-48213", "email": "jane.doe@example.com"})}}]),
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"status": "lost", "contact": "+1 415-555-0123"})},
        bot("Sorry Jane! LK-48213 is lost; I emailed jane.doe@example.com and sam@example.org."),
    ], id="first", feedback={"correction": "I'm sorry: LK-48213 was lost. A refund is on its way to jane.doe@example.com.",
                             "comments": ["customer jane.doe@example.com was upset"]})
    second = record([user("My email is bob@example.net"), bot("Thanks, noted.")], id="second")
    out = mine(tmp_path, [first, second])
    kept = by_id(out["train"])
    messages = kept["first"]["messages"]
    assert messages[1]["content"] == "I'm <EMAIL_1>, call me on <PHONE_1>. Order #<ORDER_1> never came."
    assert json.loads(messages[2]["tool_calls"][0]["function"]["arguments"]) == {"order_id": "<ORDER_1>", "email": "<EMAIL_1>"}
    assert json.loads(messages[3]["content"]) == {"status": "lost", "contact": "<PHONE_1>"}
    assert messages[4]["content"] == "I'm sorry: <ORDER_1> was lost. A refund is on its way to <EMAIL_1>."
    assert kept["first"]["rejected_reply"]["content"] == "Sorry <NAME_1>! <ORDER_1> is lost; I emailed <EMAIL_1> and <EMAIL_2>."
    assert kept["first"]["feedback"]["comments"] == ["customer <EMAIL_1> was upset"]
    assert kept["second"]["messages"][0]["content"] == "My email is <EMAIL_1>"
    assert "pii:scrubbed" in kept["first"]["tags"] and "pii:scrubbed" in kept["second"]["tags"]
    assert kept["first"]["feedback"]["correction"] == messages[4]["content"]
    scrubbed = [p for p in kept["first"]["provenance"] if p["action"] == "scrubbed_pii"]
    assert scrubbed == [{"stage": "mine", "action": "scrubbed_pii", "counts": {"email": 7, "name": 1, "order": 5, "phone": 2}}]
    assert out["stats"]["pii"] == {"email": 8, "name": 1, "order": 5, "phone": 2}
    assert out["stats"]["pii_records"] == 2
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["stages"][1]["stats"]["pii"] == out["stats"]["pii"]


def test_ids_a_record_file_gave_that_hold_pii_become_keyed_hashes_and_pointers_follow(tmp_path):
    rows = growing_conversation()
    rows[0]["id"], rows[2]["id"] = "jane.doe@example.com", "call (415) 555-0123 back"
    out = mine(tmp_path, rows)
    [kept] = out["train"]
    absorbed = by_id(out["duplicates"])
    assert kept["id"].startswith("anon-") and len(absorbed) == 2
    assert all(i == "t2" or i.startswith("anon-") for i in absorbed)  # an id with nothing in it stays
    assert {r["disposition"]["keeper_id"] for r in absorbed.values()} == {kept["id"]}
    assert "555" not in json.dumps(out) and "example.com" not in json.dumps(out)
    again = mine(tmp_path / "again", rows)
    assert again["train"][0]["id"] == kept["id"] and by_id(again["duplicates"]).keys() == absorbed.keys()


def test_pii_detectors_are_configurable_per_recipe(tmp_path):
    rows = [record([user("Employee EMP-004211 at 10.1.2.3, email help@larkfield.com or me@x.io"), bot("ok")])]
    options = ("{pii: {disable: [ip], patterns: {employee: 'EMP-\\d{6}'}, keep: ['help@larkfield.com']}}")
    [kept] = mine(tmp_path, rows, options)["train"]
    assert kept["messages"][0]["content"] == "Employee <EMPLOYEE_1> at 10.1.2.3, email help@larkfield.com or <EMAIL_1>"


def test_scrubbing_can_be_turned_off_and_then_records_are_not_tagged(tmp_path):
    rows = [record([user("jane@example.com"), bot("ok")])]
    out = mine(tmp_path, rows, "{pii: {enabled: false}}")
    assert out["train"][0]["messages"][0]["content"] == "jane@example.com"
    assert "pii:scrubbed" not in out["train"][0].get("tags", [])
    assert "pii" not in out["stats"]


# -- through the CLI -----------------------------------------------------------------------------
def test_dataprep_mine_accounts_for_every_line(tmp_path):
    rows = growing_conversation() + [
        "{not json",
        record([user("q"), bot("cut")], source={"finish_reason": "length"}),
        record([user("mail me at a.b@example.com"), bot("Will do.")]),
    ]
    write_jsonl(tmp_path / "logs.jsonl", rows)
    done = run_cli("mine", tmp_path / "logs.jsonl", "--out", tmp_path / "mined.jsonl")
    assert done.returncode == 0, done.stderr
    mined = read_jsonl(tmp_path / "mined.jsonl")
    duplicates = read_jsonl(tmp_path / "mined.duplicates.jsonl")
    rejected = read_jsonl(tmp_path / "mined.rejected.jsonl")
    assert (len(mined), len(duplicates), len(rejected)) == (2, 2, 2)
    assert [(r["disposition"]["stage"], r["disposition"]["reason"]) for r in rejected] == [
        ("read", "not valid JSON (unexpected character, expected a string key at column 2)"),
        ("mine", "truncated reply (finish_reason length: the model hit its token limit)")]
    assert rejected[0]["source"] == {"file": str(tmp_path / "logs.jsonl"), "line": 4}
    assert mined[1]["messages"][0]["content"] == "mail me at <EMAIL_1>"
    assert all("pii:scrubbed" in r["tags"] for r in mined)
