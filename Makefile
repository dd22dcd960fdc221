# Two entry points, both usable on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup demo serve test lint bench clean

# The package holds its version (pyproject reads it there): a new version reinstalls, so the metadata follows.
$(BIN)/parse-mcp: pyproject.toml parse_mcp/__init__.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(BIN)/parse-mcp

demo: setup                 ## the guided tour on the embedded sandbox
	$(BIN)/parse-mcp demo

serve: setup                ## the MCP server on the embedded sandbox, streamable HTTP at http://127.0.0.1:8765/mcp
	$(BIN)/parse-mcp --sandbox --transport http

lint: setup
	$(BIN)/ruff format --check parse_mcp tests bench
	$(BIN)/ruff check parse_mcp tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache   # the import contracts in pyproject.toml

test: lint                  ## lint, types, then the whole test suite with coverage
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report

clean:
	rm -rf $(VENV) .coverage build dist
