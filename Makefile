.PHONY: run test manage bench soak lint
SHELL := /bin/bash

run:    ## the whole system: services, migrations, demo data, web, worker, beat
	@bash scripts/run.sh

test:   ## the full test suite against real PostgreSQL, Redis and a Celery worker
	@bash scripts/test.sh $(PYTEST_ARGS)

manage: ## make manage ARGS="verify_ledger"
	@bash scripts/manage.sh

bench:  ## benchmarks against their ceilings; writes bench/results/latest.json
	@bash bench/run.sh

soak:   ## the long invariant run
	@SOAK=1 bash scripts/test.sh -s tests/system/test_invariants.py

lint:
	@.venv/bin/ruff check .
