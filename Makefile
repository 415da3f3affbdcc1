# The project's entry points. Each target creates .venv and installs pyproject.toml's pins first.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: preview test lint typecheck check mutation clean

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

## mypy over the program, the components and the offline runner (the SDKs' typed Args catch misnamed inputs).
typecheck: $(STAMP)
	$(PY) -m mypy

check: lint typecheck test

## Mutation testing (nightly or on demand: far too slow for `make test`): mutmut 3 over policies/ and the
## offline CLI's decision code ([tool.mutmut] in pyproject.toml), then the ratchet, which fails when the
## score of policies/ drops below tests/mutation/score.json (or 90 %). Record a better score with
## `$(PY) tests/mutation/ratchet.py --record`.
mutation: $(STAMP)
	$(VENV)/bin/mutmut run --max-children 2
	$(PY) tests/mutation/ratchet.py

clean:
	rm -rf build mutants .pytest_cache .ruff_cache
