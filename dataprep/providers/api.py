"""What the two provider modules share: errors, retry decisions, the ``Provider`` contract.

Both official SDKs raise the same family of exceptions (``APIStatusError`` with a
status code and response headers, ``APIConnectionError``, ``APITimeoutError``), so one
function turns either into a ``Failure``: retry it or stop with a message a person can act
on. Messages never carry the API key, even when a server echoes it back.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Protocol

from ..errors import DataprepError
from .pricing import Usage

RETRY_STATUSES = frozenset({408, 409, 429})
STATUS_HINTS = {
    400: "the request was rejected (400 Bad Request)",
    401: "the API key was rejected (401 Unauthorized): check {key_env}",
    403: "permission denied (403): the key may not have access to this model",
    404: "not found (404): check the model name and the base URL",
    413: "the request is too large (413)",
    422: "the request was rejected (422 Unprocessable Entity)",
    429: "rate limited (429)",
}


class ProviderError(DataprepError):
    """A model call that cannot succeed by retrying: a bad key, a bad request, retries exhausted."""


class BatchFailed(ProviderError):
    """The provider failed a whole batch (e.g. a malformed input file): its requests must be sent again."""


@dataclass(frozen=True, slots=True)
class Failure:
    retry: bool
    reason: str
    wait: float | None = None  # seconds the server asked us to wait (Retry-After)


def retry_after_seconds(headers: Any) -> float | None:
    """The server's requested wait: ``retry-after-ms``, ``retry-after`` in seconds, or an HTTP date."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None


def redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "[redacted]") if secret else text


def server_message(body: Any) -> str:
    """The human message inside an error body of either provider (``{"error": {"message": ...}}``)."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
    return ""


def sdk_failure(exc: BaseException, sdk: Any, key_env: str, secret: str | None) -> Failure | None:
    """Classify an SDK exception; ``None`` if it is not an API error at all (a bug: let it raise)."""
    if isinstance(exc, sdk.APITimeoutError):
        return Failure(True, "the request timed out")
    if isinstance(exc, sdk.APIConnectionError):
        return Failure(True, "could not connect")
    if not isinstance(exc, sdk.APIStatusError):
        return None
    status = exc.status_code
    retry = status in RETRY_STATUSES or status >= 500
    reason = STATUS_HINTS.get(status, f"server error ({status})" if status >= 500 else f"HTTP {status}").format(key_env=key_env)
    # A 401 message can quote the key (OpenAI quotes part of it); say nothing more than the hint.
    detail = "" if status == 401 else redact(server_message(exc.body), secret)
    return Failure(retry, f"{reason}: {detail}" if detail else reason, retry_after_seconds(exc.response.headers))


@dataclass(frozen=True, slots=True)
class Parsed:
    """A response read: the structured value, or the problem with it and the raw text."""

    value: Any = None
    problem: str | None = None
    raw: str = ""


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One result of a batch: the response body, or why there is none."""

    key: str
    body: dict[str, Any] | None
    error: str | None = None


class Provider(Protocol):
    """One provider's wire format: how to build a request, send it, read the answer, batch it."""

    name: ClassVar[str]
    key_env: ClassVar[str]

    def client(self, api_key: str, base_url: str | None, timeout: float) -> Any: ...

    def body(self, *, model: str, system: str | None, messages: list[dict[str, Any]], schema: dict[str, Any] | None,
             schema_name: str, max_tokens: int, temperature: float | None, strict: bool) -> dict[str, Any]: ...

    def send(self, client: Any, body: dict[str, Any]) -> dict[str, Any]: ...

    def parse(self, response: dict[str, Any], schema_name: str | None) -> Parsed: ...

    def usage(self, response: dict[str, Any]) -> Usage: ...

    def failure(self, exc: BaseException, secret: str | None) -> Failure | None: ...

    def submit_batch(self, client: Any, requests: list[tuple[str, dict[str, Any]]]) -> str: ...

    def batch_finished(self, client: Any, batch_id: str) -> bool: ...

    def batch_results(self, client: Any, batch_id: str) -> Iterator[BatchItem]: ...
