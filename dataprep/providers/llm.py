"""``LLM``: structured-output calls to a frontier model through the cache, the budget, a
concurrency limit and retries; or, with ``batch``, through the provider's Batch API.

    llm = LLM(LLMSettings(provider="openai", model="gpt-4.1"), cache_dir)
    value, usage = llm.complete_json(messages, schema)           # one call
    completions = llm.complete_all([llm.request(...), ...])      # many, concurrent or batched

A response already in the cache (or a replay folder) costs nothing and needs no key.
"""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from ..errors import RecipeError
from ..settings import secret_setting, url_setting
from ..tokens import count_text
from .anthropic_api import AnthropicMessages
from .api import BatchFailed, Failure, Provider, ProviderError
from .cache import BatchJournal, ResponseCache, request_key
from .openai_api import OpenAIChat
from .pricing import Budget, Prices, Usage

PROVIDERS: dict[str, Provider] = {"openai": OpenAIChat(), "anthropic": AnthropicMessages()}
T = TypeVar("T")


class InvalidOutput(ProviderError):
    """The model answered, but not in the requested shape."""


@dataclass(frozen=True)
class LLMSettings:
    provider: str = "openai"
    model: str = "gpt-4.1-mini"
    temperature: float | None = None
    max_tokens: int = 4096
    concurrency: int = 32
    max_retries: int = 6
    timeout: float = 120.0
    base_url: str | None = None          # else the SDK's OPENAI_BASE_URL / ANTHROPIC_BASE_URL
    api_key_env: str | None = None       # else OPENAI_API_KEY / ANTHROPIC_API_KEY
    batch: bool = False
    batch_poll_seconds: float = 30.0
    budget_usd: float | None = None
    prices: dict[str, dict[str, float]] | None = None
    backoff_base: float = 1.0
    backoff_max: float = 60.0


@dataclass(frozen=True)
class Request:
    key: str
    body: dict[str, Any]
    schema: dict[str, Any] | None  # None: a plain-text answer
    schema_name: str | None
    expected_output_tokens: int

    @cached_property
    def prompt_tokens(self) -> int:
        """Counted with an OpenAI tokenizer (an estimate for Anthropic models), and only when a budget
        or an estimate needs it: a cached rerun never does. Counting the serialized body over-counts
        a little (JSON syntax): the safe side for a budget."""
        return count_text(orjson.dumps(self.body).decode())


@dataclass
class Completion:
    key: str
    value: Any = None
    problem: str | None = None     # the model answered, but not validly: why
    raw: str = ""                  # what it answered, for the record of a rejection
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    cached: bool = False
    skipped: str | None = None     # never answered: over budget, or a failed batch request

    @property
    def ok(self) -> bool:
        return self.skipped is None and self.problem is None


class LLM:
    def __init__(self, settings: LLMSettings, cache_dir: Path, replay: Iterable[Path] = (), run_budget: Budget | None = None):
        if settings.provider not in PROVIDERS:
            raise RecipeError(f"unknown provider '{settings.provider}'; use one of: {', '.join(PROVIDERS)}")
        self.settings = settings
        self.api = PROVIDERS[settings.provider]
        self.cache = ResponseCache(Path(cache_dir), replay)
        self.prices = Prices(settings.prices)
        if settings.budget_usd is not None:
            self.prices.require(settings.model)
        self.budget = Budget(settings.budget_usd, run_budget)
        self.counts = {"calls_sent": 0, "cache_hits": 0, "retries": 0, "failed_requests": 0,
                       "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "cost_usd_cached": 0.0}
        self.batch_ids: list[str] = []
        self._lock = threading.Lock()
        self._client: Any = None
        self._validators: dict[bytes, Draft202012Validator] = {}

    # -- building requests ----------------------------------------------------------------------
    @property
    def key_env(self) -> str:
        return self.settings.api_key_env or self.api.key_env

    def request(self, messages: list[dict[str, Any]], schema: dict[str, Any] | None, *, schema_name: str = "output",
                system: str | None = None, strict: bool = True, expected_output_tokens: int | None = None,
                seed: int | None = None) -> Request:
        """A structured-output request: the model must answer with JSON matching ``schema``; with
        ``schema=None`` a plain-text answer. ``seed`` (OpenAI-compatible servers only) makes samples of
        one prompt distinct requests, cached apart, and a rerun draws the same samples."""
        s = self.settings
        if seed is not None and s.provider != "openai":
            raise RecipeError("sampling with a seed needs an OpenAI-compatible endpoint (provider: openai)")
        body = self.api.body(model=s.model, system=system, messages=messages, schema=schema, schema_name=schema_name,
                             max_tokens=s.max_tokens, temperature=s.temperature, strict=strict)
        if seed is not None:
            body["seed"] = seed
        expected = min(expected_output_tokens or s.max_tokens, s.max_tokens)
        return Request(request_key(s.provider, s.model, body), body, schema, schema_name if schema else None, expected)

    # -- calling ---------------------------------------------------------------------------------
    def complete_json(self, messages: list[dict[str, Any]], schema: dict[str, Any], **options: Any) -> tuple[Any, Usage]:
        """One call (online, never batched); raises ``InvalidOutput`` if the answer does not fit ``schema``."""
        completion = self._complete_online([self.request(messages, schema, **options)])[0]
        if completion.skipped:
            raise ProviderError(f"{self.settings.provider} call not sent: {completion.skipped}")
        if completion.problem:
            raise InvalidOutput(f"{self.settings.provider} {self.settings.model}: {completion.problem}")
        return completion.value, completion.usage

    def complete_all(self, requests: list[Request]) -> list[Completion]:
        """Completions in the order of ``requests``: from the cache, else sent (concurrently or as a batch)."""
        return (self._complete_batch if self.settings.batch else self._complete_online)(requests)

    def stats(self) -> dict[str, Any]:
        rounded = {key: round(value, 6) if isinstance(value, float) else value for key, value in self.counts.items()}
        return {**rounded, **self.budget.summary(), **({"batch_ids": self.batch_ids} if self.batch_ids else {})}

    def estimate(self, requests: list[Request]) -> dict[str, Any]:
        """What sending the uncached ``requests`` would take: calls, tokens, dollars; sends nothing."""
        s = self.settings
        missing = [r for r in requests if self.cache.get(r.key) is None]
        prompt = sum(r.prompt_tokens for r in missing)
        expected = sum(r.expected_output_tokens for r in missing)
        worst = len(missing) * s.max_tokens
        cost = self.prices.cost(s.model, Usage(prompt, expected), batch=s.batch)
        cost_max = self.prices.cost(s.model, Usage(prompt, worst), batch=s.batch)
        return {"provider": s.provider, "model": s.model, "batch": s.batch, "calls": len(requests),
                "cached": len(requests) - len(missing), "to_send": len(missing), "prompt_tokens": prompt,
                "output_tokens_estimated": expected, "output_tokens_max": worst,
                "cost_usd_estimated": None if cost is None else round(cost, 4),
                "cost_usd_max": None if cost_max is None else round(cost_max, 4),
                "price_per_million": self.prices.for_model(s.model)}

    # -- online: a thread pool, each call budgeted, retried and cached as it completes -------------
    def _complete_online(self, requests: list[Request]) -> list[Completion]:
        results = [self._from_cache(request) for request in requests]
        todo = [index for index, result in enumerate(results) if result is None]
        if not todo:
            return results
        client = self._client_for(len(todo))
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=min(self.settings.concurrency, len(todo)), thread_name_prefix="llm")
        futures = {pool.submit(self._call, client, requests[index], stop): index for index in todo}
        try:
            for future in as_completed(futures):
                results[futures[future]] = future.result()
        except BaseException:
            stop.set()  # a fatal error or Ctrl-C: send nothing more; calls in flight still land in the cache
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return results

    def _call(self, client: Any, request: Request, stop: threading.Event) -> Completion:
        if stop.is_set():
            return Completion(request.key, skipped="stopped")
        worst = self._cost(Usage(request.prompt_tokens, self.settings.max_tokens), batch=False) or 0.0
        if not self.budget.reserve(worst):
            return Completion(request.key, skipped="budget")
        try:
            response = self._retrying(lambda: self.api.send(client, request.body), stop)
        except BaseException:
            self.budget.settle(worst, 0.0)
            raise
        if response is None:
            self.budget.settle(worst, 0.0)
            return Completion(request.key, skipped="stopped")
        completion = self._store(request, response, via="online")
        self.budget.settle(worst, completion.cost_usd)
        return completion

    def _retrying(self, attempt: Callable[[], T], stop: threading.Event | None = None) -> T | None:
        """Run ``attempt``, retrying 429/5xx/timeouts with exponential backoff and jitter, or exactly
        as long as the server's Retry-After asks. ``None`` if ``stop`` was set while waiting."""
        secret = os.environ.get(self.key_env)
        for tries in range(1, self.settings.max_retries + 2):
            try:
                return attempt()
            except Exception as exc:
                failure = self.api.failure(exc, secret)
                if failure is None:
                    raise
                if not failure.retry or tries > self.settings.max_retries:
                    raise ProviderError(self._describe(failure, tries)) from None
                self._count(retries=1)
                delay = self._backoff(tries, failure)
                if stop is None:
                    time.sleep(delay)
                elif stop.wait(delay):
                    return None
        raise AssertionError("unreachable")

    def _backoff(self, tries: int, failure: Failure) -> float:
        if failure.wait is not None:
            return failure.wait
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** (tries - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _describe(self, failure: Failure, tries: int) -> str:
        gave_up = f" (gave up after {tries} attempts)" if failure.retry else ""
        return (f"{self.settings.provider} {self.settings.model}: {failure.reason}{gave_up}; responses already "
                f"received are cached, so a rerun continues from here")

    def _client_for(self, uncached: int) -> Any:
        secret = secret_setting(self.key_env)
        if not secret:
            raise ProviderError(f"{uncached} request(s) are not in the cache and {self.key_env} is not set: set it "
                                f"to call {self.settings.provider}, or use --dry-run to see what the run would cost")
        with self._lock:
            if self._client is None:
                base_url = self.settings.base_url and url_setting("base_url", self.settings.base_url)
                self._client = self.api.client(secret, base_url, self.settings.timeout)
        return self._client

    # -- batch: submit what is missing (once), wait, collect into the same cache --------------------
    def _complete_batch(self, requests: list[Request]) -> list[Completion]:
        results = [self._from_cache(request) for request in requests]
        missing = {r.key: r for r, result in zip(requests, results) if result is None}
        if not missing:
            return results
        client = self._client_for(len(missing))
        journal = BatchJournal(self.cache.folder / "batches", self.api.name)
        earlier = set().union(*journal.pending().values())  # submitted by an interrupted run: not again
        reserved = self._submit(client, journal, [r for key, r in missing.items() if key not in earlier])
        batches = journal.pending()
        submitted = set().union(*batches.values())
        collected: dict[str, Completion] = {}
        for batch_id, keys in batches.items():
            if keys & missing.keys():
                collected.update(self._collect(client, journal, batch_id, keys, missing))
        self.budget.settle(reserved, 0.0)  # worst cases reserved at submit; _store counted what was spent
        return [result or collected.get(request.key) or
                Completion(request.key, skipped="no result in the batch" if request.key in submitted else "budget")
                for request, result in zip(requests, results)]

    def _submit(self, client: Any, journal: BatchJournal, requests: list[Request]) -> float:
        """Submit what the budget allows; returns the dollars reserved for it."""
        affordable, reserved = [], 0.0
        for request in requests:
            worst = self._cost(Usage(request.prompt_tokens, self.settings.max_tokens), batch=True) or 0.0
            if not self.budget.reserve(worst):
                break
            affordable.append(request)
            reserved += worst
        for start in range(0, len(affordable), self.api.batch_limit):
            chunk = affordable[start:start + self.api.batch_limit]
            batch_id = self._retrying(lambda: self.api.submit_batch(client, [(r.key, r.body) for r in chunk]))
            journal.add(batch_id, [r.key for r in chunk])
            self.batch_ids.append(batch_id)
        return reserved

    def _collect(self, client: Any, journal: BatchJournal, batch_id: str, keys: set[str],
                 missing: dict[str, Request]) -> dict[str, Completion]:
        try:
            while not self._retrying(lambda: self.api.batch_finished(client, batch_id)):
                time.sleep(self.settings.batch_poll_seconds)
        except BatchFailed as exc:
            journal.remove(batch_id)  # else every rerun would collect the same failed batch again
            self._count(failed_requests=len(keys & missing.keys()))
            return {key: Completion(key, skipped=exc.message) for key in keys & missing.keys()}
        items = self._retrying(lambda: list(self.api.batch_results(client, batch_id)))
        found = {}
        for item in items:
            request = missing.get(item.key)
            if item.body is not None and request is not None:
                found[item.key] = self._store(request, item.body, via="batch")
            elif request is not None:
                self._count(failed_requests=1)
                found[item.key] = Completion(item.key, skipped=f"batch request failed: {item.error}")
        journal.remove(batch_id)
        if batch_id not in self.batch_ids:
            self.batch_ids.append(batch_id)
        return found

    # -- cache and accounting ----------------------------------------------------------------------
    def _from_cache(self, request: Request) -> Completion | None:
        entry = self.cache.get(request.key)
        if entry is None:
            return None
        completion = self._completion(request, entry, cached=True)
        self._count(cache_hits=1, cost_usd_cached=completion.cost_usd or 0.0)
        return completion

    def _store(self, request: Request, response: dict[str, Any], via: str) -> Completion:
        entry = {"provider": self.settings.provider, "model": self.settings.model, "key": request.key,
                 "request": request.body, "response": response, "via": via}
        self.cache.put(request.key, entry)
        completion = self._completion(request, entry, cached=False)
        self._count(calls_sent=1, input_tokens=completion.usage.input_tokens,
                    output_tokens=completion.usage.output_tokens, cost_usd=completion.cost_usd or 0.0)
        if via == "batch":
            self.budget.settle(0.0, completion.cost_usd)
        return completion

    def _completion(self, request: Request, entry: dict[str, Any], *, cached: bool) -> Completion:
        response = entry["response"]
        parsed = self.api.parse(response, request.schema_name)
        problem = parsed.problem or (request.schema and self._schema_problem(parsed.value, request.schema))
        usage = self.api.usage(response)
        return Completion(request.key, None if problem else parsed.value, problem, parsed.raw, usage,
                          self._cost(usage, batch=entry.get("via") == "batch"), cached)

    def _schema_problem(self, value: Any, schema: dict[str, Any]) -> str | None:
        key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        validator = self._validators.get(key) or self._validators.setdefault(key, Draft202012Validator(schema))
        error = best_match(validator.iter_errors(value))
        if error is None:
            return None
        where = "/".join(map(str, error.absolute_path)) or "(top level)"
        return f"the output does not match the schema at {where}: {error.message}"

    def _cost(self, usage: Usage, *, batch: bool) -> float | None:
        return self.prices.cost(self.settings.model, usage, batch=batch)

    def _count(self, **deltas: float) -> None:
        with self._lock:
            for key, delta in deltas.items():
                self.counts[key] += delta
