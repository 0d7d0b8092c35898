"""Settings read from the environment (keys, server URLs), checked before they are used, so a
mistyped one gives one line naming the setting, never an encoding error from deep in an HTTP
client, and never the value itself."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from .errors import UsageError

URL_EXAMPLE = "like http://localhost:8080"


def secret_setting(name: str) -> str | None:
    """The environment's ``name`` with surrounding whitespace (a pasted newline) removed, or None."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return None
    if not all(33 <= ord(char) < 127 for char in value):
        raise UsageError(f"{name} holds a character an HTTP header cannot carry (a non-ASCII letter, a space or a "
                         f"control character); set it again from the provider's page")
    return value


def url_setting(name: str, value: str) -> str:
    """``value`` (from setting ``name``) as an http(s) URL without a trailing slash."""
    try:
        parts = urlsplit(value.strip())
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # a port that is not a number
        valid = False
    if not valid:
        raise UsageError(f"{name} is not an http:// or https:// URL with a host and an optional port ({URL_EXAMPLE})")
    return value.strip().rstrip("/")
