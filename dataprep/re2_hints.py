"""The scrubber's RE2 automatons, and which of them occur in a text, told by one pass.

Detectors look for PII only near what it needs (an "@", a keyword, a run of digits); each of those
hints is an RE2 pattern. Searched one at a time, the 40-odd hints of a short text cost a few µs of
Python each, about half of its scrub; an ``RE2::Set`` of all of them answers in one pass which ones
occur. The Set is exact: RE2 does not give up on a Set search when its automaton runs slow, and its
memory is set high enough that it never runs out on the patterns here (``tests/test_pii.py``
compares it with searching each pattern on the labeled texts).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import re2

SET_MEMORY = 256 << 20  # bytes for the Set's automaton; it holds every hint at once


@cache  # like ``re.compile``: a scrubber made per file or per worker compiles each automaton once
def compiled_re2(regex: str, longest_match: bool = False) -> Any:
    """An RE2 pattern, also counted in by ``occurring``."""
    options = re2.Options()
    options.longest_match = longest_match
    pattern = re2.compile(regex, options)
    HINTS.add(pattern)
    return pattern


class HintSet:
    """Every pattern made by ``compiled_re2``, searched for all at once."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self._set: Any = None  # compiled on the first search after a pattern was added

    def add(self, pattern: Any) -> None:
        if pattern not in self.index:
            self.index[pattern] = len(self.index)
            self._set = None

    def occurring(self, haystack: str) -> frozenset[int]:
        """The indexes of the patterns that match somewhere in ``haystack``."""
        if self._set is None:
            options = re2.Options()
            options.max_mem = SET_MEMORY
            self._set = re2.Set.SearchSet(options)
            for pattern in self.index:
                self._set.Add(pattern.pattern)
            self._set.Compile()
        return frozenset(self._set.Match(haystack) or ())


HINTS = HintSet()
