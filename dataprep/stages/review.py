"""The ``review`` stage: pick who goes to human review, and apply the verdicts that came back.

Picked (defaults): every eval record; at least 15% of the synthetic ones; every labeling
conflict; fact-heavy examples just below the flag threshold; and a random sample of the
rest sized to know its defect rate within +/-5% at 95% confidence. Review is a state, not
a place: picked records stay in the flow with ``review.status = "pending"`` and the
reasons they were picked, and a copy goes to ``<run>/review/queue.jsonl`` for
``dataprep review push``.

When ``<run>/review/verdicts.jsonl`` exists (``dataprep review pull --out`` writes it),
``dataprep run --resume`` re-runs this stage and applies it: accepted records stay,
rejected ones go to rejected with the reviewer's reason, edited ones train on the
reviewer's reply and keep the old one as the rejected side of a preference pair, and
disputed ones stay in the queue.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..jsonl import AtomicWriter
from ..pipeline import RecordSource, Stage, StageContext, register
from ..record import UNCERTAIN_TAG, Record
from ..review.stats import defect_estimate, sample_size
from ..pii import PII_TAG, refuse_unscrubbed
from ..review.tasks import RANDOM_SAMPLE
from ..review.verdicts import DEFECTS, read_verdicts


def queue_path(run_dir: Path) -> Path:
    return run_dir / "review" / "queue.jsonl"


def verdicts_path(run_dir: Path) -> Path:
    return run_dir / "review" / "verdicts.jsonl"


@dataclass(slots=True)
class Seen:
    """What pass 1 keeps of each record: enough to decide, not the record."""

    id: str
    reasons: list[str]
    synthetic: bool
    reviewed: bool
    scrubbed: bool


@register
class Review(Stage):
    name = "review"

    def __init__(self, eval_all: bool = True, synthetic_share: float = 0.15, conflicts: bool = True,
                 near_flag_threshold: bool = True, margin: float = 0.05,
                 confidence: float = 0.95, sample_size: int | None = None, allow_unscrubbed: bool = False):
        super().__init__(eval_all=eval_all, synthetic_share=synthetic_share, conflicts=conflicts,
                         near_flag_threshold=near_flag_threshold, margin=margin,
                         confidence=confidence, sample_size=sample_size, allow_unscrubbed=allow_unscrubbed)

    def fingerprint_extra(self, ctx: StageContext) -> str:
        """Verdicts pulled since the last run change this stage's result: resume re-runs it."""
        path = verdicts_path(ctx.run_dir)
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""

    # -- pass 1: who goes to review ------------------------------------------------------------
    def own_reasons(self, record: Record) -> list[str]:
        """Reasons a record is picked on its own, whatever the others are."""
        options, reasons = self.options, []
        if options["eval_all"] and record.split == "eval":
            reasons.append("eval")
        if options["conflicts"] and ("conflict" in record.tags or record.groups.get("conflict") is not None):
            reasons.append("conflict")
        # the flag stage tags the records it scored within its uncertain_margin of its threshold
        if options["near_flag_threshold"] and UNCERTAIN_TAG in record.tags:
            reasons.append("near_flag_threshold")
        return reasons

    def pick(self, seen: list[Seen], seed: int) -> tuple[dict[str, list[str]], dict[str, Any]]:
        """Record id -> reasons picked, and the sampling plan for the manifest. Same input and seed, same picks."""
        rng = random.Random(f"review:{seed}")
        candidates = [s for s in seen if not s.reviewed]
        picks = {s.id: list(s.reasons) for s in candidates if s.reasons}
        synthetic = sorted(s.id for s in candidates if s.synthetic)
        for record_id in rng.sample(synthetic, math.ceil(self.options["synthetic_share"] * len(synthetic))):
            picks.setdefault(record_id, []).append("synthetic")
        rest = sorted(s.id for s in candidates if s.id not in picks)
        size = self.options["sample_size"]
        if size is None:
            size = sample_size(len(rest), self.options["margin"], self.options["confidence"])
        for record_id in rng.sample(rest, min(size, len(rest))):
            picks[record_id] = [RANDOM_SAMPLE]
        plan = {"population": len(rest), "size": min(size, len(rest)), "margin": self.options["margin"],
                "confidence": self.options["confidence"], "already_reviewed": len(seen) - len(candidates)}
        return picks, plan

    def survey(self, records: RecordSource) -> list[Seen]:
        return [Seen(r.id, self.own_reasons(r), "synthetic" in r.tags, r.review.get("status") == "done",
                     PII_TAG in r.tags) for r in records]

    # -- pass 2: mark, apply verdicts, queue -------------------------------------------------------
    def run(self, records: RecordSource, ctx: StageContext) -> Iterator[Record]:
        seen = self.survey(records)
        picks, plan = self.pick(seen, ctx.seed)
        if not self.options["allow_unscrubbed"]:
            refuse_unscrubbed([s.id for s in seen if s.id in picks and not s.scrubbed], "review",
                              "set allow_unscrubbed: true in the review stage")
        path = verdicts_path(ctx.run_dir)
        verdicts = read_verdicts(path) if path.exists() else {}
        picked, applied, sample_outcomes = Counter(), Counter(), Counter()
        with AtomicWriter(queue_path(ctx.run_dir)) as queue:
            for record in records:
                if record.id in picks:
                    record.review = {**record.review, "status": "pending", "picked_because": picks[record.id]}
                    picked.update(picks[record.id])
                row = verdicts.pop(record.id, None)
                if row is not None:
                    outcome = apply_verdict(record, row, ctx)
                    applied[outcome] += 1
                    if RANDOM_SAMPLE in record.review.get("picked_because", []):
                        sample_outcomes[outcome] += 1
                    if outcome in ("reject", "unedited"):
                        continue
                if record.id in picks and record.review["status"] != "done":
                    queue.write(record.to_dict())
                yield record
        defects = sum(sample_outcomes[v] for v in (*DEFECTS, "unedited"))
        judged = defects + sample_outcomes["accept"]
        ctx.stats.update({
            "picked": dict(sorted(picked.items())), "picked_records": len(picks), "sample": plan,
            "queue": queue.count, "verdicts": dict(sorted(applied.items())),
            "verdicts_for_records_not_here": len(verdicts),
            "defect_rate": defect_estimate(defects, judged, self.options["confidence"]).to_dict(),
        })


def apply_verdict(record: Record, row: dict[str, Any], ctx: StageContext) -> str:
    """Apply one verdict line; returns what happened (accept, reject, needs_edit, unedited, disputed)."""
    reviewer = row.get("reviewer")
    review = record.review
    review.setdefault("picked_because", row.get("picked_because") or [])
    if row["status"] == "disputed":
        said = ", ".join(f"{a.get('reviewer')} {a.get('verdict')}" for a in row.get("annotations", []))
        review.update(status="disputed", verdict=None, reviewer=reviewer, reason=f"reviewers disagree: {said}")
        return "disputed"
    verdict, reason = row.get("verdict"), row.get("reason")
    review.update(status="done", verdict=verdict, reviewer=reviewer, reason=reason)
    if verdict == "reject":
        ctx.set_aside(record, "rejected", f"review: {reason or 'rejected, no reason given'}", reviewer=reviewer)
        return "reject"
    if verdict == "needs_edit":
        edited = row.get("edited_reply")
        if not edited:
            ctx.set_aside(record, "rejected", "review: needs edit, but the reviewer gave no corrected reply",
                          reviewer=reviewer)
            return "unedited"
        review["edited_reply"] = edited
        record.replace_target({"role": "assistant", "content": edited}, stage="review",
                              why=f"edited by {reviewer}" + (f": {reason}" if reason else ""))
        return "needs_edit"
    record.note("review", "accepted", reviewer=reviewer)
    return "accept"

