"""Label Studio annotations as verdicts: one line per reviewed record, disagreements kept as disputes.

A task's verdict is the reviewers' common one; when reviewers disagree (or agree on
"needs edit" but wrote different replies) the record is ``disputed`` and goes back to
the queue: nothing is resolved silently. A dispute ends when the reviewers converge (each
reviewer's latest annotation counts) or a manager marks an annotation as ground truth.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import orjson

from ..errors import InputError
from ..jsonl import BadLine, iter_lines
from ..pipeline import default_scrubber
from .tasks import ID_FIELD

VERDICTS = ("accept", "reject", "needs_edit")
DEFECTS = ("reject", "needs_edit")  # what counts against the data in the defect-rate estimate


@dataclass(frozen=True)
class Judgement:
    """One reviewer's latest annotation of one task."""

    reviewer: str
    verdict: str
    reasons: tuple[str, ...] = ()
    edited_reply: str | None = None
    ground_truth: bool = False  # a manager's "ground truth" annotation settles a dispute
    personal_data: bool = False  # ticked "Contains personal data", whatever the verdict

    def to_dict(self) -> dict[str, Any]:
        return {"reviewer": self.reviewer, "verdict": self.verdict, "reasons": list(self.reasons),
                "edited_reply": self.edited_reply, "ground_truth": self.ground_truth,
                "personal_data": self.personal_data}


def reviewer_name(completed_by: Any) -> str:
    """Exports carry the annotator as a user object (email) or as a bare user id."""
    if isinstance(completed_by, dict):
        return completed_by.get("email") or f"user {completed_by.get('id')}"
    return f"user {completed_by}" if completed_by is not None else "unknown reviewer"


def choices(result: list[dict[str, Any]], name: str) -> list[str]:
    return [choice for item in result if item.get("from_name") == name
            for choice in item.get("value", {}).get("choices", [])]


def text_of(result: list[dict[str, Any]], name: str) -> str | None:
    texts = [text for item in result if item.get("from_name") == name
             for text in item.get("value", {}).get("text", [])]
    joined = "\n".join(texts).strip()
    return joined or None


def judgement(annotation: dict[str, Any]) -> Judgement | None:
    """What one annotation says; None for a skipped one or one without a verdict, unless it marks
    personal data: a leak a reviewer saw counts even when they skipped the verdict."""
    result = annotation.get("result") or []
    personal_data = bool(choices(result, "pii"))
    verdict = next((v for v in (c.strip().lower().replace(" ", "_") for c in choices(result, "verdict"))
                    if v in VERDICTS), None)
    if annotation.get("was_cancelled") or verdict is None:
        if not personal_data:
            return None
        verdict = "reject"
    reasons = tuple(sorted({c.strip().lower() for c in choices(result, "reason")})) if verdict in DEFECTS else ()
    edited = text_of(result, "edited_reply") if verdict == "needs_edit" else None
    return Judgement(reviewer_name(annotation.get("completed_by")), verdict, reasons, edited,
                     bool(annotation.get("ground_truth")), personal_data)


def latest_judgements(task: dict[str, Any]) -> list[Judgement]:
    """Each reviewer's most recent verdict on a task (a reviewer who changed their mind counts once)."""
    by_reviewer: dict[str, Judgement] = {}
    for annotation in sorted(task.get("annotations") or [], key=lambda a: (a.get("updated_at") or "", a.get("id") or 0)):
        found = judgement(annotation)
        if found is not None:
            by_reviewer[found.reviewer] = found
    return [scrubbed_edit(task, by_reviewer[name]) for name in sorted(by_reviewer)]


def scrubbed_edit(task: dict[str, Any], judgement: Judgement) -> Judgement:
    """A corrected reply may hold what its reviewer pasted (a customer's address, a phone number): it
    is scrubbed before it is written, as a reply to the conversation the task shows, so a value new
    to it gets the next placeholder of its kind rather than one the conversation already uses."""
    if not judgement.edited_reply:
        return judgement
    shown = [{"role": "user", "content": value} for value in task["data"].values() if isinstance(value, str)]
    return replace(judgement, edited_reply=default_scrubber().scrub_reply(shown, judgement.edited_reply))


def combine(record_id: str, task: dict[str, Any], judgements: list[Judgement]) -> dict[str, Any]:
    """One verdict line for a record from its reviewers' judgements (ground-truth ones, if any, decide)."""
    deciding = [j for j in judgements if j.ground_truth] or judgements
    verdicts = {j.verdict for j in deciding}
    edits = {j.edited_reply for j in deciding}
    agreed = len(verdicts) == 1 and (verdicts != {"needs_edit"} or len(edits) == 1)
    reasons = sorted({reason for j in deciding for reason in j.reasons})
    return {
        "id": record_id,
        "task_id": task.get("id"),
        "status": "done" if agreed else "disputed",
        "verdict": deciding[0].verdict if agreed else None,
        "reviewer": ", ".join(j.reviewer for j in deciding),
        "reason": "; ".join(reasons) or None,
        "edited_reply": deciding[0].edited_reply if agreed else None,
        # one reviewer seeing personal data is enough: nobody outvotes a leak
        "personal_data": any(j.personal_data for j in judgements),
        "picked_because": (task.get("data") or {}).get("picked") or [],
        "annotations": [j.to_dict() for j in judgements],
    }


@dataclass
class PullSummary:
    tasks: int = 0
    without_verdict: int = 0
    personal_data: int = 0
    verdicts: Counter = field(default_factory=Counter)
    agreement: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        counts = ", ".join(f"{name} {self.verdicts.get(name, 0)}" for name in (*VERDICTS, "disputed"))
        out = [f"{self.tasks} annotated task(s): {counts}"]
        out.append(f"{self.personal_data} of {sum(self.verdicts.values())} judged task(s) marked as containing "
                   "personal data (the run drops them on --resume)")
        if self.without_verdict:
            out.append(f"{self.without_verdict} task(s) annotated without a verdict (skipped or incomplete): left pending")
        if self.agreement.get("tasks"):
            kappa = self.agreement["fleiss_kappa"]
            out.append(f"agreement on {self.agreement['tasks']} task(s) with several reviewers: "
                       f"{self.agreement['pairwise']:.0%} pairwise, Fleiss' kappa "
                       f"{'n/a' if kappa is None else f'{kappa:.2f}'}")
        return out


def verdicts_from_export(tasks: Iterable[dict[str, Any]], where: str) -> tuple[list[dict[str, Any]], PullSummary]:
    """Turn a Label Studio JSON export (a list of tasks with annotations) into verdict lines."""
    rows, summary, rated = [], PullSummary(), []
    for number, task in enumerate(tasks, start=1):
        if not isinstance(task.get("data"), dict):
            raise InputError(f"not Label Studio's full JSON export (task {number} has no 'data'): "
                             "export as JSON, not JSON_MIN or CSV", file=where)
        record_id = task["data"].get(ID_FIELD)
        if not record_id or not isinstance(record_id, str):
            raise InputError(f"task {number} has no '{ID_FIELD}' in its data: not a task dataprep pushed", file=where)
        if not task.get("annotations"):
            continue
        if not is_annotation_list(task["annotations"]):
            raise InputError(f"task {number} has annotations that are not Label Studio's (each a 'result' list of "
                             "objects whose 'value' holds lists of text choices or text)", file=where)
        summary.tasks += 1
        judgements = latest_judgements(task)
        if not judgements:
            summary.without_verdict += 1
            continue
        row = combine(record_id, task, judgements)
        summary.verdicts[row["verdict"] or "disputed"] += 1
        summary.personal_data += row["personal_data"]
        rated.append([j.verdict for j in judgements])
        rows.append(row)
    summary.agreement = agreement(rated)
    return rows, summary


def is_annotation_list(annotations: Any) -> bool:
    """Annotations as Label Studio exports them, as far as verdicts read them: each a ``result``
    list of objects whose ``value`` holds ``choices`` and ``text`` as lists of strings."""
    def readable(item: Any) -> bool:
        value = item.get("value", {}) if isinstance(item, dict) else None
        return isinstance(value, dict) and all(
            isinstance(value.get(key, []), list) and all(isinstance(entry, str) for entry in value.get(key, []))
            for key in ("choices", "text"))
    return isinstance(annotations, list) and all(
        isinstance(annotation, dict) and isinstance(annotation.get("result") or [], list)
        and all(readable(item) for item in annotation.get("result") or []) for annotation in annotations)


def agreement(ratings: list[list[str]]) -> dict[str, Any]:
    """Pairwise agreement and Fleiss' kappa over the tasks that several reviewers judged.

    Fleiss' formula is used in its form for a varying number of raters per task.
    """
    several = [r for r in ratings if len(r) >= 2]
    if not several:
        return {"tasks": 0}
    per_task = []
    totals: Counter = Counter()
    for task_ratings in several:
        counts = Counter(task_ratings)
        n = len(task_ratings)
        per_task.append((sum(c * c for c in counts.values()) - n) / (n * (n - 1)))
        totals.update(counts)
    observed = sum(per_task) / len(per_task)
    all_ratings = sum(totals.values())
    expected = sum((count / all_ratings) ** 2 for count in totals.values())
    kappa = None if expected == 1 else (observed - expected) / (1 - expected)
    return {"tasks": len(several), "pairwise": round(observed, 4),
            "fleiss_kappa": None if kappa is None else round(kappa, 4)}


def read_export(path: Path) -> list[dict[str, Any]]:
    """A Label Studio JSON export file (the full JSON format: a list of tasks with annotations)."""
    try:
        tasks = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", file=str(path)) from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not a Label Studio JSON export ({exc})", file=str(path)) from None
    if not isinstance(tasks, list) or not all(isinstance(task, dict) for task in tasks):
        raise InputError("not a Label Studio JSON export (expected a list of tasks)", file=str(path))
    return tasks


def read_verdicts(path: Path) -> dict[str, dict[str, Any]]:
    """Verdict lines by record id (the file ``dataprep review pull`` writes)."""
    found: dict[str, dict[str, Any]] = {}
    for item in iter_lines(path):
        if isinstance(item, BadLine):
            raise InputError(item.reason, file=item.file, line=item.line)
        value = item.value
        if not isinstance(value, dict) or not value.get("id") or value.get("status") not in ("done", "disputed"):
            raise InputError("not a verdict line (needs 'id' and 'status' done or disputed)", file=item.file, line=item.line)
        if value["status"] == "done" and value.get("verdict") not in VERDICTS:
            # a misspelt verdict must not count as an accept and put a rejected record in training
            raise InputError(f"verdict {value.get('verdict')!r} is not one of {', '.join(VERDICTS)}",
                             file=item.file, line=item.line)
        if not isinstance(value.get("personal_data", False), bool):
            # "no" is truthy: only a real true/false may decide whether a record is dropped
            raise InputError("'personal_data' must be true or false", file=item.file, line=item.line)
        for key in ("reason", "edited_reply"):
            if not isinstance(value.get(key) or "", str):  # a reviewer's words become a reason and a reply
                raise InputError(f"'{key}' must be text or null", file=item.file, line=item.line)
        found[value["id"]] = value
    return found


@dataclass
class ReasonProgress:
    picked: int = 0
    verdicts: Counter = field(default_factory=Counter)

    @property
    def done(self) -> int:
        return sum(self.verdicts[v] for v in VERDICTS)

    @property
    def defects(self) -> int:
        return sum(self.verdicts[v] for v in DEFECTS)


def review_progress(tasks: Iterable[dict[str, Any]]) -> dict[str, ReasonProgress]:
    """Per reason a record was picked: how many were pushed, judged, disputed, found defective."""
    progress: dict[str, ReasonProgress] = {}
    for task in tasks:
        data = task.get("data") or {}
        judgements = latest_judgements(task)
        outcome = None
        if judgements:
            outcome = combine(data.get(ID_FIELD, ""), task, judgements)["verdict"] or "disputed"
        for reason in data.get("picked") or ["not recorded"]:
            entry = progress.setdefault(reason, ReasonProgress())
            entry.picked += 1
            if outcome:
                entry.verdicts[outcome] += 1
    return progress


def personal_data_found(tasks: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """(tasks judged, tasks a reviewer marked as containing personal data): the residual PII sample."""
    judged = flagged = 0
    for task in tasks:
        judgements = latest_judgements(task)
        judged += bool(judgements)
        flagged += any(j.personal_data for j in judgements)
    return judged, flagged
