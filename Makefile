# Coopdesk: `make run` for the demo, `make test` for the suite. `make help` lists every target.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_WORKERS ?= 2
# Locally the test databases are kept between runs (--reuse-db; `make test PYTEST_ARGS=--create-db`
# after a migration); CI (CI=true) always builds them fresh.
REUSE_DB := $(if $(filter true 1,$(CI)),,--reuse-db)
# mypy's packages (the other apps join one by one: pyproject's [tool.mypy] overrides list them).
MYPY_PACKAGES ?= cooperative ledger
# A test that hangs (a lock wait, a stuck browser) fails after this many seconds instead of blocking CI.
TEST_TIMEOUT ?= 300
DEMO_PASSWORD ?= $(or $(COOP_DEMO_PASSWORD),coopdesk-demo-2026)
# The demo: debug on, MFA off (the login page says so), a local-only password.
DEMO_ENV := DJANGO_DEBUG=true REQUIRE_STAFF_MFA=$${REQUIRE_STAFF_MFA:-false} COOP_DEMO_MODE=true \
	COOP_DEMO_PASSWORD="$(DEMO_PASSWORD)"

.DEFAULT_GOAL := help
.PHONY: help run test lint fmt typecheck imports docs ci migrate install bench bench-data clean

help:
	@echo "make run      create .venv, migrate the SQLite demo database, load demo data, serve on $(HOST):$(PORT)"
	@echo "make test     the whole test suite (SQLite; PostgreSQL when DATABASE_URL is set), $(TEST_WORKERS) workers"
	@echo "make lint     ruff check + ruff format --check"
	@echo "make typecheck  mypy (django-stubs) on the packages CI checks; make imports  the import-layer contracts"
	@echo "make docs     regenerate the generated docs (docs/workflows.md, docs/roles.md)"
	@echo "make ci       what CI runs (.ci/run: PostgreSQL, Redis, every gate; about 6 minutes)"
	@echo "make fmt      ruff format + ruff check --fix"
	@echo "make migrate  apply migrations and create the cache table"
	@echo "make bench-data  generate the scale database (coopdesk_scale, ~5 min); make bench  every benchmark"
	@echo "make clean    remove .venv, the SQLite database and collected static files"
	@echo "Options: PORT=8123 HOST=0.0.0.0 TEST_WORKERS=4 PYTEST_ARGS='tests/cooperative -x'"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo "Installing Python dependencies into $(VENV) (the first run takes a few minutes)..."
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Coopdesk needs Python 3.11 or newer (set PYTHON=python3.12)")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py createcachetable

run: migrate
	$(DEMO_ENV) $(PY) manage.py seed_demo
	@echo ""
	@echo "================================================================================"
	@echo " Coopdesk demo: http://$(HOST):$(PORT)/admin/    (API docs: /api/docs/)"
	@echo " Logins (password: $(DEMO_PASSWORD)):"
	@echo "   admin@coopdesk.local  manager@coopdesk.local  officer@coopdesk.local"
	@echo "   teller@coopdesk.local accountant@coopdesk.local auditor@coopdesk.local"
	@echo "   manager2@coopdesk.local  committee1@coopdesk.local  committee2@coopdesk.local"
	@echo " WARNING: demo data and password are for local use only; never expose this server."
	@echo "          Two-factor login is off (REQUIRE_STAFF_MFA=false) unless you set it."
	@echo "================================================================================"
	$(DEMO_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest --ds=cooperative.settings.test -n $(TEST_WORKERS) --timeout=$(TEST_TIMEOUT) $(REUSE_DB) $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: install
	$(VENV)/bin/mypy $(MYPY_PACKAGES)

imports: install
	$(VENV)/bin/lint-imports

# Generated documentation, rebuilt from the code (tests fail while a committed copy is stale).
docs: migrate
	$(DEMO_ENV) $(PY) manage.py workflow_docs
	$(DEMO_ENV) $(PY) manage.py bootstrap_roles --matrix > docs/roles.md.new && mv docs/roles.md.new docs/roles.md
	@git status --short docs/ || true

ci:
	bash .ci/run

# The generated database the scale benchmarks read (docs/performance.md): dropped and made anew.
SCALE_DB ?= coopdesk_scale
SCALE_PG ?= postgres://postgres@127.0.0.1:5432
SCALE_SIZE ?= --members 100000 --loans 50000 --postings 2000000 --branches 20 --seed 42
bench-data: install
	$(PY) -c "import psycopg; c = psycopg.connect('$(SCALE_PG)/postgres', autocommit=True); \
		c.execute('DROP DATABASE IF EXISTS $(SCALE_DB) WITH (FORCE)'); c.execute('CREATE DATABASE $(SCALE_DB)')"
	DATABASE_URL=$(SCALE_PG)/$(SCALE_DB) REDIS_URL= DJANGO_SECRET_KEY=bench $(PY) manage.py migrate --noinput -v0
	DATABASE_URL=$(SCALE_PG)/$(SCALE_DB) REDIS_URL= DJANGO_SECRET_KEY=bench $(PY) manage.py createcachetable
	DATABASE_URL=$(SCALE_PG)/$(SCALE_DB) REDIS_URL= DJANGO_SECRET_KEY=bench COOP_ENABLE_DATAGEN=true \
		$(PY) manage.py generate_data $(SCALE_SIZE)

bench: install
	SCALE_DATABASE_URL=$${SCALE_DATABASE_URL:-$(SCALE_PG)/$(SCALE_DB)} $(PY) -m bench

clean:
	rm -rf $(VENV) coopdesk.sqlite3 staticfiles
