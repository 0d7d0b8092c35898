# Two commands: `make demo` sets up and runs the quickstart recipe on sample_data/;
# `make test` sets up and runs the whole test suite. Both need only python3 (3.11+) and pip.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench clean constraints

# uv (from PyPI) installs in seconds what pip takes minutes for; the tests reuse it for Label Studio's own venv.
# Bytecode is compiled at install, dataprep's own too (an editable install leaves it out): with
# PYTHONDONTWRITEBYTECODE set, every start would recompile typer, rich and the dataprep modules it imports.
# constraints.txt holds the versions the tests last passed with: a new release of a dependency arrives
# by `make constraints` and a test run, not by surprise (typer 0.29 once added 0.1 s to every command).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -c constraints.txt -e '.[dev]'
	$(PY) -m compileall -q dataprep
	touch $@

# The newest versions pyproject.toml allows, written to constraints.txt: run `make test` after it.
constraints: $(VENV)/.installed
	$(VENV)/bin/uv pip install --quiet --upgrade --compile-bytecode --python $(PY) -e '.[dev]'
	$(VENV)/bin/uv pip freeze --python $(PY) | grep -v '^-e \|^dataprep' > constraints.txt

demo: $(VENV)/.installed
	$(VENV)/bin/dataprep run recipes/quickstart.yaml --out runs/quickstart

# The report test renders the page in Debian's chromium; install it when we can (root with apt).
# One worker process per core (pytest-xdist), a test file's tests in one of them (its fixtures made once):
# most tests use one core, and the suite took 14.5 minutes on one worker of this 2-core machine, 7.7 on two.
test: $(VENV)/.installed
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	$(PY) -m pytest -q -n auto --dist loadfile

clean:
	rm -rf $(VENV) runs .pytest_cache
