"""Worker heartbeats: every Celery worker writes a short-lived Redis key naming the queues it consumes
(`exchange:worker:<hostname>`, refreshed every WORKER_HEARTBEAT_SECONDS, expiring after three missed
beats), so `/readyz` can say whether a settlement worker is alive without a broadcast round-trip."""
from __future__ import annotations

import json
import threading

import redis
from django.conf import settings

from core import conf

PREFIX = "exchange:worker:"


def _client():
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)


def beat_once(hostname: str, queues: list[str], client=None) -> None:
    period = conf.get("WORKER_HEARTBEAT_SECONDS")
    (client or _client()).set(PREFIX + hostname, json.dumps({"queues": sorted(queues)}), ex=int(period * 3) + 1)


def forget(hostname: str) -> None:
    _client().delete(PREFIX + hostname)


def alive_workers(client=None) -> dict[str, list[str]]:
    """hostname → queues of every worker whose heartbeat has not expired."""
    client = client or _client()
    out = {}
    for key in client.scan_iter(match=PREFIX + "*", count=100):
        raw = client.get(key)
        if raw:
            out[key.decode()[len(PREFIX):]] = json.loads(raw).get("queues", [])
    return out


def settlement_workers(client=None) -> list[str]:
    return sorted(h for h, queues in alive_workers(client).items() if any(q.startswith("settle.") for q in queues))


def start(hostname: str, queues: list[str]) -> threading.Event:
    """Beat from a daemon thread until the returned event is set (worker shutdown)."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                beat_once(hostname, queues)
            except Exception:  # noqa: BLE001 - Redis away: readiness will say so; try again next period
                pass
            stop.wait(conf.get("WORKER_HEARTBEAT_SECONDS"))

    threading.Thread(target=loop, name="exchange-heartbeat", daemon=True).start()
    return stop
