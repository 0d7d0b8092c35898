# Two commands: `make demo` sets up and runs the quickstart recipe on sample_data/;
# `make test` sets up and runs the whole test suite. Both need only python3 (3.11+) and pip.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench clean

# uv (from PyPI) installs in seconds what pip takes minutes for; the tests reuse it for Label Studio's own venv.
# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set, every start would recompile typer and rich.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.[dev]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/dataprep run recipes/quickstart.yaml --out runs/quickstart

# The report test renders the page in Debian's chromium; install it when we can (root with apt).
test: $(VENV)/.installed
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache
