"""Throttles: logins, and orders per organization.

Login throttling. Attempts are counted per (username, client address) under the `login` rate of
`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, so one attacker cannot lock a victim out from elsewhere
while one address still cannot guess a password quickly.

The client address is `REMOTE_ADDR` unless `REST_FRAMEWORK["NUM_PROXIES"]` says how many trusted
proxies append to X-Forwarded-For: DRF's default would otherwise believe a forged X-Forwarded-For and
give every guess a fresh bucket.
"""
from __future__ import annotations

import hashlib
import itertools
import logging
import os
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class LoginThrottle(SimpleRateThrottle):
    scope = "login"

    def get_ident(self, request):
        if api_settings.NUM_PROXIES is None:
            return request.META.get("REMOTE_ADDR") or "unknown"
        return super().get_ident(request)

    def get_cache_key(self, request, view):
        data = request.data if isinstance(request.data, dict) else {}
        username = data.get("username")
        username = username.strip().lower() if isinstance(username, str) else ""
        digest = hashlib.sha256(f"{username}\x00{self.get_ident(request)}".encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}


log = logging.getLogger(__name__)

# A sliding window in one round trip, atomic in Redis (DRF's history list is a get and a set from each
# web worker, which lets concurrent requests of one organization over the rate): drop the entries older
# than the window, admit when fewer than the limit remain (-1), else answer the milliseconds until the
# oldest leaves the window.
_SLIDING_WINDOW = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return -1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, math.ceil(tonumber(oldest[2]) + window - now))
"""
_script = None  # the script registered on this process's one Redis client (not a client per call)
_member = itertools.count()


def _sliding_window():
    global _script
    if _script is None:
        client = cache._cache.get_client(write=True)  # Django's RedisCache builds a client per call
        _script = client.register_script(_SLIDING_WINDOW)
    return _script


class OrganizationOrderThrottle(SimpleRateThrottle):
    """Order placement, cancel and reduce per acting organization (all its members and tokens together),
    at `settings.ORDER_RATE_LIMIT` (default 20/s): over it, 429 `throttled` with Retry-After. The window
    slides (a sorted set per organization in the shared Redis, checked and updated by one script: one
    round trip, atomic across web workers), so a burst of the full rate is allowed at once. While Redis
    is unreachable the limit is not applied (logged): the orders themselves never depend on Redis."""

    scope = "orders"

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = int(time.time() * 1000)
        try:
            waited = _sliding_window()(keys=[cache.make_key(key)],
                                       args=[now, self.duration * 1000, self.num_requests,
                                             f"{now}:{os.getpid()}:{next(_member)}"])
        except Exception:  # noqa: BLE001 (any Redis failure: the limit is a protection, not a guarantee)
            log.warning("order rate limit not applied: Redis unreachable", exc_info=True)
            return True
        self._wait_ms = int(waited)
        return self._wait_ms < 0

    def wait(self):
        return max(self._wait_ms, 1) / 1000

    def get_rate(self):
        return getattr(settings, "ORDER_RATE_LIMIT", "20/s")

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        membership = getattr(token, "membership", None)
        if membership is None:
            return None  # unauthenticated: refused by the permissions anyway
        return self.cache_format % {"scope": self.scope, "ident": f"org-{membership.organization_id}"}
