#!/usr/bin/env bash
# `make run`: the whole exchange on this machine. Ctrl-C / SIGTERM stops what this script started.
source "$(dirname "$0")/services.sh"
cd "$ROOT"
ensure_venv
ensure_services
# like production: DEBUG only when asked for (DEBUG=1 make run); keys generated once under .state/secrets/
source "$(dirname "$0")/secrets.sh"
ensure_local_secrets
export DEBUG="${DEBUG:-0}"
export DJANGO_SETTINGS_MODULE=config.settings
PORT="${PORT:-8000}"
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "stopping..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  stop_started_services
  echo "stopped."
}
trap cleanup INT TERM EXIT
python manage.py migrate --noinput -v 0
python manage.py collectstatic --noinput -v 0
python manage.py seed_demo
gunicorn config.wsgi:application --bind "127.0.0.1:$PORT" --workers "${WEB_WORKERS:-2}" \
  --no-control-socket --access-logfile - --log-level warning &
pids+=($!)
# The worker runs under a tiny supervisor: Celery may exit on a broker outage (see README), and the
# outbox sweeper relies on a worker coming back. TERM to the loop stops the worker and the loop.
supervise() {
  local child=
  trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while true; do
    "$@" & child=$!
    wait "$child" || true
    echo "worker exited; restarting in 2 s" >&2
    sleep 2
  done
}
supervise celery -A config worker -Q "$(python -c 'from trading.settlement.routing import all_queues; print(",".join(all_queues()))')" \
  --loglevel INFO --concurrency 2 --hostname "run-worker@%h" &
pids+=($!)
celery -A config beat --loglevel INFO --schedule "$STATE/celerybeat-schedule" --pidfile= &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.3; done
cat <<MSG

  Exchange is running.
    Base URL : http://127.0.0.1:$PORT/api/v1/
    API docs : http://127.0.0.1:$PORT/api/docs/   (OpenAPI: /api/schema/)
    Admin    : http://127.0.0.1:$PORT/admin/
    Health   : http://127.0.0.1:$PORT/healthz  /readyz
  Demo logins (password for all: $(python manage.py shell -v 0 -c 'from accounts.demo import DEMO_PASSWORD; print(DEMO_PASSWORD)' 2>/dev/null)):
$(python manage.py seed_demo --list-logins)
  Management commands against the same services: make manage ARGS="verify_ledger"
  Ctrl-C stops everything started here.
MSG
wait -n "${pids[@]}" || true
