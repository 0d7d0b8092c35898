"""Records as Label Studio tasks: the conversation turn by turn, the reply under review and
why the record was picked, in the shape the labeling config (``labelstudio_config.xml``) reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..formats.records import read_strict
from ..record import Record, readable_text

CONFIG_PATH = Path(__file__).with_name("labelstudio_config.xml")
ID_FIELD = "dataprep_id"  # our record id in the task data: what makes a re-push idempotent
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


def task_data(record: Record) -> dict[str, Any]:
    """The task Label Studio shows for one record."""
    picked = record.review.get("picked_because") or []
    because = "; ".join(PICK_REASONS.get(code, code) for code in picked) or "not recorded"
    if record.review.get("status") == "disputed":
        because += f" — DISPUTED, {record.review.get('reason') or 'reviewers disagree'}: please judge again"
    reply = record.target
    return {
        ID_FIELD: record.id,
        "conversation": [{"author": speaker(m), "text": render_message(m)} for m in record.prompt_messages],
        "reply": render_message(reply) if reply else "(no assistant reply)",
        "picked": picked,
        "picked_because": because,
    }


def read_records(path: Path) -> list[Record]:
    """Records to push; a line that is not a record stops the push with its file and line."""
    records: dict[str, Record] = {}
    for _, record in read_strict(path):
        records.setdefault(record.id, record)
    if not records:
        raise InputError("no records to push", file=str(path))
    return list(records.values())



