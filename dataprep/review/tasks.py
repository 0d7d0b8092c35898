"""Records as Label Studio tasks: the conversation turn by turn, the reply under review, why
the record was picked and what else the logs say about it (fact-heavy reasons, user feedback,
tools, a conflict's other answers), in the shape the labeling config (``labelstudio_config.xml``)
reads; the reply also comes as a pre-annotation that fills the "Corrected reply" box."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..formats.records import read_strict
from ..record import Record, message_text, readable_text

CONFIG_PATH = Path(__file__).with_name("labelstudio_config.xml")
ID_FIELD = "dataprep_id"  # our record id in the task data: what makes a re-push idempotent
PREFILL_VERSION = "dataprep: the reply under review"  # the pre-annotation's model version
RANDOM_SAMPLE = "random_sample"  # the only pick reason that says something about the records not picked

# Why a record was picked (``review.picked_because``), as a reviewer reads it.
PICK_REASONS = {
    "eval": "in the eval set",
    "synthetic": "synthetic example",
    "conflict": "labeling conflict",
    "near_flag_threshold": "fact-heavy score near the flag threshold",
    RANDOM_SAMPLE: "random sample for the defect-rate estimate",
}


def label_config() -> str:
    return CONFIG_PATH.read_text(encoding="utf-8")


def render_message(message: dict[str, Any]) -> str:
    """A message as plain text a reviewer can read, tool calls included."""
    return readable_text(message, call_prefix="→ calls ") or "(empty)"


def speaker(message: dict[str, Any]) -> str:
    role = message.get("role", "?")
    return f"{role} ({message['name']})" if message.get("name") else role


def transcript(messages: list[dict[str, Any]]) -> str:
    """The conversation as one plain text, turn by turn (shown in a Text tag, which escapes it:
    Paragraphs would stamp every turn with a meaningless "00:00:00 - 00:00:00")."""
    return "\n\n".join(f"── {speaker(m)} ──\n{render_message(m)}" for m in messages) or "(no conversation)"


def fact_section(record: Record) -> list[str]:
    if "near_flag_threshold" not in (record.review.get("picked_because") or []):
        return []
    score = record.scores.get("fact_heavy")
    lines = [f"Fact-heavy score: {score:.2f} (close to the flag threshold: is this reply resting on facts "
             "the conversation does not give?)" if score is not None else "Fact-heavy score: not recorded"]
    return lines + [f"  - {reason}" for reason in record.reasons.get("fact_heavy", [])]


def feedback_section(record: Record) -> list[str]:
    feedback = record.feedback
    lines = [f"User feedback: thumbs {feedback['thumbs']}"] if feedback.get("thumbs") else []
    lines += [f"User score {name}: {value}" for name, value in sorted((feedback.get("scores") or {}).items())]
    return lines + [f"User comment: {comment}" for comment in feedback.get("comments") or []]


def tools_section(record: Record) -> list[str]:
    functions = [tool.get("function") or {} for tool in record.tools or []]
    if not functions:
        return []
    return ["Tools the model could call:"] + [
        f"  - {f.get('name', '?')}" + (f": {f['description']}" if f.get("description") else "") for f in functions]


def conflict_section(record: Record, others: list[str]) -> list[str]:
    if "conflict" not in (record.review.get("picked_because") or []):
        return []
    lines = [f"Labeling conflict: {why}" for why in record.reasons.get("conflict", [])]
    return lines + [f"Another answer logged for the same input:\n{reply}" for reply in others]


def context_text(record: Record, conflict_replies: list[str]) -> str:
    """What else the logs say that bears on the verdict, as plain text, one section a paragraph."""
    sections = [fact_section(record), conflict_section(record, conflict_replies),
                feedback_section(record), tools_section(record)]
    return "\n\n".join("\n".join(lines) for lines in sections if lines) or "(nothing else recorded)"


def task_data(record: Record, conflict_replies: list[str] = ()) -> dict[str, Any]:
    """The task Label Studio shows for one record."""
    picked = record.review.get("picked_because") or []
    because = "; ".join(PICK_REASONS.get(code, code) for code in picked) or "not recorded"
    if record.review.get("status") == "disputed":
        because += f" — DISPUTED, {record.review.get('reason') or 'reviewers disagree'}: please judge again"
    reply = record.target
    return {
        ID_FIELD: record.id,
        "conversation": transcript(record.prompt_messages),
        "reply": render_message(reply) if reply else "(no assistant reply)",
        "context": context_text(record, list(conflict_replies)),
        "picked": picked,
        "picked_because": because,
    }


def prefill(record: Record) -> list[dict[str, Any]]:
    """The current reply as a pre-annotation of the "Corrected reply" box, so a reviewer edits
    it instead of retyping it. Only plain-text replies: a tool call cannot be edited as text."""
    reply = record.target
    if not reply or reply.get("tool_calls") or not message_text(reply):
        return []
    result = {"id": "prefill", "from_name": "edited_reply", "to_name": "reply", "type": "textarea",
              "value": {"text": [message_text(reply)]}}
    return [{"model_version": PREFILL_VERSION, "result": [result]}]


def tasks_for(records: list[Record]) -> list[dict[str, Any]]:
    """Label Studio tasks (data and the prefill) for records, each shown the other answers of its conflict."""
    replies_by_group: dict[str, list[tuple[str, str]]] = {}
    for record in records:
        group = record.groups.get("conflict")
        if group is not None and record.target:
            replies_by_group.setdefault(group, []).append((record.id, render_message(record.target)))
    tasks = []
    for record in records:
        others = [reply for other, reply in replies_by_group.get(record.groups.get("conflict"), []) if other != record.id]
        predictions = prefill(record)
        tasks.append({"data": task_data(record, others), **({"predictions": predictions} if predictions else {})})
    return tasks


def read_records(path: Path) -> list[Record]:
    """Records to push; a line that is not a record stops the push with its file and line."""
    records: dict[str, Record] = {}
    for _, record in read_strict(path):
        records.setdefault(record.id, record)
    if not records:
        raise InputError("no records to push", file=str(path))
    return list(records.values())



