# Two entry points, both usable on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: help setup clients redis-server ss demo serve test lint bench mutate clean

# Python writes bytecode here even where the environment says not to (this machine sets PYTHONDONTWRITEBYTECODE):
# the tests start the server in dozens of processes and the benchmarks time its start, and without bytecode each
# of them would compile the package from source again, as an installed package never does.
unexport PYTHONDONTWRITEBYTECODE

# The package holds its version (pyproject reads it there): a new version reinstalls, so the metadata follows.
$(BIN)/parse-mcp: pyproject.toml parse_mcp/__init__.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(BIN)/parse-mcp     ## make .venv and install the package with its dev tools

# MCP clients written by others (the MCP Inspector CLI, the conformance suite) at the versions the lock file
# pins; tests/test_real_clients.py runs them. npm writes node_modules/.package-lock.json on every install, so a
# lock file newer than it means the installed clients are stale. Their install scripts are not needed (the
# Inspector's only one installs its own sources' sub-packages) and are not run.
CLIENTS := clients/node_modules/.package-lock.json
$(CLIENTS): clients/package.json clients/package-lock.json
	npm ci --prefix clients --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

clients: $(CLIENTS)

# $(call command_from_apt,COMMAND,DEBIAN PACKAGE,ELSEWHERE): the command, installed with apt-get when it is missing
# and this machine allows it; otherwise one line says what to install.
define command_from_apt
@command -v $(1) >/dev/null 2>&1 || { \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
    (apt-get install -y -qq $(2) >/dev/null 2>&1 || \
     (apt-get update -qq >/dev/null && apt-get install -y -qq $(2) >/dev/null)) && \
    echo "installed $(2) with apt-get" || \
    { echo "apt-get could not install $(2): install it (Debian/Ubuntu: apt-get install $(2))" >&2; exit 1; }; \
  else \
    echo "make test needs $(1): install it (Debian/Ubuntu: sudo apt-get install $(2); $(3))" >&2; \
    exit 1; \
  fi; \
}
endef

# The tests of shared state run a real Redis (tests/redis_server.py starts its own instance on a free port).
redis-server:
	$(call command_from_apt,redis-server,redis-server,macOS: brew install redis)

# `ss` shows a test the HTTP server's listen queue (tests/test_http_security_app.py).
ss:
	$(call command_from_apt,ss,iproute2,macOS has no ss: run make test on Linux)

demo: setup                 ## the guided tour on the embedded sandbox
	$(BIN)/parse-mcp demo

serve: setup                ## the MCP server on the embedded sandbox, streamable HTTP at http://127.0.0.1:8765/mcp
	$(BIN)/parse-mcp --sandbox --transport http

lint: setup                 ## ruff, mypy --strict and the import contracts
	$(BIN)/ruff format --check parse_mcp tests bench
	$(BIN)/ruff check parse_mcp tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache   # the import contracts in pyproject.toml
	$(BIN)/tdqs lint --command "$(BIN)/parse-mcp --sandbox" --fail-on warning --format text   # tool definitions (Glama TDQS)

test: lint clients redis-server ss   ## lint, types, then the whole test suite with coverage (real clients included)
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -n auto --dist worksteal   # one worker a core, an idle one takes tests from a busy one; coverage measures the workers too
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

# Every benchmark, one after the other (several minutes; each prints its figures and its verdict).
BENCHES := context cold_start overhead scaling throughput gc_cost pacing load replicas frozen_redis
bench: setup redis-server   ## every benchmark in bench/, each beside the simplest server or the goal it is held to
	@for name in $(BENCHES); do echo "== python -m bench.$$name"; $(BIN)/python -m bench.$$name || exit 1; done

# Mutation testing (mutmut) of the modules that carry the promises, one target after the other, each in its own
# workspace under .mutation/; `make mutate MUTATE="policy redact"` runs some targets (python -m bench.mutate --list).
MUTATE ?=
mutate: setup redis-server  ## mutation testing: the kill rate per module and every survivor's diff (docs/mutation.md)
	$(BIN)/python -m bench.mutate $(MUTATE)

help:                       ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 24

clean:                      ## remove .venv, coverage data, build output, the npm clients and mutation workspaces
	rm -rf $(VENV) .coverage build dist clients/node_modules .mutation mutants
