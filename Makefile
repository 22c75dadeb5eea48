# partnerbot: `make run` sets up and serves with demo data; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions of every dependency (requirements.lock, made by `make lock` from pyproject's ranges):
# every install - `make run`, `make test`, CI, the Dockerfile - takes these, then partnerbot itself.
LOCK := requirements.lock
UV_VERSION := 0.13.9

.PHONY: run test check lint types bench demo chat teams-package lock clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Re-resolve requirements.lock from pyproject.toml (runtime and dev extras, Python 3.11, every platform),
# and requirements-runtime.lock - the same pins without the dev tools - for the container image:
# after changing a dependency in pyproject.toml. Pins that still fit are kept; `make lock LOCK_ARGS=--upgrade`
# takes the newest releases instead. Review the diff, then `make test`.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --universal \
		--custom-compile-command "make lock" $(LOCK_ARGS) -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --universal -c $(LOCK) \
		--custom-compile-command "make lock" -o requirements-runtime.lock

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
