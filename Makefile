# Signpost: `make run` to try it, `make test` to check it. Needs Python 3.11+ with venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-postgres fuzz bench-smoke migrate seed-demo openapi lint format serve bench bench-reports bench-openreferral bench-outbox bench-listings bench-phrases test-load clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Migrate, load the demo directory on first run, and serve on http://127.0.0.1:8000 with
## one notifications worker beside it (emails land in var/mail/ as .eml files)
run: $(STAMP)
	$(BIN)/signpost migrate
	$(BIN)/signpost seed-demo
	$(BIN)/signpost worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/signpost serve

## The whole test suite (SQLite unless SIGNPOST_DATABASE_URL names PostgreSQL)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## The suite on a throwaway PostgreSQL database (PG_URL: the server to use)
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432
test-postgres: $(STAMP)
	.ci/with-postgres $(PG_URL) $(MAKE) test

## Deeper fuzzing of every operation (schemathesis): 50 examples each plus the coverage
## phase (boundary and type violations of every parameter); the suite runs 5, no coverage
FUZZ_EXAMPLES ?= 50
fuzz: $(STAMP)
	SIGNPOST_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) SIGNPOST_FUZZ_COVERAGE=1 $(BIN)/python -m pytest -q -p no:logging tests/test_fuzz.py

migrate: $(STAMP)
	$(BIN)/signpost migrate

seed-demo: $(STAMP)
	$(BIN)/signpost seed-demo

serve: $(STAMP)
	$(BIN)/signpost serve

## Regenerate openapi/openapi.json from the app
openapi: $(STAMP)
	$(BIN)/signpost export-openapi

## Load and faults (about 8 minutes): the API with several workers on a PostgreSQL cluster the
## suite starts for itself; 200 concurrent users, a hot row, database restarts, SIGTERM and
## SIGKILL, a 5-minute soak. Figures are appended to LOAD_RESULTS.
LOAD_RESULTS ?= load/RESULTS.md
test-load: $(STAMP)
	LOAD_RESULTS=$(LOAD_RESULTS) $(BIN)/python -m pytest -q -s -p no:cacheprovider load

## Referral search at national scale on PostgreSQL; appends to bench/RESULTS.md
bench: $(STAMP)
	$(BIN)/python bench/search.py

## Every report over 1M referrals and 2 years of history on PostgreSQL; appends to bench/RESULTS.md
bench-reports: $(STAMP)
	$(BIN)/python bench/reports.py

## Crawling the Open Referral UK feed over the national directory (pages/s, full nesting
## and not) on PostgreSQL; appends to bench/RESULTS.md
bench-openreferral: $(STAMP)
	$(BIN)/python bench/openreferral.py

## Notification deliveries per second by one and by two workers on PostgreSQL; appends to
## bench/RESULTS.md (a throwaway database on PG_URL)
bench-outbox: $(STAMP)
	.ci/with-postgres $(PG_URL) $(BIN)/python bench/outbox.py

## Listings latency on the demo data; appends to bench/RESULTS.md
bench-listings: $(STAMP)
	$(BIN)/python bench/listings.py

## How well searches understand link workers' phrasings and typos; appends to bench/RESULTS.md
bench-phrases: $(STAMP)
	$(BIN)/python bench/phrases.py
	BENCH_PHRASES=bench/phrases-holdout.csv $(BIN)/python bench/phrases.py

## Every benchmark at a tiny scale on a throwaway PostgreSQL database: proves they still run
bench-smoke: $(STAMP)
	.ci/bench-smoke $(PG_URL)

lint: $(STAMP)
	$(BIN)/ruff check app tests migrations bench load
	$(BIN)/ruff format --check app tests migrations bench load

format: $(STAMP)
	$(BIN)/ruff check --fix app tests migrations bench load
	$(BIN)/ruff format app tests migrations bench load

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
