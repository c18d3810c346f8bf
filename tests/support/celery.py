"""A real Celery worker process, and the Redis it talks to, for settlement tests.

`celery_env` (module scope) starts a private Redis (`redis-server` with the options of
scripts/services.sh `start_redis`, on a free port, in a temporary directory) and points this process's
Celery app at it; `celery_worker` starts `celery -A config worker` as a subprocess against the test
database (DATABASE_URL → pytest-django's test database, REDIS_URL → the private Redis) consuming
every queue of `trading.settlement.routing.all_queues()`, and stops it when the module is done.

Why a private Redis rather than the one `make test` starts: the tests stop and restart Redis and
SIGKILL the worker; on the shared server that would break other test runs going on at the same time
(the Redis cache, other workers) and another run's worker consuming the same queue names would steal
these messages. Without `redis-server` on PATH (REDIS_URL pointing at an external server) the shared
REDIS_URL is used and `redis.stop()` / `redis.start()` skip the test that needs them.

Helpers: `worker.kill()` (SIGKILL of the worker's whole process group: the parent and its pool
children, nothing acked), `worker.start()` / `worker.restart()`, `redis.stop()` / `redis.start()`,
`wait_for(predicate, timeout)`. Worker knobs come from its environment: a short sweep threshold, few
attempts and fast retries, private webhook URLs allowed (`WORKER_ENV`).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]

WORKER_APPLICATION_NAME = "settle-test-worker"  # how the worker's database sessions show in pg_stat_activity
WORKER_ENV = {
    "SETTLEMENT_SWEEP_AFTER_SECONDS": "1",
    "SETTLEMENT_MAX_ATTEMPTS": "3",
    "WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    "WEBHOOK_MAX_ATTEMPTS": "3",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_ALLOW_PRIVATE_URLS": "1",
    "CELERY_DB_REUSE_MAX": "1000",
    "DB_CONN_MAX_AGE": "600",
    "CELERY_SKIP_CHECKS": "1",
    "LOG_LEVEL": "WARNING",
}


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    """Poll `predicate` until it returns a truthy value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message() if callable(message) else message}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of our own (or, `external`, the one REDIS_URL names, which we never stop)."""

    def __init__(self, port: int | None = None, directory: str | None = None, external_url: str | None = None):
        self.external_url = external_url
        self.port = port
        self.dir = directory

    @property
    def controllable(self) -> bool:
        return self.external_url is None

    def url(self, db: int = 1) -> str:
        return self.external_url or f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        if not self.controllable:
            return True
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        if not self.controllable:
            pytest.skip("REDIS_URL points at a Redis these tests cannot stop and start")
        if self.ping():
            return
        subprocess.run(["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.dir,
                        "--daemonize", "yes", "--pidfile", f"{self.dir}/redis.pid", "--logfile",
                        f"{self.dir}/redis.log", "--appendonly", "yes", "--save", ""],
                       check=True, stdout=subprocess.DEVNULL)
        wait_for(self.ping, 10, message="redis to start")

    def stop(self) -> None:
        """Stop the server (like an outage: clients see refused connections until `start`)."""
        if not self.controllable:
            pytest.skip("REDIS_URL points at a Redis these tests cannot stop and start")
        pid = self._pid()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)  # redis-server shuts down cleanly (AOF flushed) on SIGTERM
            except ProcessLookupError:
                pass
        wait_for(lambda: not self.ping(), 10, message="redis to stop")
        if pid:
            wait_for(lambda: not _alive(pid), 10, message="redis to exit")

    def _pid(self) -> int | None:
        try:
            return int(Path(self.dir, "redis.pid").read_text().strip())
        except (OSError, ValueError):
            return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def point_celery_app_at(url: str) -> str:
    """Make this process's Celery app publish to `url`; returns the previous broker URL."""
    from config.celery import app

    previous = app.conf.broker_url
    if app._pool is not None:
        try:
            app._pool.force_close_all()
        except Exception:  # noqa: BLE001
            pass
    app.conf.broker_url = url
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    from core.broker import broker_backoff_reset

    broker_backoff_reset()
    return previous


class CeleryWorker:
    def __init__(self, env: dict, queues: list[str], *, concurrency: int = 2, pool: str = "prefork",
                 log_path: str | None = None):
        self.env = env
        self.queues = queues
        self.concurrency = concurrency
        self.pool = pool
        self.log_path = log_path or tempfile.mktemp(prefix="settle-worker-", suffix=".log")
        self.proc: subprocess.Popen | None = None
        self.hostname = f"settle-test-{os.getpid()}@localhost"
        self.starts = 0

    def start(self, timeout: float = 30.0) -> None:
        assert self.proc is None or self.proc.poll() is not None, "worker already running"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", ",".join(self.queues),
             f"--pool={self.pool}", f"--concurrency={self.concurrency}", f"--hostname={self.hostname}",
             "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat", "-O", "fair"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.starts += 1
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30.0) -> None:
        from config.celery import app

        def ready():
            if self.proc.poll() is not None:
                pytest.fail(f"celery worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                return app.control.ping(destination=[self.hostname], timeout=0.3)
            except Exception:  # noqa: BLE001 - broker not reachable yet
                return False

        wait_for(ready, timeout, interval=0.1, message=lambda: f"the celery worker to answer a ping\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> bool:
        """Start the worker again if it has exited (what a process supervisor does in production);
        True when it had to. Celery/kombu 5.7 can die with "Unrecoverable error" when the broker
        disappears while messages are unacked (restoring them on close needs the lost connection)."""
        if self.running:
            return False
        self.start()
        return True

    def quiesce(self, timeout: float = 15.0) -> None:
        """Drop waiting messages and wait until no task is running, so that nothing touches the database
        while the test's flush truncates it (a TRUNCATE racing a settlement can deadlock)."""
        if not self.running:
            return
        import redis as redis_client

        from config.celery import app

        client = redis_client.Redis.from_url(app.conf.broker_url)
        try:
            client.delete(*self.queues)
        except redis_client.RedisError:
            return
        finally:
            client.close()

        def idle():
            try:
                active = app.control.inspect(destination=[self.hostname], timeout=0.5).active() or {}
            except Exception:  # noqa: BLE001
                return False
            return all(not tasks for tasks in active.values()) if active else False

        wait_for(idle, timeout, interval=0.1, message="the worker to finish its tasks")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once: whatever they were doing is cut short."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # warm shutdown
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return (f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
            f"?application_name={WORKER_APPLICATION_NAME}")


@pytest.fixture(scope="module")
def celery_env(django_db_setup, django_db_blocker):
    """(RedisServer, worker environment) with this process's Celery app publishing to that Redis."""
    from django.conf import settings

    tmp = tempfile.mkdtemp(prefix="settle-redis-")
    if shutil.which("redis-server"):
        redis = RedisServer(port=free_port(), directory=tmp)
        redis.start()
    else:
        redis = RedisServer(external_url=settings.REDIS_URL)
    previous = point_celery_app_at(redis.url())
    with django_db_blocker.unblock():
        db_url = database_url()
    env = {**os.environ, **WORKER_ENV, "DATABASE_URL": db_url, "REDIS_URL": redis.url(),
           "DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": settings.SECRET_KEY,
           "LEDGER_SIGNING_KEY": settings.LEDGER_SIGNING_KEY, "DEBUG": "0",
           "CACHE_PREFIX": f"settle-test-{os.getpid()}", "PYTHONUNBUFFERED": "1"}
    try:
        yield redis, env
    finally:
        point_celery_app_at(previous)
        if redis.controllable:
            try:
                redis.stop()
            except BaseException:  # noqa: BLE001 - best effort
                pass
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def celery_worker(celery_env):
    """A running `celery -A config worker` on every queue, concurrency 2, against the test database."""
    from trading.settlement.routing import all_queues

    redis, env = celery_env
    worker = CeleryWorker(env, all_queues(), concurrency=2)
    worker.redis = redis
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        if os.environ.get("KEEP_WORKER_LOG") is None:
            try:
                os.unlink(worker.log_path)
            except OSError:
                pass


# --- settlement assertions shared by the settlement tests ------------------------------------------------

def settle_transactions_per_trade(trade_ids) -> dict[int, int]:
    """trade id → number of ledger transactions of kind `settle` referencing it."""
    from django.db.models import Count

    from ledger.models import LedgerTransaction

    counts = dict(LedgerTransaction.objects.filter(kind="settle", reference_type="trade",
                                                   reference_id__in=[str(t) for t in trade_ids])
                  .values("reference_id").annotate(n=Count("id")).values_list("reference_id", "n"))
    return {t: counts.get(str(t), 0) for t in trade_ids}


def assert_settled_exactly_once(trade_ids) -> None:
    from accounts.models import AuditEvent
    from trading.models import SettlementOutbox, Trade, TradeEvent

    trade_ids = list(trade_ids)
    statuses = dict(Trade.objects.filter(pk__in=trade_ids).values_list("id", "status"))
    assert set(statuses.values()) == {"settled"}, {k: v for k, v in statuses.items() if v != "settled"}
    per_trade = settle_transactions_per_trade(trade_ids)
    assert set(per_trade.values()) == {1}, {k: v for k, v in per_trade.items() if v != 1}
    events = TradeEvent.objects.filter(trade_id__in=trade_ids, status="settled").count()
    assert events == len(trade_ids)
    audits = AuditEvent.objects.filter(action="trade.settle", object_type="trade",
                                       object_id__in=[str(t) for t in trade_ids]).count()
    assert audits == len(trade_ids)
    assert not SettlementOutbox.objects.filter(trade_id__in=trade_ids, status="pending").exists()


def assert_ledger_verifies() -> None:
    """Seal what is committed (exercising the sealer too), then verify the whole ledger."""
    from ledger.sealing import seal
    from ledger.verify import verify_ledger

    seal()
    report = verify_ledger()
    assert report.ok, report.fault
