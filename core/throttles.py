"""Login throttling. Attempts are counted per (username, client address) under the `login` rate of
`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, so one attacker cannot lock a victim out from elsewhere
while one address still cannot guess a password quickly.

The client address is `REMOTE_ADDR` unless `REST_FRAMEWORK["NUM_PROXIES"]` says how many trusted
proxies append to X-Forwarded-For: DRF's default would otherwise believe a forged X-Forwarded-For and
give every guess a fresh bucket.
"""
from __future__ import annotations

import hashlib

from django.conf import settings
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


class OrganizationOrderThrottle(SimpleRateThrottle):
    """Order placement, cancel and reduce per acting organization (all its members and tokens together),
    at `settings.ORDER_RATE_LIMIT` (default 20/s): over it, 429 `throttled` with Retry-After. The window
    slides (DRF's history list in the shared cache), so a burst of the full rate is allowed at once."""

    scope = "orders"

    def get_rate(self):
        return getattr(settings, "ORDER_RATE_LIMIT", "20/s")

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        membership = getattr(token, "membership", None)
        if membership is None:
            return None  # unauthenticated: refused by the permissions anyway
        return self.cache_format % {"scope": self.scope, "ident": f"org-{membership.organization_id}"}
