"""How many records to review to know the defect rate, and what the reviews say about it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist


def z_score(confidence: float) -> float:
    """The two-sided normal quantile for a confidence level (1.96 for 0.95)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def sample_size(population: int, margin: float, confidence: float) -> int:
    """Records to review so the defect rate of ``population`` is known within ``margin`` at ``confidence``.

    Cochran's size for a proportion at its least favourable value (p = 0.5), with the
    finite population correction: 370 of 10,000 for +/-5% at 95%.
    """
    if population <= 0:
        return 0
    infinite = z_score(confidence) ** 2 * 0.25 / margin ** 2
    return min(population, math.ceil(infinite / (1 + (infinite - 1) / population)))


@dataclass(frozen=True)
class Estimate:
    """A defect rate seen in a random sample, with its Wilson score interval."""

    defects: int
    reviewed: int
    confidence: float
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.defects / self.reviewed if self.reviewed else 0.0

    def describe(self) -> str:
        if not self.reviewed:
            return "no random-sample verdicts yet"
        return (f"{self.rate:.1%} defective ({self.defects}/{self.reviewed}); "
                f"{self.confidence:.0%} interval {self.low:.1%}-{self.high:.1%}")

    def to_dict(self) -> dict[str, float | int]:
        return {"defects": self.defects, "reviewed": self.reviewed, "rate": round(self.rate, 4),
                "confidence": self.confidence, "low": round(self.low, 4), "high": round(self.high, 4)}


def wilson_interval(hits: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion: unlike the normal approximation it stays inside
    [0, 1] and behaves with few hits, which is the usual case for a clean dataset."""
    if trials == 0:
        return 0.0, 1.0
    from scipy.stats import binomtest  # heavy import: only when there is something to estimate

    interval = binomtest(hits, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def defect_estimate(defects: int, reviewed: int, confidence: float = 0.95) -> Estimate:
    return Estimate(defects, reviewed, confidence, *wilson_interval(defects, reviewed, confidence))


def residual_pii(reviewed: int, flagged: int) -> dict[str, float | int]:
    """Personal data reviewers still found after scrubbing: the rate and its 95% interval."""
    low, high = wilson_interval(flagged, reviewed)
    return {"reviewed": reviewed, "flagged": flagged, "rate": round(flagged / reviewed, 4) if reviewed else 0.0,
            "low": round(low, 4), "high": round(high, 4)}


def describe_residual_pii(found: dict[str, float | int]) -> str:
    if not found["reviewed"]:
        return "residual personal data: nothing reviewed yet"
    return (f"residual personal data: {found['flagged']} of {found['reviewed']} reviewed example(s) "
            f"({found['rate']:.1%}); 95% interval {found['low']:.1%}-{found['high']:.1%}")


MINUTES_PER_TASK = 3.0  # the review stage's default (schemas/stages/review.schema.json): read, judge, maybe rewrite


def reviewer_hours(tasks: int, minutes_per_task: float) -> float:
    return round(tasks * minutes_per_task / 60, 2)


def describe_effort(tasks: int, minutes_per_task: float) -> str:
    """"54 tasks, about 2.7 reviewer-hours at 3 min each": what a push asks of people."""
    return (f"{tasks} task(s), about {reviewer_hours(tasks, minutes_per_task):g} reviewer-hours "
            f"at {minutes_per_task:g} min each")
