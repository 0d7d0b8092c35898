"""Anthropic Messages through the official SDK: structured output by forcing a tool whose
``input_schema`` is the schema; batches through Message Batches."""

from __future__ import annotations

from typing import Any, Iterator

import orjson

from .api import BatchItem, Failure, Parsed, sdk_failure, server_message
from .pricing import Usage


class AnthropicMessages:
    name = "anthropic"
    key_env = "ANTHROPIC_API_KEY"
    batch_limit = 100_000  # requests per message batch

    def client(self, api_key: str, base_url: str | None, timeout: float) -> Any:
        import anthropic

        # Retries are ours (budget-aware, tested); base_url None lets the SDK read ANTHROPIC_BASE_URL.
        return anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)

    def body(self, *, model: str, system: str | None, messages: list[dict[str, Any]], schema: dict[str, Any] | None,
             schema_name: str, max_tokens: int, temperature: float | None, strict: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": messages}
        if schema is not None:  # None: a plain-text answer
            body["tools"] = [{"name": schema_name, "description": "Return the answer by calling this tool.",
                              "input_schema": schema}]
            body["tool_choice"] = {"type": "tool", "name": schema_name}
        if system:
            body["system"] = system
        if temperature is not None:
            body["temperature"] = temperature
        return body

    def send(self, client: Any, body: dict[str, Any]) -> dict[str, Any]:
        params = dict(body)
        # Recent SDKs dropped `temperature` from create()'s arguments; the API still takes it.
        extra = {"temperature": params.pop("temperature")} if "temperature" in params else None
        return client.messages.create(**params, extra_body=extra).to_dict(mode="json")

    def parse(self, response: dict[str, Any], schema_name: str | None) -> Parsed:
        blocks = response.get("content") or []
        text = "".join(block.get("text", "") for block in blocks if block.get("type") == "text")
        if schema_name is None:
            return Parsed(text, raw=text)
        if response.get("stop_reason") == "max_tokens":
            return Parsed(problem="the output was cut off at max_tokens", raw=text)
        for block in blocks:
            if block.get("type") == "tool_use" and block.get("name") == schema_name:
                value = block.get("input")
                return Parsed(value, raw=orjson.dumps(value).decode())
        return Parsed(problem=f"the model answered in text instead of calling the '{schema_name}' tool", raw=text)

    def usage(self, response: dict[str, Any]) -> Usage:
        usage = response.get("usage") or {}
        return Usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0))

    def failure(self, exc: BaseException, secret: str | None) -> Failure | None:
        import anthropic

        return sdk_failure(exc, anthropic, self.key_env, secret)

    # -- Message Batches: create with every request inline, poll, stream the results ------------------
    def submit_batch(self, client: Any, requests: list[tuple[str, dict[str, Any]]]) -> str:
        return client.messages.batches.create(
            requests=[{"custom_id": key, "params": body} for key, body in requests]).id

    def batch_finished(self, client: Any, batch_id: str) -> bool:
        return client.messages.batches.retrieve(batch_id).processing_status == "ended"

    def batch_results(self, client: Any, batch_id: str) -> Iterator[BatchItem]:
        for item in client.messages.batches.results(batch_id):
            line = item.to_dict(mode="json")
            result = line.get("result") or {}
            if result.get("type") == "succeeded":
                yield BatchItem(line["custom_id"], result["message"])
            else:
                yield BatchItem(line["custom_id"], None,
                                server_message(result.get("error")) or f"request {result.get('type', 'failed')}")
