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


def defect_estimate(defects: int, reviewed: int, confidence: float = 0.95) -> Estimate:
    """Wilson score interval: unlike the normal approximation it stays inside [0, 1] and
    behaves with few defects, which is the usual case for a clean dataset."""
    if reviewed == 0:
        return Estimate(0, 0, confidence, 0.0, 1.0)
    z = z_score(confidence)
    p = defects / reviewed
    centre = (p + z * z / (2 * reviewed)) / (1 + z * z / reviewed)
    half = z / (1 + z * z / reviewed) * math.sqrt(p * (1 - p) / reviewed + z * z / (4 * reviewed ** 2))
    return Estimate(defects, reviewed, confidence, max(0.0, centre - half), min(1.0, centre + half))
