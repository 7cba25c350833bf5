# dli-admin: `make run` starts the dashboard and a worker against the DLI simulator; `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv chromium test-idp lint format check-deploy bench screenshots clean

# The dashboard and a background worker (and, with no DLI_ENDPOINT, the DLI simulator they share).
run: $(VENV)/.installed
	PY=$(PY) HOST=$(HOST) PORT=$(PORT) scripts/run-dev

test: $(VENV)/.installed-dev chromium test-idp
	$(PY) -m pytest $(PYTEST_ARGS)

venv: $(VENV)/.installed

$(VENV)/.python:
	@py=$$(scripts/find-python) || exit 1; \
	echo "dli-admin: creating $(VENV) with $$py"; \
	"$$py" -m venv $(VENV) && touch $@

$(VENV)/.installed: requirements.txt $(VENV)/.python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

chromium:
	@scripts/ensure-chromium

test-idp:
	@scripts/ensure-test-idp

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The production settings must pass Django's deployment checks with only these five variables set.
check-deploy: $(VENV)/.installed
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
	DLI_ADMIN_AUDIT_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')" \
	DJANGO_ALLOWED_HOSTS=dli-admin.example.com DATABASE_URL="$${DATABASE_URL:-sqlite:///$(CURDIR)/var/deploy-check.sqlite3}" \
	$(PY) manage.py check --deploy --fail-level WARNING

# The speed figures (docs/performance.md): every script of benchmarks/ over one audit log of BENCH_N records,
# a few minutes at the default; `make bench BENCH_N=1000000` for the full size, BENCH_DATABASE_URL for PostgreSQL.
BENCH_N ?= 200000
BENCH_DB = $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL),--reuse)
bench: $(VENV)/.installed-dev
	export DLI_ADMIN_AUDIT_KEY="$${DLI_ADMIN_AUDIT_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')}"; \
	$(PY) benchmarks/audit_verify.py $(BENCH_N) $(BENCH_DB) && \
	$(PY) benchmarks/audit_export.py $(BENCH_N) $(BENCH_DB) && \
	$(PY) benchmarks/audit_search.py $(BENCH_N) $(BENCH_DB) && \
	$(PY) benchmarks/audit_reconcile.py $(BENCH_N) $(BENCH_DB) && \
	$(PY) benchmarks/audit_page.py $(BENCH_N) $(BENCH_DB) --no-export && \
	$(PY) benchmarks/jobs_page.py && \
	$(PY) benchmarks/dli_reads.py

# The docs' screenshots (docs/screenshots/<page>-390.png and -1920.png), against a throwaway demo setup.
screenshots: $(VENV)/.installed-dev chromium
	$(PY) docs/screenshots.py

clean:
	rm -rf $(VENV) var tests/idp/node_modules
