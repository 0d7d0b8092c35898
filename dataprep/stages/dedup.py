"""The dedup stage: exact and near-duplicate records, labeling conflicts, decontamination.

Records are compared on a view of their text, normalized so case, whitespace, unicode forms
and numbered PII placeholders do not matter. The default view, ``auto``, is the user turns
plus any tool calls and tool results before the reply: two "check order <ORDER_1>"
conversations whose lookups returned different orders are different examples. Equal texts
and texts whose shingle Jaccard similarity reaches the threshold form clusters
(transitively; short texts compared as character 5-grams, so one typo does not hide a copy),
split where texts state other amounts, dates or numbers ("a $25 gift card" is not "a $75 gift
card"); the keeper policy picks who goes on (``keep_per_cluster`` more, chosen to
differ most, for teams that want several phrasings of one intent) and the others go to
duplicates.jsonl pointing at their keeper. Every record that goes on carries its cluster id
and size, which the split stage uses to keep clusters on one side.

Under ``auto`` and ``user``, a question reworded a little (at least QUESTION_FLOOR similar)
that got the very same answer joins the cluster of the first record with that answer; one
reworded more (NEAR_QUESTION_FLOOR) whose answer of NEAR_ANSWER_WORDS words or more differs from
another's by a word swapped, agrees with it and does not swap the question's word, joins that
record's cluster.

Records whose user turns are the same are grouped by answer (tool calls, then the reply): a
reply that agrees with a better-ranked one (same tool calls, decision, refusal and facts;
see reply_agreement.py) is the same answer however it is worded; replies given other tool
results (by the same calls, by calls that part only after a result did, or in an earlier turn)
are other examples. One answer: ordinary duplicates, whatever clusters their wording put them
in. Several answers that disagree: a labeling conflict; one record per answer goes on, tagged
``conflict``, for the review stage, and the copies of each answer go to duplicates. Records
near-duplicate to a reference set (``against``: an eval set, a public benchmark) are set aside so
nothing in training leaks into evaluation.

Memory: no text is held across the input. Pass 1 sends the record lines, a batch at a time, to
the engine (every core, or Ray), which parses them and returns their keys (keeper merits, answer
and question hashes) and their texts' sketches: LSH band keys, the low byte of each MinHash value
and the shingle hashes per record, spilled to temporary files until the pass ends. Clusters are
then found band by band (see minhash._linked_forms), so candidate pairs are never all held. The
texts needed later (the facts of clustered records, read on the engine too; two records sketched
with different shingle kinds) and the replies of records that share an input but end in
different turns are read in further passes, which skip the other lines unparsed. Measured by
benchmarks/bench_pipeline.py on generated support logs: about 1.6 KB a record at the margin.
"""

from __future__ import annotations

import re
import tempfile
from array import array
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from itertools import chain, islice
from typing import Any, Callable, Iterator

import numpy as np
import orjson
import xxhash

from ..answer_judge import SAME_ANSWER, AnswerJudge
from ..answer_model import EVEN as ANSWER_EVEN, WEIGHTS_FILE as ANSWER_WEIGHTS, weighed_disagreement
from ..engine import Engine, batched
from ..errors import InputError, RecipeError
from ..formats.common import parse_moment
from ..formats.records import read_strict
from ..input_agreement import Sentences, says_otherwise, sentences
from ..minhash import (Params, Sketches, best_sketched_matches, components, concat, group_near_duplicates, groups_of,
                       max_cross_similarity, normalize, sketch)
from ..pipeline import RecordSource, Stage, StageContext, files_fingerprint, register
from ..pii import PII_TAG
from ..record import IdTable, Record, answer_text, message_text, readable_text, record_text
from ..reply_agreement import (FUNCTION_WORDS, SHORT_INPUT, STEM, TOKEN, WORD, FieldValues, Reply, disagreement,
                               last_user_turn, other_grounds, read_reply, returned, same_grounds, stated_facts,
                               values_seen, without_opaque_ids, word_similarity)

__all__ = ["Dedup", "group_near_duplicates", "max_cross_similarity"]

VIEWS = ("auto", "user", "user_assistant", "input", "conversation")
#: answers are compared among records whose user turns are the same: what the assistant did
#: next (tool calls, then its reply) is the answer; tool results are what it was given
CONFLICT_VIEW = "user"
#: two replies given different tool results by the same calls, or by calls that part only after a
#: result did: different examples, no dispute
OTHER_GROUNDS = "other tool results"
#: views under which one question answered the same way is one example, however its records are worded
SAME_QUESTION_VIEWS = ("auto", "user")
#: words that ask nothing: a question with or without them is one question
COURTESY = re.compile(r"\b(?:please|pls|plz|thanks|thank\s+you|thx|hi|hello|hey|por\s+favor|gracias|bitte|danke"
                      r"|merci|s['’]il\s+vous\s+pla[iî]t|obrigad[oa])\b")
CONTRACTIONS = {"won't": " will not", "can't": " can not", "cannot": "can not", "n't": " not", "'s": " is",
                "'re": " are", "'m": " am", "'ll": " will", "'ve": " have", "'d": " would"}
CONTRACTION = re.compile(r"\b(?:won['’]t|can['’]t|cannot)\b|n['’]t\b|['’](?:s|re|m|ll|ve|d)\b")
#: two questions given the very same answer are one example from this similarity up (a word or
#: two changed in a short question leaves about half its character 5-grams)
QUESTION_FLOOR = 0.5
#: words an answer needs before two that differ by one word are taken for one (two thirds of them
#: must match, in order)
NEAR_ANSWER_WORDS = 8
#: two questions whose answers differ by one word are one example from this similarity up: "Is there
#: a gym at the hotel?" and "... a fitness center ..." share 0.39 of their character 5-grams; "Is
#: shipping free?" and "shipping price?" about 0.3
NEAR_QUESTION_FLOOR = 0.35
#: a long input is compared with the first records of this many parts of its cluster at most
ASKS_COMPARED = 20
#: a reply joins an answer when it agrees with this many of its distinct wordings (bounds the work)
WORDINGS_COMPARED = 20
#: a new reply is compared with this many answers at most: a question asked thousands of times and
#: answered from context the logs do not hold ("What's my balance?") has thousands of answers
ANSWERS_COMPARED = 50
#: with shingle "auto", texts shorter than this many words and without tool context are compared
#: as character 5-grams: one typo changes a third of a short text's word 3-grams, a few of its
#: character 5-grams; longer texts keep word 3-grams (as discriminating, and four times faster)
SHORT_TEXT_WORDS = 32
CHAR_NGRAM = 5
#: record lines per batch sent to the engine (pass 1, the split by facts and asks), then dropped
SURVEY_BATCH = 1024
#: replies held at once when judging answers (a few KB each); more take another pass over the input
REPLIES_PER_PASS = 500_000
KEEPER_CRITERIA = ("reviewed", "corrected", "positive_feedback", "recent", "longest")


# -- what the keeper policy looks at ------------------------------------------------------------------------
def _timestamp(value: Any) -> float:
    """Seconds since the epoch; -inf when missing or unreadable (oldest)."""
    moment = parse_moment(value)
    return moment.timestamp() if moment else float("-inf")


def _merits(record: Record) -> tuple[float, ...]:
    """The record's value per keeper criterion, higher is better (in KEEPER_CRITERIA order)."""
    thumbs = record.feedback.get("thumbs")
    return (float(record.review.get("verdict") == "accept"), float(record.corrected),
            {"up": 1.0, "down": -1.0}.get(thumbs, 0.0), _timestamp(record.source.get("timestamp")),
            float(sum(len(" ".join(message_text(m).split())) for m in record.messages)))


def _accepted_reply(record: Record) -> bool:
    """Whether the record has a reply nobody rejected (a thumbs-down or a reviewer's reject)."""
    return (record.target is not None and bool(readable_text(record.target).strip())
            and record.review.get("verdict") != "reject" and record.feedback.get("thumbs") != "down")


def _last_turn_key(messages: list[dict[str, Any]]) -> int:
    """A 63-bit hash of everything after the last user turn: the answer (tool calls, their
    results and the reply) as written."""
    return xxhash.xxh3_64_intdigest(orjson.dumps(messages[last_user_turn(messages) + 1:])) >> 1


def _answer(record: Record) -> str:
    """The answer (tool calls and results since the last user turn, then the reply) normalized as
    dedup compares texts, call ids and JSON key order aside; "" without a reply."""
    if record.target is None or not readable_text(record.target).strip():
        return ""
    return normalize(answer_text(record.messages[last_user_turn(record.messages) + 1:]))


def _answer_key(answer: str) -> int:
    """A 63-bit hash of the normalized answer; 0 without one."""
    return _text_key(answer) if answer else 0


def _join_same_answers(labels: np.ndarray, members: np.ndarray, answers: np.ndarray,
                       measured: "Measured") -> np.ndarray:
    """Questions worded a little differently ("How do I change my display name?", "How do I
    update ...") given the very same answer are one example: records with equal answers whose
    texts are at least QUESTION_FLOOR similar join one cluster. Each is measured against the
    first record with its answer, so a canned reply to a thousand questions costs a thousand
    comparisons, not a million."""
    i, j = _firsts_with_the_same_key(labels, members, answers)
    alike = measured.part[i] == measured.part[j]  # a short question and a long one are too unlike to join
    i, j = i[alike], j[alike]
    close = measured.similarity(i, j) >= QUESTION_FLOOR
    return _joined(labels, members, i[close], j[close])


def _near_answer_keys(answer: str) -> tuple[int, int, int]:
    """Three hashes of the normalized answer, each with every third word left out from another
    offset: two answers that differ by one word swapped for another ("Tap" / "Click Forgot
    password") share one. Zeros for an answer too short to tell from another by the words left."""
    words = WORD.findall(answer)
    if len(words) < NEAR_ANSWER_WORDS:
        return 0, 0, 0
    return tuple(_text_key(" ".join(word for n, word in enumerate(words) if n % 3 != offset)) for offset in range(3))


def _join_near_answers(records: RecordSource, labels: np.ndarray, members: np.ndarray, keys: np.ndarray,
                       answers: np.ndarray, measured: "Measured", engine: Engine) -> np.ndarray:
    """Questions worded differently whose answers differ by one word ("Is there a gym at the
    hotel?" / "... a fitness center ...", "Just use" / "Simply use your room key") are one example
    when the two answers agree (``_one_answer``): what a model answers to a question reworded.
    The very same answer is ``_join_same_answers``' (a canned reply is given to other questions too)."""
    keys = keys.reshape(-1, 3)
    pairs = [_neighbours_with_the_same_key(labels, members, keys[:, offset]) for offset in range(3)]
    i, j = (np.concatenate(side) for side in zip(*pairs))
    alike = (measured.part[i] == measured.part[j]) & (answers[i] != answers[j])
    i, j = i[alike], j[alike]
    close = measured.similarity(i, j) >= NEAR_QUESTION_FLOOR
    i, j = i[close], j[close]
    if not len(i):
        return labels
    agree = np.zeros(len(i), bool)
    for start in range(0, len(i), REPLIES_PER_PASS // 2):  # a pass over the input per chunk: memory stays bounded
        part = slice(start, start + REPLIES_PER_PASS // 2)
        wanted = np.unique(np.concatenate([i[part], j[part]]))
        read = {index: (reply, words) for index, (_, reply, _, words) in _answers_read(records, wanted, engine)}
        agree[part] = [_one_answer(*read[a], *read[b]) for a, b in zip(i[part].tolist(), j[part].tolist())]
    return _joined(labels, members, i[agree], j[agree])


def _one_answer(reply: Reply, question: frozenset[str], other: Reply, other_question: frozenset[str]) -> bool:
    """Whether two answers one word apart are one: they agree, on the same tool results, and the
    word swapped is not the one swapped in the question ("merge my two Gold accounts" / "...
    Student accounts", each answered about its own plan, are two examples). The rules alone decide:
    this joins the clusters of two questions, where the answer model is not asked; it weighs replies
    to one question later."""
    swapped = (question ^ other_question) & (reply.words ^ other.words)
    return not swapped and same_grounds(reply, other) and disagreement(reply, other) is None


def _firsts_with_the_same_key(labels: np.ndarray, members: np.ndarray,
                              keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(record, first record with its key) for the members with a key (non-zero) in another
    cluster than that first record."""
    keyed, _, first = _runs_of_keys(members, keys)
    apart = labels[first] != labels[keyed]
    return keyed[apart], first[apart]


def _neighbours_with_the_same_key(labels: np.ndarray, members: np.ndarray,
                                  keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(record, first record with its key) and (record, the one before it with its key) for the
    members with a key in another cluster than that one: records sharing a key over questions
    that wander ("Is there a gym ...", "... a fitness center ...", "... a fitness room ...") are
    each measured against two of them, not only the first."""
    keyed, starts, first = _runs_of_keys(members, keys)
    previous = np.concatenate([keyed[:1], keyed[:-1]])
    previous[starts] = keyed[starts]
    i, j = np.concatenate([keyed, keyed]), np.concatenate([first, previous])
    apart = labels[i] != labels[j]
    return i[apart], j[apart]


def _runs_of_keys(members: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The members with a key, sorted by it (input order within a key), where each key's run starts,
    and the first record of each one's run."""
    keyed = members[keys[members] != 0]
    keyed = keyed[np.argsort(keys[keyed], kind="stable")]
    starts = _first_of_runs(keys[keyed])
    return keyed, starts, np.repeat(keyed[starts], np.diff(np.append(starts, len(keyed))))


def _joined(labels: np.ndarray, members: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The clusters with those of each pair (i, j) joined."""
    if not len(i):
        return labels
    joined = labels.copy()
    joined[members] = components(labels.max() + 1, labels[i], labels[j])[labels[members]]
    return joined


def _question_key(text: str) -> int:
    """A 63-bit hash of a conversation's user turns, case and spacing aside; 0 for none. A short
    question also without its punctuation, contractions and courtesies ("check order <ORDER_1>
    please" asks what "Check order <ORDER_1>?" asks), where a word is much of its text (in a long
    one, MinHash finds the copy: reading every word of it again would cost the stage a third)."""
    lower = text.lower()
    if len(lower) > SHORT_INPUT:  # user turns longer than this are not read word by word
        return _text_key(" ".join(lower.split()))
    lower = CONTRACTION.sub(lambda match: CONTRACTIONS[match[0].replace("’", "'")], lower)
    words = WORD.findall(COURTESY.sub(" ", lower)) or WORD.findall(lower)
    return _text_key(" ".join(words)) if words else 0


def _text_key(text: str) -> int:
    """A 63-bit hash of ``text``, never 0 (0 says "none")."""
    return xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass")) >> 1 or 1


#: the views that compare tool results: in them, what a tool returned tells examples apart
VIEWS_WITH_TOOLS = frozenset({"auto", "input", "conversation"})


def compared_text(record: Record, view: str) -> str:
    """The text of ``record`` that dedup compares in ``view``, its opaque identifiers made one."""
    return without_opaque_ids(record_text(record, view))


def _tool_context(record: Record) -> bool:
    """Whether tools were called or returned something before the reply."""
    return any(m.get("role") in ("tool", "function") or m.get("tool_calls") for m in record.prompt_messages)


def _conflict_view_text(record: Record, view: str, text: str, tools: bool) -> str:
    """The record's text in the conflict view, given its ``text`` in ``view``: that same text when
    the view adds nothing to the user turns (``auto`` without tool context)."""
    if view == CONFLICT_VIEW or (view == "auto" and not tools):
        return text
    return compared_text(record, CONFLICT_VIEW)


def _example_key(record: Record, view: str, text: str) -> int:
    """A 64-bit hash of what makes a near-duplicate another example: the amounts, dates and numbers
    its ``text`` (as compared in ``view``) states, and what its tools returned, every field of it
    (``"roaming_enabled": false`` against ``true`` is one word apart, and another example); 0 when
    there are none."""
    facts = sorted(map(repr, stated_facts(text)))
    results = sorted(returned(message_text(message)) for message in record.prompt_messages
                     if message.get("role") in ("tool", "function")) if view in VIEWS_WITH_TOOLS else []
    if not (facts or results):
        return 0
    return (xxhash.xxh3_64_intdigest(repr((facts, results)).encode()) >> 1) | 1


#: a record's example key, the sentences of its long input, and the last of several user turns (``_last_ask``)
Said = tuple[int, Sentences | None, frozenset[str] | None]


def _example_keys(records: RecordSource, view: str, engine: Engine) -> Callable[[np.ndarray], Iterator[Said]]:
    """The example keys of the wanted records (sorted indices), the sentences of their user turns
    when long, and their last ask after earlier turns: one more pass over the input, its lines parsed
    on the engine."""
    return lambda wanted: _per_record_on_engine(records, wanted, engine, _said_batch, view)


def _said_batch(lines: list[bytes], view: str) -> list[Said]:
    """What a batch of record lines says (on the engine): each one's example key, and the
    sentences of its user turns when long."""
    def said(record: Record) -> Said:
        text = compared_text(record, view)
        asked = _conflict_view_text(record, view, text, _tool_context(record))
        return _example_key(record, view, text), sentences(asked), _last_ask(record)
    return [said(record) for record in map(Record.from_json, lines)]


def _last_ask(record: Record) -> frozenset[str] | None:
    """In a conversation of several user turns, the content words of the last, cut to a stem; None
    for one turn. Logs of one conversation taken at each turn share most of their text; a later turn
    asking something else ("What about water?" after "How should I pack?") is another example."""
    users = [message for message in record.prompt_messages if message.get("role") == "user"]
    if len(users) < 2:
        return None
    words = (token.replace("’", "'").split("'")[0] for token in TOKEN.findall(normalize(readable_text(users[-1]))))
    return frozenset(word[:STEM] for word in words
                     if len(word) > 2 and word not in FUNCTION_WORDS and word not in ASKING_WORDS and not word.isdigit())


#: words any question may open with: "What's the weather like?" / "Where's the nearest pharmacy?" share none
ASKING_WORDS = frozenset("what where when how why which who whom whose shall should might may".split())


def _asks_otherwise(ask: frozenset[str] | None, other: frozenset[str] | None) -> bool:
    """Whether two last asks share no content word ("pls where's my order" / "where is my order
    please" share "order"); a record of one turn asks what the other's whole text asks."""
    return bool(ask and other and ask.isdisjoint(other))


def _split_by_facts_and_asks(labels: np.ndarray, members: np.ndarray,
                             said_of: Callable[[np.ndarray], Iterator[Said]]) -> np.ndarray:
    """Near-duplicates that state other amounts, dates or numbers ("a $25 gift card", "a $75
    gift card"), whose tools returned anything else ("processing", "delivered"), or whose long
    inputs ask something else (``input_agreement``) are other examples: each cluster splits by
    what ``said_of`` gives for its records (read for the records of clusters of several only).
    Clusters are numbered by first member."""
    if not len(members):
        return labels
    sizes = np.bincount(labels[members])
    clustered = members[sizes[labels[members]] > 1]
    facts, parts = np.zeros(len(labels), np.int64), np.zeros(len(labels), np.int64)
    asked = _AskedParts(labels, clustered)
    for index, (key, said, last) in zip(clustered.tolist(), said_of(clustered)):
        facts[index], parts[index] = key, asked.part(index, key, said, last)
    signature = np.stack([labels[members], facts[members], parts[members]])
    _, first, inverse = np.unique(signature, axis=1, return_index=True, return_inverse=True)
    split = labels.copy()
    split[members] = np.argsort(np.argsort(first))[inverse.ravel()]
    return split


class _AskedParts:
    """Which part of its cluster (and example key) each record's long input or last ask puts it in,
    read in input order: it joins the first part whose first record asks what it asks. Only the first
    records of clusters not yet read to their end are held, never every text."""

    def __init__(self, labels: np.ndarray, clustered: np.ndarray):
        self.labels = labels
        self.unread = np.bincount(labels[clustered])
        # by cluster, then example key and whether of one turn: (first record, its long input's sentences, its last ask)
        self.firsts: dict[int, dict[tuple[int, bool], list[tuple[int, Sentences | None, frozenset[str] | None]]]] = {}

    def part(self, index: int, fact: int, said: Sentences | None, last: frozenset[str] | None) -> int:
        """0 for the first part, where short inputs of one turn stay; else one more than its first record."""
        label, part = int(self.labels[index]), 0
        if said is not None or last is not None:
            # records of one turn and of several are compared among their own kind, whichever comes first
            firsts = self.firsts.setdefault(label, {}).setdefault((fact, last is None), [])
            joined = next((first for first, asked, ask in firsts[:ASKS_COMPARED]
                           if not (said is not None and asked is not None and says_otherwise(asked, said))
                           and not _asks_otherwise(ask, last)), None)
            if joined is None:
                firsts.append((index, said, last))
                joined = index
            part = 0 if joined == firsts[0][0] else joined + 1
        self.unread[label] -= 1
        if not self.unread[label]:
            self.firsts.pop(label, None)
        return part


def _words(text: str) -> str:
    """The text's words alone, once normalized (placeholders unnumbered, case folded)."""
    return " ".join(WORD.findall(normalize(text)))


def _first_of_runs(labels: np.ndarray) -> np.ndarray:
    """Where each run of equal labels starts in a sorted label array."""
    first = np.ones(len(labels), bool)
    first[1:] = labels[1:] != labels[:-1]
    return np.flatnonzero(first)


def _kinds(tools: np.ndarray, words: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """With shingle "auto": which texts are compared as character n-grams, which as word n-grams.
    Two texts with Jaccard >= t differ in length by a factor t at most: the texts that could
    match across the boundary are compared both ways (and their two clusters joined)."""
    short = ~tools & (words < SHORT_TEXT_WORDS)
    near = ~tools & (words >= SHORT_TEXT_WORDS * threshold) & (words < SHORT_TEXT_WORDS / threshold)
    return short | near, ~short | near


class Store:
    """The compact sketches (see Sketches.compact) of the records compared with one kind of shingle.
    Each batch's are spilled to temporary files until ``close`` reads them back whole: kept in
    memory, thousands of mid-sized arrays between the batches' temporaries fragment the heap."""

    COLUMNS = ("keys", "blank", "signatures", "hashes", "counts", "bands", "low_bytes")

    def __init__(self, params: Params):
        self.params = params
        self.files = {column: tempfile.TemporaryFile() for column in self.COLUMNS}
        self.rows = array("i")  # row of each record, -1 for records not compared this way
        self.count = 0
        self.sketches = sketch([], params).compact()

    def add(self, wanted: np.ndarray, part: Sketches) -> None:
        """The sketches of a batch's wanted records (made by sketch_view)."""
        for column in self.COLUMNS:
            values = _column(part, column)
            if values is not None:
                self.files[column].write(np.ascontiguousarray(values).tobytes())
        self.rows.extend(np.where(wanted, self.count + np.cumsum(wanted) - 1, -1).tolist())
        self.count += len(part)

    def close(self) -> None:
        columns = {}
        for column in self.COLUMNS:
            like, handle = _column(self.sketches, column), self.files.pop(column)
            handle.seek(0)
            values = np.fromfile(handle, like.dtype) if like is not None else None
            handle.close()
            columns[column] = values if like is None or like.ndim == 1 else values.reshape(self.count, like.shape[1])
        offsets = np.concatenate(([0], np.cumsum(columns.pop("counts"))))
        self.sketches = Sketches(self.params, offsets=offsets, **columns)

    def take(self, members: np.ndarray) -> Sketches:
        rows = np.frombuffer(self.rows, np.int32)[members]
        return self.sketches if np.array_equal(rows, np.arange(len(self.sketches))) else self.sketches.take(rows)


def _column(sketches: Sketches, column: str) -> np.ndarray | None:
    """A column of the sketches as Store spills it: "counts" are the shingles per text."""
    return np.diff(sketches.offsets) if column == "counts" else getattr(sketches, column)


def shingle_kinds(params: Params, auto: bool) -> tuple[Params, ...]:
    """How a view's texts are compared: with shingle "auto", character 5-grams for short texts
    and the params' word n-grams for the rest (see SHORT_TEXT_WORDS)."""
    return (replace(params, shingle="char", ngram=CHAR_NGRAM), params) if auto else (params,)


@dataclass
class SketchedBatch:
    """A batch of records' texts in one view, sketched (made by sketch_view, on any engine)."""

    own: np.ndarray  # the record's text differs from the base view's (always, without a base)
    words: np.ndarray  # words per text
    tools: np.ndarray  # the text holds tool calls or results (compared as word n-grams, whatever its length)
    parts: list[tuple[np.ndarray, Sketches]]  # per shingle kind: which records it sketched, their sketches


def sketch_view(texts: list[str], tools: np.ndarray, params: Params, auto: bool,
                base: tuple[list[str], SketchedBatch] | None = None, every_word: bool = False) -> SketchedBatch:
    """Sketch a batch of records' texts with each shingle kind that applies to them
    (``every_word``: each text as word n-grams, whatever its length; ``base``: another view's
    texts and their sketches, to sketch only the texts that differ from those)."""
    if base is None:
        own, words = np.ones(len(texts), bool), np.fromiter(map(len, map(str.split, texts)), np.int32, len(texts))
    else:
        own, words = np.array([a != b for a, b in zip(texts, base[0])], bool), base[1].words.copy()
        words[own] = [len(text.split()) for text, mine in zip(texts, own) if mine]
    kinds = shingle_kinds(params, auto)
    wanted = [own]
    if len(kinds) == 2:
        chars, word = _kinds(tools, words, params.threshold)
        wanted = [chars & own, (word | every_word) & own]
    # character shingles would see punctuation: "refund?" and "refund," differ in five
    parts = [(chosen, sketch([_words(t) if kind.shingle == "char" else t for t, w in zip(texts, chosen) if w],
                             kind).compact())
             for kind, chosen in zip(kinds, wanted)]
    return SketchedBatch(own, words, tools, parts)


def _survey_batch(lines: list[bytes], view: str, separate_input_view: bool, params: Params, auto: bool,
                  every_word: bool) -> tuple[Keys, SketchedBatch, SketchedBatch | None]:
    """Pass 1's work on a batch of record lines, on the engine: their keys, and their texts sketched
    (the dedup view; the conflict view too where it is separate)."""
    keys, texts, questions, tools = Keys(), [], [], np.zeros(len(lines), bool)
    for number, record in enumerate(map(Record.from_json, lines)):
        tools[number] = _tool_context(record)
        texts.append(compared_text(record, view))
        questions.append(_conflict_view_text(record, view, texts[-1], tools[number]) if separate_input_view else None)
        keys.add(record, questions[-1])
    sketched = sketch_view(texts, tools, params, auto, every_word=every_word)  # decontamination compares words
    if not separate_input_view:
        return keys, sketched, None
    return keys, sketched, sketch_view(questions, tools, params, auto, base=(texts, sketched))


class Sketched:
    """One view of every record, sketched batch by batch in pass 1 and its texts dropped: per
    record its word count and its sketches, per shingle kind.
    With a ``base`` view, a record whose text is the same in both is sketched once, there."""

    def __init__(self, params: Params, auto: bool, base: Sketched | None = None):
        self.base = base
        self.stores = {kind: Store(kind) for kind in shingle_kinds(params, auto)}
        self.words = array("i")
        self.tools = bytearray()
        self.own = bytearray()

    def add(self, batch: SketchedBatch) -> None:
        self.own += batch.own.tobytes()
        self.words.extend(batch.words.tolist())
        self.tools += batch.tools.tobytes()
        for store, (wanted, part) in zip(self.stores.values(), batch.parts):
            store.add(wanted, part)

    def close(self) -> None:
        for store in self.stores.values():
            store.close()

    @property
    def differs(self) -> bool:
        return 1 in self.own

    def take(self, params: Params, members: np.ndarray) -> Sketches:
        """The sketches of these records, in this order."""
        own = np.frombuffer(self.own, bool)[members]
        if own.all():
            return self.stores[params].take(members)
        if not own.any():
            return self.base.take(params, members)
        both = concat([self.base.take(params, members[~own]), self.stores[params].take(members[own])], params)
        return both.take(np.argsort(np.concatenate([np.flatnonzero(~own), np.flatnonzero(own)]), kind="stable"))


@dataclass
class Keys:
    """What dedup keeps of each record read in pass 1 (flat arrays, a value or a few per record):
    its id, its keeper merits and hashes of its parts."""

    ids: IdTable = field(default_factory=IdTable)
    merits: array = field(default_factory=lambda: array("d"))  # len(KEEPER_CRITERIA) values per record
    accepted: bytearray = field(default_factory=bytearray)
    last_turns: array = field(default_factory=lambda: array("q"))  # a hash of all after the last user turn
    answers: array = field(default_factory=lambda: array("q"))  # the same, normalized (see _answer_key)
    # the answer with every third word left out, from each of three offsets: one word swapped keeps one
    near_answers: array = field(default_factory=lambda: array("q"))
    questions: array = field(default_factory=lambda: array("q"))  # the user turns when compared apart: _question_key
    # how many original records each one already stands for (a survivor of an earlier dedup)
    represents: array = field(default_factory=lambda: array("l"))

    def add(self, record: Record, question: str | None) -> None:
        """The record's keys (``question``: its conflict-view text, when that view is apart)."""
        self.ids.append(record.id)
        self.merits.extend(_merits(record))
        self.accepted.append(_accepted_reply(record))
        self.last_turns.append(_last_turn_key(record.messages))
        answer = _answer(record)
        self.answers.append(_answer_key(answer))
        self.near_answers.extend(_near_answer_keys(answer))
        self.represents.append(int(record.groups.get("cluster_size", 1)))
        self.questions.append(_question_key(question) if question else 0)

    def extend(self, other: Keys) -> None:
        for column in fields(Keys):
            getattr(self, column.name).extend(getattr(other, column.name))


@dataclass(kw_only=True)
class Survey(Keys):
    """Pass 1: what dedup needs of every record, without keeping the records or their texts
    (flat arrays and sketches)."""

    view: Sketched
    input: Sketched | None  # the conflict view, when it is not the dedup view


class Measured:
    """Sketches of records, one set per shingle kind, to measure any two records against each
    other; records sketched with different kinds are re-read and compared on their texts."""

    def __init__(self, n: int, params: Params, text_of: Callable[[np.ndarray], dict[int, str]]):
        self.params, self.text_of = params, text_of
        self.texts: dict[int, str] = {}
        self.parts: list[Sketches] = []
        self.part = np.full(n, -1, np.int32)
        self.row = np.full(n, -1, np.int32)

    def read(self, indices: np.ndarray) -> None:
        """Keep the texts of these records (one more pass over the input, for those not kept yet)."""
        missing = np.setdiff1d(indices, np.fromiter(self.texts, np.int64, len(self.texts)))
        if len(missing):
            self.texts.update(self.text_of(missing))

    def add(self, members: np.ndarray, sketches: Sketches) -> None:
        self.part[members], self.row[members] = len(self.parts), np.arange(len(members))
        self.parts.append(sketches)

    def similarity(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return self.compare(i, j)[0]

    def compare(self, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Jaccard similarity, equal normalized text) of records i and j, pair by pair."""
        similarity, same = np.zeros(len(i)), np.zeros(len(i), bool)
        for number, sketches in enumerate(self.parts):
            both = (self.part[i] == number) & (self.part[j] == number)
            rows, other = self.row[i[both]], self.row[j[both]]
            similarity[both], same[both] = sketches.similarity(rows, other), sketches.same_text(rows, other)
        across = np.flatnonzero(self.part[i] != self.part[j])  # rare: a conflict's copies told apart
        self.read(np.concatenate([i[across], j[across]]))
        for k in across:
            pair = sketch([self.texts[i[k]], self.texts[j[k]]], self.params)
            similarity[k], same[k] = pair.similarity([0], [1])[0], pair.same_text([0], [1])[0]
        return similarity, same


@dataclass
class Plan:
    """Where each record goes, decided before any record is written."""

    labels: np.ndarray  # dedup cluster per record (-1: decontaminated)
    keeper_of: np.ndarray  # the record each one is set aside for (itself when kept; -1: decontaminated)
    sizes: np.ndarray  # original records per cluster
    first: np.ndarray  # first record of each cluster (its id names the cluster)
    measured: Measured  # the records not decontaminated, to measure against each other
    similarity: np.ndarray  # to its keeper (duplicates) or reference (decontaminated)
    exact: np.ndarray  # same normalized text as the keeper
    reference: dict[int, tuple[str, str]]  # record -> (file, record id) of the reference it matched
    conflict: dict[int, str] = field(default_factory=dict)  # kept record index -> conflict group id
    conflict_reason: dict[str, str] = field(default_factory=dict)  # group id -> why
    # set-aside copy of an answer -> its conflict's group id (None: one answer, no conflict)
    same_answer: dict[int, str | None] = field(default_factory=dict)


@register
class Dedup(Stage):
    name = "dedup"

    def __init__(self, view: str = "auto", threshold: float = 0.8, num_perm: int = 128, shingle: str = "auto",
                 ngram: int = 3, verify: bool = True, keeper: list[str] | tuple[str, ...] = KEEPER_CRITERIA,
                 keep_per_cluster: int = 1, conflicts: bool = True, answer_model: bool = True,
                 answer_model_threshold: float = ANSWER_EVEN, conflict_below: float = 0.0,
                 against: list[str] | tuple[str, ...] = (), workers: int | None = None,
                 judge: dict[str, Any] | None = None, judge_scope: str = "alike"):
        if not 0 < answer_model_threshold <= 1:  # NaN too: a schema's bounds let it through
            raise RecipeError(f"dedup.answer_model_threshold must be above 0 and at most 1, not {answer_model_threshold}")
        if judge is None and judge_scope != "alike":  # said now, not found out from an unjudged run
            raise RecipeError(f"dedup.judge_scope {judge_scope} names pairs for a judge, but there is none: "
                              "set dedup.judge (its model)")
        super().__init__(view=view, threshold=threshold, num_perm=num_perm, shingle=shingle, ngram=ngram,
                         verify=verify, keeper=list(keeper), keep_per_cluster=keep_per_cluster, conflicts=conflicts,
                         answer_model=answer_model, answer_model_threshold=answer_model_threshold,
                         conflict_below=conflict_below, against=list(against),
                         workers=workers, judge=judge, judge_scope=judge_scope)
        # "auto": word n-grams, or character 5-grams for short texts (see SHORT_TEXT_WORDS)
        self.params = Params(threshold=threshold, num_perm=num_perm, shingle="word" if shingle == "auto" else shingle,
                             ngram=ngram, verify=verify, workers=workers)

    def fingerprint_extra(self, ctx: StageContext) -> str:
        """The reference files and the answer model's weights: a resumed run judges again when either changed."""
        paths = [self._reference_path(p, ctx) for p in self.options["against"]]
        weighed = [ANSWER_WEIGHTS] if self.options["conflicts"] and self.options["answer_model"] else []
        return files_fingerprint([*paths, *weighed])

    def run(self, records: RecordSource, ctx: StageContext) -> Iterator[Record]:
        survey = self.survey(records, ctx.engine)
        plan = self.plan(records, survey, ctx)
        if self.options["conflicts"]:
            judge = AnswerJudge(self.options["judge"], ctx) if self.options["judge"] else None
            self.find_conflicts(records, survey, plan, ctx.engine, judge)
            if judge:
                ctx.stats.update(judge.stats())
                if ctx.planning:
                    ctx.stats["estimate"] = judge.caller.estimate()
        self.settle(plan)
        yield from self.emit(records, survey, plan, ctx)

    # -- pass 1 ---------------------------------------------------------------------------------------------
    def survey(self, records: RecordSource, engine: Engine) -> Survey:
        """Every record's keys and sketches, worked out a batch of lines at a time on the engine
        (every core, or Ray): this process reads the lines, and keeps no text."""
        separate_input_view = self.options["view"] != CONFLICT_VIEW and self.options["conflicts"]
        auto = self.options["shingle"] == "auto"
        view = Sketched(self.params, auto)
        survey = Survey(view=view, input=Sketched(self.params, auto, base=view) if separate_input_view else None)
        batches = batched(records.lines(), SURVEY_BATCH)
        for keys, view_batch, input_batch in engine.map_batches(_survey_batch, batches, self.options["view"],
                                                                separate_input_view, self.params, auto,
                                                                bool(self.options["against"])):
            survey.extend(keys)
            survey.view.add(view_batch)
            if input_batch is not None:
                survey.input.add(input_batch)
        survey.view.close()
        if survey.input is not None:
            survey.input.close()
        if survey.input is not None and not survey.input.differs:
            survey.input = None
        return survey

    # -- deciding ---------------------------------------------------------------------------------------------
    def plan(self, records: RecordSource, survey: Survey, ctx: StageContext) -> Plan:
        n = len(survey.ids)
        similarity, reference = np.zeros(n), {}
        if self.options["against"]:
            self.decontaminate(survey, ctx, similarity, reference)
        clean = np.setdiff1d(np.arange(n), np.fromiter(reference, np.int64, len(reference)))
        labels, linked_pairs = self.cluster(survey.view, clean, survey, ctx.engine)
        measured = self.measure(records, survey, clean)
        if self.options["view"] in SAME_QUESTION_VIEWS:
            labels = _join_same_answers(labels, clean, np.frombuffer(survey.answers, np.int64), measured)
            labels = _join_near_answers(records, labels, clean, np.frombuffer(survey.near_answers, np.int64),
                                        np.frombuffer(survey.answers, np.int64), measured, ctx.engine)
        labels = _split_by_facts_and_asks(labels, clean, _example_keys(records, self.options["view"], ctx.engine))
        first = np.unique(labels[clean], return_index=True)[1]
        # A cluster's size counts every original record it stands for, so a second dedup pass
        # (after synth) keeps the sizes the first one found.
        weights = np.frombuffer(survey.represents, np.int64)[clean] if n else np.zeros(0, np.int64)
        sizes = np.bincount(labels[clean], weights=weights).astype(np.int64)
        plan = Plan(labels, np.full(n, -1), sizes, clean[first], measured, similarity, np.zeros(n, bool), reference)
        self.choose_keepers(plan, clean, survey)
        ctx.stats.update(view=self.options["view"], threshold=self.params.threshold, num_perm=self.params.num_perm,
                         bands=self.params.bands_rows[0], rows=self.params.bands_rows[1],
                         linked_pairs=linked_pairs)
        return plan

    def cluster(self, sketched: Sketched, members: np.ndarray, survey: Survey,
                engine: Engine) -> tuple[np.ndarray, int]:
        """Near-duplicate clusters of ``members`` (a label per record, -1 for others), each
        shingle kind's texts among themselves; how many similar pairs joined two clusters."""
        labels, found = np.full(len(survey.ids), -1), 0
        linked: list[np.ndarray] = []  # a record near the length boundary, clustered both ways: its two labels
        for params, part in self._by_shingle(sketched, members):
            groups = groups_of(sketched.take(params, part), engine)
            part_labels = groups.labels + labels.max(initial=-1) + 1
            twice = labels[part] >= 0
            linked.append(np.stack([labels[part][twice], part_labels[twice]], axis=1))
            labels[part] = part_labels
            found += groups.linked_pairs
        if len(members) and (edges := np.concatenate(linked)).size:
            merged = components(labels.max() + 1, edges[:, 0], edges[:, 1])
            labels[members] = merged[labels[members]]
        return labels, found

    def measure(self, records: RecordSource, survey: Survey, members: np.ndarray) -> Measured:
        """How to measure ``members`` against each other: each by the last shingle kind it was
        clustered with (word n-grams, for a text near the boundary)."""
        def text_of(indices: np.ndarray) -> dict[int, str]:
            wanted = np.unique(indices)
            return dict(zip(wanted.tolist(), self._texts(records, wanted, self.options["view"])))

        measured = Measured(len(survey.ids), self.params, text_of)
        for params, part in self._by_shingle(survey.view, members):
            measured.add(part, survey.view.take(params, part))
        return measured

    @staticmethod
    def _texts(records: RecordSource, wanted: np.ndarray, view: str) -> Iterator[str]:
        """The texts of the wanted records (sorted indices), in this view: one more pass over the input."""
        return (compared_text(record, view) for _, record in records.select(wanted))

    def _by_shingle(self, sketched: Sketched, members: np.ndarray) -> list[tuple[Params, np.ndarray]]:
        if self.options["shingle"] != "auto":
            return [(self.params, members)]
        tools = np.frombuffer(sketched.tools, bool)[members]
        chars, words = _kinds(tools, np.frombuffer(sketched.words, np.int32)[members], self.params.threshold)
        char_params = replace(self.params, shingle="char", ngram=CHAR_NGRAM)
        return [(char_params, members[chars]), (self.params, members[words])]

    def rank(self, labels: np.ndarray, members: np.ndarray, survey: Survey) -> tuple[np.ndarray, np.ndarray]:
        """``members`` sorted by cluster, and within a cluster best first: by the first keeper
        criterion, ties broken by the next, and finally by input order. Returns (members, labels)."""
        merits = np.frombuffer(survey.merits, float).reshape(-1, len(KEEPER_CRITERIA))[members]
        columns = [KEEPER_CRITERIA.index(c) for c in self.options["keeper"]]
        order = np.lexsort([members, *(-merits[:, c] for c in reversed(columns)), labels])
        return members[order], labels[order]

    def choose_keepers(self, plan: Plan, clean: np.ndarray, survey: Survey) -> None:
        """The best record of each cluster is kept; with keep_per_cluster k, up to k - 1 more."""
        ranked, labels = self.rank(plan.labels[clean], clean, survey)
        starts = _first_of_runs(labels)
        plan.keeper_of[ranked] = np.repeat(ranked[starts], np.diff(np.append(starts, len(ranked))))
        if self.options["keep_per_cluster"] > 1:
            parts = plan.measured.part[ranked]
            ends = np.append(starts[1:], len(ranked))
            mixed = np.maximum.reduceat(parts, starts) != np.minimum.reduceat(parts, starts)
            plan.measured.read(ranked[np.repeat(mixed, ends - starts)])  # their texts, in one pass
            for start, end in zip(starts, ends):
                if end - start > 1:
                    self._keep_diverse(plan, ranked[start:end])

    def _keep_diverse(self, plan: Plan, members: np.ndarray) -> None:
        """Greedy farthest-first: after the best record, keep the member least similar to every
        record kept so far, until keep_per_cluster are kept or only copies of them remain; the
        others are set aside for the kept record they are most similar to."""
        nearest = np.zeros(len(members), np.int64)
        closeness = plan.measured.similarity(members, np.full(len(members), members[0]))
        for _ in range(self.options["keep_per_cluster"] - 1):
            farthest = int(np.argmin(closeness))  # ties go to the better-ranked member
            if closeness[farthest] >= 1.0:
                break
            similarity = plan.measured.similarity(members, np.full(len(members), members[farthest]))
            closer = similarity > closeness
            nearest[closer], closeness = farthest, np.maximum(closeness, similarity)
        plan.keeper_of[members] = members[nearest]

    def decontaminate(self, survey: Survey, ctx: StageContext, similarity: np.ndarray,
                      reference: dict[int, tuple[str, str]]) -> None:
        ref_texts, ref_from = [], []
        for given in self.options["against"]:
            for record in self._read_reference(given, ctx):
                ref_texts.append(compared_text(record, self.options["view"]))
                ref_from.append((given, record.id))
        every = np.arange(len(survey.ids))
        sims, index = best_sketched_matches(survey.view.take(self.params, every),
                                            sketch(ref_texts, self.params).compact())
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

    # -- pass 2: answers and labeling conflicts -------------------------------------------------------------
    def find_conflicts(self, records: RecordSource, survey: Survey, plan: Plan, engine: Engine,
                       judge: AnswerJudge | None = None) -> None:
        """Among records given the same input, group accepted replies by answer; where answers
        disagree, keep one record per answer (the best ranked) and set its copies aside. With a
        judge, the wordings the rules (and the answer model) put in one answer are asked about first
        (in rounds: a split answer meets other answers), then the answers are settled with its verdicts."""
        input_labels = self._input_labels(records, survey, plan, engine)
        accepted = np.frombuffer(survey.accepted, bool) & (input_labels >= 0)
        accepted_per_label = np.bincount(input_labels[accepted], minlength=len(input_labels))
        shared = np.flatnonzero(accepted & (accepted_per_label[np.maximum(input_labels, 0)] > 1))
        if not len(shared):
            return
        ranked, labels = self.rank(input_labels[shared], shared, survey)
        starts = _first_of_runs(labels)
        # records that end in the same turn (reply, tool calls and results) give one answer:
        # a group of those has nothing to judge, and its replies are not read
        turns = np.frombuffer(survey.last_turns, np.int64)[ranked]
        varied = np.minimum.reduceat(turns, starts) != np.maximum.reduceat(turns, starts)
        for groups in _passes(starts[varied], np.append(starts[1:], len(ranked))[varied], REPLIES_PER_PASS):
            wanted = np.zeros(len(survey.ids), bool)
            for start, end in groups:
                wanted[ranked[start:end]] = True
            replies = _read_replies(records, wanted, engine, judge)
            if judge:
                judge.settle(lambda: [self._answers(ranked[start:end].tolist(), replies, judge)
                                      for start, end in groups])
            for start, end in groups:
                self._judge_answers(plan, survey, ranked[start:end].tolist(), replies, judge)

    def _input_labels(self, records: RecordSource, survey: Survey, plan: Plan, engine: Engine) -> np.ndarray:
        """Clusters on the conflict view: the dedup clusters themselves when they compare the same
        text. A record that called a tool is sketched as word n-grams, a short one that did not as
        character n-grams, so the two never meet in LSH: the same user turns join them outright."""
        if survey.input is None:
            return plan.labels
        clean = np.flatnonzero(plan.labels >= 0)
        labels = self.cluster(survey.input, clean, survey, engine)[0]
        same_question = _firsts_with_the_same_key(labels, clean, np.frombuffer(survey.questions, np.int64))
        labels = _joined(labels, clean, *same_question)
        return _split_by_facts_and_asks(labels, clean, _example_keys(records, CONFLICT_VIEW, engine))

    def _judge_answers(self, plan: Plan, survey: Survey, ranked: list[int], replies: dict[int, Reply],
                       judge: AnswerJudge | None) -> None:
        """Where answers disagree, flag them (one record an answer goes on); agreeing copies join."""
        answer_of, disputes = self._answers(ranked, replies, judge)
        disputed: set[int] = set()
        for answers, why in _connected(disputes):
            self._flag(plan, survey, {i: a for i, a in answer_of.items() if a in answers}, why)
            disputed |= answers
        if self.options["view"] in SAME_QUESTION_VIEWS:
            _merge_agreeing(plan, {i: a for i, a in answer_of.items() if a not in disputed})

    def _answers(self, ranked: list[int], replies: dict[int, Reply],
                 judge: AnswerJudge | None) -> tuple[dict[int, int], list[tuple[int, int, str]]]:
        """Best ranked first, each reply joins the first answer it agrees with, or starts its own;
        the answer of each record (by its first record) and how answers differ. Answers resting on
        other tool results are other examples, not a dispute."""
        seen = values_seen(replies[i].values for i in ranked)  # what each of its lookups returned
        answer_of: dict[int, int] = {}
        wordings: dict[int, list[Reply]] = {}  # the distinct replies of each answer, by its first record
        answer_of_reply: dict[tuple, int] = {}  # a reply met before, as (text, calls, results): its answer
        disputes: list[tuple[int, int, str]] = []  # (answer, answer, how they differ)
        for i in ranked:
            reply = replies[i]
            if (met := answer_of_reply.get((reply.key, reply.calls, reply.results))) is not None:
                answer_of[i] = met  # judged already: the same reply joins the same answer
                continue
            compared = list(islice(wordings, ANSWERS_COMPARED))
            differences = [self._answer_difference(wordings[a], reply, judge, seen) for a in compared]
            answer_of[i] = next((a for a, d in zip(compared, differences) if d is None), i)
            if answer_of[i] == i:
                disputes += [(a, i, d) for a, d in zip(compared, differences) if d is not OTHER_GROUNDS]
                wordings[i] = []
            if all(reply.key != other.key for other in wordings[answer_of[i]]):
                wordings[answer_of[i]].append(reply)
            answer_of_reply[(reply.key, reply.calls, reply.results)] = answer_of[i]
        return answer_of, disputes

    @staticmethod
    def _flag(plan: Plan, survey: Survey, answer_of: dict[int, int], why: list[str]) -> None:
        """One record per disputed answer goes on, tagged; the copies of each are set aside for it."""
        group_id = _group_id(survey.ids[min(answer_of)])
        plan.conflict_reason[group_id] = (f"{len(set(answer_of.values()))} different answers to one input "
                                          f"({len(answer_of)} records): " + "; ".join(dict.fromkeys(why[:4])))
        for i, answer in answer_of.items():
            plan.keeper_of[i] = answer
            if answer == i:
                plan.conflict[i] = group_id
            else:
                plan.same_answer[i] = group_id

    def _answer_difference(self, wordings: list[Reply], reply: Reply, judge: AnswerJudge | None,
                           seen: FieldValues) -> str | None:
        """Why ``reply`` is not the answer these wordings give: it must agree with each of them
        (agreement is not transitive: "12 months" and "18 months" both agree with "never
        expires, 1,200 points" on facts alone)."""
        return next(filter(None, (self._difference(w, reply, judge, seen) for w in wordings[:WORDINGS_COMPARED])), None)

    def _difference(self, a: Reply, b: Reply, judge: AnswerJudge | None, seen: FieldValues) -> str | None:
        """Why two replies are different answers (OTHER_GROUNDS: given other tool results); None
        when they are one answer. ``seen``: what the fields of the input's tool results held in all
        its lookups."""
        if (a.key, a.calls, a.results) == (b.key, b.calls, b.results):
            return None
        if other_grounds(a, b):
            return OTHER_GROUNDS
        found = weighed_disagreement(a, b, seen, self.options["answer_model_threshold"]) if self.options["answer_model"] \
            else disagreement(a, b, seen)
        if found is None and word_similarity(a, b) < self.options["conflict_below"]:
            found = f"replies share {word_similarity(a, b):.0%} of their words"
        if judge is not None and (found is None or self.options["judge_scope"] == "all"):
            verdict = judge.verdict(a, b)  # None: not asked yet, or not answered: the view above stands
            if verdict is not None:
                found = None if verdict == SAME_ANSWER else found or verdict
        return found

    def settle(self, plan: Plan) -> None:
        """Point every set-aside record at a kept one and measure how close it is to it."""
        clean = np.flatnonzero(plan.keeper_of >= 0)
        # A cluster keeper that turned out to be a copy of an answer hands its duplicates on to
        # that answer's record, which may itself have been handed on: follow to the end.
        while not np.array_equal(kept := plan.keeper_of[plan.keeper_of[clean]], plan.keeper_of[clean]):
            plan.keeper_of[clean] = kept
        dropped = clean[plan.keeper_of[clean] != clean]
        plan.similarity[dropped], plan.exact[dropped] = plan.measured.compare(dropped, plan.keeper_of[dropped])

    # -- pass 3: writing --------------------------------------------------------------------------------------
    def emit(self, records: RecordSource, survey: Survey, plan: Plan, ctx: StageContext) -> Iterator[Record]:
        counts = dict.fromkeys(("exact_removed", "near_removed", "decontaminated", "conflict_records",
                                "conflict_copies_removed", "same_answer_removed"), 0)
        stands_for = np.bincount(plan.keeper_of[plan.keeper_of >= 0], minlength=len(plan.keeper_of)) - 1
        for i, record in enumerate(records):
            if i in plan.reference:
                file, ref_id = plan.reference[i]
                ctx.set_aside(record, "duplicates", f"near-duplicate of reference set {file}", keeper_id=ref_id,
                              similarity=round(float(plan.similarity[i]), 4))
                counts["decontaminated"] += 1
                continue
            label = plan.labels[i]
            cluster_id = _group_id(survey.ids[plan.first[label]])
            record.groups["cluster"], record.groups["cluster_size"] = cluster_id, int(plan.sizes[label])
            keeper = int(plan.keeper_of[i])
            if keeper == i:
                if i in plan.conflict:
                    self._mark_conflict(record, plan.conflict[i], plan.conflict_reason[plan.conflict[i]])
                    counts["conflict_records"] += 1
                if stands_for[i] > 0:
                    record.note(self.name, "kept", cluster=cluster_id, duplicates=int(stands_for[i]))
                yield record
                continue
            kind = "exact" if plan.exact[i] else "near"
            reason = _duplicate_reason(kind, plan.similarity[i])
            if i in plan.same_answer:
                group = plan.same_answer[i]
                reason = "same input and same answer as its keeper" + (f" (conflict {group})" if group else "")
                counts["conflict_copies_removed" if group else "same_answer_removed"] += 1
            ctx.set_aside(record, "duplicates", reason, keeper_id=survey.ids[keeper],
                          cluster_id=cluster_id, similarity=round(float(plan.similarity[i]), 4))
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


def _merge_agreeing(plan: Plan, answer_of: dict[int, int]) -> None:
    """Records given one input that give one answer are one example, whichever clusters their
    wording put them in ("can't" and "cant" around a tool result's JSON): each cluster keeper
    among them is set aside for the record its answer's first record is kept as."""
    for i, answer in answer_of.items():
        target = _kept_as(plan.keeper_of, answer)
        if plan.keeper_of[i] == i and target != i:
            plan.keeper_of[i] = target
            plan.same_answer[i] = None


def _kept_as(keeper_of: np.ndarray, i: int) -> int:
    while keeper_of[i] != i:
        i = int(keeper_of[i])
    return i


def _read_replies(records: RecordSource, wanted: np.ndarray, engine: Engine,
                  judge: AnswerJudge | None = None) -> dict[int, Reply]:
    """The replies of the wanted records (a mask); copies (the same messages) share one. For a
    judge, with their texts, and only from records the PII scrubber has seen."""
    replies: dict[int, Reply] = {}
    read: dict[bytes, Reply] = {}
    unscrubbed: list[int] = []
    for i, (key, reply, scrubbed, _) in _answers_read(records, np.flatnonzero(wanted), engine, judge is not None):
        if judge is not None and not scrubbed:
            unscrubbed.append(i)
        replies[i] = read.setdefault(key, reply)
    if judge is not None:
        judge.caller.refuse_unscrubbed(record for _, record in records.select(unscrubbed))
    return replies


#: a record's answer as read on the engine: a hash of its messages (copies share it), its reply
#: (see read_reply), whether the PII scrubber has seen it, and the words of its user turns
ReadAnswer = tuple[bytes, Reply, bool, frozenset[str]]


def _answers_read(records: RecordSource, indices: np.ndarray, engine: Engine,
                  with_text: bool = False) -> Iterator[tuple[int, ReadAnswer]]:
    """(index, answer read) of the records at these sorted indices (reading a reply is dedup's
    costliest work per record)."""
    return zip(indices.tolist(), _per_record_on_engine(records, indices, engine, _read_answers_batch, with_text))


def _per_record_on_engine(records: RecordSource, indices: np.ndarray, engine: Engine,
                          work: Callable[..., list[Any]], *args: Any) -> Iterator[Any]:
    """``work``'s result for each record at these sorted indices, in order: one more pass over the
    input, the wanted lines sent a batch at a time to the engine, which parses them."""
    batches = batched((line for _, line in records.selected_lines(indices)), SURVEY_BATCH)
    return chain.from_iterable(engine.map_batches(work, batches, *args))


def _read_answers_batch(lines: list[bytes], with_text: bool) -> list[ReadAnswer]:
    """Engine work: the answers of a batch of record lines (copies in the batch read once)."""
    read: dict[bytes, Reply] = {}
    out = []
    for record in map(Record.from_json, lines):
        key = xxhash.xxh3_128_digest(orjson.dumps(record.messages))
        reply = read.get(key) or read.setdefault(key, read_reply(record.messages, with_text=with_text))
        words = frozenset(WORD.findall(normalize(compared_text(record, "user"))))
        out.append((key, reply, PII_TAG in record.tags, words))
    return out


def _passes(starts: np.ndarray, ends: np.ndarray, limit: int) -> Iterator[list[tuple[int, int]]]:
    """Groups (start, end), in runs of at most ``limit`` members (a larger group alone)."""
    run: list[tuple[int, int]] = []
    held = 0
    for start, end in zip(starts.tolist(), ends.tolist()):
        if run and held + end - start > limit:
            yield run
            run, held = [], 0
        run.append((start, end))
        held += end - start
    if run:
        yield run


def _connected(edges: list[tuple[int, int, str]]) -> list[tuple[set[int], list[str]]]:
    """The connected groups of an edge list, each with the labels of its edges."""
    root: dict[int, int] = {}

    def find(node: int) -> int:
        while root.setdefault(node, node) != node:
            node = root[node]
        return node

    for a, b, _ in edges:
        root[find(a)] = find(b)
    groups: dict[int, tuple[set[int], list[str]]] = {}
    for a, b, label in edges:
        nodes, labels = groups.setdefault(find(a), (set(), []))
        nodes.update((a, b))
        labels.append(label)
    return list(groups.values())


def _group_id(first_member_id: str) -> str:
    """A cluster's id: stable across runs, derived from the id of its first record."""
    return f"cl-{xxhash.xxh3_64_hexdigest(first_member_id.encode('utf-8'))}"


def _duplicate_reason(kind: str, similarity: float) -> str:
    """Why a record is set aside, in words; ``keeper_id`` beside it says for which record. The id
    is kept out of the words so that reasons repeat, and are scrubbed once (see ``scrubbed_reason``)."""
    if kind == "exact":
        return "exact duplicate of its keeper (same text once normalized)"
    return f"near-duplicate of its keeper (Jaccard {similarity:.2f} to it, same cluster)"
