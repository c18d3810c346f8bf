#!/usr/bin/env bash
# Project-local PostgreSQL and Redis: started under .state/ on loopback and non-default ports unless
# DATABASE_URL / REDIS_URL point elsewhere. Sourced by run.sh, test.sh, manage.sh and bench.sh.
# After sourcing: DATABASE_URL and REDIS_URL are exported, and STARTED_SERVICES lists what this
# process started (so that the caller stops exactly that and nothing else).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${STATE_DIR:-$ROOT/.state}"
PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
STARTED_SERVICES=""
mkdir -p "$STATE"

die() { echo "ERROR: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  if is_root && command -v apt-get >/dev/null; then
    echo "installing OS packages: $*" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; } \
      || die "could not install $*"
  else
    die "$* not found: install it (Debian/Ubuntu: sudo apt-get install $*) or set DATABASE_URL/REDIS_URL"
  fi
}

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && { echo "$d"; return; }; done
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return; }
  return 1
}

as_pg() {  # PostgreSQL refuses to run as root: use the postgres user then.
  if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

start_postgres() {
  local bin pgstate="$STATE" data log
  bin="$(pg_bindir)" || { apt_install postgresql; bin="$(pg_bindir)"; }
  if is_root; then
    id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
    chown postgres "$STATE"
    # The postgres user must reach the data folder; a checkout under a private directory (mktemp -d,
    # /root) is out of its reach, so the cluster then lives in a folder of its own named after the checkout.
    if ! runuser -u postgres -- test -w "$STATE"; then
      pgstate="/var/tmp/exchange-pg-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
      mkdir -p "$pgstate" && chown postgres "$pgstate" && chmod 700 "$pgstate"
      echo "note: $STATE is not reachable by the postgres user; PostgreSQL data lives in $pgstate" >&2
    fi
  fi
  data="$pgstate/pg"
  log="$pgstate/pg.log"
  if [ ! -s "$data/PG_VERSION" ]; then
    mkdir -p "$data"; is_root && chown postgres "$data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$data'
max_connections = 200
shared_buffers = 256MB
fsync = ${PG_FSYNC:-on}
synchronous_commit = on
max_locks_per_transaction = 256
CONF
    # `make bench` with BENCH_PG_STATEMENTS=1: per-statement figures (pg_stat_statements) for the order path
    if [ -n "${PG_PRELOAD:-}" ]; then echo "shared_preload_libraries = '$PG_PRELOAD'" >> "$data/postgresql.conf"; fi
  fi
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    :
  else
    touch "$log"; is_root && chown postgres "$log"
    # The port may be briefly taken by a closed client connection in TIME_WAIT whose ephemeral local port
    # happened to be ours (after a load test on this machine): that clears within a minute, so wait for it.
    local tries=0
    until as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null; do
      tries=$((tries + 1))
      if [ "$tries" -ge 8 ] || ! tail -5 "$log" | grep -q "Address already in use"; then
        tail -20 "$log"; die "PostgreSQL did not start"
      fi
      echo "note: port $PG_PORT is still in use (TIME_WAIT?); retrying in 10 s" >&2
      sleep 10
    done
    STARTED_SERVICES="$STARTED_SERVICES postgres"
  fi
  export PG_BINDIR="$bin" PG_DATA="$data"
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_roles where rolname='exchange'" | grep -q 1 \
    || psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "create role exchange login superuser" >/dev/null
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname='exchange'" | grep -q 1 \
    || psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "create database exchange owner exchange" >/dev/null
  export DATABASE_URL="postgres://exchange@127.0.0.1:$PG_PORT/exchange"
}

stop_postgres() { as_pg "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true; }

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    mkdir -p "$STATE/redis"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STATE/redis" --daemonize yes \
      --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" --appendonly yes --save "" >/dev/null
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null || die "Redis did not start"
    STARTED_SERVICES="$STARTED_SERVICES redis"
  fi
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/${REDIS_DB:-0}"
}

stop_redis() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; }

stop_started_services() {
  case " $STARTED_SERVICES " in *" redis "*) stop_redis ;; esac
  case " $STARTED_SERVICES " in *" postgres "*) stop_postgres ;; esac
}

ensure_services() {
  command -v psql >/dev/null || apt_install postgresql-client
  if [ -z "${DATABASE_URL:-}" ]; then start_postgres; fi
  if [ -z "${REDIS_URL:-}" ]; then start_redis; fi
  export REDIS_PORT PG_PORT
}

# ensure_venv [dev]: the runtime requirements (requirements.txt); with `dev`, the test and lint tools too
# (requirements-dev.txt, which includes the runtime). Exact hashes: requirements*.lock (see README).
ensure_venv() {
  local py="${PYTHON:-python3}" req="$ROOT/requirements.txt" marker="$ROOT/.venv/.installed"
  if [ "${1:-}" = dev ]; then req="$ROOT/requirements-dev.txt" marker="$ROOT/.venv/.installed-dev"; fi
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11+ is required"
    "$py" -m venv "$ROOT/.venv" || { apt_install python3-venv; "$py" -m venv "$ROOT/.venv"; }
  fi
  if [ ! -f "$marker" ] || [ "$ROOT/requirements.txt" -nt "$marker" ] || [ "$req" -nt "$marker" ]; then
    "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check -r "$req" || die "pip install failed"
    touch "$marker"
  fi
  export PATH="$ROOT/.venv/bin:$PATH"
}

# The web console's browser assets (ECharts, htmx) come from the npm registry at the versions in
# package-lock.json and are served by the project itself (whitenoise): nothing is fetched from a CDN.
ensure_assets() {
  local vendor="$ROOT/console/static/console/vendor"
  command -v npm >/dev/null || apt_install nodejs npm
  if [ ! -f "$vendor/.installed" ] || [ "$ROOT/package-lock.json" -nt "$vendor/.installed" ]; then
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed"
    mkdir -p "$vendor"
    cp "$ROOT/node_modules/echarts/dist/echarts.min.js" "$ROOT/node_modules/htmx.org/dist/htmx.min.js" "$vendor/" \
      || die "could not copy the console's assets"
    touch "$vendor/.installed"
  fi
}

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used), with CJK fonts
# so that the Chinese pages render as text, not boxes.
ensure_chromium() {
  if [ ! -x /usr/bin/chromium ] || ! fc-list : family 2>/dev/null | grep -i "noto.*cjk" >/dev/null; then
    apt_install chromium fonts-noto-cjk
  fi
  [ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing: install Debian's chromium package"
}
