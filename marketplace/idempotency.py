"""HTTP idempotency for endpoints that create or cancel something.

A client sends `Idempotency-Key: <up to 128 chars>`. The first request with a key runs and its
response is stored in the same transaction as its effects; a later request with the same key and the
same method, path and body gets the stored response (header `Idempotent-Replayed: true`); with
anything different it gets 409 `idempotency_conflict` naming the differing field. A concurrent
duplicate blocks on the first one's row until it commits, then replays. Errors (4xx) are not stored:
nothing was written, so a retry runs afresh.
"""
from __future__ import annotations

import hashlib
import json

from django.db import connection, transaction
from rest_framework.response import Response

from accounts.errors import ApiError

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
IDEMPOTENCY_PARAMETER = {"name": HEADER, "in": "header", "required": False,
                         "schema": {"type": "string", "maxLength": 128},
                         "description": "Replays the original response when the same request is sent again."}


def _first_difference(a: dict, b: dict) -> str:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return "body"
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            return key
    return "path"


def idempotent(request, organization_id: int, handler) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not 0 < len(key) <= 128:
        raise ApiError("validation_error", fields={HEADER: "1 to 128 characters"})
    body = request.data if isinstance(request.data, dict) else {"_": request.data}
    method_path = f"{request.method} {request.path}"
    fingerprint = hashlib.sha256(json.dumps([method_path, body], sort_keys=True, default=str).encode()).hexdigest()
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(
                """INSERT INTO marketplace_idempotencyrecord
                       (organization_id, key, fingerprint, method_path, request_body, created_at)
                   VALUES (%s, %s, %s, %s, %s::jsonb, now())
                   ON CONFLICT (organization_id, key) DO NOTHING RETURNING id""",
                [organization_id, key, fingerprint, method_path, json.dumps(body, default=str)])
            row = cur.fetchone()
        if row is None:
            stored = IdempotencyRecord.objects.get(organization_id=organization_id, key=key)
            if stored.fingerprint != fingerprint:
                field = "path" if stored.method_path != method_path else _first_difference(stored.request_body, body)
                raise ApiError("idempotency_conflict", field=field)
            return Response(stored.response_body, status=stored.status_code, headers={"Idempotent-Replayed": "true"})
        response = handler()
        if 200 <= response.status_code < 300:
            IdempotencyRecord.objects.filter(pk=row[0]).update(status_code=response.status_code,
                                                               response_body=response.data)
        else:
            transaction.set_rollback(True)
        return response
