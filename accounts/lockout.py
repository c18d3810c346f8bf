"""Login lockout with exponential backoff, per client address and per account, for the API login and the
Django admin login alike.

Every failed password counts against the client address and against the username (lower-cased, whether
or not it exists: an unknown name must behave like a known one). Once a key has
`LOGIN_LOCKOUT["account_failures"]` (address: `"address_failures"`) failures, it is locked for
`base_seconds`, and each further failure while the count stays up doubles the window, up to `max_seconds`.
While locked, every attempt for that key is refused with 429 and `Retry-After` before the password is
checked (a right password too: otherwise the lock would be an oracle). A successful login clears the
account's count, not the address's (one good account must not launder an address's guesses). Counts
decay `reset_seconds` after the last failure.

Counters live in the shared cache (Redis), so every web worker sees the same state. The per-account lock
lets someone lock a victim out for a while by guessing wrong; the windows are short at first for that
reason, and operators see the `auth.login_failed` / `auth.login_locked` audit events (`accounts.refusals`).
"""
from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.settings import api_settings

DEFAULTS = {"account_failures": 5, "address_failures": 20, "base_seconds": 60, "max_seconds": 3600,
            "reset_seconds": 86400}


def conf(name: str) -> int:
    return int((getattr(settings, "LOGIN_LOCKOUT", None) or {}).get(name, DEFAULTS[name]))


def client_address(request) -> str:
    """REMOTE_ADDR, or the client's address from X-Forwarded-For behind `NUM_PROXIES` trusted proxies."""
    if request is None:
        return "unknown"
    meta = request.META
    proxies = api_settings.NUM_PROXIES
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return meta.get("REMOTE_ADDR") or "unknown"


def _key(kind: str, value: str) -> str:
    return f"lockout:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _keys(address: str, username: str) -> list[tuple[str, str, int]]:
    name = (username or "").strip().lower()
    out = [(_key("address", address), "address", conf("address_failures"))]
    if name:
        out.append((_key("account", name), "account", conf("account_failures")))
    return out


def locked_for(*, address: str, username: str) -> tuple[int, str | None]:
    """(seconds until the lock ends, which key is locked) — (0, None) when the attempt may go on."""
    now = time.time()
    worst, which = 0, None
    for key, kind, _threshold in _keys(address, username):
        state = cache.get(key) or {}
        wait = math.ceil(state.get("locked_until", 0) - now)
        if wait > worst:
            worst, which = wait, kind
    return worst, which


def record_failure(*, address: str, username: str) -> int:
    """Count a failed password; returns the lock window it started (0: none yet)."""
    now = time.time()
    started = 0
    for key, _kind, threshold in _keys(address, username):
        state = cache.get(key) or {}
        failures = state.get("failures", 0) + 1
        state["failures"] = failures
        if failures >= threshold:
            window = min(conf("base_seconds") * 2 ** (failures - threshold), conf("max_seconds"))
            state["locked_until"] = now + window
            started = max(started, window)
        cache.set(key, state, timeout=conf("reset_seconds") + conf("max_seconds"))
    return started


def record_success(*, username: str) -> None:
    cache.delete(_key("account", (username or "").strip().lower()))


def forget(*, address: str = "", username: str = "") -> None:
    """Clear the counters (tests; an operator unlocking an account)."""
    for key, _kind, _threshold in _keys(address, username):
        cache.delete(key)
