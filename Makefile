# Two entry points, both from a fresh machine with Python >= 3.11: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install serve test lint typecheck unit clean

$(BIN)/xp: pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./client -e '.[test]'
	touch $(BIN)/xp

install: $(BIN)/xp

serve: install
	$(BIN)/xp serve

lint: install
	$(BIN)/ruff check client service tests bench
	$(BIN)/ruff format --check client service tests bench

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

test: lint typecheck unit

clean:
	rm -rf $(VENV) .xp .pytest_cache .mypy_cache .ruff_cache
