"""In-process calls of the API's own views with the session's token.

The console's writes (and a few reads, such as the trade dossier and the exports) go through the very
DRF views that integrators call: the same permission classes, input serializers, idempotency, services
and error envelope (in the request's language). Nothing about who may do what, or how an amount is
parsed, is written a second time here. The call is a function call (`resolve()` + the view), not HTTP.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.test.client import RequestFactory
from django.urls import resolve
from django.utils import translation

from .session import secret_of

_factory = RequestFactory()


@dataclass
class ApiResult:
    status: int
    data: object
    response: object

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        if self.ok or not isinstance(self.data, dict):
            return ""
        text = self.data.get("message", "")
        fields = self.data.get("fields") or {}
        details = []
        for name, errs in fields.items():
            if isinstance(errs, list):
                errs = "; ".join(e.get("message", "") if isinstance(e, dict) else str(e) for e in errs)
            details.append(f"{name}: {errs}")
        return text + (f" ({'; '.join(details)})" if details else "")


def call(request, method: str, path: str, data: dict | None = None, *, query: dict | None = None,
         idempotency_key: str | None = None, prefer: str | None = None) -> ApiResult:
    # the outer request's host and scheme (the API builds absolute links from them; Django checks the host)
    headers = {"HTTP_ACCEPT_LANGUAGE": translation.get_language() or "zh-hans", "HTTP_HOST": request.get_host(),
               "secure": request.is_secure()}
    secret = secret_of(request)
    if secret:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    if idempotency_key:
        headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    if prefer:  # RFC 7240, e.g. "wait=5": the order endpoints then answer with the engine's result (#19)
        headers["HTTP_PREFER"] = prefer
    if method == "GET":
        inner = _factory.get(path, query or {}, **headers)
    else:
        inner = _factory.generic(method, path, json.dumps(data or {}), content_type="application/json", **headers)
    inner.request_id = getattr(request, "request_id", "")
    match = resolve(path)
    response = match.func(inner, *match.args, **match.kwargs)
    payload = getattr(response, "data", None)
    return ApiResult(status=response.status_code, data=payload, response=response)
