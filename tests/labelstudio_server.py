"""A real Label Studio for the tests, started once per session.

Label Studio pins openai<2 and pyarrow<25, so it cannot share the project's environment:
it is installed in its own virtual environment, ``<repo>/.ls-venv`` (gitignored, reused
when present; ``uv`` when available, else pip: about 60 s the first time). Its database
is migrated once into a template folder kept in that environment (about 25 s); each
session copies the template and starts the server on a free port of 127.0.0.1 in about
5 s, headless and offline, with a known user and legacy token. The server runs in its
own session with a parent-death signal, so a killed test run never leaves it behind.

Import the ``labelstudio`` fixture into a test module to use it; the benchmarks use
``LabelStudioServer`` directly.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator

import pytest

from dataprep.review.server import die_with_parent, local_server_command, local_server_env, wait_until_up

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".ls-venv"
LOCK = Path(tempfile.gettempdir()) / f"dataprep-ls-venv-{hashlib.sha1(str(VENV).encode()).hexdigest()[:12]}.lock"
VERSION = "1.23.2"  # the version the shared notes measured; bump it deliberately
USERNAME = "reviewer@example.com"
PASSWORD = "review-pass-123"
TOKEN = "5e1f0c2a9b7d4e6f8a1b3c5d7e9f0a2b4c6d8e0f"  # 40 hex characters, like a real legacy token
START_TIMEOUT_S = 180


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """One installer at a time (parallel test workers, a benchmark next to the tests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def run_quietly(command: list[str], **kwargs) -> None:
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def find_uv() -> str | None:
    beside = Path(sys.executable).with_name("uv")
    return str(beside) if beside.exists() else shutil.which("uv")


def server_python() -> Path:
    """The Python of Label Studio's own environment, installing it on first use."""
    python, marker = VENV / "bin" / "python", VENV / ".dataprep-installed"
    with locked(LOCK):
        if marker.exists() and marker.read_text() == VERSION and python.exists():
            return python
        shutil.rmtree(VENV, ignore_errors=True)  # a half-made or other-version environment
        uv = find_uv()
        if uv:
            run_quietly([uv, "venv", "--quiet", "--python", sys.executable, str(VENV)])
            run_quietly([uv, "pip", "install", "--quiet", "--python", str(python), f"label-studio=={VERSION}"])
        else:
            run_quietly([sys.executable, "-m", "venv", str(VENV)])
            run_quietly([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                         f"label-studio=={VERSION}"])
        marker.write_text(VERSION)
    return python


def migrated_template(python: Path) -> Path:
    """A data folder with the database migrated and our user and token in it, made once."""
    template = VENV / f"template-{VERSION}"
    with locked(LOCK):
        if (template / ".ready").exists():
            return template
        shutil.rmtree(template, ignore_errors=True)
        env = local_server_env(template, USERNAME, PASSWORD, TOKEN)
        run_quietly([str(python), "-m", "label_studio.server", "init", "--no-browser", "--quiet",
                     "--enable-legacy-api-token"], env=env, timeout=600)
        (template / ".ready").write_text(VERSION)
    return template


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LabelStudioServer:
    url: str
    token: str
    data_dir: Path
    process: subprocess.Popen

    @classmethod
    def start(cls, workdir: Path) -> "LabelStudioServer":
        python = server_python()
        data_dir = workdir / "data"
        shutil.copytree(migrated_template(python), data_dir)
        port = free_port()
        env = local_server_env(data_dir, USERNAME, PASSWORD, TOKEN)
        with open(workdir / "server.log", "wb") as log:  # the server keeps its own copy of the handle
            process = subprocess.Popen(local_server_command([str(python), "-m", "label_studio.server"], port),
                                       env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True, preexec_fn=die_with_parent)
        server = cls(f"http://127.0.0.1:{port}", TOKEN, data_dir, process)
        server.wait_until_up(workdir / "server.log")
        return server

    def wait_until_up(self, log: Path) -> None:
        if not wait_until_up(self.url, self.process, START_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"Label Studio did not come up within {START_TIMEOUT_S} s "
                               f"(exit code {self.process.returncode}):\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    @cached_property
    def personal_access_token(self) -> str:
        """A personal access token (a JWT refresh token), made through the API as the user would
        (the server gives each user one: made once, then reused)."""
        request = urllib.request.Request(f"{self.url}/api/token/", method="POST", data=b"",
                                         headers={"Authorization": f"Token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())["token"]

    def client(self):
        from label_studio_sdk import LabelStudio

        return LabelStudio(base_url=self.url, api_key=self.token, timeout=300)


@pytest.fixture(scope="session")
def labelstudio(tmp_path_factory) -> Iterator[LabelStudioServer]:
    server = LabelStudioServer.start(tmp_path_factory.mktemp("label-studio"))
    try:
        yield server
    finally:
        server.stop()
