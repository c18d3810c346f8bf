#!/usr/bin/env bash
# `make manage ARGS="..."`: a management command against the same services as `make run`.
source "$(dirname "$0")/services.sh"
cd "$ROOT"
ensure_venv
ensure_services
source "$(dirname "$0")/secrets.sh"
ensure_local_secrets
export DEBUG="${DEBUG:-0}"
trap stop_started_services EXIT
# shellcheck disable=SC2086
python manage.py $ARGS
