"""The on-disk response cache: every model response, keyed by (provider, model, full request).

One JSON file per response under a two-letter shard (``ab/abcdef....json``), written
through a temp file and renamed into place the moment the call completes, so a run
killed at any point loses only the calls in flight, and a rerun pays for nothing it
already has. Read-only replay folders (the shipped demo responses) are looked up
after the cache itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable

import orjson

from ..jsonl import write_json
from ..record import canonical_json


def request_key(provider: str, model: str, body: dict[str, Any]) -> str:
    """The cache key: a hash of the canonical JSON of everything that decides the response."""
    return hashlib.sha256(canonical_json({"provider": provider, "model": model, "request": body})).hexdigest()


class ResponseCache:
    def __init__(self, folder: Path, replay: Iterable[Path] = ()):
        self.folder = Path(folder)
        self.replay = [Path(path) for path in replay]

    @staticmethod
    def _path(folder: Path, key: str) -> Path:
        return folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry for ``key`` from the cache or a replay folder; ``None`` on a miss.

        An unreadable entry (edited by hand, say) counts as a miss: it is fetched again.
        """
        for folder in (self.folder, *self.replay):
            path = self._path(folder, key)
            try:
                return orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue
        return None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        write_json(self._path(self.folder, key), entry)


class BatchJournal:
    """Submitted batches not yet collected, one small file per batch under the cache folder.

    A batch id is written the moment the provider accepts the batch, so a run interrupted
    while waiting (or killed) picks the same batch up again instead of paying twice.
    The journal lives beside the cache, not in a run folder, so ``dataprep synth --batch``
    (whose run folder is temporary) resumes too.
    """

    def __init__(self, folder: Path, provider: str):
        self.folder = Path(folder)
        self.provider = provider

    def _path(self, batch_id: str) -> Path:
        return self.folder / f"{self.provider}-{batch_id}.json"

    def pending(self) -> dict[str, set[str]]:
        """Batch id -> the request keys it holds."""
        found = {}
        for path in sorted(self.folder.glob(f"{self.provider}-*.json")):
            entry = orjson.loads(path.read_bytes())
            found[entry["batch_id"]] = set(entry["keys"])
        return found

    def add(self, batch_id: str, keys: list[str]) -> None:
        write_json(self._path(batch_id), {"provider": self.provider, "batch_id": batch_id, "keys": keys})

    def remove(self, batch_id: str) -> None:
        self._path(batch_id).unlink(missing_ok=True)

