# partnerbot: `make run` sets up and serves with demo data; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint types bench demo chat teams-package clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/partnerbot db upgrade
	$(BIN)/partnerbot demo
	$(BIN)/partnerbot serve

demo: $(STAMP)
	$(BIN)/partnerbot demo

chat: $(STAMP)
	$(BIN)/partnerbot demo >/dev/null
	$(BIN)/partnerbot chat --as $${AS:-alice@northwind.example}

test: $(STAMP)
	$(BIN)/python -m pytest -q

check: lint types

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

# Benchmarks against same-run baselines (docs/benchmarks.md): `make bench`, or `make bench BENCH_ARGS=--quick`.
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

teams-package: $(STAMP)
	$(BIN)/partnerbot teams package --out partnerbot-teams.zip

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
