#!/usr/bin/env bash
# `make test`: bootstrap as `make run` does, then the whole suite on real PostgreSQL and Redis.
# Each run gets its own test database and Redis database, so that two runs on one machine (or a run
# beside `make run`) never share a database or consume each other's Celery messages.
REDIS_DB="${REDIS_DB:-$((1 + $$ % 15))}"
export TEST_DATABASE_NAME="${TEST_DATABASE_NAME:-test_exchange_$$}"
source "$(dirname "$0")/services.sh"
cd "$ROOT"
ensure_venv
ensure_services
source "$(dirname "$0")/secrets.sh"
ensure_local_secrets
export DEBUG=0 DJANGO_SETTINGS_MODULE=config.settings
trap stop_started_services EXIT
set +e
python -m pytest "$@"
rc=$?
# pytest exits 5 when nothing was collected: that is a failure here too.
[ $rc -eq 5 ] && echo "ERROR: no tests were collected" >&2
exit $rc
