"""The ``review`` stage: pick who goes to human review, and apply the verdicts that came back.

Picked (defaults), in this order until the budget (``max_tasks``; by default 10% of the
records, never less than the records picked for a reason: all but the random sample) is spent: every eval record; every labeling conflict; fact-heavy examples near the
flag threshold; at least 15% of the synthetic ones; and a random sample of the rest sized
to know its defect rate within +/-5% at 95% confidence. Review is a state, not
a place: picked records stay in the flow with ``review.status = "pending"`` and the
reasons they were picked, and a copy goes to ``<run>/review/queue.jsonl`` for
``dataprep review push``.

When ``<run>/review/verdicts.jsonl`` exists (``dataprep review pull --out`` writes it),
``dataprep run --resume`` re-runs this stage and applies it: accepted records stay,
rejected ones go to rejected with the reviewer's reason, edited ones train on the
reviewer's reply and keep the old one as the rejected side of a preference pair, records
a reviewer marked as holding personal data go to rejected whatever the verdict, and
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
from ..record import UNCERTAIN_TAG, Record, message_text
from ..review.stats import MINUTES_PER_TASK, defect_estimate, residual_pii, reviewer_hours, sample_size
from ..pii import PII_TAG, refuse_unscrubbed
from ..review.tasks import RANDOM_SAMPLE
from ..review.verdicts import DEFECTS, read_verdicts


PERSONAL_DATA = "reviewer found personal data"
PERSONAL_DATA_OUTCOME = "personal_data"
SET_ASIDE = ("reject", "unedited", PERSONAL_DATA_OUTCOME)  # verdict outcomes that take a record out of the flow
# the order the review budget is filled in: what must be seen first
PRIORITY = ("eval", "conflict", "near_flag_threshold", "synthetic", RANDOM_SAMPLE)
DEFAULT_BUDGET_SHARE = 0.10  # max_tasks null: "one careful person reviewing the top 10%"


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
                 confidence: float = 0.95, sample_size: int | None = None, allow_unscrubbed: bool = False,
                 max_tasks: int | None = None, minutes_per_task: float = MINUTES_PER_TASK):
        super().__init__(eval_all=eval_all, synthetic_share=synthetic_share, conflicts=conflicts,
                         near_flag_threshold=near_flag_threshold, margin=margin,
                         confidence=confidence, sample_size=sample_size, allow_unscrubbed=allow_unscrubbed,
                         max_tasks=max_tasks, minutes_per_task=minutes_per_task)

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

    def budget(self, ten_percent: int, targeted: int) -> int:
        """max_tasks, or by default 10% of the records (``ten_percent``) but never less than the records picked for
        a reason (``targeted``): a wrong eval answer misleads every measurement made with it, and
        the eval set alone can fill a tenth, leaving no synthetic record spot-checked. Only the
        random sample is cut to fit the default."""
        given = self.options["max_tasks"]
        return max(ten_percent, targeted) if given is None else given

    def wanted(self, candidates: list[Seen], rng: random.Random) -> tuple[dict[str, list[str]], int]:
        """Per reason, in priority order, the record ids it asks for (before the budget), and
        how many records the random sample was drawn from."""
        wanted = {reason: sorted(s.id for s in candidates if reason in s.reasons) for reason in PRIORITY[:3]}
        synthetic = sorted(s.id for s in candidates if s.synthetic)
        wanted["synthetic"] = sorted(rng.sample(synthetic, math.ceil(self.options["synthetic_share"] * len(synthetic))))
        asked = {record_id for ids in wanted.values() for record_id in ids}
        rest = sorted(s.id for s in candidates if s.id not in asked)
        size = self.options["sample_size"]
        if size is None:
            size = sample_size(len(rest), self.options["margin"], self.options["confidence"])
        wanted[RANDOM_SAMPLE] = sorted(rng.sample(rest, min(size, len(rest))))
        return wanted, len(rest)

    def pick(self, seen: list[Seen], seed: int) -> tuple[dict[str, list[str]], dict[str, Any]]:
        """Record id -> reasons picked, and the plan for the manifest. Same input and seed, same picks."""
        rng = random.Random(f"review:{seed}")
        candidates = [s for s in seen if not s.reviewed]
        wanted, population = self.wanted(candidates, rng)
        targeted = {record_id for reason in PRIORITY if reason != RANDOM_SAMPLE for record_id in wanted[reason]}
        ten_percent = math.ceil(DEFAULT_BUDGET_SHARE * len(seen))
        budget = self.budget(ten_percent, len(targeted))
        picks, over_budget = fill(wanted, budget, rng)
        drawn = sum(RANDOM_SAMPLE in reasons for reasons in picks.values())
        minutes = self.options["minutes_per_task"]
        plan = {
            "sample": {"population": population, "size": drawn,
                       "margin": self.options["margin"], "confidence": self.options["confidence"],
                       "already_reviewed": len(seen) - len(candidates)},
            # max_tasks as given (null: the default rule), budget as applied
            "max_tasks": self.options["max_tasks"], "budget": budget, "over_budget": over_budget,
            # the default rule's tenth, beside the budget it was raised to for the reasons
            **({"ten_percent": ten_percent} if self.options["max_tasks"] is None else {}),
            "minutes_per_task": minutes, "reviewer_hours": reviewer_hours(len(picks), minutes),
        }
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
                    if outcome in SET_ASIDE:
                        continue
                if record.id in picks and record.review["status"] != "done":
                    queue.write(record.to_dict())
                yield record
        defects = sum(sample_outcomes[v] for v in {*DEFECTS, *SET_ASIDE})  # "reject" is in both: count it once
        judged = defects + sample_outcomes["accept"]
        ctx.stats.update({
            "picked": dict(sorted(picked.items())), "picked_records": len(picks), **plan,
            "queue": queue.count, "verdicts": dict(sorted(applied.items())),
            "verdicts_for_records_not_here": len(verdicts),
            "defect_rate": defect_estimate(defects, judged, self.options["confidence"]).to_dict(),
        })
        if applied:  # every verdict line is a person's look at the whole example
            ctx.stats["residual_pii"] = residual_pii(sum(applied.values()), applied[PERSONAL_DATA_OUTCOME])


def fill(wanted: dict[str, list[str]], budget: int, rng: random.Random) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Spend the budget reason by reason in PRIORITY order: record id -> its reasons, and per
    reason how many it wanted that did not fit. A reason that does not fit whole gets a random
    share of the room left; a record already picked also carries its later reasons."""
    picks: dict[str, list[str]] = {}
    over_budget: dict[str, int] = {}
    for reason in PRIORITY:
        new = [record_id for record_id in wanted[reason] if record_id not in picks]
        room = max(0, budget - len(picks))
        chosen = set(new) if len(new) <= room else set(rng.sample(new, room))
        for record_id in wanted[reason]:
            if record_id in picks or record_id in chosen:
                picks.setdefault(record_id, []).append(reason)
        if len(new) > room:
            over_budget[reason] = len(new) - room
    return picks, over_budget


def apply_verdict(record: Record, row: dict[str, Any], ctx: StageContext) -> str:
    """Apply one verdict line; returns what happened (accept, reject, needs_edit, unedited,
    personal_data, disputed)."""
    reviewer = row.get("reviewer")
    review = record.review
    review.setdefault("picked_because", row.get("picked_because") or [])
    if row.get("personal_data"):
        # whatever the verdict: an edit can only fix the reply, and the data may be in the conversation
        review.update(status="done", verdict="reject", reviewer=reviewer, reason=PERSONAL_DATA)
        ctx.set_aside(record, "rejected", f"review: {PERSONAL_DATA}", reviewer=reviewer)
        return PERSONAL_DATA_OUTCOME
    if row["status"] == "disputed":
        said = ", ".join(f"{a.get('reviewer')} {a.get('verdict')}" for a in row.get("annotations", []))
        review.update(status="disputed", verdict=None, reviewer=reviewer, reason=f"reviewers disagree: {said}")
        return "disputed"
    # what a reviewer typed may hold a customer's details
    verdict, reason = row.get("verdict"), ctx.scrubbed_text(row["reason"]) if row.get("reason") else None
    review.update(status="done", verdict=verdict, reviewer=reviewer, reason=reason)
    if verdict == "reject":
        ctx.set_aside(record, "rejected", f"review: {reason or 'rejected, no reason given'}", reviewer=reviewer)
        return "reject"
    if verdict == "needs_edit":
        edited = row.get("edited_reply")
        if not edited or edited.strip() == message_text(record.target or {}).strip():  # the prefill, untouched
            ctx.set_aside(record, "rejected", "review: needs edit, but the reviewer gave no corrected reply",
                          reviewer=reviewer)
            return "unedited"
        if ctx.scrubber is not None:
            edited = ctx.scrubber.scrub_reply(record.prompt_messages, edited)
        review["edited_reply"] = edited
        record.replace_target({"role": "assistant", "content": edited}, stage="review",
                              why=f"edited by {reviewer}" + (f": {reason}" if reason else ""))
        return "needs_edit"
    record.note("review", "accepted", reviewer=reviewer)
    return "accept"

