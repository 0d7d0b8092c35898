"""Scoring with a shipped logistic regression: a sum of weights, no machine-learning library."""

from __future__ import annotations

import math

Model = tuple[float, dict[str, float]]  # the intercept and the weights


def log_odds(found: dict[str, float], model: Model) -> float:
    """Exact whatever order the features come in (a set's order changes with the hash seed)."""
    intercept, weights = model
    return intercept + math.fsum(weights.get(name, 0.0) * value for name, value in found.items())


def logistic(odds: float) -> float:
    if odds < 0:  # exp of a large positive number overflows: thousands of weighty words
        return math.exp(odds) / (1 + math.exp(odds))
    return 1 / (1 + math.exp(-odds))
