# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
WORKSPACE ?= demo-workspace

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/safestreets demo --workspace $(WORKSPACE)

# The browser tests drive Debian's chromium; without apt (or root) they skip, saying so.
test: $(VENV)/.installed-dev
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium) \
		|| echo "note: could not install chromium; the browser tests will be skipped"
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q

# ruff's rules only: the code is laid out by hand where alignment reads better (with "# fmt: skip"), so the
# formatter is not enforced.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench

bench: $(VENV)/.installed-dev
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/impact.py

clean:
	rm -rf $(VENV) $(WORKSPACE) .pytest_cache
