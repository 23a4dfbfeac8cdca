# Two commands on a fresh machine: `make run` and `make test`.
# Each creates the virtualenv and installs what it needs on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Local defaults so `make run` works with nothing configured. A real deployment sets its own.
export STRIPE_WEBHOOK_SECRET ?= whsec_tinkertank_local_demo_secret
export ADMIN_TOKEN ?= tinkertank-local-admin-token
export DATABASE_URL ?= duckdb:///data/tinkertank.duckdb
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test check lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tinkertank serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest

check: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || \
		{ echo "make bench needs wrk: apt-get install wrk"; exit 2; }
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
