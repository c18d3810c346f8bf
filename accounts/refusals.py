"""Audit of refusals, bounded: failed logins, lockouts, refused privileged calls (every 403 under /api/),
password changes and token revocations are audit events — but a flood cannot fill the table.

Per (actor or client address, action) at most `AUDIT_REFUSALS_PER_MINUTE` (default 10) events are written
in one clock minute; the rest are counted in the cache, and the next event written for that key carries
`suppressed`: how many were left out since the previous written one. (Password changes and token
revocations are not refusals and are always written, in the transaction of the change: see
`accounts.services`.)

A refusal's own transaction rolls back with the refused change, so these events are written on their
own, after it (the middleware runs outside the view's transaction; the login view writes after the
failed service call).
"""
from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction

from .actor import Actor
from .audit import audit_record
from .lockout import client_address

log = logging.getLogger(__name__)


def per_minute() -> int:
    return int(getattr(settings, "AUDIT_REFUSALS_PER_MINUTE", 10))


def _bucket(action: str, who: str) -> str:
    return hashlib.sha256(f"{action}\x00{who}".encode()).hexdigest()[:32]


def record_refusal(*, action: str, who: str, actor: Actor, object_type: str, object_id="", after=None,
                   region_codes=None) -> bool:
    """Write the refusal's audit event unless this (who, action) already had its share this minute.
    Returns whether it was written."""
    bucket = _bucket(action, who)
    minute = int(time.time() // 60)
    count_key, suppressed_key = f"refusal:{bucket}:{minute}", f"refusal-suppressed:{bucket}"
    try:
        cache.add(count_key, 0, timeout=120)
        count = cache.incr(count_key)
        if count > per_minute():
            try:
                cache.incr(suppressed_key)
            except ValueError:
                cache.set(suppressed_key, 1, timeout=86400)
            return False
        suppressed = cache.get(suppressed_key) or 0
        if suppressed:
            cache.delete(suppressed_key)
    except Exception:  # the cache is down: audit anyway (bounded by nothing, but never lose the event)
        log.warning("refusal audit: cache unavailable", exc_info=True)
        suppressed = 0
    body = dict(after or {})
    if suppressed:
        body["suppressed"] = suppressed
    try:
        with transaction.atomic():
            audit_record(actor=actor, action=action, object_type=object_type, object_id=object_id or "",
                         after=body, region_codes=region_codes)
    except DatabaseError:
        log.exception("refusal audit event %s could not be written", action)
        return False
    return True


class RefusalAuditMiddleware:
    """Every 403 under /api/ (a refused privileged call) becomes an `auth.refused` audit event."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403 and request.path.startswith("/api/"):
            self._record(request, response)
        return response

    def _record(self, request, response) -> None:
        token = getattr(request, "auth", None)
        membership = getattr(token, "membership", None)
        data = getattr(response, "data", None)
        code = data.get("code", "") if isinstance(data, dict) else ""
        if membership is not None:
            actor = Actor(user_id=membership.user_id, organization_id=membership.organization_id,
                          role=membership.role, request_id=getattr(request, "request_id", ""))
            who = f"user:{membership.user_id}"
        else:
            actor = Actor(user_id=None, organization_id=None, request_id=getattr(request, "request_id", ""))
            who = f"address:{client_address(request)}"
        record_refusal(action="auth.refused", who=who, actor=actor, object_type="endpoint",
                       object_id=request.path[:64],
                       after={"method": request.method, "path": request.path[:200], "code": code,
                              "address": client_address(request)})
