"""The flag stage: fact-heavy examples belong in retrieval, not in the training set.

An example is fact-heavy when its reply rests on facts its own input does not hold (prices,
policies, dates, names...): fine-tuning on it teaches the model to state them from memory.
``dataprep.facts`` reads each reply offline and says why (the unsupported facts and cues), and
``dataprep.fact_model`` weighs that evidence beside the reply's words into a score; every scored
record carries ``scores.fact_heavy`` and ``reasons.fact_heavy``.

Records at or above ``threshold`` are acted on (``action``):

- ``route`` (default): to rag_candidates.jsonl, with a ``rag`` block in the disposition that
  a RAG indexer can take as it is: the question, the fact-bearing answer, the facts, the
  source record id and the evidence passage when the knowledge source has one;
- ``drop``: to rejected.jsonl with the reason;
- ``tag``: kept in training, tagged ``fact-heavy``.

Records within ``uncertain_margin`` of the threshold are tagged ``fact-heavy-uncertain`` and
counted: they are the ones a judge or a reviewer should look at.

``judge`` asks an LLM about the final replies ``judge_scope`` names: the uncertain ones (default),
every one the scorer would keep for training (``kept``: it misses most facts with neither digit
nor name, and training on a fact is the costly error), or ``all``. Its verdict decides them.

``knowledge`` points at the team's documents (a folder of .md/.txt files, or a JSONL file
with a ``text`` field per line). Replies are searched in it with BM25 (bm25s); a reply whose
unsupported facts a passage holds is fact-heavy whatever its score, with that passage as
evidence.

``grounded_variants`` turns each fact-heavy example into retrieval-grounded training data
that stays in training: a copy whose system prompt carries a context block with the facts (the
evidence passage, else the reply's fact sentences) and asks for answers from the context with
a citation, and a counterpart whose context lacks the facts and whose reply says the documents
do not hold the answer. The original still goes where ``action`` sends it.

``probe`` asks the model that will be fine-tuned (any OpenAI-compatible endpoint: a local vLLM
or Ollama) each prompt without its reply, ``samples`` times at a temperature above 0, for the
records whose replies hold unsupported facts. A fact no sample reproduces is Unknown to the model
(Gekhman et al. 2024, "Does fine-tuning LLMs on new knowledge encourage hallucinations?"):
training on it teaches the model to state what it does not know, so the record goes to RAG with
the samples as evidence. A reply whose facts the samples all reproduce is known: it stays in
training.

The dataset verdict (``stats.verdict``) reads the share of fact-heavy records: 50% or more
is mostly knowledge (index it, fine-tuning will not fix the failures), 20% or more is a
large part, 5% or more a normal share, less is behaviour data.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..engine import batched
from ..errors import InputError, RecipeError
from .. import fact_model
from ..facts import Assessment, input_texts, reply_text, unsupported_claims
from ..jsonl import BadLine, excerpt_of, iter_lines
from ..llm_caller import LLMCaller
from ..pipeline import RecordSource, Stage, StageContext, files_fingerprint, register
from ..record import UNCERTAIN_TAG, Record, derived_id, message_text, readable_text

ACTION_COUNTS = {"route": "routed", "drop": "dropped", "tag": "tagged"}
NOT_FOUND_REPLY = ("I couldn't find the answer to that in the provided documents, so I can't say for sure. "
                   "Could you point me to the right document, or should I pass your question on to the team?")
GROUNDING = ("Answer using only the documents in the context below, and cite the document you used, like [1]. "
             "If the documents do not contain the answer, say so.")
EVIDENCE_SCORE = 0.9  # a reply whose facts the team's own documents hold is knowledge
SEARCH_DEPTH = 5  # passages read per reply
BATCH = 256  # replies searched in the knowledge source at a time
PASSAGE_CHARS = 1200
KNOWLEDGE_SUFFIXES = (".md", ".markdown", ".txt", ".jsonl")
VERDICTS = (
    (0.5, "{share} of this data is knowledge: fine-tuning on it will not fix the failures; index it for RAG"),
    (0.2, "{share} of this data is knowledge: index that part for RAG and fine-tune on the behaviour that remains"),
    (0.05, "{share} of this data is knowledge, a normal share: route it to RAG; the rest teaches behaviour"),
    (0.0, "{share} of this data is knowledge: this is behaviour data, the right material for fine-tuning"),
)
SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


@dataclass(slots=True)
class Passage:
    source: str  # "returns.md:4" or the JSONL line's id
    text: str


@dataclass(slots=True)
class Finding:
    """What the stage concluded about one record."""

    record: Record
    assessment: Assessment | None  # None: no assistant reply to score
    evidence: Passage | None = None
    evidence_facts: list[str] = field(default_factory=list)
    candidates: list[Passage] = field(default_factory=list)  # retrieved passages, best first
    judged: dict[str, Any] | None = None  # the LLM judge's verdict, for the records judge_scope names
    probed: dict[str, Any] | None = None  # what the knowledge probe found: the facts the model does not know

    @property
    def last_reply(self) -> bool:
        """Whether the score speaks for the final reply (the judge, the probe and grounded variants
        work on that one; an earlier reply's facts keep the offline score)."""
        return self.assessment is not None and self.assessment.reply_at is None

    def turn(self) -> tuple[str, list[dict[str, Any]]]:
        """The reply the score speaks for, and the messages before it."""
        messages = self.record.messages
        at = len(messages) - 1 if self.last_reply or self.assessment is None else self.assessment.reply_at
        return reply_text(messages[at]), messages[:at]

    @property
    def score(self) -> float:
        if self.probed:  # what the model itself knows outranks any guess about it
            score = PROBE_SCORES[bool(self.probed["unknown_facts"])]
        elif self.judged:
            score = JUDGE_SCORES[bool(self.judged["fact_heavy"])]
        else:
            score = self.assessment.score
        return max(score, EVIDENCE_SCORE) if self.evidence else score


# -- the optional LLM judge ----------------------------------------------------------------------------
JUDGE_SCORES = {True: 0.9, False: 0.1}
JUDGE_SYSTEM = """You review examples for fine-tuning a chat model. Decide whether the assistant's final reply is
FACT-HEAVY: its correctness depends on specific facts that are NOT present in the conversation's own input (system
prompt, user turns, tool results) and that the model would have to recall: prices, fees, dates, deadlines, policy
terms, product specs, versions, limits, names of people, teams or places, addresses, phone numbers, statistics,
schedules. One such fact is enough. It is BEHAVIOUR (not fact-heavy) when the reply's value is how it responds:
format, tone, refusing, classifying or routing the given input, rewriting, summarizing, translating or extracting
from text in the input, arithmetic over given numbers, a generic procedure, or relaying what a tool returned.
List the unsupported facts you found (empty for behaviour) and give a one-sentence reason."""
JUDGE_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["fact_heavy", "unsupported_facts", "reason"],
    "properties": {"fact_heavy": {"type": "boolean"},
                   "unsupported_facts": {"type": "array", "items": {"type": "string"}},
                   "reason": {"type": "string"}},
}


class Judge:
    """An LLM's second opinion, through the provider layer (cache, budget, retries), on the records
    the offline scorer is unsure about. Records leave the machine, so unscrubbed ones are refused."""

    def __init__(self, options: dict[str, Any], ctx: StageContext, threshold: float):
        self.threshold = threshold
        self.caller = LLMCaller(options, ctx, "flag judge")
        self.llm = self.caller.llm
        self.scrub = ctx.scrubbed_text  # the verdict's words go into the outputs, and a model may quote anything
        self.judged = self.skipped = self.overturned = 0

    def judge(self, findings: list[Finding]) -> None:
        self.caller.refuse_unscrubbed(f.record for f in findings)
        requests = [self.llm.request([{"role": "user", "content": _transcript(f.record)}], JUDGE_SCHEMA,
                                     system=JUDGE_SYSTEM, schema_name="fact_heavy_verdict", expected_output_tokens=200)
                    for f in findings]
        for finding, completion in zip(findings, self.caller.complete(requests)):
            if not completion.ok:
                self.skipped += 1  # over budget or unusable answer: the offline score stands
                continue
            before = finding.score
            verdict = completion.value
            finding.judged = {**verdict, "reason": self.scrub(verdict["reason"]),
                              "unsupported_facts": list(map(self.scrub, verdict["unsupported_facts"]))}
            self.judged += 1
            self.overturned += (before >= self.threshold) != (finding.score >= self.threshold)

    def stats(self) -> dict[str, Any]:
        return {"judged": self.judged, "judge_skipped": self.skipped, "judge_overturned": self.overturned,
                "judge_calls": self.llm.stats()}


# -- the knowledge probe ----------------------------------------------------------------------------
PROBE_SCORES = {True: 0.9, False: 0.1}  # some fact unknown to the model / every fact known
PROBE_SAMPLE_CHARS = 2000  # of each sample kept as evidence


class Probe:
    """Samples the model to be fine-tuned on each prompt (without the reply) and checks which of
    the reply's unsupported facts the samples reproduce, with the scorer's own matching (numbers,
    dates, names in any format). Facts no sample states are Unknown to the model."""

    def __init__(self, options: dict[str, Any], ctx: StageContext):
        self.caller = LLMCaller(options, ctx, "flag probe", temperature=1.0, max_tokens=512, concurrency=8)
        self.scrub = ctx.scrubbed_text  # samples kept as evidence: a model may state anyone's e-mail or phone
        self.samples = options.get("samples", 5)
        self.probed = self.unknown = self.skipped = 0

    def probe(self, findings: list[Finding]) -> None:
        findings = [f for f in findings if f.last_reply and f.assessment.unsupported]
        if not findings:
            return
        self.caller.refuse_unscrubbed(f.record for f in findings)
        requests = [self.caller.llm.request(_probe_messages(f.record), None, seed=sample)
                    for f in findings for sample in range(self.samples)]
        completions = self.caller.complete(requests)
        for index, finding in enumerate(findings if completions else []):
            answers = [c.value for c in completions[index * self.samples:(index + 1) * self.samples] if c.ok]
            if answers:
                self._compare(finding, answers)
            else:
                self.skipped += 1  # over budget: the offline score stands

    def _compare(self, finding: Finding, answers: list[str]) -> None:
        reply, before = finding.turn()
        texts, question = input_texts(before), _question(before)
        missed = [set(unsupported_claims(reply, [*texts, answer], question)) for answer in answers]
        hits = {claim.text: sum(claim not in still for still in missed) for claim in finding.assessment.unsupported}
        unknown = [fact for fact, count in hits.items() if count == 0]
        finding.probed = {"model": self.caller.llm.settings.model, "samples": len(answers),
                          "unknown_facts": unknown, "known_facts": [fact for fact in hits if fact not in unknown],
                          "answers": [excerpt_of(self.scrub(answer), PROBE_SAMPLE_CHARS) for answer in answers]}
        self.probed += 1
        self.unknown += bool(unknown)

    def stats(self) -> dict[str, Any]:
        return {"probed": self.probed, "probe_unknown": self.unknown, "probe_known": self.probed - self.unknown,
                "probe_skipped": self.skipped, "probe_calls": self.caller.llm.stats()}


def _probe_messages(record: Record) -> list[dict[str, Any]]:
    """The prompt as plain chat turns: tool calls and results as text, so any chat endpoint takes it."""
    turns = []
    for message in record.prompt_messages:
        role = message.get("role")
        text = readable_text(message, call_prefix="→ calls ")
        if role == "tool":
            role, text = "user", f"Tool result:\n{text}"
        turns.append({"role": "system" if role == "developer" else role, "content": text})
    return turns


def _probe_reasons(probed: dict[str, Any]) -> list[str]:
    if not probed["unknown_facts"]:
        return [f"probe: {probed['model']} reproduced every fact in {probed['samples']} samples (known)"]
    return [f"probe: {probed['model']} never stated \"{fact}\" in {probed['samples']} samples (unknown)"
            for fact in probed["unknown_facts"][:5]]


def combined_estimate(estimates: list[dict[str, Any]]) -> dict[str, Any]:
    """One estimate in the synth shape for several callers: counts and dollars added up."""
    if len(estimates) == 1:
        return estimates[0]
    total = dict(estimates[0], model=" + ".join(e["model"] for e in estimates))
    for key in ("calls", "cached", "to_send", "prompt_tokens", "output_tokens_estimated", "output_tokens_max",
                "cost_usd_estimated", "cost_usd_max"):
        values = [e[key] for e in estimates]
        total[key] = None if None in values else sum(values)
    return total


def _transcript(record: Record) -> str:
    lines = [f"[{message.get('role')}] {readable_text(message, call_prefix='→ calls ')}" for message in record.messages[:-1]]
    return "CONVERSATION INPUT:\n" + "\n".join(lines) + f"\n\nFINAL ASSISTANT REPLY:\n{reply_text(record.messages[-1])}"


# -- the knowledge source --------------------------------------------------------------------------
class Knowledge:
    """The team's documents as passages, searchable with BM25."""

    def __init__(self, passages: list[Passage]):
        # bm25s loads scipy (a second or more): only runs with a knowledge source pay for it
        import bm25s
        from bm25s.tokenization import Tokenizer

        self.passages = passages
        self.tokenizer = Tokenizer(stopwords="en")
        self.index = bm25s.BM25()
        self.index.index(self.tokenizer.tokenize([p.text for p in passages], show_progress=False, return_as="ids"),
                         show_progress=False)

    @classmethod
    def load(cls, path: Path) -> "Knowledge":
        if not path.exists():
            raise InputError("knowledge source not found", file=str(path))
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in KNOWLEDGE_SUFFIXES) if path.is_dir() else [path]
        passages = [passage for file in files for passage in read_passages(file, path if path.is_dir() else file.parent)]
        if not passages:
            raise InputError(f"no passages in the knowledge source (looked for {', '.join(KNOWLEDGE_SUFFIXES)})",
                             file=str(path))
        return cls(passages)

    def search(self, queries: list[str]) -> list[list[Passage]]:
        """The best passages for each query, best first (only those sharing a word with it)."""
        ids = self.tokenizer.tokenize(queries, update_vocab=False, show_progress=False, return_as="ids")
        found, scores = self.index.retrieve(ids, k=min(SEARCH_DEPTH, len(self.passages)), show_progress=False)
        return [[self.passages[i] for i, score in zip(row, row_scores) if score > 0]
                for row, row_scores in zip(found, scores)]


def read_passages(file: Path, root: Path) -> Iterator[Passage]:
    name = file.relative_to(root).as_posix()
    if file.suffix.lower() == ".jsonl":
        yield from _jsonl_passages(file, name)
        return
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read knowledge file: {exc}", file=str(file)) from None
    yield from _document_passages(text, name)


def _jsonl_passages(file: Path, name: str) -> Iterator[Passage]:
    for line in iter_lines(file):
        if isinstance(line, BadLine):
            raise InputError(line.reason, file=line.file, line=line.line)
        value = line.value
        if not isinstance(value, dict) or not isinstance(value.get("text"), str) or not value["text"].strip():
            raise InputError("each knowledge line needs a non-empty \"text\" string", file=line.file, line=line.line)
        source = str(value.get("id") or value.get("source") or f"{name}:{line.line}")
        title = value.get("title")
        yield Passage(source, f"{title}\n{value['text']}" if isinstance(title, str) and title else value["text"])


def _document_passages(text: str, name: str) -> Iterator[Passage]:
    """Markdown or text split at headings and blank lines; each passage keeps its heading and
    grows up to PASSAGE_CHARS, so a fact is found with its context."""
    heading, body, start = "", [], 1
    for number, line in enumerate(text.splitlines() + [""], start=1):
        if line.startswith("#") or not line.strip():
            if body:
                yield Passage(f"{name}:{start}", "\n".join(([heading] if heading else []) + body))
                body = []
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
            continue
        if not body:
            start = number
        elif sum(map(len, body)) + len(line) > PASSAGE_CHARS:
            yield Passage(f"{name}:{start}", "\n".join(([heading] if heading else []) + body))
            body, start = [], number
        body.append(line)


# -- the stage -------------------------------------------------------------------------------------
@register
class Flag(Stage):
    name = "flag"

    def __init__(self, threshold: float = 0.5, action: str = "route", uncertain_margin: float = 0.15,
                 knowledge: str | None = None, grounded_variants: bool = False, not_found_reply: str = NOT_FOUND_REPLY,
                 judge: dict[str, Any] | None = None, judge_scope: str = "uncertain",
                 probe: dict[str, Any] | None = None):
        if judge is None and judge_scope != "uncertain":  # said now, not found out from an unjudged run
            raise RecipeError(f"flag.judge_scope {judge_scope} names replies for a judge, but there is none: "
                              "set flag.judge (its model), or --judge-model with dataprep flag")
        super().__init__(threshold=threshold, action=action, uncertain_margin=uncertain_margin, knowledge=knowledge,
                         grounded_variants=grounded_variants, not_found_reply=not_found_reply, judge=judge,
                         judge_scope=judge_scope, probe=probe)

    def fingerprint_extra(self, ctx: StageContext) -> str:
        """The learned model's weights and the knowledge files: a resumed run scores again when either changed."""
        path = self._knowledge_path(ctx)
        weights = files_fingerprint([fact_model.WEIGHTS_FILE])
        if path is None or not path.exists():
            return weights
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        return weights + files_fingerprint(files)

    def _knowledge_path(self, ctx: StageContext) -> Path | None:
        knowledge = self.options["knowledge"]
        return None if knowledge is None else ctx.recipe_dir / knowledge

    def run(self, records: RecordSource, ctx: StageContext) -> Iterator[Record]:
        path = self._knowledge_path(ctx)
        knowledge = Knowledge.load(path) if path is not None else None
        tally = Tally(self.options["threshold"])
        grounding = Grounding(self.options["not_found_reply"])
        judge = Judge(self.options["judge"], ctx, self.options["threshold"]) if self.options["judge"] else None
        probe = Probe(self.options["probe"], ctx) if self.options["probe"] else None
        ctx.stats[ACTION_COUNTS[self.options["action"]]] = 0
        if knowledge:
            ctx.stats["knowledge_passages"] = len(knowledge.passages)
        # scoring is per record and pure: on every core or on Ray, the rest here, in order. Only the
        # messages go out and only the assessments come back: taking the records back in would cost
        # this process about what scoring them does
        sent: deque[list[Record]] = deque()

        def conversations() -> Iterator[list[list[dict[str, Any]]]]:
            for batch in batched(records, BATCH):
                sent.append(batch)
                yield [record.messages for record in batch]
        for assessments in ctx.engine.map_batches(assessments_of, conversations()):
            findings = [Finding(record, assessment) for record, assessment in zip(sent.popleft(), assessments)]
            self.search_knowledge(findings, knowledge)
            if probe:
                probe.probe(findings)
            if judge:
                judge.judge([f for f in findings if f.last_reply and not f.probed and self._to_judge(f.score)])
            for finding in findings:
                yield from self.decide(finding, ctx, tally, grounding)
        ctx.stats.update(tally.stats())
        for caller in filter(None, (judge, probe)):
            ctx.stats.update(caller.stats())
        if ctx.planning and (judge or probe):
            ctx.stats["estimate"] = combined_estimate([c.caller.estimate() for c in filter(None, (judge, probe))])
        if self.options["grounded_variants"]:
            ctx.stats.update(grounded_created=grounding.created, grounded_skipped=grounding.skipped)

    @staticmethod
    def search_knowledge(findings: list[Finding], knowledge: Knowledge | None) -> None:
        """Look up in the knowledge source the replies with anything to look up."""
        searched = [f for f in findings if f.assessment and (f.assessment.unsupported or f.assessment.cues)]
        if knowledge and searched:
            queries = [_question(before) + "\n" + reply for reply, before in (f.turn() for f in searched)]
            for finding, passages in zip(searched, knowledge.search(queries)):
                finding.candidates = passages
                _find_evidence(finding)

    def decide(self, finding: Finding, ctx: StageContext, tally: "Tally", grounding: "Grounding") -> Iterator[Record]:
        if finding.assessment is None:  # nothing to score: no assistant reply at the end
            tally.no_reply += 1
            yield finding.record
            return
        record, score, threshold = finding.record, finding.score, self.options["threshold"]
        record.scores["fact_heavy"] = score
        reasons = finding.assessment.reasons + ([f"found in knowledge: {finding.evidence.source}"]
                                                if finding.evidence else [])
        if finding.judged or finding.probed:
            record.scores["fact_heavy_offline"] = finding.assessment.score
        if finding.judged:
            reasons.append(f"judge: {finding.judged['reason']}")
            reasons += [f"judge found: {fact}" for fact in finding.judged["unsupported_facts"][:5]]
        if finding.probed:
            reasons += _probe_reasons(finding.probed)
        if reasons:
            record.reasons["fact_heavy"] = reasons
        if not (finding.judged or finding.probed) and self._uncertain(score):
            _tag(record, UNCERTAIN_TAG)
            tally.uncertain += 1
        tally.add(finding)
        if score < threshold:
            yield record
            return
        if self.options["grounded_variants"] and finding.last_reply:  # a passage may name the team's staff
            yield from map(ctx.scrubbed_record, grounding.variants(finding))
        yield from self.act(finding, reasons, ctx)

    def _uncertain(self, score: float) -> bool:
        return abs(score - self.options["threshold"]) < self.options["uncertain_margin"]

    def _to_judge(self, score: float) -> bool:
        """Whether the judge is asked about a final reply the offline scorer gave ``score``."""
        scope = self.options["judge_scope"]
        if scope == "kept":
            return score < self.options["threshold"] + self.options["uncertain_margin"]
        return scope == "all" or self._uncertain(score)

    def act(self, finding: Finding, reasons: list[str], ctx: StageContext) -> Iterator[Record]:
        record, action = finding.record, self.options["action"]
        reason = f"fact-heavy ({finding.score:.2f}): " + "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
        if action == "route":
            ctx.set_aside(record, "rag_candidates", reason, rag=_rag_block(finding, ctx.scrubbed_text))
        elif action == "drop":
            ctx.set_aside(record, "rejected", reason)
        else:
            _tag(record, "fact-heavy")
            record.note(self.name, "tagged", reason=reason)
            yield record
        ctx.count(ACTION_COUNTS[action])


def assessments_of(batch: list[list[dict[str, Any]]]) -> list[Assessment | None]:
    """Engine work: the offline scorer's assessment of each conversation of a batch, every reply
    it trains on scored and the evidence weighed by the learned model."""
    return [fact_model.weighed_assessment(messages) for messages in batch]


def _tag(record: Record, tag: str) -> None:
    if tag not in record.tags:
        record.tags.append(tag)


def _question(before: list[dict[str, Any]]) -> str:
    users = [message_text(m) for m in before if m.get("role") == "user"]
    return users[-1] if users else ""


def _find_evidence(finding: Finding) -> None:
    """The first retrieved passage that holds some of the reply's unsupported facts."""
    reply, before = finding.turn()
    texts, missing = input_texts(before), finding.assessment.unsupported
    for passage in finding.candidates:
        still_missing = set(unsupported_claims(reply, [*texts, passage.text], _question(before)))
        found = [claim.text for claim in missing if claim not in still_missing]
        if found:
            finding.evidence, finding.evidence_facts = passage, found
            return


def _rag_block(finding: Finding, scrub: Callable[[str], str]) -> dict[str, Any]:
    """What a RAG indexer needs: the question, the answer, the facts, where they came from (the
    passage of the team's documents scrubbed like the records: a document may name staff)."""
    record, (reply, before) = finding.record, finding.turn()
    return {
        "question": _question(before),
        "answer": reply,
        "facts": finding.assessment.facts,
        "source_id": record.id,
        "evidence": {"source": finding.evidence.source, "text": scrub(finding.evidence.text),
                     "facts": finding.evidence_facts} if finding.evidence else None,
        **({"probe": finding.probed} if finding.probed else {}),
    }


# -- counting and the verdict ----------------------------------------------------------------------
@dataclass
class Tally:
    threshold: float
    scored: int = 0
    no_reply: int = 0
    fact_heavy: int = 0
    uncertain: int = 0
    evidence_found: int = 0
    kinds: Counter = field(default_factory=Counter)

    def add(self, finding: Finding) -> None:
        self.scored += 1
        self.evidence_found += finding.evidence is not None
        if finding.score >= self.threshold:
            self.fact_heavy += 1
            self.kinds.update(claim.kind for claim in finding.assessment.unsupported)

    def stats(self) -> dict[str, Any]:
        share = self.fact_heavy / self.scored if self.scored else 0.0
        return {"scored": self.scored, "no_reply": self.no_reply, "fact_heavy": self.fact_heavy,
                "share_fact_heavy": round(share, 4), "uncertain": self.uncertain, "evidence_found": self.evidence_found,
                "unsupported_kinds": dict(self.kinds.most_common()), "verdict": verdict(share, self.scored)}


def verdict(share: float, scored: int) -> str:
    """What the share of fact-heavy records means for fine-tuning (thresholds in VERDICTS)."""
    if not scored:
        return "no replies to score"
    text = next(message for floor, message in VERDICTS if share >= floor)
    return text.format(share=f"{share:.0%}")


# -- grounded variants ------------------------------------------------------------------------------
class Grounding:
    """Turn fact-heavy examples into "answer from the context, and cite it" training pairs."""

    def __init__(self, not_found_reply: str):
        self.not_found_reply = not_found_reply
        self.created = 0
        self.skipped = 0
        self.previous_context: Passage | None = None  # a distractor for the next example's counterpart

    def variants(self, finding: Finding) -> Iterator[Record]:
        record = finding.record
        reply = message_text(record.messages[-1])
        if not reply.strip() or record.messages[-1].get("tool_calls") or reply.lstrip()[:1] in "{[":
            self.skipped += 1  # a tool call or a JSON reply cannot carry a citation
            return
        context = finding.evidence or Passage("reply", _fact_sentences(reply, finding.assessment.facts))
        distractor = self._distractor(finding, context)
        yield self._variant(record, context, _cite(reply), "answer",
                            "evidence" if finding.evidence else "fact_sentences")
        yield self._variant(record, distractor, self.not_found_reply, "not_found",
                            "distractor" if distractor else "no_documents")
        self.created += 2
        self.previous_context = context

    def _distractor(self, finding: Finding, context: Passage) -> Passage | None:
        """A passage that does not hold the facts: a retrieved near miss, else the previous
        example's context, else none."""
        record = finding.record
        reply, texts = reply_text(record.messages[-1]), input_texts(record.messages[:-1])
        needed = set(finding.assessment.unsupported)
        options = [p for p in finding.candidates if p.source != context.source] + \
                  ([self.previous_context] if self.previous_context else [])
        for passage in options:
            if needed <= set(unsupported_claims(reply, [*texts, passage.text], _question(record.prompt_messages))):
                return passage
        return None

    @staticmethod
    def _variant(record: Record, passage: Passage | None, reply: str, kind: str, context: str) -> Record:
        documents = f"[1] ({passage.source})\n{passage.text}" if passage else "(no documents were found)"
        prompt = record.prompt_messages
        system = [message_text(m) for m in prompt[:1] if m.get("role") in ("system", "developer")]
        instructions = "\n\n".join([*system, GROUNDING, f"Context:\n{documents}"])
        messages = [{"role": "system", "content": instructions}, *prompt[len(system):],
                    {"role": "assistant", "content": reply}]
        variant = Record(messages=messages, id=derived_id("grounded", record.id, kind), tools=record.tools,
                         source=dict(record.source), groups={**record.groups, "grounded_from": record.id},
                         tags=["grounded"], provenance=list(record.provenance))
        variant.note("flag", "grounded_variant", of=record.id, kind=kind, context=context)
        return variant


def _fact_sentences(reply: str, facts: list[str]) -> str:
    """The sentences of the reply that state its facts (all of it when none stands out)."""
    sentences = [s.strip() for s in SENTENCE.findall(reply) if s.strip()]
    chosen = [s for s in sentences if any(fact in s for fact in facts)]
    return " ".join(chosen or sentences)


def _cite(reply: str) -> str:
    reply = reply.rstrip()
    return f"{reply}\n\n[1]" if reply.endswith("```") else f"{reply} [1]"
