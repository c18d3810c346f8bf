"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: PostgreSQL and Redis reachable,
503 otherwise; and whether a settlement worker is alive — by its heartbeat, `core.heartbeat` — reported as
`checks.settlement_worker` and status `degraded` (still 200: the web can take orders, settlement waits))."""
import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from core import heartbeat


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    checks = {}
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report any failure as not ready
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    workers = []
    if checks["redis"] == "ok":
        try:
            workers = heartbeat.settlement_workers()
        except Exception:  # noqa: BLE001
            workers = []
    checks["settlement_worker"] = "ok" if workers else "none alive"
    status = "unavailable" if not ready else ("ok" if workers else "degraded")
    return JsonResponse({"status": status, "checks": checks, "settlement_workers": workers},
                        status=200 if ready else 503)
