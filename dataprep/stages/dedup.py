"""The dedup stage: exact and near-duplicate records, labeling conflicts, decontamination.

Records are compared on a view of their text (user turns, user + assistant turns, the input
before the reply, or the whole conversation), normalized so case, whitespace, unicode forms
and numbered PII placeholders do not matter. Equal texts and texts whose shingle Jaccard
similarity reaches the threshold form clusters (transitively); one keeper per cluster goes on
and the others go to duplicates.jsonl pointing at it. Every record that goes on carries its
cluster id and size, which the split stage uses to keep clusters on one side.

Records that share an input (everything before the reply but the system prompt) while their
accepted replies differ materially are a labeling conflict, not duplicates: all of them go
on, tagged ``conflict``, for the review stage. Records near-duplicate to a reference set
(``against``: an eval set, a public benchmark) are set aside so nothing in training leaks
into evaluation.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import xxhash

from ..errors import InputError
from ..formats.common import parse_moment
from ..formats.records import read_strict
from ..minhash import Groups, Params, best_matches, find_groups, group_near_duplicates, max_cross_similarity, sketch
from ..pipeline import RecordSource, Stage, StageContext, files_fingerprint, register
from ..record import Record, message_text, readable_text, record_text

__all__ = ["Dedup", "group_near_duplicates", "max_cross_similarity"]

VIEWS = ("user", "user_assistant", "input", "conversation")
#: conflicts compare what the model was given: a reply built on a different tool result is no conflict
CONFLICT_VIEW = "input"
KEEPER_CRITERIA = ("reviewed", "corrected", "positive_feedback", "recent", "longest")
#: replies are compared as sets of words: two phrasings of one answer share most of them
REPLY_PARAMS = Params(shingle="word", ngram=1)


# -- what the keeper policy looks at ------------------------------------------------------------------------
def _timestamp(value: Any) -> float:
    """Seconds since the epoch; -inf when missing or unreadable (oldest)."""
    moment = parse_moment(value)
    return moment.timestamp() if moment else float("-inf")


def _merits(record: Record) -> tuple[float, ...]:
    """The record's value per keeper criterion, higher is better (in KEEPER_CRITERIA order)."""
    thumbs = record.feedback.get("thumbs")
    corrected = ("corrected" in record.tags or record.rejected_reply is not None
                 or bool(record.feedback.get("correction")))
    return (float(record.review.get("verdict") == "accept"), float(corrected),
            {"up": 1.0, "down": -1.0}.get(thumbs, 0.0), _timestamp(record.source.get("timestamp")),
            float(sum(len(" ".join(message_text(m).split())) for m in record.messages)))


def _accepted_reply(record: Record) -> bool:
    """Whether the record has a reply nobody rejected (a thumbs-down or a reviewer's reject)."""
    return (record.target is not None and bool(readable_text(record.target).strip())
            and record.review.get("verdict") != "reject" and record.feedback.get("thumbs") != "down")


@dataclass
class Survey:
    """Pass 1: what dedup needs of every record, without keeping the records (flat arrays:
    a million records cost their texts and ids plus 41 bytes each)."""

    texts: list[str] = field(default_factory=list)
    input_texts: list[str] = field(default_factory=list)  # for conflicts, when the view differs
    ids: list[str] = field(default_factory=list)
    merits: array = field(default_factory=lambda: array("d"))  # len(KEEPER_CRITERIA) values per record
    accepted: bytearray = field(default_factory=bytearray)
    # how many original records each one already stands for (a survivor of an earlier dedup)
    represents: array = field(default_factory=lambda: array("l"))


@dataclass
class Plan:
    """Where each record goes, decided before any record is written."""

    labels: np.ndarray  # dedup cluster per record (-1: decontaminated)
    keepers: np.ndarray  # index of the keeper of each cluster
    sizes: np.ndarray  # members per cluster
    cluster_ids: list[str]
    similarity: np.ndarray  # to its keeper (duplicates) or reference (decontaminated)
    exact: np.ndarray  # same normalized text as the keeper
    reference: list[tuple[str, str] | None]  # (file, record id) a decontaminated record matched
    conflict: dict[int, str] = field(default_factory=dict)  # record index -> conflict group id
    conflict_reason: dict[str, str] = field(default_factory=dict)  # group id -> why


@register
class Dedup(Stage):
    name = "dedup"

    def __init__(self, view: str = "user", threshold: float = 0.8, num_perm: int = 128, shingle: str = "word",
                 ngram: int = 3, verify: bool = True, keeper: list[str] | tuple[str, ...] = KEEPER_CRITERIA,
                 conflict_below: float = 0.3, against: list[str] | tuple[str, ...] = (), workers: int | None = None):
        super().__init__(view=view, threshold=threshold, num_perm=num_perm, shingle=shingle, ngram=ngram,
                         verify=verify, keeper=list(keeper), conflict_below=conflict_below, against=list(against),
                         workers=workers)
        self.params = Params(threshold=threshold, num_perm=num_perm, shingle=shingle, ngram=ngram, verify=verify,
                             workers=workers)

    def fingerprint_extra(self, ctx: StageContext) -> str:
        paths = [self._reference_path(p, ctx) for p in self.options["against"]]
        return files_fingerprint(paths)

    def run(self, records: RecordSource, ctx: StageContext) -> Iterator[Record]:
        survey = self.survey(records)
        plan = self.plan(survey, ctx)
        if self.options["conflict_below"] > 0:
            self.find_conflicts(records, survey, plan)
        yield from self.emit(records, survey, plan, ctx)

    # -- pass 1 ---------------------------------------------------------------------------------------------
    def survey(self, records: RecordSource) -> Survey:
        survey = Survey()
        separate_input_view = self.options["view"] != CONFLICT_VIEW and self.options["conflict_below"] > 0
        for record in records:
            text = record_text(record, self.options["view"])
            survey.texts.append(text)
            if separate_input_view:
                input_text = record_text(record, CONFLICT_VIEW)
                survey.input_texts.append(text if input_text == text else input_text)  # one copy when equal
            survey.ids.append(record.id)
            survey.merits.extend(_merits(record))
            survey.accepted.append(_accepted_reply(record))
            survey.represents.append(int(record.groups.get("cluster_size", 1)))
        return survey

    # -- deciding ---------------------------------------------------------------------------------------------
    def plan(self, survey: Survey, ctx: StageContext) -> Plan:
        n = len(survey.texts)
        similarity, reference = np.zeros(n), [None] * n
        if self.options["against"]:
            self.decontaminate(survey, ctx, similarity, reference)
        clean = np.array([i for i in range(n) if reference[i] is None], np.int64)
        groups = find_groups([survey.texts[i] for i in clean], self.params)
        labels = np.full(n, -1)
        labels[clean] = groups.labels
        keepers = self.choose_keepers(labels[clean], clean, survey)
        first = np.unique(labels[clean], return_index=True)[1]
        # A cluster's size counts every original record it stands for, so a second dedup pass
        # (after synth) keeps the sizes the first one found.
        weights = np.frombuffer(survey.represents, np.int64)[clean] if n else np.zeros(0, np.int64)
        sizes = np.bincount(labels[clean], weights=weights).astype(np.int64)
        plan = Plan(labels, keepers, sizes, [_group_id(survey.ids[clean[i]]) for i in first],
                    similarity, np.zeros(n, bool), reference)
        self.measure_to_keepers(plan, groups, clean)
        ctx.stats.update(view=self.options["view"], threshold=self.params.threshold, num_perm=self.params.num_perm,
                         bands=self.params.bands_rows[0], rows=self.params.bands_rows[1],
                         similar_pairs=groups.similar_pairs)
        return plan

    def choose_keepers(self, labels: np.ndarray, members: np.ndarray, survey: Survey) -> np.ndarray:
        """The keeper of each cluster: best on the first keeper criterion, ties broken by the
        next, and finally by input order."""
        merits = np.frombuffer(survey.merits, float).reshape(-1, len(KEEPER_CRITERIA))[members]
        columns = [KEEPER_CRITERIA.index(c) for c in self.options["keeper"]]
        order = np.lexsort([members, *(-merits[:, c] for c in reversed(columns)), labels])
        first_in_cluster = np.concatenate(([True], labels[order][1:] != labels[order][:-1]))
        return members[order][first_in_cluster]

    @staticmethod
    def measure_to_keepers(plan: Plan, groups: Groups, clean: np.ndarray) -> None:
        position = np.full(len(plan.labels), -1)
        position[clean] = np.arange(len(clean))
        keeper = plan.keepers[plan.labels[clean]]
        dropped = clean[keeper != clean]
        pos, keeper_pos = position[dropped], position[plan.keepers[plan.labels[dropped]]]
        plan.similarity[dropped] = groups.sketches.similarity(pos, keeper_pos)
        plan.exact[dropped] = groups.sketches.same_text(pos, keeper_pos)

    def decontaminate(self, survey: Survey, ctx: StageContext, similarity: np.ndarray,
                      reference: list[tuple[str, str] | None]) -> None:
        ref_texts, ref_from = [], []
        for given in self.options["against"]:
            for record in self._read_reference(given, ctx):
                ref_texts.append(record_text(record, self.options["view"]))
                ref_from.append((given, record.id))
        sims, index = best_matches(survey.texts, ref_texts, self.params)
        for i in np.flatnonzero(index >= 0):
            similarity[i], reference[i] = sims[i], ref_from[index[i]]

    def _read_reference(self, given: str, ctx: StageContext) -> Iterator[Record]:
        """The records of a reference file; a line that is not a record stops the run, since a
        reference set with holes would let leaks through unnoticed."""
        path = self._reference_path(given, ctx)
        if not path.is_file():
            raise InputError("reference set (--against) not found", file=str(path))
        for _, record in read_strict(path):
            yield record

    @staticmethod
    def _reference_path(given: str, ctx: StageContext) -> Path:
        path = Path(given)
        return path if path.is_absolute() else ctx.recipe_dir / path

    # -- pass 2: labeling conflicts ---------------------------------------------------------------------------
    def find_conflicts(self, records: RecordSource, survey: Survey, plan: Plan) -> None:
        """Clusters on the input view whose accepted replies differ materially from the reply of
        the cluster's best record: all their members are kept and flagged."""
        input_labels = self._input_labels(survey, plan)
        accepted = np.frombuffer(survey.accepted, bool) & (input_labels >= 0)
        accepted_per_label = np.bincount(input_labels[accepted], minlength=len(input_labels))
        shared = accepted & (accepted_per_label[np.maximum(input_labels, 0)] > 1)
        if not shared.any():
            return
        members = np.flatnonzero(shared)
        replies = [readable_text(r.target) for i, r in enumerate(records) if shared[i]]
        best = self.choose_keepers(input_labels[members], members, survey)  # sorted by label
        position = np.full(len(input_labels), -1)
        position[members] = np.arange(len(members))
        reference = position[best[np.searchsorted(input_labels[best], input_labels[members])]]
        similarity = sketch(replies, REPLY_PARAMS).similarity(np.arange(len(members)), reference)
        self._flag(plan, survey, input_labels, input_labels[members], similarity)

    def _input_labels(self, survey: Survey, plan: Plan) -> np.ndarray:
        """Clusters on the input view: the dedup clusters themselves when dedup compares inputs."""
        if self.options["view"] == CONFLICT_VIEW:
            return plan.labels
        clean = np.flatnonzero(plan.labels >= 0)
        labels = np.full(len(plan.labels), -1)
        labels[clean] = find_groups([survey.input_texts[i] for i in clean], self.params).labels
        return labels

    def _flag(self, plan: Plan, survey: Survey, input_labels: np.ndarray, compared_labels: np.ndarray,
              similarity: np.ndarray) -> None:
        limit = self.options["conflict_below"]
        conflicting = np.unique(compared_labels[similarity < limit])
        lowest = np.ones(len(input_labels))
        np.minimum.at(lowest, compared_labels, similarity)
        in_conflict = np.flatnonzero(np.isin(input_labels, conflicting))
        by_label = in_conflict[np.argsort(input_labels[in_conflict], kind="stable")]
        labels, first, sizes = np.unique(input_labels[by_label], return_index=True, return_counts=True)
        group_of_label = {}
        for label, first_member, size in zip(labels, by_label[first], sizes):
            group_id = group_of_label[label] = _group_id(survey.ids[first_member])
            plan.conflict_reason[group_id] = (
                f"{size} records share this input but their accepted replies differ "
                f"(reply word overlap down to {lowest[label]:.2f}, below {limit})")
        plan.conflict.update({int(i): group_of_label[input_labels[i]] for i in by_label})

    # -- pass 3: writing --------------------------------------------------------------------------------------
    def emit(self, records: RecordSource, survey: Survey, plan: Plan, ctx: StageContext) -> Iterator[Record]:
        counts = dict.fromkeys(("exact_removed", "near_removed", "decontaminated", "conflict_records"), 0)
        for i, record in enumerate(records):
            if plan.reference[i] is not None:
                file, ref_id = plan.reference[i]
                ctx.set_aside(record, "duplicates", f"near-duplicate of reference set {file}", keeper_id=ref_id,
                              similarity=round(float(plan.similarity[i]), 4))
                counts["decontaminated"] += 1
                continue
            label = plan.labels[i]
            record.groups["cluster"], record.groups["cluster_size"] = plan.cluster_ids[label], int(plan.sizes[label])
            keeper = int(plan.keepers[label])
            if i in plan.conflict:
                self._mark_conflict(record, plan.conflict[i], plan.conflict_reason[plan.conflict[i]])
                counts["conflict_records"] += 1
                yield record
            elif keeper == i:
                if plan.sizes[label] > 1:
                    record.note(self.name, "kept", cluster=plan.cluster_ids[label],
                                duplicates=int(plan.sizes[label]) - 1)
                yield record
            else:
                kind = "exact" if plan.exact[i] else "near"
                ctx.set_aside(record, "duplicates", _duplicate_reason(kind, survey.ids[keeper], plan.similarity[i]),
                              keeper_id=survey.ids[keeper], cluster_id=plan.cluster_ids[label],
                              similarity=round(float(plan.similarity[i]), 4))
                counts[f"{kind}_removed"] += 1
        members = np.bincount(plan.labels[plan.labels >= 0])  # found in this pass, not carried over
        ctx.stats.update(counts, clusters=int((members > 1).sum()), largest_cluster=int(members.max(initial=0)),
                         conflicts=len(plan.conflict_reason))

    def _mark_conflict(self, record: Record, group_id: str, reason: str) -> None:
        if "conflict" not in record.tags:
            record.tags.append("conflict")
        record.groups["conflict"] = group_id
        record.reasons["conflict"] = [reason]
        record.note(self.name, "flagged_conflict", group=group_id)


def _group_id(first_member_id: str) -> str:
    """A cluster's id: stable across runs, derived from the id of its first record."""
    return f"cl-{xxhash.xxh3_64_hexdigest(first_member_id.encode('utf-8'))}"


def _duplicate_reason(kind: str, keeper_id: str, similarity: float) -> str:
    if kind == "exact":
        return f"exact duplicate of {keeper_id} (same text once normalized)"
    return f"near-duplicate of {keeper_id} (Jaccard {similarity:.2f} to it, same cluster)"
