# The two commands: `make run` (local portal on SQLite) and `make test` (the suite on PostgreSQL).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

# `make run`: embedded defaults, no other service needed. Exported variables win.
export DEBUG ?= 1

# `make test`: PostgreSQL and Redis on loopback. Each run gets its own test
# database (tests/conftest.py adds a unique suffix), so two runs never collide.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/billing_portal
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

.PHONY: run test lint format migrate seed clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@

# Links in email point at the port `make run` serves, unless PORTAL_BASE_URL says otherwise.
run: export PORTAL_BASE_URL ?= http://127.0.0.1:$(PORT)
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "Billing Center: http://127.0.0.1:$(PORT)/"
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# What the suite needs on this machine, before the virtualenv (whose creation needs
# Debian's python3-venv): PostgreSQL, Redis and Chromium started when down, installed
# when missing and make runs as root (scripts/services.sh); milliseconds when all is up.
.PHONY: services
services:
	PYTHON=$(PYTHON) VENV=$(VENV) TEST_DATABASE_URL=$(TEST_DATABASE_URL) \
		TEST_REDIS_URL=$(TEST_REDIS_URL) ./scripts/services.sh

test: services $(VENV)/.installed-test
	# Models and migrations agree (no database needed for that).
	DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python manage.py check --fail-level WARNING
	# The architecture contracts of pyproject.toml: dependencies between apps point down.
	$(BIN)/lint-imports
	DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest $(PYTEST_ARGS)

# The suite passes on any date: the same run with the machine's clock a year ahead
# (libfaketime), so a test that reads the real clock against a fixed date fails here.
# CI runs it after `make test`.
.PHONY: test-a-year-ahead
# Without the connection pool: libfaketime moves the clock the process reads, not the
# one the kernel times an absolute wait by, so a timed wait of the pool's threads
# (closing the pool at the end of the run) can wait a year.
test-a-year-ahead: services $(VENV)/.installed-test
	DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) DATABASE_POOL=0 \
		faketime -f '+365d' $(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# `make bench`: the portal under load against the floor of its own stack, in one run
# (docs/benchmarks.md): gunicorn with 2 sync workers on a PostgreSQL database of its
# own, Place order, Billing Center and review against the floor views of bench/floor.py,
# pgbench, bench/renewals.py and bench/scaling.py (renewals of 10,000 as well, the Billing
# Center of 1, 10, 100 subscriptions). Prints one table, writes bench/results/latest.json.
# BENCH_SECONDS=60 measures longer; BENCH_OPTS=--quick is a one-minute smoke run.
BENCH_OPTS ?=
.PHONY: bench
bench: $(VENV)/.installed
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python bench/run.py $(BENCH_OPTS)

# `make bench-renewals`: renew 100,000 due subscriptions with the sandbox gateway in a
# PostgreSQL database of its own (created and dropped on the server of TEST_DATABASE_URL);
# prints subscriptions per second and peak RSS, writes bench/results/renewals.json.
BENCH_ARGS ?=
.PHONY: bench-renewals
bench-renewals: $(VENV)/.installed
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python bench/renewals.py $(BENCH_ARGS)

# `make bench-scaling`: how the cost grows with the work. Renewals of 10,000 and 100,000
# due subscriptions (BENCH_ARGS=--million adds 1,000,000), and the Billing Center's time
# and queries for an account of 1, 10 and 100 subscriptions; writes bench/results/scaling.json.
.PHONY: bench-scaling
bench-scaling: $(VENV)/.installed
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python bench/scaling.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .hypothesis
