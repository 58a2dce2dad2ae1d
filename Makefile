# Coopdesk: `make run` for the demo, `make test` for the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# The demo: debug on, MFA off (the login page says so), a local-only password.
DEMO_ENV := DJANGO_DEBUG=true REQUIRE_STAFF_MFA=$${REQUIRE_STAFF_MFA:-false} COOP_DEMO_MODE=true \
	COOP_DEMO_PASSWORD=$${COOP_DEMO_PASSWORD:-coopdesk-demo-2026}

.PHONY: run test lint fmt migrate install bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
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
	@echo " Logins (password: $${COOP_DEMO_PASSWORD:-coopdesk-demo-2026}):"
	@echo "   admin@coopdesk.local  manager@coopdesk.local  officer@coopdesk.local"
	@echo "   teller@coopdesk.local accountant@coopdesk.local auditor@coopdesk.local"
	@echo " WARNING: demo data and password are for local use only. Two-factor login is off."
	@echo "================================================================================"
	$(DEMO_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest -n $${TEST_WORKERS:-2} $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) coopdesk.sqlite3 staticfiles
