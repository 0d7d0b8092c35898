"""LiteLLM proxy logs: the StandardLoggingPayload its callbacks receive, and rows of its spend logs.

Both hold the request's ``messages`` and the ``response`` (OpenAI chat shape, or an Anthropic
Message for ``/v1/messages`` calls), so one line is one call. A line may also be a callback's
whole kwargs, with the payload under ``standard_logging_object``. Failed calls, and calls that
are not chat (embeddings, images, ...), are BadLines saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..jsonl import Line
from ..record import Record
from . import Item, ReadOptions, Reader, register
from .anthropic import provider_calls
from .common import ShapeError, expect, guarded, iso_timestamp
from .langfuse import decoded
from .openai_chat import error_text, record_of

CHAT_CALL_TYPES = frozenset({"completion", "acompletion", "anthropic_messages", "aanthropic_messages"})


def payload_of(value: Any) -> dict[str, Any]:
    value = expect(value, dict, "the line")
    return value["standard_logging_object"] if isinstance(value.get("standard_logging_object"), dict) else value


def is_litellm(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    payload = value.get("standard_logging_object", value)
    return (isinstance(payload, dict) and isinstance(payload.get("call_type"), str)
            and ("startTime" in payload or "request_id" in payload)
            and ("messages" in payload or "response" in payload))


def failure(payload: dict[str, Any]) -> str | None:
    """Why the call failed, if it did (``status: failure`` with ``error_str`` or ``error_information``)."""
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    info = payload.get("error_information") or metadata.get("error_information")
    if payload.get("status") != "failure" and not payload.get("error_str"):
        return None
    if payload.get("error_str"):
        return str(payload["error_str"])
    if isinstance(info, dict):
        return error_text({"type": info.get("error_class"), "message": info.get("error_message")})
    return "status failure"


def request_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The request: the proxy's copy of the body when the row has it (spend logs), else messages + model parameters."""
    body = decoded(payload.get("proxy_server_request"))
    if isinstance(body, dict) and isinstance(body.get("messages"), list):
        return body
    messages = decoded(payload.get("messages"))
    if not isinstance(messages, list) or not messages:
        raise ShapeError("the log holds no request messages "
                         "(spend logs keep them only with store_prompts_in_spend_logs)")
    parameters = payload.get("model_parameters") if isinstance(payload.get("model_parameters"), dict) else {}
    return {**parameters, "model": payload.get("model"), "messages": messages}


@register
class LiteLLMReader(Reader):
    name = "litellm"
    priority = 20
    splittable = True

    def sniff(self, first: Any, path: Path) -> bool:
        return is_litellm(first)

    def convert(self, line: Line, options: ReadOptions) -> Iterator[Item]:
        return guarded(line, self._records)

    def _records(self, line: Line) -> list[Record]:
        payload = payload_of(line.value)
        call_type = payload.get("call_type")
        why = failure(payload)
        if why:
            raise ShapeError(f"the call failed: {why}")
        if call_type not in CHAT_CALL_TYPES:
            raise ShapeError(f"not a chat call (call_type {call_type})")
        response = decoded(payload.get("response"))
        if not response:
            raise ShapeError("the log holds no response (spend logs keep it only with store_prompts_in_spend_logs)")
        request = request_of(payload)
        # The caller's own metadata (requester_metadata) is where apps put their session id.
        metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
        context = {"metadata": metadata.get("requester_metadata") or metadata.get("spend_logs_metadata") or {}}
        calls = provider_calls(request, response)
        for call in calls:  # the proxy's own id and start time, checked with the call
            call.source.update(trace_id=payload.get("request_id") or payload.get("id"),
                               timestamp=iso_timestamp(payload.get("startTime")))
        return [record_of(self.name, line, call, payload, {**request, **context}) for call in calls]
