"""Records out to training rows, one converter per format.

A converter returns the row, or ``Skip(reason)`` when the record has no place in that
format; skips are counted and shown, never silent. Choices made for formats that cannot
hold everything a record can:

- ``openai``: messages keep ``tool_calls``, ``tool_call_id``, ``name`` and (assistant only)
  ``weight``; ``developer`` messages become ``system``.
- ``openai-dpo`` and TRL ``preference``: need a ``rejected_reply`` (a correction or an edited
  reply set one); DPO takes text replies only, so a tool-call reply is skipped.
- ``bedrock``, ``alpaca`` and ``sharegpt`` drop assistant turns before the first user turn
  (a greeting answers nothing, and these formats must start with the user).
- ``bedrock`` and ``alpaca`` have no tool turns: records with tool calls are skipped.
  Consecutive turns of one role are merged (blank line between), system messages become
  ``system``.
- ``sharegpt`` (LLaMA-Factory style): an assistant message with tool calls becomes one
  ``function_call`` turn (value: the JSON of ``{"name", "arguments"}``, a list for parallel
  calls; text said alongside the calls is not kept); tool results become ``observation``;
  consecutive turns from one sender are merged.
- ``trl``: tool-call arguments become objects, as chat templates expect.
- Only ``openai`` carries ``weight``; in the other formats every assistant turn is trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import orjson

from ..formats.common import openai_message
from ..record import Record, message_text

SYSTEM_ROLES = ("system", "developer")
TOOL_ROLES = ("tool", "function")


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class RowOptions:
    exclude_pending: bool = False
    trl_style: str = "messages"


Row = dict[str, Any]
Converter = Callable[[Record, RowOptions], "Row | Skip"]


# -- messages -----------------------------------------------------------------------------------
def chat_message(message: dict[str, Any], keep_weight: bool = True) -> dict[str, Any]:
    out = openai_message(message)
    if out["role"] == "developer":
        out["role"] = "system"
    if keep_weight and out["role"] == "assistant" and "weight" in message:
        out["weight"] = message["weight"]
    return out


def text_reply(message: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": message_text(message)}


def calls_tools(record: Record) -> bool:
    return any(m.get("role") in TOOL_ROLES or m.get("tool_calls") for m in record.messages)


def answering(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages without assistant turns before the first user turn: they answer nothing."""
    first_user = next((i for i, m in enumerate(messages) if m.get("role") == "user"), len(messages))
    return [m for i, m in enumerate(messages) if i >= first_user or m.get("role") != "assistant"]


def text_turns(record: Record) -> tuple[str, list[list[str]]] | Skip:
    """System text and strictly alternating ``[role, text]`` turns, user first, assistant last."""
    if calls_tools(record):
        return Skip("has tool calls (the format has no tool turns)")
    system = "\n\n".join(message_text(m) for m in record.messages if m.get("role") in SYSTEM_ROLES)
    turns: list[list[str]] = []
    for message in answering(record.messages):
        role = message.get("role")
        if role in SYSTEM_ROLES:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1] += "\n\n" + message_text(message)
        else:
            turns.append([role, message_text(message)])
    if not turns or turns[-1][0] != "assistant":
        return Skip("does not end with an assistant reply")
    return system, turns


def tool_arguments(arguments: str) -> Any:
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments  # kept as found; the format check then names the record


# -- converters -----------------------------------------------------------------------------------
def to_openai(record: Record, options: RowOptions) -> Row:
    row: Row = {"messages": [chat_message(m) for m in record.messages]}
    if record.tools:
        row["tools"] = record.tools
    return row


def to_openai_dpo(record: Record, options: RowOptions) -> Row | Skip:
    pair = preference_pair(record)
    if isinstance(pair, Skip):
        return pair
    target, rejected = pair
    if target.get("tool_calls") or rejected.get("tool_calls"):
        return Skip("reply is a tool call (preference tuning takes text replies)")
    given: Row = {"messages": [chat_message(m, keep_weight=False) for m in record.prompt_messages]}
    if record.tools:
        given["tools"] = record.tools
    return {"input": given, "preferred_output": [text_reply(target)], "non_preferred_output": [text_reply(rejected)]}


def preference_pair(record: Record) -> tuple[dict[str, Any], dict[str, Any]] | Skip:
    if record.rejected_reply is None:
        return Skip("no rejected reply to prefer against")
    if record.target is None:
        return Skip("does not end with an assistant reply")
    return record.target, record.rejected_reply


def to_bedrock(record: Record, options: RowOptions) -> Row | Skip:
    found = text_turns(record)
    if isinstance(found, Skip):
        return found
    system, turns = found
    row: Row = {"messages": [{"role": role, "content": text} for role, text in turns]}
    if system:
        row["system"] = system
    return row


def to_alpaca(record: Record, options: RowOptions) -> Row | Skip:
    found = text_turns(record)
    if isinstance(found, Skip):
        return found
    system, turns = found
    texts = [text for _, text in turns]
    row: Row = {"instruction": texts[-2] if len(texts) > 1 else "", "input": "", "output": texts[-1]}
    if system:
        row["system"] = system
    if len(texts) > 2:
        row["history"] = [[texts[i], texts[i + 1]] for i in range(0, len(texts) - 2, 2)]
    return row


def trl_message(message: dict[str, Any]) -> dict[str, Any]:
    out = chat_message(message, keep_weight=False)
    for call in out.get("tool_calls", ()):
        call["function"]["arguments"] = tool_arguments(call["function"]["arguments"])
    return out


def to_trl(record: Record, options: RowOptions) -> Row | Skip:
    tools = {"tools": record.tools} if record.tools else {}
    if options.trl_style == "messages":
        return {"messages": [trl_message(m) for m in record.messages], **tools}
    if options.trl_style == "prompt-completion":
        if record.target is None:
            return Skip("does not end with an assistant reply")
        return {"prompt": [trl_message(m) for m in record.prompt_messages], "completion": [trl_message(record.target)], **tools}
    pair = preference_pair(record)
    if isinstance(pair, Skip):
        return pair
    return {"prompt": [trl_message(m) for m in record.prompt_messages], "chosen": [trl_message(pair[0])],
            "rejected": [trl_message(pair[1])], **tools}


SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt", "tool": "observation", "function": "observation"}


def sharegpt_turn(message: dict[str, Any]) -> dict[str, str]:
    out = chat_message(message, keep_weight=False)
    if out.get("tool_calls"):
        named = [{"name": c["function"]["name"], "arguments": tool_arguments(c["function"]["arguments"])}
                 for c in out["tool_calls"]]
        return {"from": "function_call", "value": orjson.dumps(named[0] if len(named) == 1 else named).decode("utf-8")}
    return {"from": SHAREGPT_FROM[out["role"]], "value": message_text(out)}


def to_sharegpt(record: Record, options: RowOptions) -> Row:
    turns: list[dict[str, str]] = []
    for message in answering(record.messages):
        turn = sharegpt_turn(message)
        if turns and turns[-1]["from"] == turn["from"]:
            turns[-1]["value"] += "\n" + turn["value"]
        else:
            turns.append(turn)
    row: Row = {"conversations": turns}
    if record.tools:
        row["tools"] = orjson.dumps([tool.get("function", tool) for tool in record.tools]).decode("utf-8")
    return row


def hf_message(message: dict[str, Any]) -> dict[str, Any]:
    """Every message with the same fields, so the Arrow schema is fixed (arguments stay JSON text)."""
    out = chat_message(message, keep_weight=False)
    calls = [{"id": c.get("id"), "type": "function", "function": c["function"]} for c in out.get("tool_calls", ())]
    return {"role": out["role"], "content": message_text(out) if out.get("content") is not None else None,
            "name": out.get("name"), "tool_call_id": out.get("tool_call_id"), "tool_calls": calls or None}


def to_hf(record: Record, options: RowOptions) -> Row:
    return {"id": record.id, "messages": [hf_message(m) for m in record.messages],
            "tools": orjson.dumps(record.tools).decode("utf-8") if record.tools else None}


CONVERTERS: dict[str, Converter] = {"openai": to_openai, "openai-dpo": to_openai_dpo, "bedrock": to_bedrock,
                                    "trl": to_trl, "sharegpt": to_sharegpt, "alpaca": to_alpaca, "hf": to_hf}


def convert(fmt: str, record: Record, options: RowOptions) -> Row | Skip:
    """The row for ``record`` in format ``fmt``, after the filters every format shares."""
    review = record.review or {}
    if review.get("verdict") == "reject":
        return Skip("rejected in review")
    if options.exclude_pending and review.get("status") == "pending":
        return Skip("review pending (exclude_pending)")
    return CONVERTERS[fmt](record, options)
