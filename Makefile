# Two commands on a fresh machine: `make run` and `make test`.
# Each creates the virtualenv and installs what it needs on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# ical.js under Node: the tests' third reader of our calendar invites (tests/js/).
NODE_STAMP := tests/js/node_modules/.installed

# Local defaults so `make run` works with nothing configured. A real deployment sets its own.
DEMO_SECRET := whsec_tinkertank_local_demo_secret
export STRIPE_WEBHOOK_SECRET ?= $(DEMO_SECRET)
export ADMIN_TOKEN ?= tinkertank-local-admin-token
DEMO_DATABASE := data/tinkertank.duckdb
export DATABASE_URL ?= duckdb:///$(DEMO_DATABASE)
HOST ?= 127.0.0.1
PORT ?= 8000
DASHBOARD_PORT ?= 8501

# The demo sells from the catalog file moved to start just after today, with this week's
# camp, an Ignite term around today and parties from today (tinkertank demo-catalog), so
# that it has something to sell and a day at the door whatever the date; a new demo
# database first gets the past three weeks of orders and this week's families (tinkertank
# demo-history).
DEMO_CATALOG := data/demo-catalog.toml
# `make test-as-if DATE=2028-02-01` runs the suite as if today were that date.
DATE ?= 2028-02-01

.PHONY: run serve test test-as-if test-postgresql check lint format bench clean chromium postgresql screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): tests/js/package.json tests/js/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq nodejs npm) || \
		{ echo "make test needs Node and npm: apt-get install nodejs npm"; exit 2; }
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# The sidecar and the dashboard; with no real webhook secret configured, a stream of demo
# orders as well (signed `tinkertank simulate` deliveries through the real webhook endpoint).
# Ctrl+C stops all of them.
run: $(STAMP)
	@if [ -z "$$CATALOG_PATH" ] && [ "$$STRIPE_WEBHOOK_SECRET" = "$(DEMO_SECRET)" ]; then \
		$(BIN)/tinkertank demo-catalog --out $(DEMO_CATALOG) && export CATALOG_PATH=$(DEMO_CATALOG); \
		if [ "$$DATABASE_URL" = "duckdb:///$(DEMO_DATABASE)" ] && [ ! -e $(DEMO_DATABASE) ]; then \
			$(BIN)/tinkertank demo-history --days 21; \
		fi; \
	fi; \
	$(BIN)/tinkertank serve --host $(HOST) --port $(PORT) & server=$$!; \
	SIDECAR_URL=http://$(HOST):$(PORT) $(BIN)/tinkertank dashboard --host $(HOST) \
		--port $(DASHBOARD_PORT) & dashboard=$$!; \
	sim=; \
	stop() { { kill $$sim $$server $$dashboard; wait $$sim $$server $$dashboard; } 2>/dev/null; }; \
	trap 'stop; exit 0' INT TERM; trap stop EXIT; \
	echo "Dashboard: http://$(HOST):$(DASHBOARD_PORT)  (sidecar: http://$(HOST):$(PORT))"; \
	if [ "$$STRIPE_WEBHOOK_SECRET" = "$(DEMO_SECRET)" ]; then \
		echo "No STRIPE_WEBHOOK_SECRET set: feeding demo orders (tinkertank simulate)."; \
		SIDECAR_URL=http://$(HOST):$(PORT) $(BIN)/tinkertank simulate --forever --rate 1 \
			--wait 60 --quiet & sim=$$!; \
	fi; \
	wait $$server

test: $(STAMP) $(NODE_STAMP) chromium postgresql
	$(BIN)/pytest

# The tests that start sidecars again, every sidecar on the suite's throwaway PostgreSQL
# server (the in-process store tests run on both backends in `make test` already).
test-postgresql: $(STAMP) $(NODE_STAMP) chromium postgresql
	TEST_BACKEND=postgresql $(BIN)/pytest tests/sidecar tests/cli tests/client tests/dashboard

# The tests start a throwaway PostgreSQL server with Debian's initdb and pg_ctl; without
# them (and without TEST_DATABASE_URL) the PostgreSQL half of the store tests fails, saying so.
postgresql:
	@test -n "$$TEST_DATABASE_URL" || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) || \
		echo "Could not install postgresql (apt-get install postgresql): its tests will fail."

test-as-if: $(STAMP) $(NODE_STAMP) chromium postgresql
	$(BIN)/python -m tests.as_if $(DATE)

# The dashboard's pictures in the docs (docs/images/), taken again on a busy demo day in
# headless Chromium (tests/screenshots.py); commit the PNGs that change.
screenshots: $(STAMP) chromium
	$(BIN)/python -m tests.screenshots

# The customer pages' browser tests drive Debian's chromium through Playwright (never a
# browser download of Playwright's own). Without it they fail, saying so.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || \
		echo "Could not install chromium (apt-get install chromium): the browser tests will fail."

check: $(STAMP) $(NODE_STAMP) chromium postgresql
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
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/js/node_modules
