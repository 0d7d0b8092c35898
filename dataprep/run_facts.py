"""The facts of a finished run, gathered once from its folder: what the report and the dataset card say.

Everything comes from ``manifest.json`` and the run's JSONL outputs, so the page and the
card can never disagree with the manifest.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import orjson

from .errors import InputError
from .record import PLACES, Record, category_of
from .tokens import count_messages
from .validate import Settings, training_cost

TOKEN_SAMPLE_CAP = 50_000  # records per split whose tokens are counted; more are sampled evenly
BROWSE_CAP_PER_PLACE = 2_000  # records per place embedded in the report's browser; more are sampled evenly
CONTEXT_LIMIT = 65_536
ENOUGH_LOW, ENOUGH_HIGH = 200, 2_000  # format/tone guidance: 200-2,000 clean examples


@dataclass
class RunFacts:
    run_dir: Path
    manifest: dict[str, Any]
    counts: dict[str, int]
    rejected_by_reason: Counter = field(default_factory=Counter)
    duplicates_by_stage: Counter = field(default_factory=Counter)
    tokens: dict[str, list[int]] = field(default_factory=lambda: {"train": [], "eval": []})
    over_limit: dict[str, int] = field(default_factory=lambda: {"train": 0, "eval": 0})
    categories: dict[str, Counter] = field(default_factory=lambda: {"train": Counter(), "eval": Counter()})
    slices: dict[str, Counter] = field(default_factory=lambda: {"train": Counter(), "eval": Counter()})
    eval_reasons: Counter = field(default_factory=Counter)
    cluster_sizes: Counter = field(default_factory=Counter)
    synthetic: Counter = field(default_factory=Counter)
    review: Counter = field(default_factory=Counter)
    browsable: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {place: [] for place in PLACES})

    # -- the numbers teams decide by -------------------------------------------------------------
    @property
    def kept(self) -> int:
        return self.counts.get("train", 0) + self.counts.get("eval", 0)

    @property
    def knowledge_share(self) -> float:
        rag = self.counts.get("rag_candidates", 0)
        return rag / (rag + self.kept) if rag + self.kept else 0.0

    @property
    def tail_share_of_eval(self) -> float:
        total = sum(self.eval_reasons.values())
        return 1 - self.eval_reasons.get("average", 0) / total if total else 0.0

    def training_cost(self) -> dict[str, Any]:
        """The same estimate ``validate`` and the export make (recipe export options, then
        environment, then defaults), from the train split's token counts (sampled evenly past
        TOKEN_SAMPLE_CAP and scaled up)."""
        options = ((self.manifest.get("recipe") or {}).get("content") or {}).get("export", {}).get("options")
        sampled = np.array(self.tokens["train"], dtype=np.int64)
        cost = training_cost(sampled, Settings.for_format("openai", options))
        scale = self.counts.get("train", 0) / len(sampled) if len(sampled) else 0.0
        return {**cost, **{key: int(cost[key] * scale) for key in ("billed_tokens", "billed_tokens_per_epoch")},
                "estimated_usd": round(cost["estimated_usd"] * scale, 2)}

    @property
    def synthetic_acceptance(self) -> float | None:
        accepted = self.synthetic.get("synthetic accept", 0) + self.synthetic.get("synthetic needs_edit", 0)
        reviewed = accepted + self.synthetic.get("synthetic reject", 0)
        return accepted / reviewed if reviewed else None

    def stage_stats(self, stage: str) -> dict[str, Any]:
        """The stats of the first run of ``stage`` in the manifest (empty if the recipe had none)."""
        return next((s["stats"] for s in self.manifest.get("stages", []) if s["stage"] == stage), {})

    def ran(self, stage: str) -> bool:
        return any(s["stage"] == stage for s in self.manifest.get("stages", []))

    def verdicts(self) -> list[dict[str, str]]:
        """Plain statements with the number behind each."""
        share, train = self.knowledge_share, self.counts.get("train", 0)
        out = []
        if not self.ran("flag"):
            out.append({"level": "warn", "title": "Knowledge share not measured",
                        "text": "No flag stage ran: replies that rest on facts their input lacks were not looked for "
                                "and are in train. Add `- flag: {}` to the recipe."})
        elif share >= 0.5:
            out.append({"level": "bad", "title": f"{share:.0%} of this data is knowledge",
                        "text": "Fine-tuning on it will not fix the failures: index it for RAG and fine-tune on behaviour."})
        elif share >= 0.2:
            out.append({"level": "warn", "title": f"{share:.0%} of this data is knowledge",
                        "text": "A sizeable share of replies rest on facts not in their input; they went to rag_candidates.jsonl."})
        else:
            out.append({"level": "good", "title": f"{share:.0%} of this data is knowledge",
                        "text": "Mostly behaviour (format, tone, routing, tool use): a good fit for fine-tuning."})
        if train < ENOUGH_LOW:
            out.append({"level": "bad", "title": f"{train:,} training examples",
                        "text": f"Below the {ENOUGH_LOW:,} that format and tone tuning usually needs: mine more traffic or synthesize edge cases."})
        elif train <= ENOUGH_HIGH:
            out.append({"level": "good", "title": f"{train:,} training examples",
                        "text": f"Within the {ENOUGH_LOW:,}-{ENOUGH_HIGH:,} clean examples that format and tone tuning needs."})
        else:
            out.append({"level": "good", "title": f"{train:,} training examples",
                        "text": f"More than the {ENOUGH_HIGH:,} format and tone usually need: quality beats quantity, consider a stricter filter."})
        if self.counts.get("eval", 0):
            tail = self.tail_share_of_eval
            out.append({"level": "good" if tail >= 0.6 else "warn", "title": f"{tail:.0%} of the eval set is tail",
                        "text": f"{self.eval_reasons.get('average', 0):,} eval records are a random 'average' slice; the rest were held out for being hard."})
        else:
            out.append({"level": "warn", "title": "no eval set", "text": "Add a split stage to hold out worst-case examples."})
        return out


def iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    if path.exists():
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                yield read_json(line, str(path), number)


def read_json(data: bytes, file: str, line: int | None = None) -> Any:
    """A run file's JSON, or an error naming the file and line (a run folder edited or cut short)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}): was this run folder edited or cut short?", file=file, line=line) from None


def read_manifest(path: Path) -> dict[str, Any]:
    manifest = read_json(path.read_bytes(), str(path))
    if not isinstance(manifest, dict):
        raise InputError("not a dataprep manifest: expected a JSON object", file=str(path))
    missing = [key for key in ("recipe", "counts", "stages") if key not in manifest]
    if missing:
        raise InputError(f"not a dataprep manifest: {', '.join(missing)} missing", file=str(path))
    return manifest


def reason_family(reason: str) -> str:
    """Group reasons that differ only in details: 'not valid JSON (… column 57)' -> 'not valid JSON',
    'near-duplicate of rec-1f2e…' -> 'near-duplicate of rec-…', 'after 3 retries' -> 'after N retries'.
    Digits inside a word stay ('UTF-8', 'gpt-4.1'): they name things, not amounts."""
    family = re.sub(r"\s*\([^)]*\)", "", reason)
    family = re.sub(r"\b(rec|msg|chatcmpl|call|toolu)[-_][\w-]+", r"\1-…", family)
    family = re.sub(r"(?<![\w.-])\d+(?:[.,]\d+)*(?![\w-])", "N", family)
    return family if len(family) <= 70 else family[:69] + "…"


def category(row: dict[str, Any]) -> str | None:
    return category_of(Record.from_dict(row))


def gather(run_dir: Path, manifest: dict[str, Any] | None = None) -> RunFacts:
    """The facts of a run folder; ``manifest`` is given while the run is being finished."""
    manifest_path = run_dir / "manifest.json"
    if manifest is None and not manifest_path.exists():
        raise InputError("no manifest.json here: is this a finished dataprep run folder?", file=str(run_dir))
    manifest = manifest or read_manifest(manifest_path)
    facts = RunFacts(run_dir, manifest, {place: manifest["counts"].get(place, 0) for place in PLACES})
    for split in ("train", "eval"):
        _gather_kept(facts, split)
    for index, row in enumerate(iter_rows(run_dir / "rejected.jsonl")):
        facts.rejected_by_reason[reason_family(row["disposition"].get("reason", "?"))] += 1
        if "synthetic" in row.get("tags", []) and row["disposition"].get("stage") == "review":
            facts.synthetic["synthetic reject"] += 1
        _browse(facts, "rejected", index, row)
    for index, row in enumerate(iter_rows(run_dir / "duplicates.jsonl")):
        facts.duplicates_by_stage[row["disposition"].get("stage", "?")] += 1
        _browse(facts, "duplicates", index, row)
    for index, row in enumerate(iter_rows(run_dir / "rag_candidates.jsonl")):
        _browse(facts, "rag_candidates", index, row)
    return facts


def _gather_kept(facts: RunFacts, split: str) -> None:
    total = facts.counts.get(split, 0)
    step = max(1, -(-total // TOKEN_SAMPLE_CAP))
    for index, row in enumerate(iter_rows(facts.run_dir / f"{split}.jsonl")):
        if index % step == 0:
            tokens = count_messages(row["messages"], row.get("tools"))
            facts.tokens[split].append(tokens)
            facts.over_limit[split] += step if tokens > CONTEXT_LIMIT else 0
        if name := category(row):
            facts.categories[split][name] += 1
        for name in (row.get("reasons") or {}).get("difficulty", []):
            facts.slices[split][name] += 1
        if split == "eval":
            for why in (row.get("reasons") or {}).get("eval", ["(unspecified)"]):
                facts.eval_reasons["average" if why == "average" else "tail"] += 1
        facts.cluster_sizes[int((row.get("groups") or {}).get("cluster_size", 1))] += 1
        tags = row.get("tags", [])
        facts.synthetic["synthetic" if "synthetic" in tags else "mined"] += 1
        review = row.get("review") or {}
        if review:
            facts.review[review.get("verdict") or review.get("status", "pending")] += 1
            if "synthetic" in tags and review.get("verdict"):
                facts.synthetic[f"synthetic {review['verdict']}"] += 1
        _browse(facts, split, index, row)


def _browse(facts: RunFacts, place: str, index: int, row: dict[str, Any]) -> None:
    """Keep BROWSE_CAP_PER_PLACE records of a place for the report's browser (all when there are
    fewer): the first of each of that many equal stretches, evenly spread, the same on every run."""
    total, cap = facts.counts.get(place, 0), BROWSE_CAP_PER_PLACE
    if (total <= cap or index * cap // total != (index - 1) * cap // total) and len(facts.browsable[place]) < cap:
        facts.browsable[place].append(row)
