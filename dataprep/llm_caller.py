"""What a stage's LLM judge or probe needs: an LLM through the provider layer (cache, its own
budget and the run's, retries), the refusal to send records the PII scrubber has not seen, and
``run --plan``, where requests are only counted."""

from __future__ import annotations

from typing import Any, Iterable

from .pii import refuse_unscrubbed, unscrubbed_ids
from .pipeline import StageContext
from .record import Record

#: the recipe options that go to the provider layer (the rest: replay, allow_unscrubbed, the stage's own)
LLM_OPTIONS = ("provider", "model", "budget_usd", "prices", "concurrency", "base_url", "api_key_env", "temperature",
               "max_tokens")


class LLMCaller:
    def __init__(self, options: dict[str, Any], ctx: StageContext, name: str, **defaults: Any):
        """``name`` says who asks, in errors: "flag judge"; ``options`` are the recipe's (schemas/stages/llm)."""
        from .providers.llm import LLM, LLMSettings

        settings = {**defaults, **{key: value for key, value in options.items() if key in LLM_OPTIONS}}
        replay = [ctx.recipe_dir / options["replay"]] if options.get("replay") else []
        self.llm = LLM(LLMSettings(**settings), ctx.cache_dir / "llm", replay, ctx.run_budget)
        self.name = name
        self.allow_unscrubbed = options.get("allow_unscrubbed", False)
        self.planning = ctx.planning
        self.planned: list[Any] = []

    def refuse_unscrubbed(self, records: Iterable[Record]) -> None:
        if not self.allow_unscrubbed:
            option = self.name.replace(" ", ".")
            refuse_unscrubbed(unscrubbed_ids(records), f"the {self.name} would send records",
                              f"set {option}.allow_unscrubbed: true")

    def complete(self, requests: list[Any]) -> list[Any]:
        """The completions, or none at all when only planning (the requests are kept for the estimate)."""
        if self.planning:
            self.planned += requests
            return []
        return self.llm.complete_all(requests)

    def estimate(self) -> dict[str, Any]:
        return self.llm.estimate(self.planned)
