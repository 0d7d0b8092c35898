"""Helicone request exports (``npx @helicone/export --include-body``, or the request query API).

One row per proxied call: ``request_body`` and ``response_body`` in the provider's own shape
(OpenAI chat or Anthropic Messages, converted by those readers' functions), ``request_created_at``,
``feedback_rating`` (thumbs), ``scores``, and custom properties, where ``Helicone-Session-Id``
names the conversation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..jsonl import Line
from ..record import Record
from . import Item, ReadOptions, Reader, register
from .anthropic import provider_calls
from .common import ShapeError, expect, guarded, iso_timestamp, thumbs_of
from .langfuse import decoded
from .openai_chat import error_text, record_of

SESSION_PROPERTY = "helicone-session-id"
FEEDBACK_SCORE = "helicone-score-feedback"


def is_helicone(value: Any) -> bool:
    return (isinstance(value, dict) and "request_id" in value and "request_created_at" in value
            and ("request_body" in value or "signed_body_url" in value))


def session_id(row: dict[str, Any]) -> str | None:
    for properties in (row.get("properties"), row.get("request_properties")):
        if isinstance(properties, dict):
            for key, value in properties.items():
                if key.lower() == SESSION_PROPERTY and value:
                    return str(value)
    return None


def row_feedback(row: dict[str, Any]) -> dict[str, Any]:
    """``feedback_rating`` (true/false) as thumbs, ``scores`` as scores (Helicone's feedback score as thumbs too)."""
    feedback: dict[str, Any] = {}
    scores = dict(row.get("scores") or {})
    rating = row.get("feedback_rating")
    if rating is None:
        rating = scores.pop(FEEDBACK_SCORE, None)
    if thumbs_of(rating):
        feedback["thumbs"] = thumbs_of(rating)
    if scores:
        feedback["scores"] = scores
    return feedback


@register
class HeliconeReader(Reader):
    name = "helicone"
    priority = 20
    splittable = True

    def sniff(self, first: Any, path: Path) -> bool:
        return is_helicone(first)

    def convert(self, line: Line, options: ReadOptions) -> Iterator[Item]:
        return guarded(line, self._records)

    def _records(self, line: Line) -> list[Record]:
        row = expect(line.value, dict, "the line")
        request, response = decoded(row.get("request_body")), decoded(row.get("response_body"))
        if not request:
            raise ShapeError("the row has no request_body (export with --include-body)")
        status = row.get("response_status")
        if isinstance(status, (int, float)) and status >= 400 or isinstance(response, dict) and response.get("error"):
            error = response.get("error") if isinstance(response, dict) else None
            raise ShapeError(f"the call failed (HTTP {status}): {error_text(error or response)}")
        if not response:
            raise ShapeError("the row has no response_body")
        records = []
        for call in provider_calls(request, response):
            # Helicone's own ids and time, set on the call so they are checked with it
            call.source.update(trace_id=row["request_id"], conversation_id=session_id(row),
                               timestamp=iso_timestamp(row["request_created_at"]), user=row.get("request_user_id"),
                               model=call.source.get("model") or row.get("response_model") or row.get("model"))
            # custom properties are the app's metadata (Helicone-Property-* headers): kept under meta
            properties = row.get("properties") or row.get("request_properties")
            record = record_of(self.name, line, call, {"metadata": properties}, request)
            record.feedback = row_feedback(row)
            records.append(record)
        return records
