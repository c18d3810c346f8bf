#!/usr/bin/env bash
# `make test`: bootstrap as `make run` does, then the whole suite on real PostgreSQL and Redis.
REDIS_DB="${REDIS_DB:-1}"  # keep test messages away from a running `make run` worker
source "$(dirname "$0")/services.sh"
cd "$ROOT"
ensure_venv
ensure_services
export DEBUG=0 SECRET_KEY="${SECRET_KEY:-test-secret-key}" DJANGO_SETTINGS_MODULE=config.settings
trap stop_started_services EXIT
set +e
python -m pytest "$@"
rc=$?
# pytest exits 5 when nothing was collected: that is a failure here too.
[ $rc -eq 5 ] && echo "ERROR: no tests were collected" >&2
exit $rc
