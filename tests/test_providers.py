"""The provider layer against a local server speaking both wire protocols, through the real
``openai`` and ``anthropic`` SDKs (pointed at it with base_url; nothing is mocked)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_llm_server import Fail, FakeLLMServer, Garbage, Slow

from dataprep.errors import RecipeError
from dataprep.providers import LLM, InvalidOutput, LLMSettings, ProviderError

KEY = "sk-test-DO-NOT-LEAK-4f9a1c2e7b"
MODELS = {"openai": "gpt-4.1-mini", "anthropic": "claude-haiku-4-5"}
ANSWER_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["answer"],
                 "properties": {"answer": {"type": "string"}}}
QUESTION = [{"role": "user", "content": "What is six times seven?"}]


def answer_42(provider, body):
    return {"answer": "42"}


@pytest.fixture
def server():
    with FakeLLMServer(responder=answer_42) as fake:
        yield fake


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)


def make_llm(server: FakeLLMServer, cache: Path, provider: str = "openai", **settings) -> LLM:
    url = server.openai_url if provider == "openai" else server.anthropic_url
    options = {"backoff_base": 0.02, "batch_poll_seconds": 0.01, **settings}
    return LLM(LLMSettings(provider=provider, model=MODELS[provider], base_url=url, **options), cache)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_structured_output_round_trip(server, tmp_path, provider):
    llm = make_llm(server, tmp_path, provider, temperature=0.2, max_tokens=300)
    value, usage = llm.complete_json(QUESTION, ANSWER_SCHEMA, system="Be brief.")

    assert value == {"answer": "42"}
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    [call] = server.model_calls()
    assert call.body["model"] == MODELS[provider] and call.body["temperature"] == 0.2
    assert call.body["max_completion_tokens" if provider == "openai" else "max_tokens"] == 300
    if provider == "openai":
        assert call.path == "/v1/chat/completions"
        assert call.body["response_format"]["json_schema"]["schema"] == ANSWER_SCHEMA
        assert call.body["messages"][0] == {"role": "system", "content": "Be brief."}
    else:
        assert call.path == "/v1/messages"
        assert call.body["tools"][0]["input_schema"] == ANSWER_SCHEMA
        assert call.body["tool_choice"] == {"type": "tool", "name": "output"}
        assert call.body["system"] == "Be brief."


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_429_and_5xx_are_retried_with_growing_backoff(server, tmp_path, provider):
    server.script(Fail(429), Fail(500), Fail(503))
    llm = make_llm(server, tmp_path, provider, backoff_base=0.1)

    assert llm.complete_json(QUESTION, ANSWER_SCHEMA)[0] == {"answer": "42"}

    calls = server.model_calls()
    assert [c.status for c in calls] == [429, 500, 503, 200]
    gaps = [later.started - earlier.started for earlier, later in zip(calls, calls[1:])]
    # exponential with jitter: the n-th wait is between half and all of 0.1 * 2**(n-1) seconds
    for n, gap in enumerate(gaps, start=1):
        assert gap >= 0.1 * 2 ** (n - 1) / 2
    assert llm.stats()["retries"] == 3


def test_retry_after_is_honoured(server, tmp_path):
    server.script(Fail(429, retry_after=1))
    llm = make_llm(server, tmp_path, backoff_base=0.01)

    llm.complete_json(QUESTION, ANSWER_SCHEMA)

    first, second = server.model_calls()
    assert second.started - first.started >= 1.0  # not the 0.01 s backoff


def test_a_timeout_is_retried(server, tmp_path):
    server.script(Slow(1.5))
    llm = make_llm(server, tmp_path, timeout=0.3)

    assert llm.complete_json(QUESTION, ANSWER_SCHEMA)[0] == {"answer": "42"}
    assert len(server.model_calls()) == 2


def test_retries_give_up_with_a_clear_error(server, tmp_path):
    server.always = Fail(500)
    with pytest.raises(ProviderError, match=r"server error \(500\).*gave up after 3 attempts"):
        make_llm(server, tmp_path, max_retries=2).complete_json(QUESTION, ANSWER_SCHEMA)
    assert len(server.model_calls()) == 3


@pytest.mark.parametrize("provider, env", [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")])
def test_401_is_not_retried_and_never_quotes_the_key(server, tmp_path, provider, env):
    server.always = Fail(401)  # its body quotes the key, as real servers may

    with pytest.raises(ProviderError) as caught:
        make_llm(server, tmp_path, provider).complete_json(QUESTION, ANSWER_SCHEMA)

    message = str(caught.value)
    assert "the API key was rejected (401 Unauthorized): check " + env in message
    assert KEY not in message and KEY[:12] not in message
    assert len(server.model_calls()) == 1


def test_400_names_the_problem_and_is_not_retried(server, tmp_path):
    server.script(Fail(400))
    with pytest.raises(ProviderError, match=r"request was rejected \(400 Bad Request\): scripted failure 400"):
        make_llm(server, tmp_path).complete_json(QUESTION, ANSWER_SCHEMA)
    assert len(server.model_calls()) == 1


def test_cache_hit_sends_nothing_and_needs_no_key(server, tmp_path, monkeypatch):
    first = make_llm(server, tmp_path).complete_json(QUESTION, ANSWER_SCHEMA)
    monkeypatch.delenv("OPENAI_API_KEY")

    rerun = make_llm(server, tmp_path)
    assert rerun.complete_json(QUESTION, ANSWER_SCHEMA) == first
    assert len(server.model_calls()) == 1
    assert rerun.stats()["cache_hits"] == 1 and rerun.stats()["calls_sent"] == 0


def test_a_cache_miss_without_a_key_says_which_variable(server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ProviderError, match="1 request.* not in the cache and OPENAI_API_KEY is not set"):
        make_llm(server, tmp_path).complete_json(QUESTION, ANSWER_SCHEMA)
    assert server.requests == []


@pytest.mark.parametrize("concurrency", [1, 8])
def test_budget_stops_before_crossing_it(server, tmp_path, concurrency):
    # Output costs $0.1 per token: a call reserves its worst case (10 tokens = $1.00) and
    # really spends $0.50 (the server's 5 output tokens). A $2 budget fits three calls one by one.
    prices = {MODELS["openai"]: {"input": 0.0, "output": 100_000.0}}
    server.latency = 0.2  # in parallel, all six reserve before the first answer arrives
    llm = make_llm(server, tmp_path, budget_usd=2.0, prices=prices, max_tokens=10, concurrency=concurrency)
    requests = [llm.request([{"role": "user", "content": f"question {i}"}], ANSWER_SCHEMA) for i in range(6)]

    completions = llm.complete_all(requests)

    answered = [c for c in completions if c.ok]
    assert {c.skipped for c in completions if not c.ok} == {"budget"}
    assert len(answered) == len(server.model_calls())
    assert len(answered) == (3 if concurrency == 1 else 2)  # in parallel, reservations fill the budget first
    stats = llm.stats()
    assert stats["budget_stopped"] is True
    assert [c.cost_usd for c in answered] == [pytest.approx(0.5)] * len(answered)
    assert stats["cost_usd"] == pytest.approx(0.5 * len(answered)) and stats["cost_usd"] <= 2.0


def test_estimate_counts_uncached_calls_and_sends_nothing(server, tmp_path):
    llm = make_llm(server, tmp_path)
    requests = [llm.request([{"role": "user", "content": f"question {i}"}], ANSWER_SCHEMA,
                            expected_output_tokens=100) for i in range(4)]
    llm.complete_all(requests[:1])
    before = len(server.requests)

    estimate = llm.estimate(requests)

    assert len(server.requests) == before
    assert (estimate["calls"], estimate["cached"], estimate["to_send"]) == (4, 1, 3)
    assert estimate["output_tokens_estimated"] == 300
    assert estimate["output_tokens_max"] == 3 * 4096
    prompt = sum(r.prompt_tokens for r in requests[1:])
    assert estimate["prompt_tokens"] == prompt
    assert estimate["cost_usd_estimated"] == pytest.approx(round((prompt * 0.40 + 300 * 1.60) / 1e6, 4))


def test_invalid_output_is_reported_not_retried(server, tmp_path):
    server.script(Garbage())
    with pytest.raises(InvalidOutput, match="not valid JSON"):
        make_llm(server, tmp_path).complete_json(QUESTION, ANSWER_SCHEMA)
    assert len(server.model_calls()) == 1


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_output_that_breaks_the_schema_is_invalid(server, tmp_path, provider):
    server.responder = lambda provider, body: {"answer": 42}
    with pytest.raises(InvalidOutput, match="does not match the schema at answer: 42 is not of type 'string'"):
        make_llm(server, tmp_path, provider).complete_json(QUESTION, ANSWER_SCHEMA)


def test_anthropic_text_instead_of_tool_is_invalid(server, tmp_path):
    server.script(Garbage("I would rather chat."))
    with pytest.raises(InvalidOutput, match="answered in text instead of calling the 'output' tool"):
        make_llm(server, tmp_path, "anthropic").complete_json(QUESTION, ANSWER_SCHEMA)


@pytest.mark.parametrize("provider, submit_path", [("openai", "/v1/batches"), ("anthropic", "/v1/messages/batches")])
def test_batch_submit_poll_collect_at_half_price(server, tmp_path, provider, submit_path):
    server.batch_polls = 2
    llm = make_llm(server, tmp_path / "batch", provider, batch=True)
    requests = [llm.request([{"role": "user", "content": f"question {i}"}], ANSWER_SCHEMA) for i in range(5)]

    completions = llm.complete_all(requests)

    assert [c.value for c in completions] == [{"answer": "42"}] * 5
    assert server.model_calls() == []  # all through the batch endpoint
    assert [r.path for r in server.requests].count(submit_path) == 1
    polls = [r for r in server.requests if r.method == "GET" and "results" not in r.path and "content" not in r.path]
    assert len(polls) >= 3
    online = make_llm(server, tmp_path / "online", provider)
    [single] = online.complete_all([online.request([{"role": "user", "content": "question 0"}], ANSWER_SCHEMA)])
    assert completions[0].cost_usd == pytest.approx(single.cost_usd / 2)
    assert llm.stats()["batch_ids"] and not list((tmp_path / "batch" / "batches").glob("*.json"))

    before = len(server.requests)
    again = make_llm(server, tmp_path / "batch", provider, batch=True).complete_all(requests)
    assert [c.cached for c in again] == [True] * 5 and len(server.requests) == before


def test_a_failed_batch_is_reported_and_sent_again_on_the_next_run(server, tmp_path):
    server.fail_batches = 1
    llm = make_llm(server, tmp_path, "openai", batch=True)
    requests = [llm.request([{"role": "user", "content": f"question {i}"}], ANSWER_SCHEMA) for i in range(3)]

    failed = llm.complete_all(requests)
    assert all(c.skipped and "line 1 is not valid JSON" in c.skipped for c in failed)
    assert not list((tmp_path / "batches").glob("*.json"))  # not collected again and again

    again = make_llm(server, tmp_path, "openai", batch=True).complete_all(requests)
    assert [c.value for c in again] == [{"answer": "42"}] * 3
    assert [r.path for r in server.requests].count("/v1/batches") == 2


def test_budget_needs_a_price(tmp_path):
    with pytest.raises(RecipeError, match="no price for model 'my-model'"):
        LLM(LLMSettings(model="my-model", budget_usd=1.0), tmp_path)


def test_the_key_never_reaches_the_cache(server, tmp_path):
    llm = make_llm(server, tmp_path)
    llm.complete_all([llm.request([{"role": "user", "content": f"q{i}"}], ANSWER_SCHEMA) for i in range(3)])
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert len(files) == 3
    assert not [path for path in files if KEY.encode() in path.read_bytes()]
