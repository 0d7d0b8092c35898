"""Word lists the scrubber builds from its libraries' data (first names, last names, everyday
words): about two seconds a process to build, paid again by every worker, so each list is kept
on disk once built, in the user's cache folder (``XDG_CACHE_HOME`` moves it), as a JSON list.

A list's file name carries a fingerprint of the code that builds it (pii.py) and of the
libraries it reads, so a new version of either builds it afresh. A folder that cannot be
written only costs the build."""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Callable

import orjson

#: the libraries whose data the lists are built from
SOURCES = ("faker", "gender-guesser", "wordfreq", "anyascii")


def kept(name: str, build: Callable[[], frozenset[str]]) -> frozenset[str]:
    """The list ``name``: read from the cache folder, else built and written there."""
    path = folder() / f"{name}-{fingerprint()}.json"
    try:
        return frozenset(orjson.loads(path.read_bytes()))
    except (OSError, ValueError, TypeError):  # not there yet, or not a list of words
        pass
    words = build()
    _write(path, orjson.dumps(sorted(words)))
    return words


def folder() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("dataprep")) / "lexicons"


@cache
def fingerprint() -> str:
    digest = hashlib.sha256(Path(__file__).with_name("pii.py").read_bytes())
    for package in SOURCES:
        digest.update(f"{package}={_version(package)}".encode())
    return digest.hexdigest()[:16]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def _write(path: Path, data: bytes) -> None:
    """Write whole or not at all: workers building the same list at once each replace the file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)
    except OSError:
        pass
