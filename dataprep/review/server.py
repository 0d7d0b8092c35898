"""Talking to a Label Studio server through ``label-studio-sdk``, and starting a local one.

The URL and key come from ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY``. Both kinds of
key work: a personal access token (a JWT refresh token, which the SDK exchanges for
short-lived access tokens) and a legacy token. The key is never printed: every error
names the server and what went wrong, never the key.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from ..errors import DataprepError, UsageError
from ..settings import secret_setting, url_setting
from .tasks import ID_FIELD, label_config

URL_ENV, KEY_ENV = "LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"
IMPORT_CHUNK = 2000  # tasks per import request: big enough to be fast, small enough for any proxy
EXPORT_TIMEOUT_S = 900
PR_SET_PDEATHSIG = 1


class LabelStudioError(DataprepError):
    """The server could not be reached or refused the request; nothing local was changed."""


def short_detail(body: Any) -> str:
    """The useful part of an error body (servers answer with JSON details or whole HTML pages)."""
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("validation_errors") or body)[:300]
    text = str(body).strip()
    return "" if text.startswith("<") else text[:300]


@dataclass
class Connection:
    url: str
    key: str
    client: Any

    @classmethod
    def from_env(cls) -> "Connection":
        url, key = os.environ.get(URL_ENV, "").strip(), secret_setting(KEY_ENV)
        if not url or not key:
            raise UsageError(f"set {URL_ENV} and {KEY_ENV} to reach Label Studio "
                             "(or use --to-file / --from-file to work without a server)")
        url = url_setting(URL_ENV, url)
        from label_studio_sdk import LabelStudio  # heavy import (~2 s): only when a server is used

        connection = cls(url, key, None)
        with connection.errors():
            connection.client = LabelStudio(base_url=url, api_key=key, timeout=300)
            connection.client.users.whoami()  # fails fast on a wrong URL or key, before any work
        return connection

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn transport and API failures into one clear line that says which it was."""
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        try:
            yield
        except httpx.TransportError as exc:
            raise LabelStudioError(self._safe(f"cannot reach Label Studio at {self.url} ({type(exc).__name__}: {exc}); "
                                              f"is it running, and is {URL_ENV} right?")) from None
        except ApiError as exc:
            if exc.status_code in (401, 403):
                raise LabelStudioError(self._safe(
                    f"Label Studio at {self.url} refused the token in {KEY_ENV} ({exc.status_code}: "
                    f"{short_detail(exc.body) or 'not authorized'}); copy a personal access token or a legacy token "
                    "from Account & Settings")) from None
            raise LabelStudioError(self._safe(f"Label Studio at {self.url} answered {exc.status_code}"
                                              f"{': ' + short_detail(exc.body) if short_detail(exc.body) else ''}")) from None

    def _safe(self, message: str) -> str:
        return message.replace(self.key, "***") if self.key else message

    # -- projects and tasks ----------------------------------------------------------------
    def find_project(self, title: str) -> int | None:
        """The id of the project with exactly this title (the oldest, if several), or None."""
        with self.errors():
            found = [p.id for p in self.client.projects.list(title=title) if p.title == title]
        return min(found) if found else None

    def project(self, title: str, *, create: bool = False) -> tuple[int, bool]:
        """``(project id, created)``; creates the project with our labeling config when asked."""
        project_id = self.find_project(title)
        if project_id is not None:
            return project_id, False
        if not create:
            raise LabelStudioError(f"no project titled '{title}' on Label Studio at {self.url}; push first or pass --project")
        with self.errors():
            created = self.client.projects.create(
                title=title, label_config=label_config(),
                description="Examples picked by dataprep for human review: give each reply a verdict.")
        return created.id, True

    def task_ids(self, project_id: int) -> dict[str, int]:
        """Our record ids already in the project (read from the task data) -> their task ids."""
        with self.errors():
            tasks = self.client.tasks.list(project=project_id, fields="task_only", include="id,data", page_size=1000)
            return {task.data[ID_FIELD]: task.id for task in tasks if task.data and ID_FIELD in task.data}

    def update_task_data(self, updates: dict[int, dict[str, Any]]) -> None:
        with self.errors():
            for task_id, data in updates.items():
                self.client.tasks.update(id=task_id, data=data)

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> int:
        """Import in sequence: the server serializes writes (SQLite), so parallel requests only queue."""
        with self.errors():
            for start in range(0, len(tasks), IMPORT_CHUNK):
                self.client.projects.import_tasks(id=project_id, request=tasks[start:start + IMPORT_CHUNK])
        return len(tasks)

    def export(self, project_id: int, *, annotated_only: bool) -> list[dict[str, Any]]:
        """The project's tasks as a full JSON export, through an export snapshot (fit for large projects).

        Annotators come as user objects, so verdicts name reviewers by email.
        """
        exports = self.client.projects.exports
        with self.errors():
            only_annotated = {"task_filter_options": {"annotated": "only"}} if annotated_only else {}
            snapshot = exports.create(project_id, title="dataprep review", **only_annotated,
                                      serialization_options={"annotations__completed_by": {"only_id": False}})
            try:
                self._wait_for(project_id, snapshot.id)
                with tempfile.TemporaryFile() as spool:
                    for chunk in exports.download(project_id, snapshot.id, export_type="JSON",
                                                  request_options={"chunk_size": 1 << 20}):
                        spool.write(chunk)
                    spool.seek(0)
                    return orjson.loads(spool.read())
            finally:
                exports.delete(project_id, snapshot.id)

    def _wait_for(self, project_id: int, snapshot_id: int) -> None:
        deadline = time.monotonic() + EXPORT_TIMEOUT_S
        while True:
            status = self.client.projects.exports.get(project_id, snapshot_id).status
            if status == "completed":
                return
            if status == "failed" or time.monotonic() > deadline:
                raise LabelStudioError(f"Label Studio at {self.url} could not build the export snapshot ({status})")
            time.sleep(0.5)


# -- a local server ------------------------------------------------------------------------------
# Its settings fall back to these plain names: a user's HOST or PORT would change where it listens.
SHADOWING_ENV = ("HOST", "PORT", "USERNAME", "PASSWORD", "DEBUG", "DATABASE_NAME")


def local_server_env(data_dir: Path, username: str, password: str, token: str) -> dict[str, str]:
    """Environment for a headless, offline Label Studio keeping everything in ``data_dir``,
    with a known user and legacy token (personal access tokens work too)."""
    env = {key: value for key, value in os.environ.items() if key not in SHADOWING_ENV}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_USERNAME": username,
        "LABEL_STUDIO_PASSWORD": password,
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        # no calls to the internet at start-up (it would otherwise wait on a version check)
        "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "", "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false",
    })
    return env


def die_with_parent() -> None:
    """Run in the child before exec: on Linux, get SIGTERM when the parent dies, however it dies,
    so a local server never outlives the command or test run that started it."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float) -> bool:
    """Poll ``/health`` until it answers 200; False if the process ended or time ran out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    return False


def local_server_command(launcher: list[str], port: int) -> list[str]:
    """``--internal-host`` keeps it off other interfaces. No ``--debug``: in Label Studio 1.23 it
    only turns a busy port into an error (Django's DEBUG comes from the environment, which
    ``local_server_env`` clears), but it reads as a debug server; ``serve`` checks the port first."""
    return [*launcher, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)]
