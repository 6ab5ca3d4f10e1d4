# Two entry points, both from a fresh machine with Python >= 3.11: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test-tools serve test lint typecheck unit clean

# Two stamps: `serve` installs xp alone; the test tools have their own stamp, so a `make serve`
# first never makes `make test` skip them.
$(BIN)/xp: pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./client -e .
	touch $(BIN)/xp

$(VENV)/.test-tools: $(BIN)/xp pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.test-tools

install: $(BIN)/xp

test-tools: $(VENV)/.test-tools

serve: install
	$(BIN)/xp serve

lint: test-tools
	$(BIN)/ruff check client service tests bench
	$(BIN)/ruff format --check client service tests bench

typecheck: test-tools
	$(BIN)/mypy

unit: test-tools
	$(BIN)/pytest

test: lint typecheck unit

clean:
	rm -rf $(VENV) .xp .pytest_cache .mypy_cache .ruff_cache
