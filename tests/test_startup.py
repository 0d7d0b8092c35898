"""Every command answers --help without importing the heavy libraries its work needs."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pydantic", "numpy", "jsonschema", "jinja2", "openai", "anthropic", "datasets", "pyarrow", "polars", "pandas",
         "label_studio_sdk", "tiktoken", "datasketch", "phonenumbers", "detect_secrets")
PROBE = """
import sys
from dataprep.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print("imported:", ",".join(sorted(name for name in {heavy!r} if name in sys.modules)))
"""


@pytest.mark.parametrize("command", [[], ["run"], ["mine"], ["dedup"], ["flag"], ["synth"], ["split"], ["export"],
                                     ["validate"], ["report"], ["review", "push"]])
def test_help_imports_no_heavy_library(command):
    done = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *command, "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "imported:"
