"""Check a training file against its target format before it is uploaded.

Formats: ``openai`` (chat SFT), ``openai-dpo`` (preference), ``bedrock`` (Anthropic on
Bedrock), ``trl`` (messages, prompt-completion or preference rows), ``sharegpt``
(LLaMA-Factory) and ``alpaca``. Without ``--format`` the format is told from the file's first
readable lines (``detect_format``). The OpenAI rules are the error classes of the OpenAI cookbook's chat data checker
(``data_type``, ``missing_messages_list``, ``message_missing_key``,
``message_unrecognized_key``, ``unrecognized_role``, ``missing_content``,
``example_missing_assistant_message``), extended for tool calls, ``tool`` messages, ``weight``
and ``tools``; the ShareGPT rules are LLaMA-Factory's (turns alternate, function calls are
JSON); after them each example is checked against ``schemas/export/<format>.schema.json``.
Every example is token-counted; examples over the context limit are errors (the trainer
would cut their end, which is the reply being taught). Provider limits on a whole file
(``dataset_limits``: OpenAI's minimum of 10 examples, Bedrock's record caps) are warnings.

Settings (recipe ``export.options`` or environment): ``context_limit``
(``DATAPREP_CONTEXT_LIMIT``; default the target ``model``'s training context when it is
known, else 65,536 tokens for OpenAI, 32,000 for Bedrock, 131,072 for the open formats),
``price_per_million_tokens`` (``DATAPREP_PRICE_PER_MILLION_TOKENS``; default 3.00 USD,
gpt-4o-mini training) and ``epochs`` (``DATAPREP_EPOCHS``; default: OpenAI's heuristic, as
in the cookbook, 3 epochs nudged so that examples x epochs lands in 100..25,000).
"""

from __future__ import annotations

import os
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import orjson
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table
from rich.text import Text

from . import schemas
from .errors import UsageError
from .jsonl import BadLine, excerpt_of, iter_lines
from .tokens import count_messages, count_strings

CONTEXT_LIMITS = {"openai": 65_536, "openai-dpo": 65_536, "bedrock": 32_000,
                  "trl": 131_072, "sharegpt": 131_072, "alpaca": 131_072}
OPENAI_FORMATS = ("openai", "openai-dpo")
# The longest training example each fine-tunable model takes, and the formats it is trained
# from (OpenAI fine-tuning guide; Bedrock: Claude 3 Haiku, 32,000 tokens a record).
TRAINING_CONTEXT: dict[str, tuple[int, tuple[str, ...]]] = {
    "gpt-4.1": (65_536, OPENAI_FORMATS), "gpt-4.1-mini": (65_536, OPENAI_FORMATS),
    "gpt-4.1-nano": (65_536, OPENAI_FORMATS), "gpt-4o": (65_536, OPENAI_FORMATS),
    "gpt-4o-mini": (65_536, OPENAI_FORMATS), "gpt-3.5-turbo": (16_385, OPENAI_FORMATS),
    "claude-3-haiku": (32_000, ("bedrock",)), "anthropic.claude-3-haiku": (32_000, ("bedrock",)),
}
DEFAULT_PRICE_PER_MILLION_TOKENS = 3.00
SETTINGS_ENV = {"context_limit": ("DATAPREP_CONTEXT_LIMIT", int),
                "price_per_million_tokens": ("DATAPREP_PRICE_PER_MILLION_TOKENS", float),
                "epochs": ("DATAPREP_EPOCHS", int)}
# OpenAI's default-epochs heuristic (from the cookbook).
TARGET_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES, MIN_EPOCHS, MAX_EPOCHS = 3, 100, 25_000, 1, 25
MIN_EXAMPLES = {"openai": 10, "openai-dpo": 10}  # OpenAI refuses fine-tuning files with fewer
# Bedrock's caps on Claude 3 Haiku fine-tuning records (training, validation)
MAX_EXAMPLES = {"bedrock": {"train": 10_000, "eval": 1_000}}
SHOWN_PROBLEMS = 50  # human mode: the first N problems in full, the rest counted by class


@dataclass(frozen=True, slots=True)
class Issue:
    cls: str
    message: str
    warning: bool = False


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    cls: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "class": self.cls, "message": self.message}


@dataclass
class Checked:
    errors: list[Problem]
    warnings: list[Problem]
    tokens: int | None = None  # counted only for examples that are otherwise well-formed


def error(cls: str, message: str) -> Issue:
    return Issue(cls, message)


def warning(cls: str, message: str) -> Issue:
    return Issue(cls, message, warning=True)


# -- OpenAI chat messages (shared by openai and openai-dpo) ------------------------------------
MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"})
# tuples, not sets: a role or type read from a bad line may be a list, which a set cannot look up
ROLES = ("system", "user", "assistant", "tool", "function")
CONTENT_PART_TYPES = ("text", "image_url")
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def has_text(content: Any) -> bool:
    """Content the trainer can read: a non-blank string, or a list of text/image parts."""
    if isinstance(content, str):
        return bool(content.strip())
    return isinstance(content, list) and bool(content) and all(
        isinstance(part, dict) and part.get("type") in CONTENT_PART_TYPES for part in content)


def check_messages(messages: list[Any], where: str, each_message: bool = True) -> Iterator[Issue]:
    """The issues of ``messages``: of each message on its own (not when ``each_message`` is false), and of
    the tool calls and the answers to them."""
    calls_made: dict[str, int] = {}  # tool call id -> index of the message that made it
    answered: set[str] = set()
    for index, message in enumerate(messages):
        at = f"{where}[{index}]"
        if not isinstance(message, dict):
            yield error("data_type", f"{at} is {type(message).__name__}, not an object")
            continue
        if each_message:
            yield from check_message(message, at)
        if message.get("role") == "assistant":
            yield from check_tool_calls(message.get("tool_calls"), at, index, calls_made)
        elif "tool_calls" in message:
            yield error("tool_calls_not_assistant", f"{at} has tool_calls but role {message.get('role')!r}; only assistant messages call tools")
        if message.get("role") == "tool":
            yield from check_tool_answer(message, at, calls_made, answered)
    last = len(messages) - 1
    for call_id, index in calls_made.items():
        if index != last and call_id not in answered:
            yield warning("tool_call_unanswered", f"{where}[{index}] calls tool {call_id!r} but no tool message answers it")


def check_message(message: dict[str, Any], at: str) -> Iterator[Issue]:
    role = message.get("role")
    if "role" not in message:
        yield error("message_missing_key", f"{at} has no 'role'")
    elif role not in ROLES:
        yield error("unrecognized_role", f"{at}.role is {_short(role)}; use one of: {', '.join(ROLES)}")
    unknown = sorted(set(message) - MESSAGE_KEYS)
    if unknown:
        yield error("message_unrecognized_key", f"{at} has key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(MESSAGE_KEYS))}")
    calls_tools = bool(message.get("tool_calls") or message.get("function_call"))
    if "content" not in message and not calls_tools:
        yield error("message_missing_key", f"{at} has no 'content'")
    elif not has_text(message.get("content")) and not (calls_tools and message.get("content") in (None, "")):
        yield error("missing_content", f"{at}.content is {_short(message.get('content'))}; it needs text"
                    + (" (or tool_calls)" if role == "assistant" else ""))
    if "weight" in message:
        weight = message["weight"]
        if isinstance(weight, bool) or weight not in (0, 1):
            yield error("invalid_weight", f"{at}.weight is {_short(weight)}; it must be 0 or 1")
        elif role != "assistant":
            yield error("weight_not_assistant", f"{at} is a {role} message; only assistant messages take a weight")


def check_tool_calls(calls: Any, at: str, index: int, calls_made: dict[str, int]) -> Iterator[Issue]:
    if calls is None:
        return
    if not isinstance(calls, list) or not calls:
        yield error("tool_call_malformed", f"{at}.tool_calls must be a non-empty list")
        return
    for number, call in enumerate(calls):
        where = f"{at}.tool_calls[{number}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or call.get("type") != "function":
            yield error("tool_call_malformed", f"{where} must be {{\"id\", \"type\": \"function\", \"function\": {{\"name\", \"arguments\"}}}}")
            continue
        if not isinstance(function.get("name"), str) or not FUNCTION_NAME.match(function["name"]):
            yield error("tool_call_malformed", f"{where}.function.name is {_short(function.get('name'))}; it must match [a-zA-Z0-9_-]{{1,64}}")
        problem = arguments_problem(function.get("arguments"))
        if problem:
            yield error("tool_call_invalid_arguments", f"{where}.function.arguments {problem}")
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            yield error("tool_call_missing_id", f"{where} has no id, so no tool message can answer it")
        elif call_id in calls_made:
            yield error("tool_call_duplicate_id", f"{where}.id {call_id!r} was already used by {at.rsplit('[', 1)[0]}[{calls_made[call_id]}]")
        else:
            calls_made[call_id] = index


def arguments_problem(arguments: Any) -> str | None:
    if not isinstance(arguments, str):
        return f"is {type(arguments).__name__}; it must be a string holding a JSON object"
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return f"is not valid JSON: {_short(arguments)}"
    if not isinstance(value, dict):
        return f"holds a JSON {type(value).__name__}; it must hold a JSON object"
    return None


def check_tool_answer(message: dict[str, Any], at: str, calls_made: dict[str, int], answered: set[str]) -> Iterator[Issue]:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        yield error("tool_message_missing_id", f"{at} is a tool message without tool_call_id")
    elif call_id not in calls_made:
        yield error("tool_call_id_unknown", f"{at}.tool_call_id {call_id!r} answers no earlier tool call")
    else:
        answered.add(call_id)


def check_tools(tools: Any, where: str = "tools") -> Iterator[Issue]:
    if not isinstance(tools, list):
        yield error("tools_invalid", f"{where} must be a list of function definitions")
        return
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        at = f"{where}[{index}]"
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type") != "function":
            yield error("tools_invalid", f"{at} must be {{\"type\": \"function\", \"function\": {{\"name\", \"description\", \"parameters\"}}}}")
            continue
        name = function.get("name")
        if not isinstance(name, str) or not FUNCTION_NAME.match(name):
            yield error("tools_invalid", f"{at}.function.name is {_short(name)}; it must match [a-zA-Z0-9_-]{{1,64}}")
        elif name in seen:
            yield error("tools_invalid", f"{at} defines {name!r} a second time")
        seen.add(name if isinstance(name, str) else "")
        if "parameters" in function and not isinstance(function["parameters"], dict):
            yield error("tools_invalid", f"{at}.function.parameters must be a JSON Schema object")


def check_calls_use_tools(messages: list[Any], tools: Any, where: str) -> Iterator[Issue]:
    """A call to a function the example does not define is a warning: the model learns to call it anyway."""
    if not isinstance(tools, list):
        return
    defined = {function_name(tool) for tool in tools}
    for index, message in enumerate(messages):
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        for call in calls if isinstance(calls, list) else ():
            name = function_name(call)
            if name and name not in defined:
                yield warning("tool_call_unknown_function", f"{where}[{index}] calls {name!r}, which tools does not define")


def function_name(item: Any) -> str | None:
    """``item["function"]["name"]`` of a tool or a tool call, if it is there and a string."""
    function = item.get("function") if isinstance(item, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    return name if isinstance(name, str) else None


# -- the three formats --------------------------------------------------------------------------
OPENAI_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})


def check_openai(value: dict[str, Any]) -> Iterator[Issue]:
    messages = value.get("messages")
    if not isinstance(messages, list) or not messages:
        yield error("missing_messages_list", "no 'messages' list" if messages is None else "'messages' must be a non-empty list")
        return
    unknown = sorted(set(value) - OPENAI_KEYS)
    if unknown:
        yield warning("example_unrecognized_key", f"key(s) {', '.join(unknown)} will be ignored; known: {', '.join(sorted(OPENAI_KEYS))}")
    yield from check_messages(messages, "messages")
    if "tools" in value:
        yield from check_tools(value["tools"])
        yield from check_calls_use_tools(messages, value["tools"], "messages")
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    if "assistant" not in roles:
        yield error("example_missing_assistant_message", "no assistant message to learn from")
    elif all(m.get("weight") == 0 for m in messages if isinstance(m, dict) and m.get("role") == "assistant"):
        yield warning("no_trained_assistant_message", "every assistant message has weight 0, so nothing is learned")
    yield from missing_role_warnings(roles)


def missing_role_warnings(roles: list[Any]) -> Iterator[Issue]:
    if "system" not in roles:
        yield warning("missing_system_message", "no system message")
    if "user" not in roles:
        yield warning("missing_user_message", "no user message")


DPO_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
DPO_INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})


def check_openai_dpo(value: dict[str, Any]) -> Iterator[Issue]:
    unknown = sorted(set(value) - DPO_KEYS)
    if unknown:
        yield error("unrecognized_key", f"key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(DPO_KEYS))}")
    given = value.get("input")
    if not isinstance(given, dict):
        yield error("missing_input", "'input' must be an object with a 'messages' list")
    else:
        yield from check_dpo_input(given)
    outputs = [value.get(side) for side in ("preferred_output", "non_preferred_output")]
    for side, output in zip(("preferred_output", "non_preferred_output"), outputs):
        yield from check_dpo_output(output, side)
    if outputs[0] is not None and outputs[0] == outputs[1]:
        yield warning("identical_outputs", "preferred and non-preferred outputs are the same, so there is nothing to prefer")


def check_dpo_input(given: dict[str, Any]) -> Iterator[Issue]:
    unknown = sorted(set(given) - DPO_INPUT_KEYS)
    if unknown:
        yield error("unrecognized_key", f"input has key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(DPO_INPUT_KEYS))}")
    messages = given.get("messages")
    if not isinstance(messages, list) or not messages:
        yield error("missing_messages_list", "input.messages must be a non-empty list")
        return
    yield from check_messages(messages, "input.messages")
    if "tools" in given:
        yield from check_tools(given["tools"], "input.tools")
        yield from check_calls_use_tools(messages, given["tools"], "input.messages")
    if isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant":
        yield error("input_ends_with_assistant", "input.messages ends with an assistant message; the outputs must answer a user or tool turn")
    yield from missing_role_warnings([m.get("role") for m in messages if isinstance(m, dict)])


def check_dpo_output(output: Any, side: str) -> Iterator[Issue]:
    if not isinstance(output, list) or len(output) != 1 or not isinstance(output[0], dict):
        yield error("invalid_output", f"{side} must be a list of exactly one assistant message")
        return
    message = output[0]
    unknown = sorted(set(message) - {"role", "content"})
    if message.get("role") != "assistant":
        yield error("invalid_output", f"{side}[0].role is {_short(message.get('role'))}; it must be 'assistant'")
    if unknown:
        yield error("invalid_output", f"{side}[0] has key(s) {', '.join(unknown)}; preference outputs are text replies (role, content) only")
    if not isinstance(message.get("content"), str) or not message["content"].strip():
        yield error("missing_content", f"{side}[0].content is {_short(message.get('content'))}; it needs text")


BEDROCK_KEYS = frozenset({"system", "messages"})
BEDROCK_ROLES = ("user", "assistant")


def check_bedrock(value: dict[str, Any]) -> Iterator[Issue]:
    unknown = sorted(set(value) - BEDROCK_KEYS)
    if unknown:
        yield error("unrecognized_key", f"key(s) {', '.join(unknown)}; Bedrock allows only system and messages")
    if "system" in value and not isinstance(value["system"], str):
        yield error("invalid_system", f"system is {type(value['system']).__name__}; it must be a string")
    messages = value.get("messages")
    if not isinstance(messages, list) or not messages:
        yield error("missing_messages_list", "no 'messages' list" if messages is None else "'messages' must be a non-empty list")
        return
    if len(messages) < 2:
        yield error("too_few_messages", "Bedrock needs at least a user message and an assistant reply")
    roles = []
    for index, message in enumerate(messages):
        at = f"messages[{index}]"
        if not isinstance(message, dict):
            yield error("data_type", f"{at} is {type(message).__name__}, not an object")
            roles.append(None)
            continue
        yield from check_bedrock_message(message, at)
        roles.append(message.get("role"))
    yield from check_bedrock_order(roles)


def check_bedrock_message(message: dict[str, Any], at: str) -> Iterator[Issue]:
    unknown = sorted(set(message) - {"role", "content"})
    if unknown:
        yield error("message_unrecognized_key", f"{at} has key(s) {', '.join(unknown)}; Bedrock allows only role and content")
    if message.get("role") not in BEDROCK_ROLES:
        yield error("unrecognized_role", f"{at}.role is {_short(message.get('role'))}; Bedrock allows user and assistant (system goes in 'system')")
    if not isinstance(message.get("content"), str) or not message["content"].strip():
        yield error("missing_content", f"{at}.content is {_short(message.get('content'))}; it must be non-empty text")


def check_bedrock_order(roles: list[Any]) -> Iterator[Issue]:
    if roles[0] != "user":
        yield error("first_message_not_user", f"messages[0] is {roles[0]!r}; the first message must be the user's")
    if roles[-1] != "assistant":
        yield error("last_message_not_assistant", f"messages[{len(roles) - 1}] is {roles[-1]!r}; the last message must be the assistant's")
    for index in range(1, len(roles)):
        if roles[index] == roles[index - 1] and roles[index] in BEDROCK_ROLES:
            yield error("not_alternating", f"messages[{index - 1}] and messages[{index}] are both {roles[index]}; user and assistant must alternate")
            return


# -- TRL rows (messages, prompt-completion, preference) -------------------------------------------
def trl_style(value: dict[str, Any]) -> str:
    """The TRL dataset type a row's keys pick (as the trl schema does)."""
    return "messages" if "messages" in value else "preference" if "chosen" in value else "prompt-completion"


def check_trl(value: dict[str, Any]) -> Iterator[Issue]:
    if trl_style(value) == "messages":
        messages = value.get("messages")
        if isinstance(messages, list) and not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
            yield error("example_missing_assistant_message", "no assistant message to learn from")
        return
    prompt = value.get("prompt")
    if isinstance(prompt, list) and prompt and isinstance(prompt[-1], dict) and prompt[-1].get("role") == "assistant":
        yield error("prompt_ends_with_assistant", "prompt ends with an assistant message; the reply must answer a user or tool turn")
    if "chosen" in value and value.get("chosen") == value.get("rejected"):
        yield warning("identical_outputs", "chosen and rejected are the same, so there is nothing to prefer")


# -- ShareGPT (LLaMA-Factory) -----------------------------------------------------------------------
SHAREGPT_ASKING = ("human", "observation")
SHAREGPT_ANSWERING = ("gpt", "function_call")


def check_sharegpt(value: dict[str, Any]) -> Iterator[Issue]:
    turns = value.get("conversations")
    if not isinstance(turns, list) or not turns:
        yield error("missing_conversations", "'conversations' must be a non-empty list of {from, value} turns")
        return
    if "tools" in value and not isinstance(json_or_none(value["tools"]), list):
        yield error("tools_invalid", "tools must be the JSON text of a list of function definitions")
    start = 1 if isinstance(turns[0], dict) and turns[0].get("from") == "system" else 0
    yield from check_sharegpt_order([t.get("from") if isinstance(t, dict) else None for t in turns[start:]], start)
    for index, turn in enumerate(turns):
        if isinstance(turn, dict) and turn.get("from") == "function_call" and function_call_problem(turn.get("value")):
            yield error("function_call_invalid", f"conversations[{index}].value {function_call_problem(turn.get('value'))}")


def check_sharegpt_order(senders: list[Any], start: int) -> Iterator[Issue]:
    """LLaMA-Factory drops a conversation whose turns do not alternate asking and answering."""
    if not senders:
        yield error("too_few_turns", "the conversation needs a human turn and a gpt reply")
        return
    for index, sender in enumerate(senders):
        allowed = SHAREGPT_ASKING if index % 2 == 0 else SHAREGPT_ANSWERING
        if sender not in allowed:
            yield error("not_alternating", f"conversations[{index + start}].from is {_short(sender)}; here it must be "
                        f"{' or '.join(allowed)} (LLaMA-Factory drops conversations that do not alternate)")
            return
    if len(senders) % 2:
        yield error("last_turn_not_assistant", "the conversation must end with a gpt or function_call turn")


def function_call_problem(value: Any) -> str | None:
    calls = json_or_none(value)
    calls = calls if isinstance(calls, list) else [calls]
    if calls and all(isinstance(c, dict) and isinstance(c.get("name"), str) and "arguments" in c for c in calls):
        return None
    return f'is {_short(value)}; it must be the JSON of {{"name", "arguments"}} (a list for parallel calls)'


def json_or_none(text: Any) -> Any:
    try:
        return orjson.loads(text) if isinstance(text, str) else None
    except orjson.JSONDecodeError:
        return None


# -- Alpaca ---------------------------------------------------------------------------------------
def check_alpaca(value: dict[str, Any]) -> Iterator[Issue]:
    if not any(isinstance(value.get(key), str) and value[key].strip() for key in ("instruction", "input")):
        yield error("missing_instruction", "instruction and input are both blank, so there is nothing to answer")
    if isinstance(value.get("output"), str) and not value["output"].strip():
        yield error("missing_content", "output is blank, so there is nothing to learn")


def openai_tokens(value: dict[str, Any]) -> int:
    return count_messages(value["messages"], value.get("tools"))


def dpo_tokens(value: dict[str, Any]) -> int:
    given = value["input"]
    return count_messages([*given["messages"], *value["preferred_output"], *value["non_preferred_output"]], given.get("tools"))


def bedrock_tokens(value: dict[str, Any]) -> int:
    system = [{"role": "system", "content": value["system"]}] if value.get("system") else []
    return count_messages([*system, *value["messages"]])


@dataclass(frozen=True)
class Rules:
    check: Callable[[dict[str, Any]], Iterator[Issue]]
    tokens: Callable[[dict[str, Any]], int]
    priced: bool = False  # a hosted trainer bills by token: estimate the cost


RULES = {"openai": Rules(check_openai, openai_tokens, priced=True),
         "openai-dpo": Rules(check_openai_dpo, dpo_tokens, priced=True),
         "bedrock": Rules(check_bedrock, bedrock_tokens, priced=True),
         "trl": Rules(check_trl, count_strings),
         "sharegpt": Rules(check_sharegpt, count_strings),
         "alpaca": Rules(check_alpaca, count_strings)}


# -- telling the format of a file ----------------------------------------------------------------------
DETECT_LINES = 50  # the first lines looked at


def format_of(value: Any) -> str | None:
    """The format one example is in, from its keys (None: none of them; "trl messages": a
    messages row only TRL writes)."""
    if not isinstance(value, dict):
        return None
    keys = set(value)
    if "preferred_output" in keys or "non_preferred_output" in keys:
        return "openai-dpo"
    if "conversations" in keys:
        return "sharegpt"
    if {"instruction", "output"} <= keys:
        return "alpaca"
    if "prompt" in keys and keys & {"completion", "chosen"}:
        return "trl"
    messages = value.get("messages")
    if not isinstance(messages, list):
        return None
    if "system" in keys:
        return "bedrock"
    return "trl messages" if any(trl_shaped(m) for m in messages) else "openai"


def trl_shaped(message: Any) -> bool:
    """TRL's own marks: tool-call arguments as objects, images as {"type": "image"} parts."""
    if not isinstance(message, dict):
        return False
    calls = message.get("tool_calls") if isinstance(message.get("tool_calls"), list) else []
    parts = message.get("content") if isinstance(message.get("content"), list) else []
    return any(isinstance(c, dict) and isinstance(c.get("function"), dict) and isinstance(c["function"].get("arguments"), dict)
               for c in calls) or any(isinstance(p, dict) and p.get("type") == "image" for p in parts)


def detect_format(path: Path) -> str:
    """The format most of the first readable lines are in; a usage error if none is recognised.
    A file with no lines at all is checked as OpenAI chat, whose checks report it as empty."""
    first = list(islice(iter_lines(path), DETECT_LINES))
    if not first:
        return "openai"
    votes = Counter(format_of(item.value) for item in first if not isinstance(item, BadLine))
    del votes[None]
    if votes["trl messages"]:  # a TRL file's plain text lines look like OpenAI chat lines
        votes["trl"] += votes.pop("trl messages") + votes.pop("openai", 0)
    if not votes:
        raise UsageError(f"cannot tell the format from its first lines; pass --format ({', '.join(RULES)})", file=str(path))
    return votes.most_common(1)[0][0]


# -- settings ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    context_limit: int
    price_per_million_tokens: float = DEFAULT_PRICE_PER_MILLION_TOKENS
    epochs: int | None = None  # None: OpenAI's default heuristic

    @classmethod
    def for_format(cls, fmt: str, options: dict[str, Any] | None = None) -> "Settings":
        """Defaults (the target model's context when known), overridden by environment
        variables, overridden by explicit options."""
        chosen: dict[str, Any] = {"context_limit": model_context((options or {}).get("model"), fmt) or CONTEXT_LIMITS[fmt]}
        for key, (env, kind) in SETTINGS_ENV.items():
            if os.environ.get(env):
                try:
                    chosen[key] = kind(os.environ[env])
                except ValueError:
                    raise UsageError(f"{env}={os.environ[env]!r} is not a valid {kind.__name__}") from None
        chosen.update({key: value for key, value in (options or {}).items() if key in SETTINGS_ENV and value is not None})
        return cls(**chosen)


def model_context(model: str | None, fmt: str) -> int | None:
    """The training context of ``model`` (or of the longest listed name it starts with) when it is
    trained from ``fmt`` files; None for a model not listed."""
    names = [name for name in TRAINING_CONTEXT if model and model.startswith(name) and fmt in TRAINING_CONTEXT[name][1]]
    return TRAINING_CONTEXT[max(names, key=len)][0] if names else None


def default_epochs(examples: int) -> int:
    if examples and examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_EPOCHS, MIN_TARGET_EXAMPLES // examples)
    if examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_EPOCHS, MAX_TARGET_EXAMPLES // examples)
    return TARGET_EPOCHS


# -- checking examples one by one ------------------------------------------------------------------
def schema_problems(name: str, value: Any, line: int) -> list[Problem]:
    """Schema errors of one example. The Rust validator answers yes/no in microseconds; only
    for a failing example does jsonschema (~100x slower) explain what is wrong."""
    if schemas.is_valid(name, value):
        return []
    return [Problem(line, "schema", f"{path}: {message}") for path, message in schemas.errors(name, value)]


@dataclass
class Checker:
    """Checks examples of one format and gathers the stats; used by ``validate`` and by export."""

    fmt: str
    settings: Settings
    examples: int = 0
    error_lines: int = 0
    errors_by_class: Counter = field(default_factory=Counter)
    warnings_by_class: Counter = field(default_factory=Counter)
    tokens: array = field(default_factory=lambda: array("q"))

    @classmethod
    def for_format(cls, fmt: str, options: dict[str, Any] | None = None) -> "Checker":
        if fmt not in RULES:
            raise UsageError(f"cannot validate format {fmt!r}; use one of: {', '.join(RULES)}")
        return cls(fmt, Settings.for_format(fmt, options))

    def check(self, value: Any, line: int) -> Checked:
        """The errors, warnings and token count of one example."""
        self.examples += 1
        issues = list(self._issues(value))
        checked = Checked([Problem(line, i.cls, i.message) for i in issues if not i.warning],
                          [Problem(line, i.cls, i.message) for i in issues if i.warning])
        if not checked.errors:
            checked.errors = schema_problems(f"export/{self.fmt}", value, line)
        if not checked.errors:
            checked.tokens = RULES[self.fmt].tokens(value)
            self.tokens.append(checked.tokens)
            if checked.tokens > self.settings.context_limit:
                checked.errors = [Problem(line, "example_too_long", f"{checked.tokens:,} tokens, over the context limit of "
                                          f"{self.settings.context_limit:,}; the trainer would cut off its end")]
        self.errors_by_class.update(p.cls for p in checked.errors)
        self.warnings_by_class.update(p.cls for p in checked.warnings)
        self.error_lines += bool(checked.errors)
        return checked

    def unreadable(self, bad: BadLine) -> Problem:
        self.examples += 1
        self.error_lines += 1
        problem = Problem(bad.line, "invalid_utf8" if bad.reason.startswith("not UTF-8") else "invalid_json", bad.reason)
        self.errors_by_class[problem.cls] += 1
        return problem

    def _issues(self, value: Any) -> Iterator[Issue]:
        if not isinstance(value, dict):
            yield error("data_type", f"the line is a JSON {type(value).__name__}, not an object")
            return
        yield from RULES[self.fmt].check(value)

    def stats(self) -> dict[str, Any]:
        counts = as_numpy(self.tokens)
        return {
            "format": self.fmt,
            "examples": self.examples,
            "examples_with_errors": self.error_lines,
            "errors_by_class": dict(sorted(self.errors_by_class.items())),
            "warnings_by_class": dict(sorted(self.warnings_by_class.items())),
            "tokens": token_distribution(counts),
            "context_limit": self.settings.context_limit,
            "over_context_limit": int((counts > self.settings.context_limit).sum()),
            "training_cost": training_cost(counts, self.settings) if RULES[self.fmt].priced else None,
        }


def as_numpy(counts: array) -> np.ndarray:
    """Token counts gathered in an ``array('q')`` (compact while streaming) as a numpy array."""
    return np.frombuffer(counts, dtype=np.int64) if len(counts) else np.zeros(0, dtype=np.int64)


def training_cost(counts: np.ndarray, settings: Settings) -> dict[str, Any]:
    """Billed tokens x epochs x price; tokens past the context limit are not billed (they are cut)."""
    per_epoch = int(np.minimum(counts, settings.context_limit).sum())
    epochs = settings.epochs or default_epochs(len(counts))
    return {"billed_tokens_per_epoch": per_epoch, "epochs": epochs,
            "epochs_from": "setting" if settings.epochs else "OpenAI default heuristic",
            "billed_tokens": per_epoch * epochs, "price_per_million_tokens": settings.price_per_million_tokens,
            "estimated_usd": round(per_epoch * epochs * settings.price_per_million_tokens / 1e6, 2)}


def token_distribution(counts: np.ndarray) -> dict[str, Any]:
    if not len(counts):
        return {"counted_examples": 0, "total": 0}
    p5, median, p95 = np.percentile(counts, [5, 50, 95])
    return {"counted_examples": int(len(counts)), "total": int(counts.sum()), "min": int(counts.min()),
            "max": int(counts.max()), "mean": round(float(counts.mean()), 1), "median": float(median),
            "p5": float(p5), "p95": float(p95)}


# -- a whole file ------------------------------------------------------------------------------------
@dataclass
class Report:
    errors: list[Problem]
    warnings: list[Problem]
    stats: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": [p.to_dict() for p in self.errors],
                "warnings": [p.to_dict() for p in self.warnings], "stats": self.stats}


def validate_file(path: Path, fmt: str | None = None, options: dict[str, Any] | None = None,
                  on_line: Callable[[], None] | None = None) -> Report:
    """Check every line of ``path`` as ``fmt`` (None: told from its first lines); a missing or
    unreadable file raises ``InputError``."""
    checker = Checker.for_format(fmt or detect_format(path), options)
    detected = fmt is None
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for item in iter_lines(path):
        if isinstance(item, BadLine):
            errors.append(checker.unreadable(item))
        else:
            checked = checker.check(item.value, item.line)
            errors += checked.errors
            warnings += checked.warnings
        if on_line:
            on_line()
    if checker.examples == 0:  # problems of the file as a whole are reported at line 0
        errors.append(Problem(0, "empty_file", "the file holds no examples"))
    else:
        warnings += dataset_limits(checker.fmt, checker.examples)
    return Report(errors, warnings, {**checker.stats(), "format_detected": detected})


def dataset_limits(fmt: str, examples: int, split: str = "train") -> list[Problem]:
    """Provider limits on the number of examples in one file (a training file unless ``split``
    is "eval"): warnings at line 0, since the provider refuses the upload, not the example."""
    if split == "train" and 0 < examples < MIN_EXAMPLES.get(fmt, 0):
        return [Problem(0, "too_few_examples", f"{examples} examples; OpenAI fine-tuning needs at least {MIN_EXAMPLES[fmt]}")]
    most = MAX_EXAMPLES.get(fmt, {}).get(split)
    if most and examples > most:
        kind = "validation" if split == "eval" else "training"
        return [Problem(0, "too_many_examples", f"{examples:,} examples; Bedrock takes at most {most:,} {kind} records")]
    return []


def validate_command(file: Path, fmt: str | None, as_json: bool, console: Console, err_console: Console) -> bool:
    """``dataprep validate``: print the problems and stats; True when the file has no errors."""
    if fmt:
        Checker.for_format(fmt)  # a wrong --format is a usage error before any reading
    with Progress(SpinnerColumn(), TextColumn("validating {task.completed:,} lines"), console=err_console,
                  transient=True, disable=not err_console.is_terminal) as progress:
        task = progress.add_task("validate")
        report = validate_file(file, fmt, on_line=lambda: progress.advance(task))
    if as_json:
        console.file.write(orjson.dumps(report.to_dict()).decode("utf-8") + "\n")
    else:
        print_report(report, file, console)
    return report.ok


def print_report(report: Report, file: Path, console: Console) -> None:
    for title, problems in (("errors", report.errors), ("warnings", report.warnings)):
        if problems:
            console.print(problem_table(f"{len(problems):,} {title} in {file}", problems))
    stats = report.stats
    told = " (told from its first lines; --format overrides)" if stats.get("format_detected") else ""
    table = Table(title=f"{file} as {stats['format']}{told}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    tokens, cost = stats["tokens"], stats["training_cost"]
    rows = {"examples": stats["examples"], "examples with errors": stats["examples_with_errors"],
            "tokens (total)": tokens["total"], "tokens per example (mean / p95 / max)":
                f"{tokens.get('mean', 0)} / {tokens.get('p95', 0):g} / {tokens.get('max', 0)}",
            f"over the {stats['context_limit']:,}-token limit": stats["over_context_limit"]}
    if cost:
        rows.update({"epochs": f"{cost['epochs']} ({cost['epochs_from']})", "billed tokens": f"{cost['billed_tokens']:,}",
                     f"estimated cost at ${cost['price_per_million_tokens']:.2f}/1M": f"${cost['estimated_usd']:,.2f}"})
    for key, value in {**rows, **{f"warnings: {k}": v for k, v in stats["warnings_by_class"].items()}}.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
    verdict = Text("ok", style="green") + ": no errors" if report.ok else Text(f"{len(report.errors):,} errors", style="red")
    console.print(verdict + f" ({len(report.warnings):,} warnings)")


def problem_table(title: str, problems: list[Problem]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("line", "class", "message"):
        table.add_column(column, justify="right" if column == "line" else "left", overflow="fold")
    for problem in problems[:SHOWN_PROBLEMS]:
        table.add_row(str(problem.line), problem.cls, problem.message)
    rest = Counter(p.cls for p in problems[SHOWN_PROBLEMS:])
    for cls, count in rest.most_common():
        table.add_row("…", cls, f"{count:,} more (see --json for all)")
    return table


def _short(value: Any, limit: int = 60) -> str:
    """A value as JSON for a message, cut between tokens: half an email at the cut would pass the
    scrubbing a reason quoting it gets later (mine's reasons quote these messages)."""
    text = orjson.dumps(value).decode("utf-8")
    return text if len(text) <= limit else excerpt_of(text, limit - 1) + "…"
