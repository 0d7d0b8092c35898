"""Dollar accounting: a price table and a per-run budget.

Prices are USD per million tokens. The defaults below are examples of published list
prices at the time of writing; check your provider's price page and override them in
the recipe (``prices: {my-model: {input: 1.0, output: 4.0}}``). Batch APIs cost half.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..errors import RecipeError

DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "gpt-4.1": {"input": 2.00, "output": 8.00},
    "gpt-4.1-mini": {"input": 0.40, "output": 1.60},
    "gpt-4.1-nano": {"input": 0.10, "output": 0.40},
    "gpt-4o": {"input": 2.50, "output": 10.00},
    "gpt-4o-mini": {"input": 0.15, "output": 0.60},
    "claude-opus-4-1": {"input": 15.00, "output": 75.00},
    "claude-sonnet-4-5": {"input": 3.00, "output": 15.00},
    "claude-haiku-4-5": {"input": 1.00, "output": 5.00},
}
BATCH_DISCOUNT = 0.5


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


class Prices:
    def __init__(self, overrides: dict[str, dict[str, float]] | None = None):
        self.table = {**DEFAULT_PRICES, **(overrides or {})}

    def for_model(self, model: str) -> dict[str, float] | None:
        """The price of ``model``, or of the longest listed name it starts with
        (``gpt-4.1-2025-04-14`` is priced as ``gpt-4.1``)."""
        if model in self.table:
            return self.table[model]
        prefixes = [name for name in self.table if model.startswith(name)]
        return self.table[max(prefixes, key=len)] if prefixes else None

    def require(self, model: str) -> dict[str, float]:
        price = self.for_model(model)
        if price is None:
            raise RecipeError(f"no price for model '{model}', so the budget cannot be kept: add "
                              f"prices: {{{model}: {{input: USD, output: USD}}}} (per million tokens) to the synth options")
        return price

    def cost(self, model: str, usage: Usage, *, batch: bool = False) -> float | None:
        price = self.for_model(model)
        if price is None:
            return None
        usd = (usage.input_tokens * price["input"] + usage.output_tokens * price["output"]) / 1_000_000
        return usd * (BATCH_DISCOUNT if batch else 1.0)


class Budget:
    """Dollars spent in this run, with room reserved for calls in flight.

    A call reserves its worst-case cost (prompt plus ``max_tokens`` of output) before it is
    sent, so concurrent calls together can never cross the limit. The first call that
    does not fit stops all further sending: the run keeps what is done and says so.
    """

    def __init__(self, limit_usd: float | None, run: "Budget | None" = None):
        self.limit_usd = limit_usd
        self.run = run  # the whole run's budget, shared by every LLM stage: a call must fit both
        self.spent_usd = 0.0
        self.reserved_usd = 0.0
        self.exhausted = False
        self._lock = threading.Lock()

    def reserve(self, usd: float) -> bool:
        with self._lock:
            if self.exhausted:
                return False
            if self.limit_usd is not None and self.spent_usd + self.reserved_usd + usd > self.limit_usd:
                self.exhausted = True
                return False
            if self.run is not None and not self.run.reserve(usd):
                self.exhausted = True
                return False
            self.reserved_usd += usd
            return True

    def settle(self, reserved: float, actual: float | None) -> None:
        with self._lock:
            self.reserved_usd -= reserved
            self.spent_usd += actual or 0.0
        if self.run is not None:
            self.run.settle(reserved, actual)

    def summary(self) -> dict[str, Any]:
        return {"budget_usd": self.limit_usd, "budget_stopped": self.exhausted}
