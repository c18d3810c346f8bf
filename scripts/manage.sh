#!/usr/bin/env bash
# `make manage ARGS="..."`: a management command against the same services as `make run`.
source "$(dirname "$0")/services.sh"
cd "$ROOT"
ensure_venv
ensure_services
export DEBUG="${DEBUG:-1}" SECRET_KEY="${SECRET_KEY:-local-dev-secret-not-for-production}"
trap stop_started_services EXIT
# shellcheck disable=SC2086
python manage.py $ARGS
