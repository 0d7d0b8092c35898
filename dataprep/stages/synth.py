"""The synth stage: ask a frontier model for edge cases the production data is thin on.

Every input record passes through unchanged; the synthetic records follow. Seeds come
from the data: the rarest intents and near-duplicate clusters, replies users disliked,
and, for each named edge-case kind (typos and slang, ambiguous requests, out-of-scope
requests, very long inputs, multi-turn follow-ups, prompt injection), real conversations
that show the domain and the assistant's style. Each call asks for examples in our record
shape; each example is checked (record schema, roles, non-empty turns, well-formed tool
calls) and an invalid one goes to rejected with the reason. Calls go through
``dataprep.providers.LLM``: cached, budgeted, concurrent, retried, optionally batched.
Synthetic records carry the tag ``synthetic``, by which the review stage sends a share of
them (``synthetic_share``, 15% by default) to human review.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections import Counter
from dataclasses import dataclass, fields
from string import Template
from typing import Any, Iterator

import orjson

from .. import schemas
from ..errors import DataprepError, RecipeError
from ..jsonl import RAW_EXCERPT_CHARS, excerpt_of
from ..pipeline import RecordSource, Stage, StageContext, register
from ..providers import LLM, Completion, LLMSettings, Request
from ..providers.templates import EXAMPLES_SCHEMA, PROMPT, SYSTEM, TASKS
from ..record import Record, category_of, derived_id, message_text
from ..tokens import count_text
from ..pii import refuse_unscrubbed, unscrubbed_ids

SCHEMA_NAME = "synthetic_examples"
RARE_SHARE = 0.25  # the rarest groups, up to a quarter of the records, seed the "rare" strategy
EXPECTED_WHY_TOKENS = 60
VARIATION = "\n\nThis is request {number} for this task: make its examples differ from those of the other requests."


@dataclass(frozen=True)
class SynthOptions:
    """Defaults of every option; ``schemas/stages/synth.schema.json`` documents them."""

    provider: str = "openai"
    model: str = "gpt-4.1-mini"
    n: int = 50
    strategies: dict[str, float] | None = None
    examples_per_call: int = 1
    seeds_per_call: int = 3
    seed_chars: int = 1500
    temperature: float | None = None
    max_tokens: int = 4096
    concurrency: int = 32
    max_retries: int = 6
    timeout: float = 120.0
    base_url: str | None = None
    api_key_env: str | None = None
    budget_usd: float | None = None
    prices: dict[str, dict[str, float]] | None = None
    dry_run: bool = False
    batch: bool = False
    batch_poll_seconds: float = 30.0
    replay: str | None = None
    templates: dict[str, str] | None = None
    allow_unscrubbed: bool = False

    def llm_settings(self) -> LLMSettings:
        return LLMSettings(**{f.name: getattr(self, f.name) for f in fields(LLMSettings) if hasattr(self, f.name)})

    def weights(self) -> dict[str, float]:
        return dict(self.strategies) if self.strategies else {name: 1.0 for name in TASKS}

    def template(self, name: str) -> str:
        defaults = {"system": SYSTEM, "prompt": PROMPT, **TASKS}
        return (self.templates or {}).get(name) or defaults[name]


@dataclass
class Call:
    """One planned request: ``count`` examples of ``strategy``, anchored on ``seeds``."""

    strategy: str
    count: int
    seeds: list[Record]
    request: Request


@register
class Synth(Stage):
    name = "synth"

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.settings = SynthOptions(**options)
        _check_strategies(self.settings)

    def run(self, records: RecordSource, ctx: StageContext) -> Iterator[Record]:
        s = self.settings
        replay = [ctx.recipe_dir / s.replay] if s.replay else []
        llm = LLM(s.llm_settings(), ctx.cache_dir / "llm", replay, ctx.run_budget)
        calls = plan(list(records), s, ctx, llm)
        if not s.allow_unscrubbed:
            _refuse_unscrubbed(calls, s.provider)
        yield from records
        if s.dry_run or ctx.planning:
            ctx.stats.update(dry_run=True, estimate=llm.estimate([call.request for call in calls]))
            return
        completions = llm.complete_all([call.request for call in calls])
        ctx.stats.update(generated=0, invalid=0)
        for call, completion in zip(calls, completions):
            for record, problem in synthetic_records(call, completion, s, ctx):
                if problem:
                    ctx.count("invalid")
                    ctx.set_aside(record, "rejected", f"invalid synthetic example: {problem}")
                else:
                    ctx.count("generated")
                    yield record
        ctx.stats.update(llm.stats())


# -- planning: which strategies, which seeds, which requests ---------------------------------------
def plan(records: list[Record], s: SynthOptions, ctx: StageContext, llm: LLM) -> list[Call]:
    """The calls this run makes, deterministic for the same records, options and seed (so a rerun
    asks exactly the same requests and finds them in the cache)."""
    usable = [record for record in records if record.target is not None and any(
        m.get("role") == "user" for m in record.prompt_messages)]
    pools = {name: pool_for(name, usable) for name in s.weights()}
    empty = sorted(name for name, pool in pools.items() if not pool)
    weights = {name: weight for name, weight in s.weights().items() if pools[name] and weight > 0}
    allocation = allocate(s.n, weights)
    ctx.stats.update(requested=s.n, strategies=allocation)
    if empty:
        ctx.stats["strategies_without_seeds"] = empty
    if s.n and not allocation and len(records):  # no records at all (a filter kept none): nothing to draw from
        raise DataprepError(f"synth has no seeds: none of the {len(records)} input records is a conversation "
                            f"ending in an assistant reply that suits the strategies {', '.join(s.weights())}")
    calls = []
    for name, total in allocation.items():
        rng = random.Random(f"{ctx.seed}/{name}")
        under_prompt = by_system_prompt(pools[name])
        for number, start in enumerate(range(0, total, s.examples_per_call), start=1):
            count = min(s.examples_per_call, total - start)
            seeds = draw_seeds(rng, pools[name], under_prompt, s.seeds_per_call)
            calls.append(Call(name, count, seeds, build_request(name, number, count, seeds, s, llm)))
    ctx.stats["calls_planned"] = len(calls)
    return calls


def by_system_prompt(pool: list[Record]) -> dict[str, list[int]]:
    """The positions in ``pool`` of the records run under each system prompt."""
    positions: dict[str, list[int]] = {}
    for position, record in enumerate(pool):
        positions.setdefault(system_prompt_of(record), []).append(position)
    return positions


def draw_seeds(rng: random.Random, pool: list[Record], under_prompt: dict[str, list[int]], count: int) -> list[Record]:
    """An anchor, then seeds run under its system prompt: the examples a request shows, and the
    ones it gets back, belong to one assistant (a helpdesk export without a system prompt and the
    chat assistant's logs are two)."""
    anchor = rng.randrange(len(pool))
    others = [position for position in under_prompt[system_prompt_of(pool[anchor])] if position != anchor]
    return [pool[anchor], *(pool[position] for position in rng.sample(others, min(count - 1, len(others))))]


def pool_for(strategy: str, records: list[Record]) -> list[Record]:
    if strategy == "rare":
        return rarest(records)
    if strategy == "negative_feedback":
        return [r for r in records if r.feedback.get("thumbs") == "down" or r.feedback.get("correction")]
    return records


def rarest(records: list[Record]) -> list[Record]:
    """The rarest groups (least frequent intent, then smallest near-duplicate cluster), whole groups
    at a time, up to a quarter of the records; always at least the rarest group."""
    intents = Counter(category_of(record) for record in records)

    def rarity(record: Record) -> tuple[int, int]:
        return intents[category_of(record)], record.groups.get("cluster_size", 1)

    pool: list[Record] = []
    for _, group in itertools.groupby(sorted(records, key=rarity), key=rarity):
        group = list(group)
        if pool and len(pool) + len(group) > len(records) * RARE_SHARE:
            break
        pool.extend(group)
    return pool


def allocate(n: int, weights: dict[str, float]) -> dict[str, int]:
    """Split ``n`` examples across strategies by weight (largest remainder, ties in recipe order)."""
    total = sum(weights.values())
    if not total:
        return {}
    exact = {name: n * weight / total for name, weight in weights.items()}
    shares = {name: math.floor(value) for name, value in exact.items()}
    by_remainder = sorted(weights, key=lambda name: shares[name] - exact[name])
    for name in by_remainder[:n - sum(shares.values())]:
        shares[name] += 1
    return {name: count for name, count in shares.items() if count}


def build_request(strategy: str, number: int, count: int, seeds: list[Record], s: SynthOptions, llm: LLM) -> Request:
    shown = [seed_view(seed, s.seed_chars) for seed in seeds]
    # An example is about as long as a seed conversation, plus its one-line "why".
    per_example = sum(map(count_text, shown)) // len(shown) + EXPECTED_WHY_TOKENS
    values = {"system_prompt": system_prompt_of(seeds[0]), "seeds": "\n\n".join(shown),
              "tools": orjson.dumps(seeds[0].tools).decode() if seeds[0].tools else "none", "count": str(count)}
    values["task"] = render(s.template(strategy), strategy, values)
    # Numbered, so two requests of a strategy that drew the same seeds still differ (and are cached apart).
    prompt = render(s.template("prompt"), "prompt", values) + VARIATION.format(number=number)
    return llm.request([{"role": "user", "content": prompt}], EXAMPLES_SCHEMA, schema_name=SCHEMA_NAME,
                       system=render(s.template("system"), "system", values), expected_output_tokens=count * per_example)


def render(template: str, name: str, values: dict[str, str]) -> str:
    try:
        return Template(template).substitute(values)
    except KeyError as exc:
        raise RecipeError(f"synth templates.{name}: unknown placeholder ${exc.args[0]}; "
                          f"use {', '.join('$' + key for key in ('task', *values))}") from None
    except ValueError as exc:
        raise RecipeError(f"synth templates.{name}: {exc} (write $$ for a literal $)") from None


def system_messages(record: Record) -> list[dict[str, Any]]:
    """The production system prompt: synthetic examples train under the same one as their seeds."""
    return [m for m in record.messages if m.get("role") in ("system", "developer")]


def system_prompt_of(record: Record) -> str:
    text = "\n".join(message_text(m) for m in system_messages(record))
    return text or "(none: the assistant runs without a system prompt)"


def seed_view(record: Record, max_chars: int) -> str:
    """A seed as the generator sees it: its turns (long ones clipped) and any negative feedback."""
    turns = []
    for message in record.messages:
        if message.get("role") in ("system", "developer"):
            continue
        turn = {"role": message["role"], "content": _clip(message_text(message), max_chars)}
        for key in ("tool_calls", "tool_call_id"):
            if message.get(key):
                turn[key] = message[key]
        turns.append(turn)
    shown: dict[str, Any] = {"messages": turns}
    feedback = {key: record.feedback[key] for key in ("thumbs", "comments", "correction") if record.feedback.get(key)}
    if feedback:
        shown["feedback"] = feedback
    return orjson.dumps(shown).decode()


def _clip(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[:max_chars] + " [...]"


def _check_strategies(s: SynthOptions) -> None:
    known = set(TASKS) | set(s.templates or {})
    unknown = sorted(set(s.weights()) - known)
    if unknown:
        raise RecipeError(f"synth strategies: unknown strategy {', '.join(unknown)}; built in: "
                          f"{', '.join(TASKS)} (or add a template of that name under templates)")
    unused = sorted(set(s.templates or {}) - {"system", "prompt"} - set(s.weights()))
    if unused:
        raise RecipeError(f"synth templates: {', '.join(unused)} is not a strategy in use; "
                          f"strategies: {', '.join(s.weights())}")


def _refuse_unscrubbed(calls: list[Call], provider: str) -> None:
    seeds = {seed.id: seed for call in calls for seed in call.seeds}
    refuse_unscrubbed(unscrubbed_ids(seeds.values()), f"synth would send seeds to {provider}", "set allow_unscrubbed: true")


# -- turning answers into records ------------------------------------------------------------------
def synthetic_records(call: Call, completion: Completion, s: SynthOptions,
                      ctx: StageContext) -> Iterator[tuple[Record, str | None]]:
    """Each example of one answer as a record, with the problem that rejects it (or ``None``)."""
    if completion.skipped:  # over budget or a failed batch request: the LLM's stats say which
        ctx.count("calls_unanswered")
        return
    cost_share = None if completion.cost_usd is None else completion.cost_usd / call.count
    if completion.problem:
        record = new_record(call, completion, 0, [], cost_share, s)
        record.meta["raw_output"] = excerpt_of(completion.raw, RAW_EXCERPT_CHARS)
        yield ctx.scrubbed_record(record), completion.problem
        return
    examples = completion.value["examples"]
    if len(examples) < call.count:
        ctx.count("examples_missing", call.count - len(examples))
    if len(examples) > call.count:
        ctx.count("examples_extra_ignored", len(examples) - call.count)
    for index, example in enumerate(examples[:call.count]):
        messages = system_messages(call.seeds[0]) + [_clean(m) for m in example["messages"]]
        record = new_record(call, completion, index, messages, cost_share, s)
        record.reasons["synthetic"] = [example["why"]]
        yield ctx.scrubbed_record(record), example_problem(record)  # the model invents values like its seeds'


def new_record(call: Call, completion: Completion, index: int, messages: list[dict[str, Any]],
               cost_usd: float | None, s: SynthOptions) -> Record:
    record = Record(messages=messages, id=derived_id("synth", completion.key, index), tools=call.seeds[0].tools,
                    source={"format": "synthetic", "provider": s.provider, "model": s.model},
                    tags=["synthetic", f"synth:{call.strategy}"])
    template = s.template(call.strategy)
    record.note("synth", "generated", provider=s.provider, model=s.model, template=call.strategy,
                template_sha256=hashlib.sha256(template.encode()).hexdigest()[:16],
                seed_ids=[seed.id for seed in call.seeds], request_hash=completion.key,
                cost_usd=None if cost_usd is None else round(cost_usd, 6))
    return record


def _clean(message: dict[str, Any]) -> dict[str, Any]:
    """Strict structured output sends every key, null when unused; a record leaves them out."""
    return {key: value for key, value in message.items() if value is not None and value != []}


def example_problem(record: Record) -> str | None:
    """Why a generated example cannot be trained on, or ``None`` if it can."""
    shape = {"messages": record.messages, **({"tools": record.tools} if record.tools else {})}
    for where, message in schemas.errors("record", shape):
        return f"{where}: {message}"
    turns = [m for m in record.messages if m["role"] not in ("system", "developer")]
    if not turns or turns[0]["role"] != "user":
        return "the conversation must start with a user message"
    if turns[-1]["role"] != "assistant":
        return "the last message must be the assistant's reply"
    for index, message in enumerate(record.messages):
        empty = not message_text(message).strip()
        if empty and (message["role"] in ("user", "tool") or not message.get("tool_calls")):
            return f"messages[{index}] ({message['role']}) is empty"
    return tool_call_problem(record)


def tool_call_problem(record: Record) -> str | None:
    """Tool calls name an offered tool, carry a JSON object of arguments, and are answered
    (except in the final reply, where calling a tool is the reply)."""
    offered = {tool["function"]["name"] for tool in record.tools or []}
    unanswered: set[str] = set()
    for index, message in enumerate(record.messages):
        for call in message.get("tool_calls") or []:
            name, call_id = call["function"]["name"], call.get("id", "")
            if name not in offered:
                return f"messages[{index}] calls tool '{name}', which is not offered ({', '.join(sorted(offered)) or 'no tools'})"
            try:
                arguments = orjson.loads(call["function"]["arguments"])
            except orjson.JSONDecodeError:
                return f"messages[{index}] calls '{name}' with arguments that are not valid JSON"
            if not isinstance(arguments, dict):
                return f"messages[{index}] calls '{name}' with arguments that are not a JSON object"
            if not call_id or call_id in unanswered:
                return f"messages[{index}] has a tool call with a missing or repeated id"
            unanswered.add(call_id)
        if message["role"] == "tool":
            if message.get("tool_call_id") not in unanswered:
                return f"messages[{index}] answers no open tool call (tool_call_id {message.get('tool_call_id')!r})"
            unanswered.discard(message["tool_call_id"])
    final_calls = {call.get("id") for call in record.messages[-1].get("tool_calls") or []}
    if unanswered - final_calls:
        return f"tool call(s) {', '.join(sorted(unanswered - final_calls))} never answered"
    return None
