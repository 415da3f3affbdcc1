# The project's entry points. Each target creates .venv and installs pyproject.toml's pins first.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: preview test lint check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Offline preview of every stack: the real program and the real policy pack, no cloud needed.
preview: $(STAMP)
	$(PY) -m offline preview --all

## The test suite (components, policies, stacks, ops).
test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

check: lint test

clean:
	rm -rf build .pytest_cache .ruff_cache
