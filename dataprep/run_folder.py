"""A run folder (``--out``): marked as dataprep's, locked while a run uses it, and cleaned
only of what dataprep wrote there.

A folder is a run folder when it holds the marker file ``.dataprep-run``, written when a run
first uses the folder. A non-empty folder without it is refused: a folder that merely holds
a ``manifest.json`` may be anyone's. Cleaning (a fresh rerun, a resume after a kill) removes
only names dataprep writes: its output files, its ``.work`` scratch folder, its exports, and
its own temp files (``.NAME.XXXXXXXX.tmp``). ``review/`` is never removed: pulled verdicts are
people's work and apply to a rerun too.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
from pathlib import Path
from typing import IO, Any

import orjson

from . import __version__
from .errors import UsageError
from .record import PLACES

MARKER = ".dataprep-run"
LOCK = ".dataprep-run.lock"
OWN_FILES = (*(f"{place}.jsonl" for place in PLACES), "manifest.json", "report.html")
#: what AtomicWriter and the hf exporter name their temp files and folders (tempfile's 8 random characters)
OWN_TEMP = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
OWN_EXPORT = re.compile(r"(?:train|eval)\.[a-z0-9-]+\.jsonl|hf")


class RunFolder:
    def __init__(self, path: Path):
        self.path = path
        self._lock: IO[str] | None = None

    def claim(self) -> None:
        """Make sure the folder is dataprep's (or empty, then mark it) and take the run lock."""
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"{self.path} is a file, not a folder; choose another --out")
        marked = (self.path / MARKER).is_file()
        if self.path.is_dir() and not marked and any(self.path.iterdir()):
            raise UsageError(f"{self.path} is not empty and is not a dataprep run folder (no {MARKER} file); "
                             f"choose another --out, or an empty or new folder")
        self.path.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        if not marked:
            (self.path / MARKER).write_bytes(orjson.dumps({"dataprep": __version__,
                                                           "what": "a dataprep run folder; see manifest.json"}))

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock; the file stays (removing it races)
            self._lock = None

    def __enter__(self) -> "RunFolder":
        self.claim()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _take_lock(self) -> None:
        handle = open(self.path / LOCK, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise UsageError(f"{self.path} is in use by another dataprep run; wait for it to finish "
                                 f"or choose another --out") from None
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock = handle

    def remove_previous_outputs(self) -> None:
        """A fresh run (no --resume) starts from nothing the last run left behind."""
        for name in OWN_FILES:
            (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.path / ".work", ignore_errors=True)
        exports = self.path / "exports"
        if exports.is_dir():
            for item in exports.iterdir():
                if OWN_EXPORT.fullmatch(item.name):
                    remove(item)

    def clear_stale_temp_files(self) -> None:
        """Temp files and folders a killed run left (e.g. a half-built dataset) are never results."""
        clear_stale_temp_files(self.path, recursive_in=(".work", "exports"))


def manifest_of(run_dir: Path) -> dict[str, Any] | None:
    """A finished run's manifest, or None when ``run_dir`` has no readable one (a file exported
    on its own, a run killed before its end): for hints and extras, never for the run's facts
    (``run_facts.read_manifest`` checks those strictly)."""
    try:
        manifest = orjson.loads((run_dir / "manifest.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def clear_stale_temp_files(folder: Path, recursive_in: tuple[str, ...] = ()) -> None:
    """Remove dataprep's own temp files in ``folder`` and anywhere below its ``recursive_in`` subfolders."""
    if not folder.is_dir():
        return
    candidates = [*folder.glob(".*.tmp")]
    for name in recursive_in:
        candidates += (folder / name).rglob(".*.tmp")
    for tmp in sorted(candidates, reverse=True):
        if OWN_TEMP.fullmatch(tmp.name):
            remove(tmp)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
