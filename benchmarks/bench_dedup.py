"""Near-duplicate detection: speed, peak memory and quality of dataprep's engine against
the plain datasketch loop, datasketch's ``MinHash.bulk`` and rensa (a Rust MinHash).

The corpus is built from real support exchanges (``../shared/corpora/bitext-customer-support``,
read in place, never copied): each base record is a customer question plus ~100 words of
agent sentences drawn at random, and a share of the bases get one planted variant with some
words replaced, at a Jaccard similarity (word 3-grams) measured exactly. Quality is measured
against those planted pairs: recall of planted pairs at or above the threshold, precision of
every pair a method reports (its true Jaccard computed exactly).

Each method runs in its own process (the same corpus, read from one file) so its peak
memory is its own; the time covers everything from texts to similar pairs (shingling,
sketching, indexing, querying, checking). "dataprep stage" is the whole ``dataprep dedup``
on a record JSONL file of the same texts (reading, three passes, writing both outputs).

Judgment cases (``--cases``, run first by default): groups of records whose pairs are labeled
``duplicate`` (same example: one-word edits, reordered sentences, punctuation and whitespace,
agreeing paraphrased replies), ``conflict`` (same input, replies that disagree on an amount, a
date, a decision or a tool call) or ``distinct`` (same question over different tool results,
lookalike questions). Every group's records go through one ``Dedup()`` run together, as a
user's logs would (records of different groups are distinct by construction). A pair (a, b)
is judged, from the stage's two outputs:

- **conflict** when the records they stand for (themselves if kept, else their keeper) are two
  different kept records tagged ``conflict`` with the same ``groups.conflict`` id: a copy of
  one answer set aside for its keeper still counts as disagreeing with the other answers;
- **duplicate** otherwise, when one of the two was set aside as a duplicate whose keeper is
  the other or sits in the other's cluster;
- **distinct** otherwise.

Per kind the table gives duplicate recall and precision, conflict recall and precision (over
the labeled pairs) and how many records of different groups were wrongly merged. The cases
are synthetic, built from real support exchanges; ``--labeled FILE`` scores a hand-labeled
set instead (one group a line: ``{"group", "kind", "records": [{"key", "messages"}],
"pairs": [{"a", "b", "label"}]}``).

    python benchmarks/bench_dedup.py                  # judgment cases, then 100,000 records, every method
    python benchmarks/bench_dedup.py --cases          # judgment cases only
    python benchmarks/bench_dedup.py --labeled benchmarks/labeled/dedup/dev.jsonl
    python benchmarks/bench_dedup.py --labeled benchmarks/labeled/dedup/holdout21.jsonl --rules   # without the answer model
    python benchmarks/bench_dedup.py --labeled benchmarks/labeled/dedup/holdout{54..60}.jsonl --pooled \
        --answer-model-threshold 0.7                 # the sets the model never saw, as one, its threshold raised
    python benchmarks/bench_dedup.py --million        # dataprep alone on 1,000,000 records
    OPENAI_API_KEY=... python benchmarks/bench_dedup.py --labeled benchmarks/labeled/dedup/holdout2[12].jsonl \
        --judge-model gpt-4.1-mini                    # the labeled sets with the stage's LLM judge (scope all)

With ``--judge-model``, the stage runs with its LLM judge (``--judge-scope``, default ``all``: the
pairs the rules split are asked about too) on the labeled sets or the judgment cases, and prints
what the judge was asked, the calls sent, the answers taken from the cache (``--cache``: a rerun
sends nothing) and their cost beside the table. The labeled examples are invented ones, written
from a brief, so they are sent as they are (``allow_unscrubbed``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasketch
import numpy as np
import orjson
import rensa

from _common import add_judge_arguments, bitext_rows, judge_cost, judge_option
from dataprep.minhash import Params, find_groups
from dataprep.pii import PLACEHOLDER
from dataprep.recipe import InputSpec
from dataprep.runner import run_single_stage
from dataprep.stages.dedup import Dedup

REPO = Path(__file__).resolve().parents[1]
WORD = re.compile(r"\w+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
NUM_PERM = 128
PLANTED_SHARE = 0.3  # bases that get a variant
BODY_WORDS = 90


# -- corpus -------------------------------------------------------------------------------------------------
def shingles(text: str) -> set[str]:
    """Word 3-grams of lowercased words: the plain way to shingle, and the ground truth."""
    words = WORD.findall(text.lower())
    return {" ".join(words[i:i + 3]) for i in range(max(1, len(words) - 2))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass
class Corpus:
    texts: list[str]
    planted: dict[tuple[int, int], float]  # (base, variant) -> true Jaccard


def build_corpus(size: int, seed: int) -> Corpus:
    rng = random.Random(seed)
    rows = bitext_rows()
    questions = [row["instruction"] for row in rows]
    sentences = sorted({s.strip() for row in rows for s in SENTENCE_END.split(row["response"]) if len(s.split()) >= 4})
    vocabulary = sorted({w for s in sentences for w in WORD.findall(s.lower())})
    texts: list[str] = []
    planted: dict[tuple[int, int], float] = {}
    while len(texts) < size:
        base = _base_text(rng, questions, sentences)
        texts.append(base)
        if rng.random() < PLANTED_SHARE and len(texts) < size:
            texts.append(_variant(rng, base, rng.uniform(0.5, 1.0), vocabulary))
            planted[(len(texts) - 2, len(texts) - 1)] = jaccard(shingles(base), shingles(texts[-1]))
    return Corpus(texts, planted)


def _base_text(rng: random.Random, questions: list[str], sentences: list[str]) -> str:
    body: list[str] = []
    while sum(len(s.split()) for s in body) < BODY_WORDS:
        body.append(rng.choice(sentences))
    return rng.choice(questions) + "\n" + " ".join(body)


def _variant(rng: random.Random, text: str, target: float, vocabulary: list[str]) -> str:
    """Replace enough words for roughly ``target`` Jaccard: each replaced word changes ~3 shingles."""
    words = text.split(" ")
    changes = round(len(words) * (1 - target) / (3 * (1 + target)))
    for position in rng.sample(range(len(words)), min(changes, len(words))):
        words[position] = rng.choice(vocabulary)
    variant = " ".join(words)
    return variant.upper() if changes == 0 and rng.random() < 0.5 else variant  # some exact copies differ in case


# -- methods (each returns the similar pairs it reports, i < j) -----------------------------------------------
def datasketch_loop(texts: list[str], threshold: float) -> np.ndarray:
    lsh, sketches = datasketch.MinHashLSH(threshold=threshold, num_perm=NUM_PERM), []
    for index, text in enumerate(texts):
        minhash = datasketch.MinHash(num_perm=NUM_PERM)
        for shingle in shingles(text):
            minhash.update(shingle.encode("utf-8"))
        lsh.insert(index, minhash)
        sketches.append(minhash)
    return _query_all(lsh, sketches, threshold)


def datasketch_bulk(texts: list[str], threshold: float) -> np.ndarray:
    sketches = datasketch.MinHash.bulk(([s.encode("utf-8") for s in shingles(t)] for t in texts), num_perm=NUM_PERM)
    lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for index, minhash in enumerate(sketches):
            session.insert(index, minhash)
    return _query_all(lsh, sketches, threshold)


def rensa_loop(texts: list[str], threshold: float) -> np.ndarray:
    lsh, sketches = rensa.RMinHashLSH(threshold=threshold, num_perm=NUM_PERM, num_bands=16), []
    for index, text in enumerate(texts):
        minhash = rensa.RMinHash(num_perm=NUM_PERM, seed=1)
        minhash.update(list(shingles(text)))
        lsh.insert(index, minhash)
        sketches.append(minhash)
    return _query_all(lsh, sketches, threshold)


def _query_all(lsh, sketches, threshold: float) -> np.ndarray:
    """Candidates from the index, kept when the MinHash estimate reaches the threshold."""
    pairs = [(i, j) for i, minhash in enumerate(sketches) for j in lsh.query(minhash)
             if i < j and minhash.jaccard(sketches[j]) >= threshold]
    return np.array(sorted(pairs), np.int64).reshape(-1, 2)


def dataprep_engine(texts: list[str], threshold: float) -> np.ndarray:
    labels = find_groups(texts, Params(threshold=threshold, num_perm=NUM_PERM)).labels
    return _cluster_pairs(labels)


def dataprep_stage(records: Path, threshold: float) -> Path:
    kept = records.with_name("kept.jsonl")
    run_single_stage(Dedup(threshold=threshold), [InputSpec(str(records), "records")], kept,
                     {"duplicates": kept.with_name("duplicates.jsonl"), "rejected": kept.with_name("rejected.jsonl")})
    return kept


def stage_pairs(kept: Path) -> np.ndarray:
    """Pairs of records the stage put in one cluster, from both of its outputs (ids are r<index>)."""
    clusters: dict[str, int] = {}
    labels = np.zeros(sum(1 for _ in open(kept, "rb")) + sum(1 for _ in open(kept.with_name("duplicates.jsonl"), "rb")),
                      np.int64)
    for path in (kept, kept.with_name("duplicates.jsonl")):
        with open(path, "rb") as handle:
            for line in handle:
                record = orjson.loads(line)
                labels[int(record["id"][1:])] = clusters.setdefault(record["groups"]["cluster"], len(clusters))
    return _cluster_pairs(labels)


def _cluster_pairs(labels: np.ndarray) -> np.ndarray:
    """Every pair of texts that share a cluster: what dedup treats as duplicates."""
    order = np.argsort(labels, kind="stable")
    _, starts, sizes = np.unique(labels[order], return_index=True, return_counts=True)
    pairs = [pair for start, size in zip(starts[sizes > 1], sizes[sizes > 1])
             for pair in itertools.combinations(sorted(order[start:start + size]), 2)]
    return np.array(pairs, np.int64).reshape(-1, 2)


METHODS = {"datasketch loop": datasketch_loop, "datasketch bulk": datasketch_bulk, "rensa": rensa_loop,
           "dataprep": dataprep_engine, "dataprep stage": dataprep_stage}
STAGE = "dataprep stage"


# -- measuring -------------------------------------------------------------------------------------------------
def child(method: str, corpus_file: Path, threshold: float, pairs_file: Path) -> None:
    """Run one method on the corpus; print wall and CPU seconds and peak memory as JSON."""
    if method == STAGE:
        source = corpus_file.with_suffix(".records.jsonl")
    else:
        with open(corpus_file, "rb") as handle:
            source = [orjson.loads(line) for line in handle]
    loaded = _peak_mb()
    cpu_before, started = _cpu_seconds(), time.perf_counter()
    result = METHODS[method](source, threshold)
    seconds, cpu, peak = time.perf_counter() - started, _cpu_seconds() - cpu_before, _peak_mb()
    np.save(pairs_file, stage_pairs(result) if method == STAGE else result)
    print(orjson.dumps({"seconds": seconds, "cpu": cpu, "peak_mb": peak, "texts_mb": loaded}).decode())


def _peak_mb() -> float:
    """This process's peak resident memory. (Not ru_maxrss: Linux carries it over from the
    parent across fork and exec, so a child would report the parent's corpus as its own.)"""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(method: str, corpus_file: Path, threshold: float) -> tuple[dict, np.ndarray]:
    pairs_file = corpus_file.with_suffix(".pairs.npy")
    result = subprocess.run([sys.executable, __file__, "--child", method, "--corpus-file", str(corpus_file),
                             "--threshold", str(threshold), "--pairs-file", str(pairs_file)],
                            capture_output=True, text=True, check=True)
    return orjson.loads(result.stdout.strip().splitlines()[-1]), np.load(pairs_file)


def quality(corpus: Corpus, pairs: np.ndarray, threshold: float,
            shingle_cache: dict[int, set[str]]) -> tuple[float, float]:
    """(precision, recall): precision over every reported pair, recall over planted pairs >= threshold."""
    def truth(i: int, j: int) -> float:
        if (i, j) in corpus.planted:
            return corpus.planted[(i, j)]
        for k in (i, j):
            if k not in shingle_cache:
                shingle_cache[k] = shingles(corpus.texts[k])
        return jaccard(shingle_cache[i], shingle_cache[j])

    reported = {(int(i), int(j)) for i, j in pairs}
    correct = sum(truth(i, j) >= threshold for i, j in reported)
    positives = [pair for pair, similarity in corpus.planted.items() if similarity >= threshold]
    found = sum(pair in reported for pair in positives)
    return (correct / len(reported) if reported else 1.0), (found / len(positives) if positives else 1.0)


# -- judgment cases -------------------------------------------------------------------------------------------
KINDS = ("one_word_edit", "sentence_reorder", "punctuation_whitespace", "agreeing_paraphrase", "disagreeing_reply",
         "tool_context", "distinct_lookalike", "shared_context")
CASES_PER_KIND = 40


def chat(question: str, reply: str | dict) -> list[dict]:
    target = reply if isinstance(reply, dict) else {"role": "assistant", "content": reply}
    return [{"role": "user", "content": question}, target]


def _group(kind: str, number: int, records: list[list[dict]], label: str) -> dict:
    """A group of records, every pair of them carrying ``label``."""
    keys = [f"{kind}-{number}-{i}" for i in range(len(records))]
    return {"group": f"{kind}-{number}", "kind": kind,
            "records": [{"key": key, "messages": messages} for key, messages in zip(keys, records)],
            "pairs": [{"a": a, "b": b, "label": label} for a, b in itertools.combinations(keys, 2)]}


def _edit_one_word(rng: random.Random, text: str, vocabulary: list[str]) -> str:
    words = text.split(" ")
    words[rng.randrange(len(words))] = rng.choice(vocabulary)
    return " ".join(words)


def _reorder(rng: random.Random, text: str) -> str:
    sentences = SENTENCE_END.split(text.strip())
    if len(sentences) > 1:
        first, *rest = sentences
        rng.shuffle(rest)
        sentences = [*rest, first] if rest == sentences[1:] else [first, *rest]
    return " ".join(sentences)


def _punctuate(rng: random.Random, text: str) -> str:
    text = re.sub(r"[?.!,]", lambda m: rng.choice(["", m.group(), m.group() * 2]), text)
    return "  ".join(text.split(" ")).upper() if rng.random() < 0.5 else f"  {text.lower()}\n"


ORDER_NUMBER = re.compile(r"\b\d{6,}\b")
AGREEMENTS = (  # one assertion in two wordings
    ("The fee for this is $4.99.", "It costs 4.99 USD."),
    ("It will be done by May 4.", "Expect it on 4 May."),
    ("Yes, you are eligible for this.", "Good news: you qualify."),
    ("Your request has been approved.", "We approved your request."),
    ("", ""),
)
DISAGREEMENTS = (  # (what the first reply adds, what the disagreeing one adds instead)
    ("The fee for this is $4.99.", "The fee for this is $9.49."),
    ("It will be done by May 4.", "It will be done by June 14."),
    ("Yes, you are eligible for this.", "No, you are not eligible for this."),
    ("Your request has been approved.", "Your request has been denied."),
)


def _tool_reply(name: str, arguments: dict) -> dict:
    function = {"name": name, "arguments": orjson.dumps(arguments).decode()}
    call = {"id": "call_1", "type": "function", "function": function}
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def _lookup(question: str, result: dict, reply: str) -> list[dict]:
    call = _tool_reply("lookup_order", {"order": "<ORDER_1>"})
    return [{"role": "user", "content": question}, call,
            {"role": "tool", "tool_call_id": "call_1", "content": orjson.dumps(result).decode()},
            {"role": "assistant", "content": reply}]


def build_cases(seed: int) -> list[dict]:
    """Groups of every kind, from real support questions and replies."""
    rng = random.Random(seed)
    # one row per question: the corpus repeats some word for word, and groups must differ
    rows = list({" ".join(row["instruction"].lower().split()): row for row in bitext_rows()}.values())
    by_intent: dict[str, list[dict]] = {}
    for row in rows:
        by_intent.setdefault(row["intent"], []).append(row)
    vocabulary = sorted({w for row in rows[:2000] for w in WORD.findall(row["response"].lower())})
    groups = []
    context_rng = random.Random(f"{seed}-shared-context")  # its own draws: the other kinds' groups stay as they were
    for number in range(CASES_PER_KIND):
        # each group its own exchange: records of different groups must be different examples
        picked = [(r["instruction"], r["response"], r["intent"]) for r in rng.sample(rows, 5)]
        (question, reply, intent), *others = picked
        groups.append(_group("one_word_edit", number, [chat(question, reply),
                                                       chat(question, _edit_one_word(rng, reply, vocabulary))],
                             "duplicate"))
        question, reply, intent = others.pop()
        groups.append(_group("sentence_reorder", number, [chat(question, reply), chat(question, _reorder(rng, reply))],
                             "duplicate"))
        question, reply, intent = others.pop()
        groups.append(_group("punctuation_whitespace", number,
                             [chat(question, reply), chat(_punctuate(rng, question), reply)], "duplicate"))
        question, reply, intent = others.pop()
        # another sampled wording of the same answer; the corpus fills in order numbers at random,
        # so they are put back to the template's placeholder on both sides
        other = ORDER_NUMBER.sub("{{Order Number}}", rng.choice(by_intent[intent])["response"])
        said, reworded = AGREEMENTS[number % len(AGREEMENTS)]
        records = [chat(question, f"{said} {ORDER_NUMBER.sub('{{Order Number}}', reply)}".strip()),
                   chat(question, f"{reworded} {other}".strip())]
        groups.append(_group("agreeing_paraphrase", number, records, "duplicate"))
        groups.append(_disagreeing(rng, number, *others.pop()[:2]))
        groups.append(_tool_context(rng, number))
        groups.append(_lookalike(rng, number, by_intent))
        groups.append(_shared_context(context_rng, number, by_intent))
    return groups


def _disagreeing(rng: random.Random, number: int, question: str, reply: str) -> dict:
    if number % 5 == 4:
        first = _tool_reply("cancel_order", {"order": "<ORDER_1>", "refund": True})
        second = _tool_reply(*rng.choice([("cancel_order", {"order": "<ORDER_1>", "refund": False}),
                                          ("lookup_order", {"order": "<ORDER_1>"})]))
        return _group("disagreeing_reply", number, [chat(question, first), chat(question, second)], "conflict")
    said, instead = DISAGREEMENTS[number % len(DISAGREEMENTS)]
    records = [chat(question, f"{said} {reply}"), chat(question, f"{instead} {reply}")]
    group = _group("disagreeing_reply", number, records, "conflict")
    if number % 2:  # production logs hold copies of each answer too: they must collapse, not all go to review
        copy = {"key": f"{group['group']}-copy", "messages": chat(question, _punctuate(rng, f"{said} {reply}"))}
        first, second = (record["key"] for record in group["records"])
        group["records"].append(copy)
        group["pairs"] += [{"a": first, "b": copy["key"], "label": "duplicate"},
                           {"a": second, "b": copy["key"], "label": "conflict"}]
    return group


def _tool_context(rng: random.Random, number: int) -> dict:
    """One question, looked up for different orders: different examples however alike they read."""
    question = rng.choice(["Can you check order <ORDER_1>?", "Where is my order <ORDER_1>?",
                           "what's the status of <ORDER_1>"])
    records = []
    statuses = rng.sample(["shipped", "processing", "delivered", "cancelled"], 2)
    items = rng.sample(["trail boots", "rain jacket", "tent", "sleeping bag", "headlamp"], 2)
    for status, item, day in zip(statuses, items, rng.sample(range(1, 29), 2)):
        total = f"${rng.randint(20, 400)}.{rng.randint(0, 99):02d}"  # no two lookups alike across groups
        records.append(_lookup(question, {"status": status, "item": item, "total": total, "eta": f"2025-05-{day:02d}"},
                               f"Your {item} order is {status}; expected date May {day}."))
    return _group("tool_context", number, records, "distinct")


def _shared_context(rng: random.Random, number: int, by_intent: dict[str, list[dict]]) -> dict:
    """Passages pasted before the question, as a retrieval app sends them: two questions of other
    intents over one passage (distinct), and the first asked again with its punctuation changed
    (a duplicate of the first)."""
    context = " ".join(row["response"] for row in (rng.choice(rows) for rows in rng.sample(list(by_intent.values()), 2)))
    (first, first_reply), (second, second_reply) = [(row["instruction"], row["response"]) for row in
                                                    (rng.choice(rows) for rows in rng.sample(list(by_intent.values()), 2))]
    records = [chat(f"{context}\n\nQuestion: {question}", reply)
               for question, reply in ((first, first_reply), (second, second_reply), (_punctuate(rng, first), first_reply))]
    group = _group("shared_context", number, records, "distinct")
    group["pairs"][1]["label"] = "duplicate"  # the first and its copy
    return group


def _lookalike(rng: random.Random, number: int, by_intent: dict[str, list[dict]]) -> dict:
    """Questions of two different intents that share most of their words."""
    first, second = rng.sample([("cancel_order", "cancel my order"), ("change_order", "change my order"),
                                ("track_order", "track my order"), ("track_refund", "track my refund"),
                                ("get_refund", "get a refund")], 2)
    when = f"from {rng.choice(['March', 'April', 'May', 'June'])} {rng.randint(1, 28)} ({rng.randint(2, 9)} items)"
    records = [chat(f"can you help me {phrase} {when} please", rng.choice(by_intent[intent])["response"])
               for intent, phrase in (first, second)]
    return _group("distinct_lookalike", number, records, "distinct")


def score_cases(groups: list[dict], options: dict, cache: Path | None = None, runs: list[list[dict]] | None = None
                ) -> tuple[dict[str, dict[str, float]], dict[str, Any], dict[str, tuple[int, int]]]:
    """Run every group's records through one dedup with ``options`` (or each of ``runs``, the groups
    split so: labeled sets pooled, each run on its own as when scored alone); score each kind's
    labeled pairs. Returns the scores, the stage's stats and, for the sets whose conflicts say what
    differs, the conflicts found and labeled of each kind of difference."""
    outcome, stats = {}, []
    for part in runs or [groups]:
        part_outcome, part_stats = _dedup_outcome(part, options, cache)
        outcome.update(part_outcome)
        stats.append(part_stats)
    group_of = {_record_id(group, record["key"]): group["group"] for group in groups for record in group["records"]}
    numbers = {_record_id(g, r["key"]): _reply_numbers(r["messages"]) for g in groups for r in g["records"]}
    scores = {}
    for kind in dict.fromkeys(group["kind"] for group in groups):
        labeled = [(g, p) for g in groups if g["kind"] == kind for p in g["pairs"]]
        pairs = [(p["label"], _predicted(outcome, _record_id(g, p["a"]), _record_id(g, p["b"]))) for g, p in labeled]
        differ = [numbers[_record_id(g, p["a"])] != numbers[_record_id(g, p["b"])] for g, p in labeled]
        members = [_record_id(g, r["key"]) for g in groups if g["kind"] == kind for r in g["records"]]
        scores[kind] = {**_rates(pairs), "pairs": len(pairs),
                        "conflict recall, numbers differ": _conflict_recall(pairs, differ, True),
                        "conflict recall, same numbers": _conflict_recall(pairs, differ, False),
                        "merged_across": _merged_across(outcome, members, group_of)}
    return scores, _summed(stats), _found_by_difference(groups, outcome)


def _dedup_outcome(groups: list[dict], options: dict, cache: Path | None) -> tuple[dict[str, dict], dict[str, Any]]:
    """Every record of ``groups`` as one dedup run leaves it (kept or set aside), by id, and the run's stats."""
    with tempfile.TemporaryDirectory() as folder:
        source, kept_path = Path(folder) / "in.jsonl", Path(folder) / "kept.jsonl"
        with open(source, "wb") as handle:
            for group in groups:
                for record in group["records"]:
                    record_id = _record_id(group, record["key"])
                    handle.write(orjson.dumps({"id": record_id, "messages": record["messages"]}) + b"\n")
        done = run_single_stage(Dedup(**options), [InputSpec(str(source), "records")], kept_path,
                                {"duplicates": kept_path.with_name("duplicates.jsonl"),
                                 "rejected": kept_path.with_name("rejected.jsonl")}, cache_dir=cache)
        outcome = {r["id"]: r for place in ("out", "duplicates") if place in done.paths  # a side file only when used
                   for r in map(orjson.loads, done.paths[place].read_bytes().splitlines())}
    return outcome, done.results[1].stats


def _summed(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs' stats as one, for what the report reads of them: the judge's counts added up."""
    total = dict(stats[0])
    for one in stats[1:]:
        for key in ("judge_asked", "judge_split"):
            if key in one:
                total[key] += one[key]
        if "judge_calls" in one:
            total["judge_calls"] = {name: value + one["judge_calls"][name] if isinstance(value, (int, float)) else value
                                    for name, value in total["judge_calls"].items()}
    return total


#: what a labeled conflict's replies differ in (``categories``, labeled by reading the pair): the
#: issue asks a conflict rate near one where an amount, a date, a yes or no or a tool call changed
DIFFERENCES = ("amount", "date_time", "yes_no", "tool_call", "other")


def _found_by_difference(groups: list[dict], outcome: dict[str, dict]) -> dict[str, tuple[int, int]]:
    """(conflicts found, conflicts labeled) for each kind of difference; a pair of several counts in each."""
    found: dict[str, list[int]] = {difference: [0, 0] for difference in DIFFERENCES}
    for group in groups:
        for pair in group["pairs"]:
            if pair["label"] != "conflict" or not pair.get("categories"):
                continue
            hit = _predicted(outcome, _record_id(group, pair["a"]), _record_id(group, pair["b"])) == "conflict"
            for difference in pair["categories"]:
                found.setdefault(difference, [0, 0])[0] += hit
                found[difference][1] += 1
    return {difference: (hits, total) for difference, (hits, total) in found.items() if total}


def _reply_numbers(messages: list[dict]) -> frozenset[str]:
    """The numbers a conversation's last reply writes, placeholders aside."""
    return frozenset(re.findall(r"\d+", PLACEHOLDER.sub("", str(messages[-1].get("content") or ""))))


def _conflict_recall(pairs: list[tuple[str, str]], differ: list[bool], numbers_differ: bool) -> float:
    """Conflict recall over the labeled conflicts whose replies write other numbers (or the same ones)."""
    found = [guess == "conflict" for (truth, guess), d in zip(pairs, differ) if truth == "conflict" and d == numbers_differ]
    return sum(found) / len(found) if found else float("nan")


def _record_id(group: dict, key: str) -> str:
    """Keys are unique within a group only."""
    return f"{group['group']}/{key}"


def _predicted(outcome: dict[str, dict], a: str, b: str) -> str:
    stands_for = [(outcome[k].get("disposition") or {}).get("keeper_id", k) for k in (a, b)]
    conflict = [outcome[k]["groups"].get("conflict") if k in outcome else None for k in stands_for]
    if stands_for[0] != stands_for[1] and conflict[0] and conflict[0] == conflict[1]:
        return "conflict"
    for one, other in ((a, b), (b, a)):
        disposition = outcome[one].get("disposition")
        if disposition and disposition.get("keeper_id") in outcome:
            keeper = outcome[disposition["keeper_id"]]
            if keeper["id"] == other or keeper["groups"]["cluster"] == outcome[other]["groups"]["cluster"]:
                return "duplicate"
    return "distinct"


def _rates(pairs: list[tuple[str, str]]) -> dict[str, float]:
    out = {}
    for label in ("duplicate", "conflict"):
        hits = sum(truth == guess == label for truth, guess in pairs)
        labeled, guessed = sum(t == label for t, _ in pairs), sum(g == label for _, g in pairs)
        out[f"{label} recall"] = hits / labeled if labeled else float("nan")
        out[f"{label} precision"] = hits / guessed if guessed else float("nan")
    out["distinct kept apart"] = (sum(t == g == "distinct" for t, g in pairs) / n
                                  if (n := sum(t == "distinct" for t, _ in pairs)) else float("nan"))
    return out


def _merged_across(outcome: dict[str, dict], members: list[str], group_of: dict[str, str]) -> int:
    """Records set aside as duplicates of a record from another group (always wrong)."""
    keepers = {key: (outcome[key].get("disposition") or {}).get("keeper_id") for key in members}
    return sum(keeper in group_of and group_of[keeper] != group_of[key] for key, keeper in keepers.items())


def report_cases(groups: list[dict], source: str, judge: dict[str, Any] | None = None, scope: str = "alike",
                 cache: Path | None = None, rules: bool = False, model_threshold: float | None = None,
                 runs: list[list[dict]] | None = None) -> None:
    started = time.perf_counter()
    options = {"judge": judge, "judge_scope": scope} if judge else {}
    if model_threshold is not None:
        options["answer_model_threshold"] = model_threshold
    scores, stats, by_difference = score_cases(groups, {**options, "answer_model": False} if rules else options, cache,
                                               runs)
    how = f"with a judge ({judge['model']}, scope {scope})" if judge else "default options"
    how += ", the rules alone (answer_model false)" if rules else ""
    how += f", answer_model_threshold {model_threshold}" if model_threshold is not None and not rules else ""
    print(f"judgment cases: {sum(len(g['records']) for g in groups):,} records in {len(groups):,} groups ({source}); "
          f"{'one dedup run a set' if runs else 'one dedup run'}, {how}, {time.perf_counter() - started:.1f} s\n")
    if judge:
        calls = stats["judge_calls"]
        print(f"judge: {stats['judge_asked']:,} pairs asked, {stats['judge_split']:,} called different; "
              f"{calls['calls_sent']:,} calls sent, {calls['cache_hits']:,} answers from the cache, "
              f"${judge_cost(calls):.2f}\n")
    columns = ("duplicate recall", "duplicate precision", "conflict recall", "conflict recall, numbers differ",
               "conflict recall, same numbers", "conflict precision", "distinct kept apart")
    print("| kind | pairs | " + " | ".join(columns) + " | merged across groups |")
    print("|---|---:|" + "---:|" * (len(columns) + 1))
    for kind, row in scores.items():
        cells = " | ".join("-" if row[c] != row[c] else f"{row[c]:.2f}" for c in columns)
        print(f"| {kind} | {row['pairs']} | {cells} | {row['merged_across']} |")
    print()
    if by_difference:
        print("conflicts found, by what the replies differ in (a pair differing in several counts in each)\n")
        print("| differ in | conflicts | found | recall |\n|---|---:|---:|---:|")
        for difference, (hits, total) in by_difference.items():
            print(f"| {difference} | {total} | {hits} | {hits / total:.2f} |")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="dataprep alone on 1,000,000 records")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--cases", action="store_true", help="the judgment cases alone")
    parser.add_argument("--labeled", type=Path, nargs="+", metavar="FILE",
                        help="score labeled sets of groups (benchmarks/labeled/dedup/*.jsonl) instead of the synthetic "
                             "cases, each on its own")
    parser.add_argument("--rules", action="store_true",
                        help="with --labeled or the judgment cases: replies compared by the rules alone, without "
                             "the answer model (the baseline it is measured on)")
    parser.add_argument("--pooled", action="store_true", help="with --labeled: one table over all the sets given")
    parser.add_argument("--answer-model-threshold", type=float, metavar="P",
                        help="with --labeled or the judgment cases: the dedup option answer_model_threshold (how sure "
                             "the answer model must be to call two replies different answers; 0.5 by default)")
    add_judge_arguments(parser, "dedup", ("alike", "all"), "all")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--corpus-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pairs-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.corpus_file, args.threshold, args.pairs_file)
        return
    judge = judge_option(args)
    judged = (judge, args.judge_scope, args.cache, args.rules, args.answer_model_threshold)
    if args.labeled:
        sets = {str(path): [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
                for path in args.labeled}
        if args.pooled:  # each set still in a dedup run of its own: groups of two sets never meet
            report_cases([group for groups in sets.values() for group in groups], f"{len(sets)} sets pooled", *judged,
                         runs=list(sets.values()))
            return
        for source, groups in sets.items():
            report_cases(groups, source, *judged)
        return
    if not args.million:
        report_cases(build_cases(args.seed), "synthetic, from bitext-customer-support", *judged)
    if args.cases or judge:  # a judge is measured on judgments, not on speed
        return
    size, methods = (1_000_000, ["dataprep", STAGE]) if args.million else (args.records, args.methods.split(","))
    report(size, methods, args.threshold, args.seed)


def write_corpus(corpus: Corpus, path: Path, with_records: bool) -> None:
    """The texts, one JSON string a line; and for the stage, records with the text as the user turn."""
    records_path = path.with_suffix(".records.jsonl") if with_records else os.devnull
    with open(path, "wb") as texts, open(records_path, "wb") as records:
        for index, text in enumerate(corpus.texts):
            texts.write(orjson.dumps(text) + b"\n")
            if with_records:
                messages = [{"role": "user", "content": text},
                            {"role": "assistant", "content": "Thanks, we are on it."}]
                records.write(orjson.dumps({"id": f"r{index}", "messages": messages}) + b"\n")


def report(size: int, methods: list[str], threshold: float, seed: int) -> None:
    started = time.perf_counter()
    corpus = build_corpus(size, seed)
    words = np.mean([len(t.split()) for t in corpus.texts[:10_000]])
    positives = sum(s >= threshold for s in corpus.planted.values())
    print(f"corpus: {len(corpus.texts):,} records, {words:.0f} words each on average, "
          f"{len(corpus.planted):,} planted pairs ({positives:,} at Jaccard >= {threshold}); "
          f"built in {time.perf_counter() - started:.0f} s")
    print(f"machine: {len(os.sched_getaffinity(0))} cores; num_perm {NUM_PERM}; threshold {threshold}\n")
    rows, cache = [], {}
    with tempfile.TemporaryDirectory() as folder:
        corpus_file = Path(folder) / "corpus.jsonl"
        write_corpus(corpus, corpus_file, with_records=STAGE in methods)
        for method in methods:
            timing, pairs = measure(method, corpus_file, threshold)
            precision, recall = quality(corpus, pairs, threshold, cache)
            rows.append((method, len(corpus.texts) / timing["seconds"], timing, precision, recall, len(pairs)))
            print(f"  ran {method}: {timing['seconds']:.1f} s", flush=True)
    baseline = next((rate for name, rate, *_ in rows if name == "datasketch loop"), None)
    print("\n| method | records/s | wall s | CPU s | peak RSS MB | RSS before the method MB | vs plain loop "
          "| pairs reported | precision | recall |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, rate, timing, precision, recall, count in rows:
        ratio = f"{rate / baseline:.1f}x" if baseline else "-"
        print(f"| {name} | {rate:,.0f} | {timing['seconds']:.1f} | {timing['cpu']:.1f} | {timing['peak_mb']:,.0f} "
              f"| {timing['texts_mb']:,.0f} | {ratio} | {count:,} | {precision:.4f} | {recall:.4f} |")
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} (other processes share the cores)")


if __name__ == "__main__":
    main()
