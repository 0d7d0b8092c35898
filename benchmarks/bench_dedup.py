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

    python benchmarks/bench_dedup.py                  # 100,000 records, every method
    python benchmarks/bench_dedup.py --million        # dataprep alone on 1,000,000 records
"""

from __future__ import annotations

import argparse
import csv
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

import datasketch
import numpy as np
import orjson
import rensa

from dataprep.minhash import Params, find_groups
from dataprep.recipe import InputSpec
from dataprep.runner import run_single_stage
from dataprep.stages.dedup import Dedup

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpora" / "bitext-customer-support" / "bitext_customer_support.csv"
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
    with open(CORPUS, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="dataprep alone on 1,000,000 records")
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of: " + ", ".join(METHODS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--corpus-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pairs-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.corpus_file, args.threshold, args.pairs_file)
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
