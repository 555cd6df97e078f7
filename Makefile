# ITB Clinic: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := .stamps
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo demo-port test lint typecheck pytest install assets services system-deps clean bench

$(STAMP)/venv: requirements.txt requirements-dev.txt
	@mkdir -p $(STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

install: $(STAMP)/venv

$(STAMP)/assets: package.json package-lock.json scripts/vendor_assets.sh
	@mkdir -p $(STAMP)
	./scripts/vendor_assets.sh
	@touch $@

assets: $(STAMP)/assets

# The demo runs with DEBUG off, as production does, but over plain HTTP on 127.0.0.1
# (ALLOW_HTTP), without two-factor sign-in (REQUIRE_2FA), and with a random key made once for
# this checkout: with DEBUG off, the settings refuse to start without SECRET_KEY.
$(STAMP)/demo-secret-key:
	@mkdir -p $(STAMP)
	@$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(50))" > $@
DEMO_ENV = ALLOW_HTTP=true REQUIRE_2FA=false SECRET_KEY="$${SECRET_KEY:-$$(cat $(STAMP)/demo-secret-key)}"

# Hashed, compressed static files for the demo server (DEBUG off, as in production).
staticfiles/staticfiles.json: $(STAMP)/venv $(STAMP)/assets $(STAMP)/demo-secret-key $(shell find static -path static/vendor -prune -o -type f -print) $(shell find */static -type f 2>/dev/null)
	$(DEMO_ENV) $(BIN)/python manage.py collectstatic --noinput -v0

## make demo: a working demo on an embedded SQLite database, seeded, with the jobs running,
## on http://127.0.0.1:$(PORT) (`make demo PORT=8123` when 8000 is taken).
PORT ?= 8000
demo: demo-port install assets staticfiles/staticfiles.json $(STAMP)/demo-secret-key
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEMO_ENV) $(BIN)/python manage.py seed_demo
	$(DEMO_ENV) $(BIN)/python manage.py run_demo --addrport 127.0.0.1:$(PORT)

# Checked first, before anything is installed or built.
demo-port:
	@[[ "$(PORT)" =~ ^[0-9]+$$ ]] && (( $(PORT) > 0 && $(PORT) < 65536 )) || { echo "PORT must be a port number (1-65535), not '$(PORT)'" >&2; exit 2; }

system-deps:
	./scripts/system_deps.sh

services:
	./scripts/ensure_services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

pytest: install assets services system-deps
	DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/spasticity} \
	  $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

## make test: every test on PostgreSQL and Redis, plus ruff and mypy.
test: lint typecheck pytest

## make bench: the scale benchmark (issue 10, docs/performance.md), which `make test` leaves out: the
## 2,000-pump bench test, then the app against its SQL floor at BENCH_PUMPS (20,000) pumps on a scratch
## database, BENCH_DATABASE_URL, created if missing and emptied.
bench: install services
	DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/spasticity} \
	  $(BIN)/pytest -p no:cacheprovider -m bench tests/bench
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/spasticity_bench} \
	  $(BIN)/python scripts/bench_caseload.py --pumps $${BENCH_PUMPS:-20000}

clean:
	rm -rf $(VENV) $(STAMP) node_modules static/vendor staticfiles demo.sqlite3
