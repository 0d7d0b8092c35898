"""The synth stage end to end, through the real SDKs against the local fake server: what it
generates, what it rejects, cache and replay, budget, batches, a kill -9 mid-run, and the
API key never reaching a file or the console."""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from fake_llm_server import Fail, FakeLLMServer, prompt_of

from dataprep.errors import DataprepError, RecipeError
from dataprep.providers.cache import request_key
from dataprep.recipe import load_recipe
from dataprep.runner import run_recipe
from dataprep.stages.synth import allocate

KEY = "sk-test-DO-NOT-LEAK-9d8c7b6a5f"
MODEL = "gpt-4.1-mini"
SYSTEM = "You are the support assistant for Acme Cloud Storage. Answer questions about accounts and billing."
TOOLS = [{"type": "function", "function": {"name": "lookup_order", "description": "Find an order",
                                           "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}}]
DATAPREP = [sys.executable, "-m", "dataprep"]


def seed_record(i: int, *, tagged: bool = True, **extra) -> dict:
    return {"id": f"seed-{i}", "tools": TOOLS, "tags": ["pii:scrubbed"] if tagged else [],
            "messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": f"How do I change the billing email on account {i}?"},
                         {"role": "assistant", "content": "Open Settings > Billing and edit the email."}], **extra}


def write_seeds(path: Path, count: int = 12, **options) -> Path:
    path.write_text("".join(json.dumps(seed_record(i, **options)) + "\n" for i in range(count)))
    return path


def write_recipe(folder: Path, seeds: Path, **synth) -> Path:
    recipe = {"name": "synth-test", "inputs": [{"path": str(seeds), "format": "records"}],
              "stages": [{"synth": {"model": MODEL, "n": 8, **synth}}]}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def synthetic(records: list[dict]) -> list[dict]:
    return [r for r in records if "synthetic" in r.get("tags", [])]


def turn(role, content, tool_calls=None, tool_call_id=None):
    return {"role": role, "content": content, "tool_calls": tool_calls, "tool_call_id": tool_call_id}


def example(*messages, why="an edge case"):
    return {"examples": [{"why": why, "messages": list(messages)}]}


@pytest.fixture
def server():
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


def run(recipe: Path, out: Path, resume: bool = False) -> dict:
    return run_recipe(load_recipe(recipe), out, resume=resume).manifest


# -- what it generates ------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_generates_records_with_provenance_and_passes_inputs_through(server, key, tmp_path, provider):
    url = server.openai_url if provider == "openai" else server.anthropic_url
    model = MODEL if provider == "openai" else "claude-haiku-4-5"
    recipe = write_recipe(tmp_path, write_seeds(tmp_path / "seeds.jsonl"), provider=provider, model=model,
                          base_url=url, n=20)

    manifest = run(recipe, tmp_path / "run")

    train = read_jsonl(tmp_path / "run" / "train.jsonl")
    made = synthetic(train)
    assert manifest["counts"]["input"] == 12 and manifest["counts"]["created"] == 20
    assert [r for r in train if r not in made] == [{**seed_record(i), "source": {
        "format": "records", "file": str(tmp_path / "seeds.jsonl"), "line": i + 1}} for i in range(12)]
    assert len(made) == 20 == len(server.model_calls())
    sent = {request_key(provider, model, call.body) for call in server.model_calls()}
    for record in made:
        [note] = record["provenance"]
        assert note["provider"] == provider and note["model"] == model and note["stage"] == "synth"
        assert note["request_hash"] in sent
        assert set(note["seed_ids"]) <= {f"seed-{i}" for i in range(12)} and len(note["seed_ids"]) == 3
        assert note["template"] in record["tags"][1] and note["cost_usd"] > 0
        assert record["messages"][0] == {"role": "system", "content": SYSTEM}  # the production system prompt
        assert record["tools"] == TOOLS and record["reasons"]["synthetic"][0].startswith("a made-up edge case")
    assert {r["provenance"][0]["template"] for r in made} == {
        "rare", "typos_slang", "ambiguous", "out_of_scope", "long_input", "multi_turn", "prompt_injection"}
    assert all(record["tags"][2:] == ["pii:scrubbed"] for record in made)  # made from scrubbed seeds only
    stats = manifest["stages"][1]["stats"]
    assert stats["strategies_without_seeds"] == ["negative_feedback"]  # no thumbs-down in the seeds
    assert stats["calls_sent"] == 20 and stats["cost_usd"] > 0


def test_at_least_15_percent_of_synthetic_records_go_to_review(server, key, tmp_path):
    recipe = write_recipe(tmp_path, write_seeds(tmp_path / "seeds.jsonl"), base_url=server.openai_url, n=20)
    data = yaml.safe_load(recipe.read_text())
    data["stages"].append({"review": {"synthetic_share": 0.15, "sample_size": 0}})
    recipe.write_text(yaml.safe_dump(data))

    run(recipe, tmp_path / "run")

    made = synthetic(read_jsonl(tmp_path / "run" / "train.jsonl"))
    picked = [r for r in made if r.get("review", {}).get("status") == "pending"
              and "synthetic" in r["review"]["picked_because"]]
    assert len(made) == 20 and len(picked) == 3  # ceil(15% of 20)
    assert {r["id"] for r in picked} <= {r["id"] for r in read_jsonl(tmp_path / "run" / "review" / "queue.jsonl")}


def test_seeds_come_from_the_data(server, key, tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    rows = [seed_record(i, source={"intent": "billing"}) for i in range(10)]
    rows += [seed_record(10 + i, source={"intent": "data-export"}, feedback={"thumbs": "down"}) for i in range(2)]
    seeds.write_text("".join(json.dumps(row) + "\n" for row in rows))
    recipe = write_recipe(tmp_path, seeds, base_url=server.openai_url, n=6,
                          strategies={"rare": 1, "negative_feedback": 1, "ambiguous": 1})

    manifest = run(recipe, tmp_path / "run")

    by_strategy = {}
    for record in synthetic(read_jsonl(tmp_path / "run" / "train.jsonl")):
        note = record["provenance"][0]
        by_strategy.setdefault(note["template"], set()).update(note["seed_ids"])
    assert by_strategy["rare"] <= {"seed-10", "seed-11"}  # the rarest intent
    assert by_strategy["negative_feedback"] <= {"seed-10", "seed-11"}  # the thumbs-down replies
    assert manifest["stages"][1]["stats"]["strategies"] == {"rare": 2, "negative_feedback": 2, "ambiguous": 2}
    prompts = [prompt_of("openai", call.body) for call in server.model_calls()]
    assert sum("thumbs-down" in p and '"thumbs":"down"' in p for p in prompts) == 2
    assert all(SYSTEM in p and "Write 1 new example(s)." in p for p in prompts)


def test_the_seeds_of_a_request_run_under_one_system_prompt(server, key, tmp_path):
    """Logs of the chat assistant and a helpdesk export without a system prompt, mixed: each request
    shows examples of one assistant, and its synthetic records train under that assistant's prompt."""
    seeds = tmp_path / "seeds.jsonl"
    helpdesk = [{"id": f"ticket-{i}", "tags": ["pii:scrubbed"], "messages": [
        {"role": "user", "content": f"Invoice {i} shows the wrong VAT number, can you fix it?"},
        {"role": "assistant", "content": "Sure, reply with the right number and we'll reissue it."}]} for i in range(12)]
    rows = [row for pair in zip((seed_record(i) for i in range(12)), helpdesk) for row in pair]
    seeds.write_text("".join(json.dumps(row) + "\n" for row in rows))

    run(write_recipe(tmp_path, seeds, base_url=server.openai_url, n=12), tmp_path / "run")

    made = synthetic(read_jsonl(tmp_path / "run" / "train.jsonl"))
    assert len(made) == 12
    for record in made:
        families = {seed.split("-")[0] for seed in record["provenance"][0]["seed_ids"]}
        assert len(record["provenance"][0]["seed_ids"]) == 3 and len(families) == 1
        assert (record["messages"][0] == {"role": "system", "content": SYSTEM}) == (families == {"seed"})
    assert {seed.split("-")[0] for r in made for seed in r["provenance"][0]["seed_ids"]} == {"seed", "ticket"}


def test_what_the_model_invents_is_scrubbed_like_the_logs_with_the_runs_options(server, key, tmp_path):
    server.responder = lambda provider, body: example(
        turn("user", "I'm Dana Whitfield, my order #LF-582114 never came. Mail me at dana.w@example.net"),
        turn("assistant", "Sorry, Dana! Write to help@larkfield.test and we will resend it."))
    recipe = write_recipe(tmp_path, write_seeds(tmp_path / "seeds.jsonl"), base_url=server.openai_url, n=2,
                          strategies={"ambiguous": 1})
    data = yaml.safe_load(recipe.read_text())
    data["stages"].insert(0, {"mine": {"pii": {"keep": ["help@larkfield.test"]}}})  # the team's own address
    recipe.write_text(yaml.safe_dump(data))

    run(recipe, tmp_path / "run")

    made = synthetic(read_jsonl(tmp_path / "run" / "train.jsonl"))
    assert len(made) == 2
    for record in made:
        user, reply = record["messages"][1]["content"], record["messages"][2]["content"]
        assert user == "I'm <NAME_1>, my order #<ORDER_1> never came. Mail me at <EMAIL_1>"
        assert reply == "Sorry, <NAME_1>! Write to help@larkfield.test and we will resend it."
        assert "pii:scrubbed" in record["tags"]
        assert {"stage": "synth", "action": "scrubbed_pii", "counts": {"email": 1, "name": 2, "order": 1}} in record["provenance"]


def test_invalid_examples_are_rejected_with_the_reason(server, key, tmp_path):
    lookup = {"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order_id": "A1"}'}}
    answers = itertools.cycle([
        example(turn("user", "where is order A1?"), turn("assistant", None, [lookup]),
                turn("tool", '{"status": "shipped"}', tool_call_id="call_1"), turn("assistant", "It has shipped.")),
        example(turn("user", "hello?")),
        example(turn("user", "  "), turn("assistant", "Hi!")),
        example(turn("user", "drop it"), turn("assistant", None, [
            {**lookup, "function": {"name": "drop_database", "arguments": "{}"}}])),
        example(turn("user", "find A1"), turn("assistant", None, [
            {**lookup, "function": {"name": "lookup_order", "arguments": "order A1"}}])),
        "Sorry, here is some prose instead of JSON.",
        example(turn("assistant", "I start the conversation."), turn("user", "ok"), turn("assistant", "Right.")),
        example(turn("user", "hi"), turn("tool", "result", tool_call_id="call_9"), turn("assistant", "Hello.")),
    ])
    server.responder = lambda provider, body: next(answers)
    recipe = write_recipe(tmp_path, write_seeds(tmp_path / "seeds.jsonl"), base_url=server.openai_url,
                          concurrency=1, strategies={"ambiguous": 1})

    manifest = run(recipe, tmp_path / "run")

    assert len(synthetic(read_jsonl(tmp_path / "run" / "train.jsonl"))) == 1
    rejected = read_jsonl(tmp_path / "run" / "rejected.jsonl")
    reasons = sorted(r["disposition"]["reason"].removeprefix("invalid synthetic example: ") for r in rejected)
    assert reasons == sorted([
        "the last message must be the assistant's reply",
        "messages[1] (user) is empty",
        "messages[2] calls tool 'drop_database', which is not offered (lookup_order)",
        "messages[2] calls 'lookup_order' with arguments that are not valid JSON",
        "the output is not valid JSON (unexpected character, expected a JSON value)",
        "the conversation must start with a user message",
        "messages[2] answers no open tool call (tool_call_id 'call_9')",
    ])
    garbage = next(r for r in rejected if "not valid JSON (" in r["disposition"]["reason"])
    assert garbage["meta"]["raw_output"] == "Sorry, here is some prose instead of JSON."
    assert all("synthetic" in r["tags"] and r["provenance"][0]["request_hash"] for r in rejected)
    counts = manifest["counts"]
    assert (counts["created"], counts["rejected"], counts["train"]) == (8, 7, 13)
    assert len(server.model_calls()) == 8  # invalid output is rejected, not retried


# -- cache, replay, resume ---------------------------------------------------------------------------------
def test_rerun_is_served_from_the_cache_with_identical_output(server, key, tmp_path):
    recipe = write_recipe(tmp_path, write_seeds(tmp_path / "seeds.jsonl"), base_url=server.openai_url)
    run(recipe, tmp_path / "run")
    first = (tmp_path / "run" / "train.jsonl").read_bytes()
    calls = len(server.requests)

    manifest = run(recipe, tmp_path / "run")

    assert len(server.requests) == calls  # zero requests reach the server
    assert (tmp_path / "run" / "train.jsonl").read_bytes() == first
    stats = manifest["stages"][1]["stats"]
    assert (stats["cache_hits"], stats["calls_sent"], stats["cost_usd"]) == (8, 0, 0.0)


def test_replay_folder_runs_without_a_key(server, key, tmp_path, monkeypatch):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    run(write_recipe(tmp_path, seeds, base_url=server.openai_url), tmp_path / "recorded")
    shutil.copytree(tmp_path / "recorded" / "cache" / "llm", tmp_path / "replay")
    monkeypatch.delenv("OPENAI_API_KEY")
    calls = len(server.requests)

    replayed = tmp_path / "demo"
    replayed.mkdir()
    run(write_recipe(replayed, seeds, replay="../replay"), replayed / "run")

    assert len(server.requests) == calls
    assert (replayed / "run" / "train.jsonl").read_bytes() == (tmp_path / "recorded" / "train.jsonl").read_bytes()


def test_a_cache_miss_without_a_key_stops_with_a_clear_error(server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    recipe = write_recipe(tmp_path, write_seeds(tmp_path / "seeds.jsonl"), base_url=server.openai_url)
    with pytest.raises(DataprepError, match="8 request.* not in the cache and OPENAI_API_KEY is not set"):
        run(recipe, tmp_path / "run")
    assert server.requests == []


def _env(server: FakeLLMServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.endswith("_BASE_URL")}
    return {**env, "OPENAI_BASE_URL": server.openai_url, "ANTHROPIC_BASE_URL": server.anthropic_url, **extra}


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_resume_after_kill_repeats_no_completed_request(server, tmp_path):
    server.latency = 0.1
    recipe = write_recipe(tmp_path, write_seeds(tmp_path / "seeds.jsonl"), n=40, concurrency=2)
    command = [*DATAPREP, "run", str(recipe), "--out", str(tmp_path / "run")]
    process = subprocess.Popen(command, env=_env(server, OPENAI_API_KEY=KEY),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = tmp_path / "run" / "cache" / "llm"
    _wait_for(lambda: len(list(cache.glob("??/*.json"))) >= 8)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = time.time()
    first_run = list(server.model_calls())
    cached = {path.stem for path in cache.glob("??/*.json")}
    assert 8 <= len(cached) < 40

    done = subprocess.run([*command, "--resume"], env=_env(server, OPENAI_API_KEY=KEY), capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    key_of = lambda call: request_key("openai", MODEL, call.body)  # noqa: E731
    second_run = [key_of(call) for call in server.model_calls()[len(first_run):]]
    assert not set(second_run) & cached  # nothing the cache holds was asked again
    assert len(second_run) == 40 - len(cached) == len(set(second_run))
    # every call answered well before the kill made it to the cache: only calls in flight were lost
    assert {key_of(c) for c in first_run if c.status == 200 and c.finished < killed_at - 0.5} <= cached
    assert len(synthetic(read_jsonl(tmp_path / "run" / "train.jsonl"))) == 40


def test_batch_interrupted_while_waiting_is_collected_not_resubmitted(server, tmp_path):
    # The journal is the same for both providers (test_providers covers each one's batch API).
    server.batch_polls = 10 ** 9  # never finishes, until we say so
    recipe = write_recipe(tmp_path, write_seeds(tmp_path / "seeds.jsonl"), n=6, batch=True, batch_poll_seconds=0.05)
    command = [*DATAPREP, "run", str(recipe), "--out", str(tmp_path / "run")]
    process = subprocess.Popen(command, env=_env(server, OPENAI_API_KEY=KEY),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "run" / "cache" / "llm" / "batches"
    _wait_for(lambda: list(journal.glob("*.json")))
    process.send_signal(signal.SIGKILL)
    process.wait()
    server.batch_polls = 0

    done = subprocess.run([*command, "--resume"], env=_env(server, OPENAI_API_KEY=KEY), capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    submits = [r for r in server.requests if r.method == "POST" and r.path.endswith("batches")]
    assert len(submits) == 1 and server.model_calls() == []
    assert len(synthetic(read_jsonl(tmp_path / "run" / "train.jsonl"))) == 6
    assert not list(journal.glob("*.json"))
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["stages"][1]["stats"]["batch_ids"] == [next(iter(server.batches))]


# -- budget, dry run, PII, the key -----------------------------------------------------------------------
def test_budget_stops_the_stage_and_keeps_what_is_done(server, key, tmp_path):
    # gpt-4.1 list price: a call reserves its worst case (prompt + 4,096 output tokens), about $0.035,
    # and spends about $0.002 (the fake server's small answers): $0.04 lasts a few calls
    recipe = write_recipe(tmp_path, write_seeds(tmp_path / "seeds.jsonl"), base_url=server.openai_url,
                          model="gpt-4.1", n=20, concurrency=1, budget_usd=0.04)

    manifest = run(recipe, tmp_path / "run")

    stats = manifest["stages"][1]["stats"]
    made = synthetic(read_jsonl(tmp_path / "run" / "train.jsonl"))
    assert stats["budget_stopped"] is True and 0 < stats["generated"] == len(made) < 20
    assert stats["calls_unanswered"] == 20 - len(made) and len(server.model_calls()) == len(made)
    assert stats["cost_usd"] <= 0.04
    assert manifest["counts"]["created"] == len(made)


def test_dry_run_prints_the_estimate_and_sends_nothing(server, tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    done = subprocess.run([*DATAPREP, "synth", str(seeds), "--out", str(tmp_path / "out.jsonl"), "--provider", "openai",
                           "--model", MODEL, "--n", "16", "--dry-run"],
                          env=_env(server, DATAPREP_CACHE_DIR=str(tmp_path / "cache"), COLUMNS="200"),
                          capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert server.requests == []
    output = done.stdout + done.stderr
    assert "nothing was sent" in output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in output.splitlines() if line.count("│") == 3}
    assert rows["calls planned"] == "16" and rows["calls to send"] == "16" and rows["already cached (free)"] == "0"
    assert rows["cost (estimated)"].startswith("$") and rows["cost (at most)"].startswith("$")
    assert int(rows["prompt tokens"].replace(",", "")) > 16 * 200


def test_refuses_records_that_were_not_pii_scrubbed(server, key, tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl", tagged=False)
    with pytest.raises(DataprepError, match=r"would send seeds to openai: 3 record\(s\) are not PII-scrubbed "
                                            r"\(no 'pii:scrubbed' tag, first seed-\d+\); run the mine stage"):
        run(write_recipe(tmp_path, seeds, base_url=server.openai_url, n=1), tmp_path / "run")
    assert server.requests == []

    run(write_recipe(tmp_path, seeds, base_url=server.openai_url, n=1, allow_unscrubbed=True), tmp_path / "run")
    assert len(server.model_calls()) == 1


def test_the_api_key_appears_in_no_file_and_no_output(server, key, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # the SDKs log requests at debug level
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    console = io.StringIO()
    run_recipe(load_recipe(write_recipe(tmp_path, seeds, n=4, base_url=server.openai_url)), tmp_path / "run",
               console=Console(file=console, force_terminal=True))
    server.always = Fail(401)  # and the server quotes the key back, as real ones may
    refused = subprocess.run([*DATAPREP, "synth", str(seeds), "--out", str(tmp_path / "out.jsonl"), "--provider",
                              "openai", "--model", MODEL, "--n", "2"], env=_env(server, OPENAI_API_KEY=KEY,
                                                                                 DATAPREP_CACHE_DIR=str(tmp_path / "c2")),
                             capture_output=True, text=True)

    assert refused.returncode == 2
    assert "the API key was rejected (401 Unauthorized): check OPENAI_API_KEY" in refused.stderr
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(written) > 10 and (tmp_path / "run" / "manifest.json") in written
    assert [path for path in written if KEY.encode() in path.read_bytes()] == []
    assert "HTTP Request: POST" in caplog.text  # the SDK did log its requests
    assert KEY not in console.getvalue() + caplog.text + refused.stdout + refused.stderr


# -- options -----------------------------------------------------------------------------------------------
def test_wrong_options_are_recipe_errors(tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    with pytest.raises(RecipeError, match="unknown strategy jokes"):
        run(write_recipe(tmp_path, seeds, strategies={"jokes": 1}), tmp_path / "run")
    with pytest.raises(RecipeError, match="'cheap' is not allowed; use one of: openai, anthropic"):
        load_recipe(write_recipe(tmp_path, seeds, provider="cheap"))
    with pytest.raises(RecipeError, match=r"templates.ambiguous: unknown placeholder \$seed;"):
        run(write_recipe(tmp_path, seeds, strategies={"ambiguous": 1}, templates={"ambiguous": "Use $seed"},
                         dry_run=True), tmp_path / "run")


def test_a_custom_strategy_uses_its_own_template(server, key, tmp_path):
    recipe = write_recipe(tmp_path, write_seeds(tmp_path / "seeds.jsonl"), base_url=server.openai_url, n=2,
                          strategies={"angry_customer": 1}, templates={"angry_customer": "Write furious users ($count)."})
    run(recipe, tmp_path / "run")
    assert all(prompt_of("openai", c.body).startswith("Write furious users (1).") for c in server.model_calls())


def test_allocate_splits_by_weight():
    assert allocate(10, {"a": 1, "b": 1, "c": 2}) == {"a": 3, "b": 2, "c": 5}
    assert allocate(2, {"a": 1, "b": 1, "c": 1}) == {"a": 1, "b": 1}
    assert allocate(0, {"a": 1}) == {}
