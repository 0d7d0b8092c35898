"""Whether two near-identical long inputs ask for the same thing.

A long input is mostly text the user did not write for this request: a pasted email, a
forwarded thread, a document, the context a retrieval app puts before the question. Two of
them share nearly every shingle and still ask different things when one sentence differs
("is the store open on Saturday evening?" / "how soon would express shipping arrive?"). They
are two examples, not one; their different replies are no labeling conflict.

Only the sentences one text holds and the other does not are compared, by their content
words, cut to a stem: a typo, a synonym or a reworded ask ("Could you tell me when the
technician arrives?" / "When will the technician arrive?") shares most of them; another
question shares almost none. A text that only adds sentences to the other asks what the other
asks, and more; it stays a near-duplicate, as before.
"""

from __future__ import annotations

import xxhash

from .minhash import normalize
from .reply_agreement import FUNCTION_WORDS, SENTENCE, SHORT_INPUT, STEM, WORD

#: content words each side's sentences must hold that the other's do not ("Buenas tardes" / "Buenos
#: días" is a greeting changed, not another request), and...
OWN_WORDS = 3
#: ... they say something else when they share less than this share of their content words
SHARED_FLOOR = 0.5

#: each sentence of a long input by a hash of its words, with those words: what two inputs are
#: compared by, a small part of their text (clusters are read in one pass)
Sentences = dict[int, str]


def sentences(text: str) -> Sentences | None:
    """The sentences of a long input, as compared; None for a short one."""
    if len(text) <= SHORT_INPUT:
        return None
    said = {}
    for part in SENTENCE.findall(normalize(text)):
        if words := " ".join(WORD.findall(part)):
            said[xxhash.xxh3_64_intdigest(words.encode("utf-8", "surrogatepass"))] = words
    return said


def says_otherwise(a: Sentences, b: Sentences) -> bool:
    """Whether the sentences only one input holds say something else than those only the other
    holds (amounts and dates aside: the fact key compares them)."""
    words_a, words_b = _stems_apart(a, b), _stems_apart(b, a)
    if not (words_a and words_b):
        return False
    return (min(len(words_a - words_b), len(words_b - words_a)) >= OWN_WORDS
            and len(words_a & words_b) < SHARED_FLOOR * len(words_a | words_b))


def _stems_apart(text: Sentences, other: Sentences) -> frozenset[str]:
    """The stems of the content words of the sentences ``text`` holds and ``other`` does not (read
    only now: most sentences of two near-identical inputs are shared)."""
    return frozenset(word[:STEM] for sentence, words in text.items() if sentence not in other
                     for word in words.split() if word not in FUNCTION_WORDS and not word.isdigit())
