"""OpenAI Chat Completions (and any OpenAI-compatible endpoint) through the official SDK:
structured output with a JSON Schema ``response_format``; batches through the Batch API."""

from __future__ import annotations

from typing import Any, Iterator

import orjson

from .api import BatchFailed, BatchItem, Failure, Parsed, sdk_failure, server_message
from .pricing import Usage

BATCH_ENDPOINT = "/v1/chat/completions"
FINISHED = frozenset({"completed", "expired", "cancelled"})


class OpenAIChat:
    name = "openai"
    key_env = "OPENAI_API_KEY"
    batch_limit = 50_000  # requests per batch file

    def client(self, api_key: str, base_url: str | None, timeout: float) -> Any:
        import openai

        # Retries are ours (budget-aware, tested); base_url None lets the SDK read OPENAI_BASE_URL.
        return openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)

    def body(self, *, model: str, system: str | None, messages: list[dict[str, Any]], schema: dict[str, Any] | None,
             schema_name: str, max_tokens: int, temperature: float | None, strict: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": ([{"role": "system", "content": system}] if system else []) + messages,
            "max_completion_tokens": max_tokens,
        }
        if schema is not None:  # None: a plain-text answer (the flag probe samples what a model says)
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": schema_name, "strict": strict, "schema": schema}}
        if temperature is not None:
            body["temperature"] = temperature
        return body

    def send(self, client: Any, body: dict[str, Any]) -> dict[str, Any]:
        return client.chat.completions.create(**body).to_dict(mode="json")

    def parse(self, response: dict[str, Any], schema_name: str | None) -> Parsed:
        choice = (response.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        text = message.get("content") or ""
        if message.get("refusal"):
            return Parsed(problem=f"the model refused: {message['refusal']}", raw=text)
        if schema_name is None:
            return Parsed(text, raw=text)  # plain text: a cut-off sample is still a sample
        if choice.get("finish_reason") == "length":
            return Parsed(problem="the output was cut off at max_tokens", raw=text)
        try:
            return Parsed(orjson.loads(text), raw=text)
        except orjson.JSONDecodeError as exc:
            return Parsed(problem=f"the output is not valid JSON ({exc.msg})", raw=text)

    def usage(self, response: dict[str, Any]) -> Usage:
        usage = response.get("usage") or {}
        return Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))

    def failure(self, exc: BaseException, secret: str | None) -> Failure | None:
        import openai

        return sdk_failure(exc, openai, self.key_env, secret)

    # -- Batch API: upload a JSONL file of requests, create a batch, poll, download its output ---------
    def submit_batch(self, client: Any, requests: list[tuple[str, dict[str, Any]]]) -> str:
        lines = b"".join(orjson.dumps({"custom_id": key, "method": "POST", "url": BATCH_ENDPOINT, "body": body}) + b"\n"
                         for key, body in requests)
        upload = client.files.create(file=("dataprep-synth.jsonl", lines), purpose="batch")
        batch = client.batches.create(input_file_id=upload.id, endpoint=BATCH_ENDPOINT, completion_window="24h",
                                      metadata={"created_by": "dataprep"})
        return batch.id

    def batch_finished(self, client: Any, batch_id: str) -> bool:
        batch = client.batches.retrieve(batch_id)
        if batch.status == "failed":
            errors = batch.errors.data if batch.errors and batch.errors.data else []
            reasons = "; ".join(error.message or error.code or "" for error in errors) or "no reason given"
            raise BatchFailed(f"openai batch {batch_id} failed: {reasons}")
        return batch.status in FINISHED

    def batch_results(self, client: Any, batch_id: str) -> Iterator[BatchItem]:
        batch = client.batches.retrieve(batch_id)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            for line in client.files.content(file_id).text.splitlines():
                if line.strip():
                    yield _batch_item(orjson.loads(line))


def _batch_item(line: dict[str, Any]) -> BatchItem:
    response = line.get("response") or {}
    if response.get("status_code") == 200:
        return BatchItem(line["custom_id"], response["body"])
    reason = server_message(line.get("error")) or server_message(response.get("body")) or \
        f"HTTP {response.get('status_code')}"
    return BatchItem(line["custom_id"], None, reason)
