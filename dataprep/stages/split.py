"""The ``split`` stage: hold out a worst-case eval set, by group, leakage-free.

Each record gets difficulty slices (negative feedback, rare categories, long inputs,
tool use, conflicts, synthetic, edited in review, errors/retries) and a
``scores.difficulty``. Records are grouped (near-duplicate cluster from dedup, or
computed here; conversation id) and whole groups go to eval: first a minimum per slice
and per category, then the hardest groups, then a small random "average" share.
Finally train is decontaminated against eval and the highest remaining train/eval
similarity is reported, so the split proves it does not leak. A reply its user gave a
thumbs-down and nobody corrected never trains: eval may hold it as a hard case, otherwise
it goes to rejected.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from ..engine import Engine, batched
from ..pipeline import RecordSource, Stage, StageContext, register
from ..record import Record, category_of, message_text, record_text

if TYPE_CHECKING:
    from ..minhash import Params, Sketches

SLICE_WEIGHTS = {
    "negative_feedback": 3.0,
    "conflict": 3.0,
    "edited_in_review": 3.0,
    "rare_category": 2.0,
    "error_or_retry": 2.0,
    "tool_use": 1.5,
    "long_conversation": 1.5,
    "rare_cluster": 1.0,
    "long_input": 1.0,
    "synthetic": 1.0,
}
SLICES = tuple(SLICE_WEIGHTS)
DISLIKED = ("a reply its user gave a thumbs-down, with no correction: not one to train on (eval may hold such "
            "records as hard cases; split option train_disliked: true trains on them)")
#: train records whose texts are sketched at a time when checking train against eval
TRAIN_BATCH = 4096


@dataclass(slots=True)
class Thresholds:
    long_input_chars: int
    long_conversation_turns: int
    rare_category_share: float


def own_slices(record: Record, limits: Thresholds) -> set[str]:
    """The slices a record belongs to on its own (the rare ones need the whole dataset)."""
    found = set()
    if record.feedback.get("thumbs") == "down" or record.corrected:
        found.add("negative_feedback")
    if "conflict" in record.tags:
        found.add("conflict")
    if record.review.get("verdict") == "needs_edit" or any(p.get("stage") == "review" for p in record.provenance):
        found.add("edited_in_review")
    if record.source.get("error") or record.source.get("finish_reason") in ("length", "content_filter") \
            or "retry" in record.tags:
        found.add("error_or_retry")
    if any(m.get("tool_calls") or m.get("role") == "tool" for m in record.messages):
        found.add("tool_use")
    if sum(1 for m in record.messages if m.get("role") == "user") >= limits.long_conversation_turns:
        found.add("long_conversation")
    if sum(len(message_text(m)) for m in record.prompt_messages) >= limits.long_input_chars:
        found.add("long_input")
    if "synthetic" in record.tags:
        found.add("synthetic")
    return found


def disliked(record: Record) -> bool:
    """A reply its user gave a thumbs-down and nobody corrected or approved: a hard case to score a
    model on (a reviewer fixes its reference), not a reply to learn from."""
    return record.feedback.get("thumbs") == "down" and not record.corrected and record.review.get("verdict") != "accept"


def difficulty(slices: set[str], weights: dict[str, float]) -> float:
    """In [0, 1): more and heavier slices make a record harder; saturates smoothly."""
    return 1.0 - math.exp(-sum(weights.get(name, 0.0) for name in slices) / 3.0)


class UnionFind:
    def __init__(self, size: int):
        self.parent = np.arange(size)

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)

    def roots(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))])


@dataclass
class Survey:
    """What the first pass learns about every record, kept in compact arrays (one entry per record)."""

    slices: list[frozenset[str]]
    categories: list[str | None]
    groups: np.ndarray
    cluster_sizes: np.ndarray


@register
class Split(Stage):
    name = "split"

    def __init__(self, eval_size: float | int = 0.1, eval_cap: int = 1000, min_per_slice: int = 2,
                 average_share: float = 0.15, weights: dict[str, float] | None = None,
                 long_input_chars: int = 1500, long_conversation_turns: int = 4, rare_category_share: float = 0.02,
                 max_slice_share: float = 0.5, threshold: float = 0.8, decontaminate: bool = True,
                 train_disliked: bool = False):
        super().__init__(eval_size=eval_size, eval_cap=eval_cap, min_per_slice=min_per_slice,
                         average_share=average_share, weights=weights, long_input_chars=long_input_chars,
                         long_conversation_turns=long_conversation_turns, rare_category_share=rare_category_share,
                         max_slice_share=max_slice_share, threshold=threshold, decontaminate=decontaminate,
                         train_disliked=train_disliked)
        self.weights = {**SLICE_WEIGHTS, **(weights or {})}
        self.limits = Thresholds(long_input_chars, long_conversation_turns, rare_category_share)

    # -- pass 1: survey ----------------------------------------------------------------------
    def survey(self, records: RecordSource) -> Survey:
        slices, categories, cluster_keys, conversation_keys, sizes = [], [], [], [], []
        texts: list[str] | None = []
        for record in records:
            slices.append(frozenset(own_slices(record, self.limits)))
            categories.append(category_of(record))
            cluster = record.groups.get("cluster")
            cluster_keys.append(None if cluster is None else f"cluster:{cluster}")
            conversation = record.source.get("conversation_id")
            conversation_keys.append(None if conversation is None else f"conversation:{conversation}")
            sizes.append(int(record.groups.get("cluster_size", 1)))
            if texts is not None:
                texts.append(record_text(record))
            if cluster is not None:
                texts = None  # dedup already grouped these records: no need to keep their text
        if cluster_keys and all(key is None for key in cluster_keys):
            cluster_keys = [f"computed:{c}" for c in self._near_duplicate_groups(texts or [])]
        groups = _connected_groups(cluster_keys, conversation_keys)
        return Survey(slices, categories, groups, np.array(sizes))

    def _near_duplicate_groups(self, texts: list[str]) -> np.ndarray:
        from ..minhash import group_near_duplicates

        return group_near_duplicates(texts, threshold=self.options["threshold"])

    def add_rare_slices(self, survey: Survey) -> None:
        counts = Counter(c for c in survey.categories if c is not None)
        total = sum(counts.values())
        rare_categories = {c for c, n in counts.items() if n / total < self.limits.rare_category_share} if total else set()
        common_sizes = survey.cluster_sizes.size and np.median(survey.cluster_sizes) > 1
        for index, category in enumerate(survey.categories):
            extra = set()
            if category in rare_categories:
                extra.add("rare_category")
            if common_sizes and survey.cluster_sizes[index] == 1:
                extra.add("rare_cluster")
            if extra:
                survey.slices[index] = survey.slices[index] | extra

    # -- choosing the eval groups ------------------------------------------------------------------
    def target_size(self, total: int) -> int:
        size = self.options["eval_size"]
        wanted = int(round(total * size)) if isinstance(size, float) and size < 1 else int(size)
        return max(0, min(wanted, self.options["eval_cap"], total // 2))

    def choose(self, survey: Survey, seed: int) -> dict[int, str]:
        """Pick eval groups; returns {group id: why it was picked}."""
        if not len(survey.groups):
            return {}
        order = np.argsort(survey.groups, kind="stable")
        group_ids, starts, sizes = np.unique(survey.groups[order], return_index=True, return_counts=True)
        members = np.split(order, starts[1:])
        tie = np.random.default_rng(seed).permutation(len(group_ids))  # seeded tie-break and "average" draw
        hardness = [max(difficulty(survey.slices[i], self.weights) for i in m) for m in members]
        by_hardness = sorted(range(len(group_ids)), key=lambda g: (-hardness[g], tie[g]))
        # For each slice and category, its groups from hardest to easiest.
        ranked: dict[str, list[int]] = {}
        labels_of: list[set[str]] = []
        for g in range(len(group_ids)):
            labels = {f"slice:{name}" for i in members[g] for name in survey.slices[i]}
            labels |= {f"category:{survey.categories[i]}" for i in members[g] if survey.categories[i]}
            labels_of.append(labels)
        for g in by_hardness:
            for label in labels_of[g]:
                ranked.setdefault(label, []).append(g)

        target = self.target_size(len(survey.groups))
        hard_budget = target - int(round(target * self.options["average_share"]))
        chosen: dict[int, str] = {}
        filled = 0
        in_eval: Counter = Counter()
        # No slice or category may give more than this many groups to eval: corrections and
        # other hard cases are also the best training data, so train keeps its share.
        ceiling = {label: max(1, int(self.options["max_slice_share"] * len(groups))) for label, groups in ranked.items()}

        def take(g: int, why: str, limit: int) -> bool:
            nonlocal filled
            if g in chosen or filled + sizes[g] > limit or any(in_eval[l] >= ceiling[l] for l in labels_of[g]):
                return False
            chosen[g] = why
            filled += int(sizes[g])
            in_eval.update(labels_of[g])
            return True

        # A minimum of every slice (heaviest first), then of every category; groups already
        # chosen for another label count towards each label they carry.
        quota_order = [f"slice:{name}" for name in sorted(SLICES, key=lambda n: -self.weights[n])]
        # rarest categories first: when the budget runs short, the common ones are the ones to go
        quota_order += sorted((label for label in ranked if label.startswith("category:")),
                              key=lambda label: (len(ranked[label]), label))
        for label in quota_order:
            for g in ranked.get(label, []):
                if in_eval[label] >= self.options["min_per_slice"]:
                    break
                take(g, label, hard_budget)
        for g in by_hardness:  # then the hardest
            if filled >= hard_budget or hardness[g] == 0:
                break
            take(g, "hardest", hard_budget)
        for g in np.argsort(tie, kind="stable"):  # then a random "average" share
            if filled >= target:
                break
            take(int(g), "average", target)
        return {int(group_ids[g]): why for g, why in chosen.items()}

    # -- pass 2: write ----------------------------------------------------------------------------
    def run(self, records: RecordSource, ctx: StageContext) -> Iterator[Record]:
        survey = self.survey(records)
        self.add_rare_slices(survey)
        picked = self.choose(survey, ctx.seed)
        held_out, highest = (self.leakage(records, survey, picked, ctx.engine) if self.options["decontaminate"]
                             else ({}, None))
        composition = Composition()
        for index, record in enumerate(records):
            group = int(survey.groups[index])
            slices = sorted(survey.slices[index])
            record.scores["difficulty"] = round(difficulty(survey.slices[index], self.weights), 4)
            record.reasons["difficulty"] = slices
            record.groups["split_group"] = group
            record.split = "eval" if group in picked else "train"  # replaces any label it came with
            if group in picked:
                record.reasons["eval"] = [picked[group]]
            elif index in held_out:
                ctx.set_aside(record, "duplicates", "near-duplicate of an eval record (decontamination)",
                              keeper_id=held_out[index])
                continue
            elif not self.options["train_disliked"] and disliked(record):  # eval keeps it as a hard case
                ctx.set_aside(record, "rejected", DISLIKED)
                continue
            composition.add(record.split, slices, survey.categories[index], record.scores["difficulty"])
            yield record
        ctx.stats.update(composition.summary())
        ctx.stats["eval_groups"] = len(picked)
        ctx.stats["decontaminated"] = len(held_out)
        if highest is not None:
            ctx.stats["max_train_eval_similarity"] = round(highest, 4)

    # -- leakage ----------------------------------------------------------------------------------
    def leakage(self, records: RecordSource, survey: Survey, picked: dict[int, str],
                engine: Engine) -> tuple[dict[int, str], float]:
        """One MinHash pass of train against eval: the train records that near-duplicate an eval
        record ({train index: that eval record's id}, to be set aside) and the highest
        similarity left between the two sides once they are gone."""
        from ..minhash import Params, best_sketched_matches, concat, sketch

        params = Params(threshold=self.options["threshold"])
        eval_index, eval_texts, ids, train_index = [], [], {}, array("q")

        def train_texts() -> Iterator[str]:
            for index, record in enumerate(records):
                if int(survey.groups[index]) in picked:
                    eval_index.append(index)
                    eval_texts.append(record_text(record))
                    ids[index] = record.id
                else:
                    train_index.append(index)
                    yield record_text(record)

        # train texts are sketched a batch at a time (on the engine), never all held
        train_parts = list(engine.map_batches(compact_sketches, batched(train_texts(), TRAIN_BATCH), params))
        if not eval_texts or not train_index:
            return {}, 0.0
        sims, best = best_sketched_matches(concat(train_parts, params), sketch(eval_texts, params).compact(), minimum=0.0)
        leaked = (best >= 0) & (sims >= self.options["threshold"])
        held_out = {train_index[i]: ids[eval_index[best[i]]] for i in np.flatnonzero(leaked)}
        remaining = sims[(best >= 0) & ~leaked]
        return held_out, float(remaining.max()) if remaining.size else 0.0


def compact_sketches(texts: list[str], params: Params) -> Sketches:
    """The compact sketches of a batch of texts (a top-level function, for the engine)."""
    from ..minhash import sketch

    return sketch(texts, params).compact()


def _connected_groups(*key_lists: list[str | None]) -> np.ndarray:
    """Group records that share any key (a cluster or a conversation): union-find over records."""
    size = len(key_lists[0])
    union = UnionFind(size)
    for keys in key_lists:
        first_of: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key is not None:
                union.union(index, first_of.setdefault(key, index))
    return union.roots()


class Composition:
    """Per slice and category, counts in train vs eval, and each side's difficulty distribution."""

    def __init__(self) -> None:
        self.slices: dict[str, Counter] = {}
        self.categories: dict[str, Counter] = {}
        self.difficulty: dict[str, list[float]] = {"train": [], "eval": []}

    def add(self, split: str, slices: list[str], category: str | None, score: float) -> None:
        for name in slices or ["(none)"]:
            self.slices.setdefault(name, Counter())[split] += 1
        if category:
            self.categories.setdefault(category, Counter())[split] += 1
        self.difficulty[split].append(score)

    def summary(self) -> dict[str, Any]:
        def table(rows: dict[str, Counter]) -> dict[str, dict[str, int]]:
            return {name: {"train": c["train"], "eval": c["eval"]} for name, c in sorted(rows.items())}

        def spread(values: list[float]) -> dict[str, float]:
            if not values:
                return {}
            q = np.quantile(values, [0.25, 0.5, 0.75, 0.9])
            return {"mean": round(float(np.mean(values)), 4), "p25": round(float(q[0]), 4),
                    "median": round(float(q[1]), 4), "p75": round(float(q[2]), 4), "p90": round(float(q[3]), 4)}

        return {"composition": {"slices": table(self.slices), "categories": table(self.categories),
                                "difficulty": {side: spread(v) for side, v in self.difficulty.items()}}}
