"""An LLM's second opinion on replies to one input: one answer, or not.

``reply_agreement`` reads the disagreements rules can see: numbers, decisions, options, tool
calls. Others take meaning ("the IT desk grants it" / "request it in the portal"). With
``dedup: {judge: {model: ...}}``, each pair of different wordings the rules (and the answer model,
when on) would put in one answer is asked once: the same answer, or not. "Not" splits them as a rule would, the judge's
words as the reason. With ``judge_scope: all`` the pairs the rules split are asked too, and "the
same" makes them one answer: the rules misread some agreeing replies ("tips go entirely to your
driver" against a plain "yes"). Answers are cached (a rerun makes no call) and budgeted; a pair
the budget leaves unasked keeps the rules' (and the model's) view. Records leave the machine: unscrubbed ones are
refused.
"""

from __future__ import annotations

from typing import Any, Callable

import orjson
import xxhash

from .llm_caller import LLMCaller
from .pipeline import StageContext
from .reply_agreement import Reply

JUDGE_SYSTEM = """You review a dataset for fine-tuning a support assistant. Two assistant replies were logged for
the same conversation. Decide whether they give the SAME ANSWER: the same facts (amounts, dates, durations, names,
places, teams, statuses), the same decision (yes or no, can or cannot, approved or denied), the same way to get it
done (self-service, a channel, a team to contact), the same conditions and costs, and both agree with any tool
results in the conversation. Wording, tone, length, order, formatting, greetings and harmless extra detail that
contradicts nothing do not matter. If they differ, say in a few words what differs."""
VERDICT_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["same_answer", "difference"],
    "properties": {"same_answer": {"type": "boolean"}, "difference": {"type": "string"}},
}
SAME_ANSWER = "same answer"  # the verdict on a pair the judge calls one answer
CONTEXT_CHARS = 4000  # of the conversation before the replies, its end kept: the question is last
#: rounds of asking: an answer the judge splits meets the other answers, and those pairs are new
ROUNDS = 3


class AnswerJudge:
    def __init__(self, options: dict[str, Any], ctx: StageContext):
        self.caller = LLMCaller(options, ctx, "dedup judge")
        self.scrub = ctx.scrubbed_text  # the model's words go into the outputs (it may quote a reply)
        #: per pair of replies: SAME_ANSWER, how they differ, or None when unanswered (over budget)
        self.verdicts: dict[bytes, str | None] = {}
        self.pending: dict[bytes, tuple[Reply, Reply]] = {}
        self.asked = self.split = self.skipped = 0

    def verdict(self, a: Reply, b: Reply) -> str | None:
        """SAME_ANSWER, or how the judge says ``a`` and ``b`` differ; None when it has not been asked
        yet (the pair is then kept for the next round) or gave no answer."""
        key = _pair_key(a, b)
        if key not in self.verdicts:
            self.pending.setdefault(key, (a, b))
        return self.verdicts.get(key)

    def settle(self, group_replies: Callable[[], Any]) -> None:
        """Ask about the pairs ``group_replies`` (grouping replies into answers, through
        ``verdict``) meets, round after round, until it meets no new pair."""
        for _ in range(ROUNDS):
            self.pending = {}  # pairs met after the last round of an earlier group were never used
            group_replies()
            if not self._ask():
                return

    def _ask(self) -> bool:
        """Ask about the pairs kept since the last call; whether any verdict came (never while
        ``run --plan`` only counts the requests)."""
        pairs, self.pending = list(self.pending.items()), {}
        requests = [self.caller.llm.request([{"role": "user", "content": _comparison(a, b)}], VERDICT_SCHEMA,
                                            system=JUDGE_SYSTEM, schema_name="same_answer_verdict",
                                            expected_output_tokens=60)
                    for _, (a, b) in pairs]
        completions = self.caller.complete(requests) if requests else []
        for (key, _), completion in zip(pairs, completions):
            if not completion.ok:  # over budget or no usable answer: the rules' view stands
                self.skipped += 1
                self.verdicts[key] = None
                continue
            self.asked += 1
            self.split += not completion.value["same_answer"]
            self.verdicts[key] = SAME_ANSWER if completion.value["same_answer"] else \
                f"judge: {self.scrub(completion.value['difference'].strip() or 'different answers')}"
        return bool(completions)

    def stats(self) -> dict[str, Any]:
        return {"judge_asked": self.asked, "judge_split": self.split, "judge_skipped": self.skipped,
                "judge_calls": self.caller.llm.stats()}


def _pair_key(a: Reply, b: Reply) -> bytes:
    """One key for the pair in either order."""
    sides = sorted(orjson.dumps([reply.text, reply.calls, reply.results]) for reply in (a, b))
    return xxhash.xxh3_128_digest(b"\0".join(sides))


def _comparison(a: Reply, b: Reply) -> str:
    return (f"CONVERSATION (everything before the replies):\n{a.context[-CONTEXT_CHARS:]}\n\n"
            f"REPLY A:\n{a.text}\n\nREPLY B:\n{b.text}")
