# The two set-up commands: `make run` (dashboard with demo data on SQLite) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .make-stamps
# Where `make run` serves: `make run PORT=8080` (or PORT/HOST in the environment).
HOST ?= 127.0.0.1
PORT ?= 8000
# Development settings for this checkout, read by every `manage.py` (never deployed).
ENV_FILE ?= .env
# The PostgreSQL pass of `make test`; override to point at another server.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test

# First Python 3.12+ on PATH (pyenv honours .python-version for python3).
PYTHON := $(shell for c in python3.14 python3.13 python3.12 python3; do \
	if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; \
	then echo $$c; break; fi; done)

.PHONY: help run env test lint test-sqlite test-postgres install install-dev browser redis clean

help:
	@echo "make run    install and serve the dashboard with demo data on SQLite (http://$(HOST):$(PORT)/; PORT=... to change)"
	@echo "make test   install test dependencies and run the whole suite (SQLite, then PostgreSQL)"

$(PY):
	@if [ -z "$(PYTHON)" ]; then echo "No Python 3.12 or newer found: install one (e.g. pyenv install 3.12) and retry." >&2; exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMPS)/runtime: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@mkdir -p $(STAMPS) && touch $@ $(STAMPS)/runtime

install: $(STAMPS)/runtime
install-dev: $(STAMPS)/dev

# DEBUG on and a generated secret key, so `.venv/bin/python manage.py ...` works from any shell
# in this checkout; written once, git-ignored, readable by its owner only.
$(ENV_FILE): | $(PY)
	@umask 077; { \
		echo "# Written by 'make run': development settings for this checkout. Never deploy it."; \
		echo "DJANGO_DEBUG=1"; \
		echo "DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')"; \
	} > $@
	@echo "Wrote $@ (DEBUG on, a generated secret key) for manage.py in this checkout."

env: $(ENV_FILE)

run: install $(ENV_FILE)
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py ensure_admin
	$(PY) manage.py seed_demo
	@echo "Dashboard: http://$(HOST):$(PORT)/   Admin: http://$(HOST):$(PORT)/admin/"
	@echo "Command line (from any shell in this folder): $(PY) manage.py model_registry --help"
	@echo "  API token: $(PY) manage.py create_token admin   Password: $(PY) manage.py changepassword admin"
	@# The tasks worker (registry syncs) runs beside the server and stops with it.
	$(PY) manage.py tasks_worker -v0 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
browser:
	@if [ ! -x /usr/bin/chromium ] && [ -z "$$CHROMIUM_PATH" ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			echo "Installing Chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Chromium is missing: install it (apt-get install chromium) or set CHROMIUM_PATH." >&2; exit 1; \
		fi; \
	fi

# Lint, then both database passes; both passes always run and each result is reported.
# The task-queue tests need Redis on 127.0.0.1:6379: started here when it is not answering
# (installed with apt first when missing, as root).
redis:
	@if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then \
		if ! command -v redis-server >/dev/null 2>&1; then \
			if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
				echo "Installing Redis for the task-queue tests"; \
				apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
			else \
				echo "Redis is not running on 127.0.0.1:6379 and redis-server is missing: install and start it." >&2; exit 1; \
			fi; \
		fi; \
		echo "Starting Redis on 127.0.0.1:6379 for the tests"; \
		redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
			--dir /tmp --logfile /tmp/model-registry-test-redis.log; \
		for _ in $$(seq 1 30); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 1; done; \
	fi

test: install-dev browser redis lint
	@$(MAKE) --no-print-directory test-sqlite; sqlite=$$?; \
	$(MAKE) --no-print-directory test-postgres; postgres=$$?; \
	echo "== SQLite pass: $$( [ $$sqlite = 0 ] && echo passed || echo FAILED ); PostgreSQL pass: $$(cat $(STAMPS)/postgres-result 2>/dev/null || echo FAILED)"; \
	[ $$sqlite = 0 ] && [ $$postgres = 0 ]

lint: install-dev
	@echo "== ruff check and ruff format --check"
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-sqlite: install-dev browser redis
	@echo "== Test suite on SQLite"
	env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install-dev browser redis
	@rm -f $(STAMPS)/postgres-result
	@if $(PY) -c "import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$(TEST_POSTGRES_URL)" 2>/dev/null; then \
		echo "== Test suite on PostgreSQL ($(TEST_POSTGRES_URL))"; \
		echo FAILED > $(STAMPS)/postgres-result; \
		DATABASE_URL="$(TEST_POSTGRES_URL)" $(PY) -m pytest $(PYTEST_ARGS) && echo passed > $(STAMPS)/postgres-result; \
	elif [ -n "$$REQUIRE_POSTGRES" ]; then \
		echo "NOT REACHABLE" > $(STAMPS)/postgres-result; \
		echo "PostgreSQL at $(TEST_POSTGRES_URL) is not reachable, and REQUIRE_POSTGRES is set." >&2; exit 1; \
	else \
		echo "DID NOT RUN (no server at $(TEST_POSTGRES_URL))" > $(STAMPS)/postgres-result; \
		echo "== PostgreSQL pass DID NOT RUN: no server at $(TEST_POSTGRES_URL) (set TEST_POSTGRES_URL to run it)."; \
	fi; \
	[ "$$(cat $(STAMPS)/postgres-result)" != FAILED ]

clean:
	rm -rf $(VENV) $(STAMPS) db.sqlite3 db.sqlite3-* test-artifacts staticfiles
