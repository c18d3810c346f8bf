"""The API's exception handler: every 4xx becomes the envelope of `core.errors` (a `DomainError` from a
service, DRF's own exceptions, Django's Http404/PermissionDenied/ValidationError); anything else is a bug and
stays a 500. Input the edge checks missed but the database refuses (a sum beyond bigint, a NUL) is a 4xx
too. `handler400/403/404/500` give the envelope under /api/ for what happens outside the views (URLs no
view matched, a bug), and Django's plain pages elsewhere — never the debug page's settings or URL map."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail
from rest_framework.response import Response

from .errors import CODES, DomainError, envelope

_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "malformed_request",
    exceptions.Throttled: "throttled",
}


def _field_errors(detail, prefix="") -> dict:
    """Flatten DRF's nested error details into {"field.sub": [{"code", "message"}]}."""
    out: dict[str, list] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_field_errors(value, name))
    elif isinstance(detail, list):
        if all(isinstance(x, exceptions.ErrorDetail) for x in detail):
            out[prefix or "non_field_errors"] = [{"code": x.code, "message": str(x)} for x in detail]
        else:
            for i, value in enumerate(detail):
                out.update(_field_errors(value, f"{prefix}[{i}]" if prefix else str(i)))
    elif isinstance(detail, exceptions.ErrorDetail):
        out[prefix or "non_field_errors"] = [{"code": detail.code, "message": str(detail)}]
    return out


# PostgreSQL SQLSTATEs a request's data can cause (numeric_value_out_of_range, untranslatable_character,
# character_not_in_repertoire, string_data_right_truncation)
_DATA_ERRORS = {"22003": "value_out_of_range", "22P05": "nul_character", "22021": "nul_character",
                "22001": "validation_error"}


def exception_handler(exc, context):
    request = context.get("request")
    headers = {}
    if isinstance(exc, RequestDataTooBig):
        exc = DomainError("request_too_large", limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    elif isinstance(exc, DataError) and getattr(exc.__cause__, "pgcode", None) in _DATA_ERRORS:
        # a value the column cannot hold (a sum beyond bigint, a NUL in text) that got past the edge checks:
        # the transaction is rolled back; still a 4xx with a code, never a 500
        exc = DomainError(_DATA_ERRORS[exc.__cause__.pgcode])
    elif isinstance(exc, ValueError) and "cannot contain NUL" in str(exc):
        exc = DomainError("nul_character")  # psycopg2 refuses a NUL in a query parameter (a header, a path part)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        # model.full_clean() or a password validator escaping a service: still a 400, never a 500
        exc = exceptions.ValidationError(get_error_detail(exc))
    if isinstance(exc, DomainError):
        fields = {k: v if isinstance(v, list) else [{"code": exc.code, "message": str(v)}]
                  for k, v in exc.fields.items()}
        body = envelope(exc.code, fields=fields, request=request, **exc.params)
        return Response(body, status=exc.status_code)
    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        code = "validation_error"
        # a single well-known code (e.g. unknown_field, invalid_uscc) becomes the envelope's code
        inner = {e["code"] for errs in fields.values() for e in errs}
        if len(inner) == 1 and next(iter(inner)) in CODES:
            code = next(iter(inner))
        return Response(envelope(code, fields=fields, request=request), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
        detail_code = getattr(exc, "get_codes", lambda: None)()
        if isinstance(detail_code, str) and detail_code in CODES:
            code = detail_code
        code = code or "validation_error"
        if isinstance(exc, exceptions.Throttled) and exc.wait:
            headers["Retry-After"] = str(int(exc.wait))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        status_code = exc.status_code
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)) and request is not None:
            status_code = 401
        return Response(envelope(code, request=request), status=status_code, headers=headers)
    return None  # a real bug: let it be a 500 and get logged


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def api_error_response(request, code: str, status_code: int, *, fields=None, **params) -> JsonResponse:
    """The envelope outside DRF (URL resolution, middleware, Django's error handlers)."""
    response = JsonResponse(envelope(code, fields=fields, request=request, **params), status=status_code,
                            json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    return response


def handler404(request, exception=None):
    """Django's 404 for URLs no view matched: the envelope under /api/, Django's page elsewhere (admin).
    Wired with `handler404 = "core.handlers.handler404"` in the root URLconf, as are the three below."""
    if is_api(request):
        return api_error_response(request, "not_found", 404)
    return defaults.page_not_found(request, exception)


def handler400(request, exception=None):
    """A SuspiciousOperation (bad Host header, too many fields, a body over DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    if is_api(request) and isinstance(exception, RequestDataTooBig):
        return api_error_response(request, "request_too_large", 413, limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if is_api(request):
        return api_error_response(request, "bad_request", 400)
    return defaults.bad_request(request, exception)


def handler403(request, exception=None):
    if is_api(request):
        return api_error_response(request, "permission_denied", 403)
    return defaults.permission_denied(request, exception)


def handler500(request):
    """A bug (logged with its traceback by django.request): the envelope with the request id under /api/,
    Django's plain page elsewhere; never the debug page unless DEBUG=1 was asked for."""
    if is_api(request):
        return api_error_response(request, "server_error", 500)
    return defaults.server_error(request)
