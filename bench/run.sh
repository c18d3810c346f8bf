#!/usr/bin/env bash
# `make bench`: every scenario measured beside its ceiling, in one run, on a production-like stack of its
# own (fresh PostgreSQL with fsync on, Redis, gunicorn DEBUG=0 with 2 sync workers, one Celery worker),
# on separate ports and state, so it runs beside `make run` and `make test`.
# Writes bench/results/latest.json and bench/results/latest.md. See bench/README.md.
#
# ORDER_MATCHING=engine: orders are accepted (202) and matched by `manage.py matching_engine` (BENCH_ENGINES
# processes, 1), and order_place also reports the engine's figures (#19).
# Knobs: BENCH_ONLY="order_place auction_burst settlement ledger book_depth verify report console surveillance" (a subset),
#        BENCH_VERIFY_TXNS (1000000), BENCH_REPORT_TRADES (1000000), BENCH_DURATION (wrk seconds, 20),
#        BENCH_ENGINE_NICE (-10: the engine ahead of gunicorn for the CPU, as scripts/run.sh runs it),
#        BENCH_PG_STATEMENTS=1 (order_place also reports PostgreSQL's time per statement, pg_stat_statements),
#        BENCH_PG_PORT (55442), BENCH_REDIS_PORT (56389), BENCH_HTTP_PORT (8442), BENCH_STATE_DIR.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$BENCH_DIR")"
cd "$REPO"
STARTED_AT=$(date +%s)

export STATE_DIR="${BENCH_STATE_DIR:-$REPO/.state/bench}"
export PG_PORT="${BENCH_PG_PORT:-55442}" REDIS_PORT="${BENCH_REDIS_PORT:-56389}" PG_FSYNC=on
if [ -n "${BENCH_PG_STATEMENTS:-}" ]; then export PG_PRELOAD=pg_stat_statements; fi  # order_place's statements
HTTP_PORT="${BENCH_HTTP_PORT:-8442}"
ONLY="${BENCH_ONLY:-order_place auction_burst settlement ledger book_depth verify report console surveillance}"
unset DATABASE_URL REDIS_URL  # never the developer's databases: the bench starts and seeds its own

mkdir -p "$(dirname "$STATE_DIR")" "$BENCH_DIR/results"
exec 9>"$STATE_DIR.lock"
flock -n 9 || { echo "ERROR: another make bench is running (lock $STATE_DIR.lock)" >&2; exit 1; }

# --- a fresh state: stop what an earlier (interrupted) bench run left on its own data dir and port ------
if [ -s "$STATE_DIR/pg/PG_VERSION" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$bin/pg_ctl" -D "$STATE_DIR/pg" -m immediate -w stop >/dev/null 2>&1 || true
  else "$bin/pg_ctl" -D "$STATE_DIR/pg" -m immediate -w stop >/dev/null 2>&1 || true; fi
fi
if [ -s "$STATE_DIR/redis.pid" ]; then redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; fi
for f in gunicorn.pid worker.pid; do  # only if that pid is still our gunicorn / worker
  p=$(cat "$STATE_DIR/$f" 2>/dev/null || true)
  if [ -n "$p" ] && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qE "config.wsgi|bench-worker@"; then
    kill -TERM "$p" 2>/dev/null || true
  fi
done
rm -rf "$STATE_DIR"
mkdir -p "$STATE_DIR/results"

source "$REPO/scripts/services.sh"
log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  stop_started_services
}
trap cleanup INT TERM EXIT

log "environment: project venv, bench venv, wrk, services (state $STATE_DIR)"
ensure_venv
ensure_services
REASONS="$STATE_DIR/results/reasons.txt"; : > "$REASONS"
if [ ! -x "$REPO/.bench-venv/bin/python" ] || [ ! -f "$REPO/.bench-venv/.installed" ] \
   || [ "$BENCH_DIR/requirements-bench.txt" -nt "$REPO/.bench-venv/.installed" ]; then
  { python3 -m venv "$REPO/.bench-venv" \
      && "$REPO/.bench-venv/bin/pip" install -q --disable-pip-version-check -r "$BENCH_DIR/requirements-bench.txt" \
      && touch "$REPO/.bench-venv/.installed"; } >"$STATE_DIR/bench-venv.log" 2>&1 \
    || echo "hordak: could not install the bench venv (see $STATE_DIR/bench-venv.log)" >> "$REASONS"
fi
command -v wrk >/dev/null || (apt_install wrk) || true
command -v wrk >/dev/null || echo "wrk: not installed and apt-get install wrk failed" >> "$REASONS"

source "$REPO/scripts/secrets.sh"
ensure_local_secrets
export ENABLE_BENCH_APP=1 DEBUG=0 DJANGO_SETTINGS_MODULE=config.settings ALLOWED_HOSTS="127.0.0.1,localhost"
# the benchmarks measure throughput: the per-organization order rate and open-order cap (#14 item 12) are off
export ORDER_RATE_LIMIT="${ORDER_RATE_LIMIT:-1000000/s}" MAX_OPEN_ORDERS_PER_MARKET="${MAX_OPEN_ORDERS_PER_MARKET:-0}"
python manage.py migrate --noinput -v 0
python -m bench.drivers.seed

log "stack: gunicorn (2 sync workers, DEBUG=0) on :$HTTP_PORT, Celery worker (concurrency 2)"
QUEUES=$(python -c 'from trading.settlement.routing import all_queues; print(",".join(all_queues()))')
WORKER="bench-worker@$(hostname)"
gunicorn config.wsgi:application --bind "127.0.0.1:$HTTP_PORT" --workers 2 --no-control-socket \
  --log-level warning >"$STATE_DIR/gunicorn.log" 2>&1 &
pids+=($!); echo $! > "$STATE_DIR/gunicorn.pid"
celery -A config worker -Q "$QUEUES" --loglevel INFO --concurrency 2 --hostname "$WORKER" \
  >"$STATE_DIR/worker.log" 2>&1 &
pids+=($!); echo $! > "$STATE_DIR/worker.pid"
if [ "${ORDER_MATCHING:-inline}" = engine ]; then  # #19: the sequenced matching engines, one process per share
  n="${BENCH_ENGINES:-1}"
  for i in $(seq 0 $((n - 1))); do
    nice -n "${BENCH_ENGINE_NICE:--10}" python manage.py matching_engine --worker "$i" --workers "$n" \
      >"$STATE_DIR/engine-$i.log" 2>&1 &
    pids+=($!)
  done
  log "matching engine: $n process(es), ORDER_MATCHING=engine"
fi
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && break; sleep 0.3; done
curl -fs "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null || { tail -20 "$STATE_DIR/gunicorn.log"; die "gunicorn did not start"; }
for _ in $(seq 60); do celery -A config inspect ping -d "$WORKER" -t 1 >/dev/null 2>&1 && break; sleep 0.5; done

# run SCENARIO TIMEOUT_SECONDS COMMAND...: its JSON (last stdout line) → results/SCENARIO.json
run() {
  local name=$1 limit=$2; shift 2
  case " $ONLY " in *" $name "*) ;; *) return 0 ;; esac
  log "scenario $name"
  local t0=$SECONDS
  if timeout --kill-after=10 "$limit" "$@" >"$STATE_DIR/results/$name.out" 2>"$STATE_DIR/results/$name.err"; then
    tail -1 "$STATE_DIR/results/$name.out" > "$STATE_DIR/results/$name.json"
  else
    echo "$name: failed with exit $? after $((SECONDS - t0)) s: $(tail -3 "$STATE_DIR/results/$name.err" | tr '\n' ' ')" >> "$REASONS"
  fi
  cat "$STATE_DIR/results/$name.err" | grep '^\[bench' >&2 || true
  log "scenario $name: $((SECONDS - t0)) s"
}

if command -v wrk >/dev/null; then
  run order_place 240 python -m bench.drivers.http_bench --base "http://127.0.0.1:$HTTP_PORT" \
    --duration "${BENCH_DURATION:-20}"
fi
# 1,000 bids from 200 organizations in the last 60 s of an English auction with anti-sniping (#19); its
# bare-insert ceiling runs the same schedule while the auction waits for its extended end
run auction_burst 600 python -m bench.drivers.auction_burst --base "http://127.0.0.1:$HTTP_PORT"
run settlement 240 python -m bench.drivers.settlement --worker "$WORKER"
run ledger 300 python -m bench.drivers.ledger --clients 4 --seconds 16
run book_depth 240 python -m bench.drivers.book_depth --base "http://127.0.0.1:$HTTP_PORT"
run verify 420 python -m bench.drivers.verify --transactions "${BENCH_VERIFY_TXNS:-1000000}"
# the 1M-trade history of report, console and surveillance, through the product's bulk path (trading.bulk),
# built once by whichever of them is asked for
case " $ONLY " in *" report "*|*" console "*|*" surveillance "*)
  ONLY="$ONLY history"
  run history 3600 python -m bench.drivers.history --trades "${BENCH_REPORT_TRADES:-1000000}" ;;
esac
run report 240 python -m bench.drivers.report --trades "${BENCH_REPORT_TRADES:-1000000}"
run console 600 python -m bench.drivers.console --base "http://127.0.0.1:$HTTP_PORT"  # over the 1M-trade history
run surveillance 900 python -m bench.drivers.surveillance --trades "${BENCH_REPORT_TRADES:-1000000}"

if [ -n "${BENCH_HOLD:-}" ]; then  # development: keep the stack up for manual runs until interrupted
  log "holding the stack (gunicorn :$HTTP_PORT, PostgreSQL :$PG_PORT, Redis :$REDIS_PORT); Ctrl-C to stop"
  sleep infinity & wait $!  # `wait` lets the INT/TERM trap run at once
fi
python -m bench.drivers.collect --results "$STATE_DIR/results" --elapsed $(( $(date +%s) - STARTED_AT )) \
  --scenarios "$ONLY"
log "done in $(( $(date +%s) - STARTED_AT )) s: bench/results/latest.json, bench/results/latest.md"
