"""Request ids and structured logs: every request gets an id (from X-Request-ID or a new uuid4),
echoed back in the response, carried by every log line and stored on audit events. The API's input limits
and `Cache-Control` (ApiLimitsMiddleware) and the Content-Security-Policy of the admin and docs pages."""
from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid

from django.conf import settings
from django.http import JsonResponse

from .errors import envelope, message_for

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record):
        record.request_id = current_request_id.get()
        return True


class JsonLogFormatter(logging.Formatter):
    def format(self, record):
        payload = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


class ApiLimitsMiddleware:
    """Under /api/: a body announced larger than settings.REQUEST_MAX_BYTES is refused with the 413
    envelope before anything reads it (the JSON parser also stops reading past the limit), a NUL in the
    path or the query string is refused with 400 `nul_character` (PostgreSQL cannot store it), and every
    response is `Cache-Control: no-store` (balances, tokens and exports must not sit in shared caches)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.REQUEST_MAX_BYTES:
            body, status = envelope("request_too_large", request=request, limit=settings.REQUEST_MAX_BYTES), 413
            return self._no_store(JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False}))
        bad = sorted({key.replace("\x00", "\\u0000") for key, values in request.GET.lists()
                      if "\x00" in key or any("\x00" in v for v in values)})
        if "\x00" in request.path:
            bad.append("path")
        if bad:
            fields = {name: [{"code": "nul_character", "message": message_for("nul_character")}] for name in bad}
            response = JsonResponse(envelope("nul_character", fields=fields, request=request), status=400,
                                    json_dumps_params={"ensure_ascii": False})
        else:
            response = self.get_response(request)
        return self._no_store(response)

    @staticmethod
    def _no_store(response):
        response["Cache-Control"] = "no-store"
        return response


# The admin and the API docs (Swagger UI, served from this project by drf-spectacular-sidecar):
# scripts and styles from this origin only, no frames, no plugins. Swagger UI sets inline styles.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
                           "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
CSP_PATHS = ("/admin/", "/api/docs/")


class ContentSecurityPolicyMiddleware:
    """A Content-Security-Policy on the admin and the docs pages (README: security)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(CSP_PATHS):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
