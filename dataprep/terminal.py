"""What dataprep prints. Data from the logs reaches the terminal in tables, titles, warnings
and errors; it is shown as text, never run as rich markup ("[/]" would crash, "[link=…]"
would mislead) or as terminal control sequences (an escape can retitle, clear or rewrite
the screen), and no key reaches the screen or a log.
"""

from __future__ import annotations

import os
import re
from typing import Any

from rich.console import Console
from rich.text import Text

from .key_shapes import API_KEY, TOKEN

#: C0 and C1 control characters but newline and tab, and the bidi overrides that reorder text
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
SECRET_ENV = re.compile(r"(?i)(?:key|token|secret|password|passwd)$")
FRAGMENT = 8  # a key's fragment this long is redacted wherever it appears


def visible(text: str) -> str:
    """Control characters as their escapes (``\\x1b``), so they show and do nothing."""
    return CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


class SafeConsole(Console):
    """A rich console that never reads markup from strings (styled output uses ``Text`` and
    ``style=``) and shows control characters as escapes."""

    def __init__(self, **options: Any):
        super().__init__(markup=False, **options)

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(visible(text), **options)


def configured_secrets() -> list[str]:
    """Values of the environment's keys, tokens and passwords (``OPENAI_API_KEY``,
    ``LABEL_STUDIO_API_KEY``, …): what an error message must never show, even in part."""
    return [value.strip() for name, value in os.environ.items()
            if SECRET_ENV.search(name) and len(value.strip()) >= FRAGMENT]


def redact(text: str, secrets: list[str] | None = None) -> str:
    """``text`` without any 8+ character fragment of a configured secret and without anything
    shaped like an API key or token (a server may echo a key back in its error)."""
    secrets = configured_secrets() if secrets is None else secrets
    grams = {secret[i:i + FRAGMENT] for secret in secrets for i in range(len(secret) - FRAGMENT + 1)}
    hidden = [start for start in range(len(text) - FRAGMENT + 1) if text[start:start + FRAGMENT] in grams]
    if hidden:
        pieces, position = [], 0
        for start in hidden:
            if start > position:
                pieces += [text[position:start], "[redacted]"]
            elif not pieces:
                pieces.append("[redacted]")
            position = max(position, start + FRAGMENT)
        text = "".join(pieces) + text[position:]
    return TOKEN.sub("[redacted]", API_KEY.sub("[redacted]", text))


def error_line(label: str, message: str) -> Text:
    """``error: message`` styled, the message redacted and shown as plain text."""
    return Text.assemble((f"{label}:", "red"), " ", visible(redact(message)))
