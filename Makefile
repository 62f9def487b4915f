# The developer loop. `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

# Installs come from uv.lock (hash-checked); uv itself is pinned by hash in requirements/uv.txt.
# uv never downloads a Python: it uses the venv made from $(PYTHON).
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
UV := $(BIN)/uv
SYNC := $(UV) sync --locked --inexact --no-progress --quiet

.PHONY: help install install-runtime lint type lock lock-check interop-deps test check-schema bench serve clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-13s %s\n", $$1, $$2}'

$(UV): requirements/uv.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/uv.txt
	@touch $(UV)

$(VENV)/.installed-runtime: $(UV) pyproject.toml uv.lock
	$(SYNC)
	@touch $@

$(VENV)/.installed-dev: $(UV) pyproject.toml uv.lock
	$(SYNC) --extra dev
	@touch $@ $(VENV)/.installed-runtime

install-runtime: $(VENV)/.installed-runtime ## create .venv and install opp's runtime dependencies from uv.lock

install: $(VENV)/.installed-dev ## create .venv and install opp with its dev and test extras from uv.lock

lock: $(UV) ## upgrade every locked version deliberately (record it in CHANGELOG.md), then sync
	$(UV) lock --upgrade
	$(SYNC) --extra dev
	@touch $(VENV)/.installed-dev $(VENV)/.installed-runtime

lock-check: $(UV) ## fail when uv.lock and pyproject.toml disagree
	$(UV) lock --check

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

test: lock-check install lint type interop-deps ## install, lint, type-check and run the whole test suite
	$(BIN)/opp check gateway.yaml
	$(BIN)/pytest -q

bench: install ## read ratio, write throughput, CEL engines, scale-out (needs wrk; scale-out: postgresql, redis-server)
	$(BIN)/python benchmarks/read_ratio.py --workers 2
	$(BIN)/python benchmarks/write_throughput.py --workers 2
	$(BIN)/python benchmarks/policy_eval.py
	$(BIN)/python -m benchmarks.oauth_ratio --workers 2
	$(BIN)/python -m benchmarks.scale_out --workers 2

serve: install-runtime ## run the gateway on the root gateway.yaml (HOST=127.0.0.1 PORT=8080)
	$(BIN)/opp serve gateway.yaml --host $(HOST) --port $(PORT)

clean: ## remove local state (.opp/) and caches
	rm -rf .opp .mypy_cache .ruff_cache .pytest_cache
