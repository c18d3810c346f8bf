"""Request ids: every request gets an id (from X-Request-ID or a new uuid4), echoed back in the response,
carried by every log line (`core.logs`) and stored on audit events."""
from __future__ import annotations

import re
import uuid

from core.logs import ContextLogFilter, JsonLogFormatter, current_request_id

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # not reset here: Django logs 4xx/5xx (`django.request`) after the middleware chain returns;
        # `core.logs.request_finished` clears it once the response is done
        current_request_id.set(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


RequestIdLogFilter = ContextLogFilter  # the names settings used before core.logs
__all__ = ["JsonLogFormatter", "RequestIdLogFilter", "RequestIdMiddleware", "current_request_id"]
