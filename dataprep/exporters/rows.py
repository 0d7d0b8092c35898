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
  calls); tool results become ``observation``; consecutive turns from one sender are merged.
  A turn holds text or calls, not both, and LLaMA-Factory drops a conversation whose turns
  do not alternate, so a record whose assistant says something and calls a tool in one
  message is skipped (counted) rather than losing what it said.
- ``trl``: tool-call arguments become objects, as chat templates expect.
- Only ``openai`` carries ``weight``; in the other formats every assistant turn is trained on.
- Content that is not text (images, audio, files): ``openai`` keeps ``image_url`` parts (vision
  fine-tuning), ``trl`` keeps images as ``{"type": "image", "url"}`` parts (the transformers
  multimodal chat format), ``hf`` keeps every part in each message's ``parts``; any other
  format, or kind of part, skips the record with a counted reason naming the kind.
- ``system_prompt`` (export option): every record's system messages are replaced by one short
  prompt (``{"replace_with": TEXT}``) or removed (``"drop"``) before conversion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable

import orjson

from ..formats.common import openai_message
from ..record import Record, message_text
from ..validate import check_sharegpt_order

SYSTEM_ROLES = ("system", "developer")
TOOL_ROLES = ("tool", "function")
TEXT_PART_TYPES = (None, "text", "input_text", "output_text")
PART_TYPE = re.compile(r"[a-z0-9_]{1,40}")
IMAGE_DETAILS = ("auto", "low", "high")
TEXT_TURN_FORMATS = ("bedrock", "alpaca", "sharegpt")  # must start with the user
# the non-text parts each format can hold; every other kind skips the record
KEEPS_PARTS: dict[str, frozenset[str] | None] = {"openai": frozenset({"image_url"}), "trl": frozenset({"image_url"}),
                                                 "hf": None}  # None: every kind


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class RowOptions:
    exclude_pending: bool = False
    trl_style: str = "messages"
    system_prompt: str | dict[str, str] | None = None  # "drop" or {"replace_with": TEXT}


Row = dict[str, Any]
Converter = Callable[[Record, RowOptions], "Row | Skip"]


# -- content parts --------------------------------------------------------------------------------
def part_kind(part: Any) -> str:
    """"text", or the part's type; a type that is not a plain name is "unrecognised" (it ends up
    in skip reasons, and a log's junk must not make a reason per line)."""
    kind = part.get("type") if isinstance(part, dict) else None
    if isinstance(part, str) or kind in TEXT_PART_TYPES:
        return "text"
    return kind if isinstance(kind, str) and PART_TYPE.fullmatch(kind) else "unrecognised"


def part_text(part: Any) -> str:
    return part if isinstance(part, str) else str(part.get("text") or "")


def content_text(content: Any) -> str | None:
    """The text of content (a string, None, or a list of parts: its text parts joined)."""
    if isinstance(content, list):
        return "\n".join(part_text(part) for part in content if part_kind(part) == "text")  # as message_text joins them
    return content


def image_url(part: dict[str, Any]) -> dict[str, Any]:
    found = part.get("image_url")
    return found if isinstance(found, dict) else {"url": found}


def openai_part(part: Any) -> dict[str, Any]:
    if part_kind(part) == "text":
        return {"type": "text", "text": part_text(part)}
    found = image_url(part)
    detail = {"detail": found["detail"]} if found.get("detail") in IMAGE_DETAILS else {}
    return {"type": "image_url", "image_url": {"url": found["url"], **detail}}


def trl_part(part: Any) -> dict[str, Any]:
    if part_kind(part) == "text":
        return {"type": "text", "text": part_text(part)}
    return {"type": "image", "url": image_url(part).get("url")}


def non_text_parts(record: Record) -> list[Any]:
    messages = [*record.messages, *([record.rejected_reply] if record.rejected_reply else [])]
    return [part for m in messages if isinstance(m.get("content"), list) for part in m["content"] if part_kind(part) != "text"]


def unsupported_parts(fmt: str, record: Record) -> Skip | None:
    """A skip naming the kinds of content the format cannot hold, or None."""
    keeps = KEEPS_PARTS.get(fmt, frozenset())
    if keeps is None:
        return None
    parts = non_text_parts(record)
    kinds = {part_kind(part) for part in parts} - keeps
    if kinds:
        return Skip(f"has {', '.join(sorted(kinds))} content ({fmt} takes {'text and images' if keeps else 'text only'})")
    if any(not isinstance(image_url(part).get("url"), str) or not image_url(part)["url"] for part in parts):
        return Skip("has an image_url part without a url")
    return None


# -- messages -----------------------------------------------------------------------------------
def chat_message(message: dict[str, Any], keep_weight: bool = True, part: Callable[[Any], dict] = openai_part) -> dict[str, Any]:
    out = openai_message(message)
    if out.get("tool_calls") and isinstance(out.get("content"), str) and not out["content"].strip():
        out["content"] = None  # whitespace beside a call says nothing, and OpenAI refuses it
    if out["role"] == "developer":
        out["role"] = "system"
    if isinstance(out.get("content"), list):
        out["content"] = [part(p) for p in out["content"]]
    if keep_weight and out["role"] == "assistant" and "weight" in message:
        out["weight"] = message["weight"]
    return out


def with_system_prompt(record: Record, choice: str | dict[str, str] | None) -> Record:
    """The record trained under a short system prompt (or none): its system messages replaced."""
    if choice is None:
        return record
    messages = [m for m in record.messages if m.get("role") not in SYSTEM_ROLES]
    if choice != "drop":
        messages.insert(0, {"role": "system", "content": choice["replace_with"]})
    return replace(record, messages=messages)


def text_reply(message: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": message_text(message)}


def calls_tools(record: Record) -> bool:
    return any(m.get("role") in TOOL_ROLES or m.get("tool_calls") for m in record.messages)


def left_out_turns(fmt: str, record: Record) -> list[str]:
    """Warning classes for what a written row leaves out of its record (counted, never silent)."""
    if fmt in TEXT_TURN_FORMATS and len(answering(record.messages)) < len(record.messages):
        return ["assistant_turn_before_user_left_out"]
    return []


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
    if record.prompt_messages[-1].get("role") == "assistant":
        return Skip("the reply follows another reply (preference outputs answer a user or tool turn)")
    given: Row = {"messages": [chat_message(m, keep_weight=False) for m in record.prompt_messages]}
    if record.tools:
        given["tools"] = record.tools
    return {"input": given, "preferred_output": [text_reply(target)], "non_preferred_output": [text_reply(rejected)]}


def preference_pair(record: Record) -> tuple[dict[str, Any], dict[str, Any]] | Skip:
    if record.rejected_reply is None:
        return Skip("no rejected reply to prefer against")
    if record.target is None:
        return Skip("does not end with an assistant reply")
    if not record.prompt_messages:
        return Skip("nothing before the reply to prefer it for")
    if not message_text(record.rejected_reply).strip() and not record.rejected_reply.get("tool_calls"):
        return Skip("the rejected reply is blank")
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
    out = chat_message(message, keep_weight=False, part=trl_part)
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


def to_sharegpt(record: Record, options: RowOptions) -> Row | Skip:
    if any(m.get("tool_calls") and message_text(m).strip() for m in record.messages):
        return Skip("assistant text and a tool call in one message (a ShareGPT turn holds one or the other)")
    system = "\n\n".join(message_text(m) for m in record.messages if m.get("role") in SYSTEM_ROLES)
    turns: list[dict[str, str]] = []
    for message in answering(record.messages):
        if message.get("role") in SYSTEM_ROLES:
            continue  # one system turn, first: LLaMA-Factory takes no other
        turn = sharegpt_turn(message)
        if turns and turns[-1]["from"] == turn["from"]:
            turns[-1]["value"] += "\n" + turn["value"]
        else:
            turns.append(turn)
    unfit = next(check_sharegpt_order([turn["from"] for turn in turns], 0), None)
    if unfit:
        return Skip(f"turns ShareGPT cannot hold ({unfit.cls.replace('_', ' ')})")
    row: Row = {"conversations": ([{"from": "system", "value": system}] if system else []) + turns}
    if record.tools:
        row["tools"] = orjson.dumps([tool.get("function", tool) for tool in record.tools]).decode("utf-8")
    return row


def hf_message(message: dict[str, Any]) -> dict[str, Any]:
    """Every message with the same fields, so the Arrow schema is fixed (arguments stay JSON text).
    ``content`` is the text; a message with images, audio or files also lists all its ``parts``."""
    out = chat_message(message, keep_weight=False, part=lambda p: p)
    calls = [{"id": c.get("id"), "type": "function", "function": c["function"]} for c in out.get("tool_calls", ())]
    parts = out["content"] if isinstance(out.get("content"), list) else None
    return {"role": out["role"], "content": content_text(out.get("content")),
            "name": out.get("name"), "tool_call_id": out.get("tool_call_id"), "tool_calls": calls or None,
            "parts": [hf_part(p) for p in parts] if parts else None}


def hf_part(part: Any) -> dict[str, Any]:
    """A content part as ``{"type", "text", "data"}``: text parts keep their text, every other
    part its payload as JSON text (an image's url object, an audio's data and format, ...)."""
    kind = part_kind(part)
    if kind == "text":
        return {"type": "text", "text": part_text(part), "data": None}
    payload = part.get(kind, {k: v for k, v in part.items() if k != "type"})
    return {"type": kind, "text": None, "data": orjson.dumps(payload).decode("utf-8")}


def to_hf(record: Record, options: RowOptions) -> Row:
    """The conversation, and what tells a reader where it came from: its tags (``synthetic``,
    ``corrected``...), its source and its provenance (JSON text: their fields vary by reader)."""
    return {"id": record.id, "messages": [hf_message(m) for m in record.messages],
            "tools": orjson.dumps(record.tools).decode("utf-8") if record.tools else None,
            "tags": list(record.tags), "source": orjson.dumps(record.source).decode("utf-8"),
            "provenance": orjson.dumps(record.provenance).decode("utf-8")}


CONVERTERS: dict[str, Converter] = {"openai": to_openai, "openai-dpo": to_openai_dpo, "bedrock": to_bedrock,
                                    "trl": to_trl, "sharegpt": to_sharegpt, "alpaca": to_alpaca, "hf": to_hf}


def convert(fmt: str, record: Record, options: RowOptions) -> Row | Skip:
    """The row for ``record`` in format ``fmt``, after the filters every format shares."""
    review = record.review or {}
    if review.get("verdict") == "reject":
        return Skip("rejected in review")
    if options.exclude_pending and review.get("status") == "pending":
        return Skip("review pending (exclude_pending)")
    unsupported = unsupported_parts(fmt, record)
    if unsupported:
        return unsupported
    target = record.target
    if target is not None and not message_text(target).strip() and not target.get("tool_calls"):
        return Skip("empty reply (kept by mine's drop_empty: false)")
    if all(m.get("role") != "assistant" for m in record.messages):
        return Skip("no assistant reply (kept by mine's drop_empty: false)")
    return CONVERTERS[fmt](with_system_prompt(record, options.system_prompt), options)
