"""How fast logs are read and mined, and how much memory that takes.

Generates support-bot logs (multi-turn conversations re-sent call by call, tool calls,
feedback, some PII) in each format asked for, then measures, each in a fresh subprocess:
the baseline (a loop that only ``json.loads`` every line of the same file), reading alone
(``read_inputs`` as a run reads: a big file in pieces on the engine's workers) and reading +
the mine stage with default options (what ``dataprep mine`` does: collapse, corrections,
filters, PII scrubbing, files written), each on one core (``DATAPREP_WORKERS=1``) and on every
core. Prints MB/s and records/s per format (wall clock, and MB per CPU-second, which holds on a
busy machine), the ratio to the baseline's MB/s (target
for read+mine on one core: >= 0.5) and the peak resident memory (``ru_maxrss``). On every core
the CPU time and peak are the main process's only (the pool's workers are not its children).

    python benchmarks/bench_mine.py                      # ~200 MB of OpenAI chat logs
    python benchmarks/bench_mine.py --mb 50 --formats openai-chat,anthropic-messages,records
    python benchmarks/bench_mine.py --huge               # 5 GB of OpenAI chat logs: baseline and read+mine, every core
    python benchmarks/bench_mine.py --mb 20 --phases     # also where read+mine spends one core, part by part
    python benchmarks/bench_mine.py --mb 50 --tools 12   # an agent's logs: a dozen tool definitions sent with every call
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

TOOLS = [
    {"type": "function", "function": {"name": "lookup_order", "description": "Find an order by its number.",
                                      "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}},
                                                     "required": ["order_id"]}}},
    {"type": "function", "function": {"name": "refund", "description": "Refund an order, fully or in part.",
                                      "parameters": {"type": "object", "properties": {
                                          "order_id": {"type": "string"}, "amount": {"type": "number"}}}}},
]
#: what an agent's other tools look like: a description and a few documented parameters each
TOOL_AREAS = ["invoices", "shipments", "returns", "warranty claims", "store stock", "loyalty points", "gift cards",
              "delivery slots", "product manuals", "price matches"]


def tool_definitions(count: int) -> list[dict[str, Any]]:
    """``count`` tool definitions, as an app sends them with every call: the two the conversations use,
    then others of the same shape."""
    extra = [{"type": "function", "function": {
        "name": f"search_{area.replace(' ', '_')}_{index}",
        "description": f"Search the customer's {area} in the back-office system and return the matching entries "
                       "as JSON, newest first. Call it before answering any question about them; never guess.",
        "parameters": {"type": "object", "properties": {
            field: {"type": "string", "description": f"Filter by {field.replace('_', ' ')}, exactly as the customer gave it."}
            for field in ("order_id", "email", "postcode", "date_from", "date_to")}, "required": ["order_id"]}}}
        for index, area in enumerate(TOOL_AREAS * (count // len(TOOL_AREAS) + 1))]
    return (TOOLS + extra)[:count]


SYSTEM = ("You are the support assistant for Larkfield Outdoor Gear. Be brief and friendly. Look orders up "
          "with lookup_order before answering questions about them; never promise refunds above the order "
          "total; escalate anything about safety recalls to a human agent. Our returns window is 30 days "
          "from delivery for unused items in their original packaging. ") * 2
QUESTIONS = [
    "Hi, where is my order {order}? It was supposed to arrive on Monday and the tracking page has not "
    "changed since {day}.",
    "I'd like to return the tent I bought last week, order {order}. It leaks at the seams. Can you send "
    "a label to {email}?",
    "My card was charged twice for order {order}. Please refund the duplicate, you can call me on {phone}.",
    "Do you ship to Canada? I'm moving there next month and want to order a new sleeping bag first.",
    "The zipper on my jacket broke after two trips. Is that covered by the warranty?",
]
FOLLOW_UPS = ["Thanks! And how long does the refund take to show up on my card?",
              "Can you also change the delivery address to my office?",
              "Great, one more thing: do you price-match other stores?",
              "OK. Could you email me the confirmation at {email}?"]
REPLIES = ["I'm sorry about the wait. I looked up order {order}: it left our warehouse on {day} and the "
           "carrier shows it in transit. It should arrive within two business days; I'll keep an eye on it.",
           "Of course. Refunds appear on your statement within 5 to 7 business days after we receive the "
           "return. You'll get an email as soon as it's processed.",
           "Happy to help with that. Our warranty covers manufacturing defects for two years from purchase, "
           "and a failed zipper qualifies. Send us a photo and we'll ship a replacement.",
           "Yes, we ship to Canada with duties prepaid. Delivery usually takes 5 to 8 business days."]


def fill(template: str, rng: random.Random) -> str:
    return template.format(order=f"LK-{rng.randrange(10**6, 10**7)}", day=f"2024-0{rng.randrange(1, 10)}-1{rng.randrange(10)}",
                           email=f"customer{rng.randrange(10**6)}@example.com",
                           phone=f"(415) 555-01{rng.randrange(10, 100)}")


def conversation(rng: random.Random) -> Iterator[dict[str, Any]]:
    """The calls of one conversation in OpenAI chat shape: each call re-sends the whole history."""
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": fill(rng.choice(QUESTIONS), rng)}]
    for turn in range(rng.randrange(1, 5)):
        if rng.random() < 0.4:
            call_id = f"call_{rng.getrandbits(64):016x}"
            reply = {"role": "assistant", "content": None, "tool_calls": [{"id": call_id, "type": "function", "function": {
                "name": "lookup_order", "arguments": orjson.dumps({"order_id": f"LK-{rng.randrange(10**6, 10**7)}"}).decode()}}]}
            yield {"messages": list(messages), "reply": reply, "finish_reason": "tool_calls"}
            messages += [reply, {"role": "tool", "tool_call_id": call_id, "content": orjson.dumps(
                {"status": "in_transit", "carrier": "UPS", "eta": "2024-06-12", "items": 2}).decode()}]
        reply = {"role": "assistant", "content": fill(rng.choice(REPLIES), rng)}
        yield {"messages": list(messages), "reply": reply, "finish_reason": "stop"}
        messages += [reply, {"role": "user", "content": fill(rng.choice(FOLLOW_UPS), rng)}]


def openai_chat_line(call: dict[str, Any], rng: random.Random, number: int, tools: list[dict[str, Any]]) -> dict[str, Any]:
    created = 1717000000 + number * 7
    return {"timestamp": created, "request": {"model": "gpt-4o-2024-08-06", "messages": call["messages"], "tools": tools},
            "response": {"id": f"chatcmpl-{number:012d}", "object": "chat.completion", "created": created,
                         "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_2d872ebb0c",
                         "choices": [{"index": 0, "message": {**call["reply"], "refusal": None}, "logprobs": None,
                                      "finish_reason": call["finish_reason"]}],
                         "usage": {"prompt_tokens": 900 + number % 500, "completion_tokens": 80, "total_tokens": 1000}},
            **({"feedback": {"thumbs": rng.choice(["up", "down"])}} if rng.random() < 0.1 else {})}


def anthropic_line(call: dict[str, Any], rng: random.Random, number: int, tools: list[dict[str, Any]]) -> dict[str, Any]:
    def blocks(message: dict[str, Any]) -> Any:
        if message.get("tool_calls"):
            function = message["tool_calls"][0]["function"]
            return [{"type": "tool_use", "id": message["tool_calls"][0]["id"], "name": function["name"],
                     "input": orjson.loads(function["arguments"])}]
        return message["content"]

    messages = []
    for message in call["messages"][1:]:
        if message["role"] == "tool":
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": message["tool_call_id"], "content": message["content"]}]})
        else:
            messages.append({"role": message["role"], "content": blocks(message)})
    reply = blocks(call["reply"])
    return {"request": {"model": "claude-sonnet-4-5", "max_tokens": 1024, "system": SYSTEM, "messages": messages,
                        "tools": [{"name": t["function"]["name"], "description": t["function"]["description"],
                                   "input_schema": t["function"]["parameters"]} for t in tools]},
            "response": {"id": f"msg_{number:020d}", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                         "content": reply if isinstance(reply, list) else [{"type": "text", "text": reply}],
                         "stop_reason": "tool_use" if isinstance(reply, list) else "end_turn", "stop_sequence": None,
                         "usage": {"input_tokens": 900, "output_tokens": 80}}}


def records_line(call: dict[str, Any], rng: random.Random, number: int, tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {"messages": [*call["messages"], call["reply"]], "source": {"model": "gpt-4o", "finish_reason": call["finish_reason"]}}


GENERATORS: dict[str, Callable[[dict[str, Any], random.Random, int, list[dict[str, Any]]], dict[str, Any]]] = {
    "openai-chat": openai_chat_line, "anthropic-messages": anthropic_line, "records": records_line}


def generate(fmt: str, path: Path, megabytes: float, seed: int = 0, tools: int = len(TOOLS)) -> None:
    rng, limit, number, definitions = random.Random(seed), int(megabytes * 1e6), 0, tool_definitions(tools)
    with open(path, "wb", buffering=1 << 22) as handle:
        while handle.tell() < limit:
            for call in conversation(rng):
                handle.write(orjson.dumps(GENERATORS[fmt](call, rng, number, definitions)) + b"\n")
                number += 1


# (label, what the child measures, DATAPREP_WORKERS: "" is every core)
RUNS = [("baseline: json.loads/line", "json", "1"), ("read, 1 core", "read", "1"),
        (f"read, {os.cpu_count()} cores", "read", ""), ("read+mine, 1 core", "mine", "1"),
        (f"read+mine, {os.cpu_count()} cores", "mine", "")]


# -- one measurement, in its own process so ru_maxrss is its own ------------------------------------
def measure(mode: str, fmt: str, path: Path) -> dict[str, Any]:
    from dataprep.recipe import InputSpec

    from dataprep.engine import LocalEngine
    from dataprep.formats import read_inputs, reader_names
    from dataprep.pipeline import get_stage
    from dataprep.runner import run_single_stage

    inputs = [InputSpec(path=str(path), format=fmt)]
    reader_names()  # imports done before the clock starts
    mine = get_stage("mine")(**({"pii": {"enabled": False}} if mode == "mine-no-pii" else {}))
    if mode == "mine-found":
        find_everything_first(inputs)
    started, cpu_started = time.perf_counter(), cpu_seconds()
    if mode == "json":
        with open(path, encoding="utf-8") as handle:
            records = sum(1 for line in handle if json.loads(line))
    elif mode == "read":
        records = sum(1 for _ in read_inputs(inputs, engine=LocalEngine()))  # as a run reads: in pieces on every core
    else:
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            out = Path(tmp) / "mined.jsonl"
            outcome = run_single_stage(mine, inputs, out, {
                "rejected": Path(tmp) / "rejected.jsonl", "duplicates": Path(tmp) / "duplicates.jsonl"})
            records = outcome.results[0].consumed
    return {"seconds": time.perf_counter() - started, "cpu_seconds": cpu_seconds() - cpu_started, "records": records,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def find_everything_first(inputs: list[Any]) -> None:
    """Scrub every record once with a find cache that forgets nothing, so the run measured after finds
    no text's PII for the first time: what is left of scrubbing is walking the fields and replacing."""
    from functools import lru_cache

    from dataprep.engine import InProcessEngine
    from dataprep.formats import read_inputs
    from dataprep.record import Record, Serialized
    from dataprep.stages.mine import scrubber_for

    scrubber = scrubber_for({})  # the mine stage's, with its default options
    scrubber._find_cached = lru_cache(maxsize=None)(scrubber._find)
    for item in read_inputs(inputs, engine=InProcessEngine()):
        record = item.record() if isinstance(item, Serialized) else item
        if isinstance(record, Record):
            scrubber.scrub_id(record.id)
            scrubber.scrub_record(record)


#: the runs that tell where mining's time goes on one core, each in its own process: the baseline, reading,
#: mining with PII off, mining after every text's PII was found once, mining
PHASE_MODES = ("json", "read", "mine-no-pii", "mine-found", "mine")


def print_phases(fmt: str, path: Path) -> None:
    """CPU seconds of each run on one core, and what the differences between them cost per record."""
    cpu = {mode: run_child(mode, fmt, path, "1") for mode in PHASE_MODES}
    records = cpu["mine"]["records"]
    parts = [("json.loads per line (the baseline)", cpu["json"]["cpu_seconds"]),
             ("read: parse the log, make records", cpu["read"]["cpu_seconds"]),
             ("mine without PII: collapse, filters, write", cpu["mine-no-pii"]["cpu_seconds"] - cpu["read"]["cpu_seconds"]),
             ("PII: walk every field, replace what was found",
              cpu["mine-found"]["cpu_seconds"] - cpu["mine-no-pii"]["cpu_seconds"]),
             ("PII: find it in each text the first time", cpu["mine"]["cpu_seconds"] - cpu["mine-found"]["cpu_seconds"])]
    total = cpu["mine"]["cpu_seconds"]
    print(f"\nwhere read + mine spends one core ({records:,} records of {fmt}; each run in its own process, "
          "the parts are differences between runs)")
    print(f"{'part':<48} {'cpu s':>7} {'us/record':>10} {'of read+mine':>13}")
    for label, seconds in parts:
        print(f"{label:<48} {seconds:>7.2f} {seconds / records * 1e6:>10.0f} {seconds / total:>13.1%}")


def cpu_seconds() -> float:
    """CPU time of this process: what "on one core" means, whatever else the machine is running."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_child(mode: str, fmt: str, path: Path, workers: str = "") -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", mode, "--format", fmt, "--path", str(path)],
                          capture_output=True, text=True, check=True, env={**os.environ, "DATAPREP_WORKERS": workers})
    return orjson.loads(done.stdout.strip().splitlines()[-1])


def existing_readers() -> set[str]:
    from dataprep.formats import reader_names

    return set(reader_names())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=200, help="Size of each generated log file in MB.")
    parser.add_argument("--formats", default="openai-chat", help=f"Comma-separated, from: {', '.join(GENERATORS)}.")
    parser.add_argument("--huge", action="store_true",
                        help="5 GB of OpenAI chat logs: baseline and read+mine on every core (slow).")
    parser.add_argument("--dir", type=Path, default=None, help="Where to write the generated logs (default: a temp dir).")
    parser.add_argument("--tools", type=int, default=len(TOOLS),
                        help="Tool definitions sent with every call (an agent's dozen or more; default: the two used).")
    parser.add_argument("--phases", action="store_true",
                        help="Also print where read + mine spends one core: reading, the mine stage without PII, "
                             "walking the fields to scrub them, and finding PII in each new text.")
    parser.add_argument("--child", choices=PHASE_MODES, help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(orjson.dumps(measure(args.child, args.format, args.path)).decode())
        return
    formats = ["openai-chat"] if args.huge else args.formats.split(",")
    rows = RUNS[4:] if args.huge else RUNS[1:]
    megabytes = 5000 if args.huge else args.mb
    missing = [fmt for fmt in formats if fmt not in GENERATORS or fmt not in existing_readers()]
    if missing:
        sys.exit(f"no generator or no reader for: {', '.join(missing)}")
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"{'format':<20} {'what':<26} {'MB':>6} {'records':>9} {'seconds':>8} {'MB/s':>7} {'records/s':>10} "
              f"{'cpu s':>7} {'MB/cpu-s':>9} {'x json':>7} {'peak MB':>8}")
        for fmt in formats:
            path = Path(tmp) / f"{fmt}.jsonl"
            generate(fmt, path, megabytes, tools=args.tools)
            size = path.stat().st_size / 1e6
            baseline = None
            for label, mode, workers in [RUNS[0], *rows]:
                result = run_child(mode, fmt, path, workers)
                speed = size / result["seconds"]
                baseline = baseline or speed
                print(f"{fmt:<20} {label:<26} {size:>6.0f} {result['records']:>9} {result['seconds']:>8.1f} "
                      f"{speed:>7.1f} {result['records'] / result['seconds']:>10,.0f} {result['cpu_seconds']:>7.1f} "
                      f"{size / result['cpu_seconds']:>9.1f} {speed / baseline:>7.3f} {result['peak_mb']:>8.0f}",
                      flush=True)
            if args.phases:
                print_phases(fmt, path)
            path.unlink()


if __name__ == "__main__":
    main()
