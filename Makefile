# The developer loop. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: help install lint type interop-deps test check-schema bench serve clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

$(BIN)/opp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(BIN)/opp

install: $(BIN)/opp ## create .venv and install opp with its dev and test extras

lint: install ## ruff lint and format check
	$(BIN)/ruff check opp tests benchmarks examples
	$(BIN)/ruff format --check opp tests benchmarks examples

type: install ## mypy --strict on opp/
	$(BIN)/mypy

check-schema: install ## fail when schema/gateway.schema.json is stale
	$(BIN)/opp schema --check

interop-deps: ## npm packages of the interop tests (when node is installed; CI: scripts/ci-install-interop.sh)
	@if command -v npm >/dev/null 2>&1 && [ ! -d tests/interop/node/node_modules ]; then \
		cd tests/interop/node && npm ci --no-audit --no-fund; fi

test: install lint type interop-deps ## install, lint, type-check and run the whole test suite
	$(BIN)/opp check gateway.yaml
	$(BIN)/pytest -q

bench: install ## read ratio, write throughput, CEL engines (needs wrk: apt-get install wrk)
	$(BIN)/python benchmarks/read_ratio.py --workers 2
	$(BIN)/python benchmarks/write_throughput.py --workers 2
	$(BIN)/python benchmarks/policy_eval.py
	$(BIN)/python -m benchmarks.oauth_ratio --workers 2

serve: install ## run the gateway on the root gateway.yaml
	$(BIN)/opp serve gateway.yaml

clean: ## remove local state (.opp/) and caches
	rm -rf .opp .mypy_cache .ruff_cache .pytest_cache
