"""Login throttling. Attempts are counted per (username, client address) under the `login` rate of
`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, so one attacker cannot lock a victim out from elsewhere
while one address still cannot guess a password quickly.

The client address is `REMOTE_ADDR` unless `REST_FRAMEWORK["NUM_PROXIES"]` says how many trusted
proxies append to X-Forwarded-For: DRF's default would otherwise believe a forged X-Forwarded-For and
give every guess a fresh bucket.
"""
from __future__ import annotations

import hashlib

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
