#!/usr/bin/env bash
# `make run`: the whole exchange on this machine. Ctrl-C / SIGTERM stops what this script started.
source "$(dirname "$0")/services.sh"
cd "$ROOT"
ensure_venv
ensure_assets
ensure_services
# like production: DEBUG only when asked for (DEBUG=1 make run); keys generated once under .state/secrets/
source "$(dirname "$0")/secrets.sh"
ensure_local_secrets
export DEBUG="${DEBUG:-0}"
export DJANGO_SETTINGS_MODULE=config.settings
PORT="${PORT:-8000}"
LOGS="$STATE/logs"  # web.log, worker.log, beat.log: one JSON object per line (core.logs)
mkdir -p "$LOGS"
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
python manage.py seed_demo >>"$LOGS/setup.log"
# gunicorn's access lines in the same JSON shape as the application's (request id from the response header)
ACCESS_FORMAT='{"time": "%(t)s", "level": "INFO", "logger": "gunicorn.access", "message": "%(m)s %(U)s%(q)s %(s)s %(D)sus", "request_id": "%({x-request-id}o)s", "task_id": ""}'
gunicorn config.wsgi:application --bind "127.0.0.1:$PORT" --workers "${WEB_WORKERS:-2}" \
  --no-control-socket --access-logfile "$LOGS/web.log" --access-logformat "$ACCESS_FORMAT" \
  --error-logfile "$LOGS/web.log" --log-level warning >>"$LOGS/web.log" 2>&1 &
pids+=($!)
# The worker runs under a tiny supervisor: Celery may exit on a broker outage (see README), and the
# outbox sweeper relies on a worker coming back. TERM to the loop stops the worker and the loop.
supervise() {
  local child=
  trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while true; do
    "$@" & child=$!
    wait "$child" || true
    echo "{\"level\": \"WARNING\", \"logger\": \"run.sh\", \"message\": \"worker exited; restarting in 2 s\"}" >&2
    sleep 2
  done
}
supervise celery -A config worker -Q "$(python -c 'from trading.settlement.routing import all_queues; print(",".join(all_queues()))')" \
  --loglevel INFO --concurrency 2 --hostname "run-worker@%h" >>"$LOGS/worker.log" 2>&1 &
pids+=($!)
# the sequenced matching engine (#19), when some market is matched by it, under the same supervision
if [ "${ORDER_MATCHING:-inline}" = engine ] || [ -n "${ENGINE_MARKETS:-}" ]; then
  # ahead of the web workers for the CPU (ENGINE_NICE, -10): an acceptance the engine has not taken yet is
  # latency, and on a busy machine the engine would otherwise get one process's share (#19's measurements;
  # without the privilege, nice warns and runs it at the same priority)
  supervise nice -n "${ENGINE_NICE:--10}" python manage.py matching_engine >>"$LOGS/engine.log" 2>&1 &
  pids+=($!)
fi
# beat at WARNING: at INFO it logs every send (~144 lines a minute at idle); the jobs' own lines are in worker.log.
# Levels come from LOG_LEVEL (Django's LOGGING applies to worker and beat; Celery's --loglevel does not).
LOG_LEVEL="${BEAT_LOG_LEVEL:-WARNING}" celery -A config beat --schedule "$STATE/celerybeat-schedule" --pidfile= \
  >>"$LOGS/beat.log" 2>&1 &
pids+=($!)
# the banner only once everything is up: the web ready and a settlement worker's heartbeat seen
for _ in $(seq 200); do
  curl -fs "http://127.0.0.1:$PORT/readyz" 2>/dev/null | grep -q '"settlement_worker": "ok"' && break
  sleep 0.3
done
PASSWORD=$(python manage.py shell -v 0 -c 'from accounts.demo import DEMO_PASSWORD; print(DEMO_PASSWORD)' 2>/dev/null)
cat <<MSG

  Exchange is running.
    Console  : http://127.0.0.1:$PORT/   (web console: markets, desk, quotas, supervision, operations)
    Base URL : http://127.0.0.1:$PORT/api/v1/
    API docs : http://127.0.0.1:$PORT/api/docs/   (OpenAPI: /api/schema/)
    Admin    : http://127.0.0.1:$PORT/admin/   (log in as operator_admin)
    Health   : http://127.0.0.1:$PORT/healthz  /readyz   Metrics: http://127.0.0.1:$PORT/metrics (loopback)
    Logs     : $LOGS/{web,worker,beat}.log (JSON lines; tail -f to follow)
  Demo logins (password for all: $PASSWORD):
$(python manage.py seed_demo --list-logins)
  A token (then: curl -H "Authorization: Bearer <token>" http://127.0.0.1:$PORT/api/v1/me):
    curl -s -X POST http://127.0.0.1:$PORT/api/v1/auth/login -H 'Content-Type: application/json' \\
         -d '{"username": "operator_admin", "password": "$PASSWORD"}'
  Management commands against the same services: make manage ARGS="verify_ledger"
  Ctrl-C stops everything started here.
MSG
wait -n "${pids[@]}" || true
