"""HTTP idempotency for endpoints that create or cancel something.

A client sends `Idempotency-Key: <up to 128 chars>`. The first request with a key runs and its
response is stored in the same transaction as its effects; a later request with the same key and the
same method, path and body gets the stored response (header `Idempotent-Replayed: true`; a stored 201
answers 200, as the ledger's replays do: one rule, "a replay created nothing"); with
anything different it gets 409 `idempotency_conflict` naming the differing field. A concurrent
duplicate blocks on the first one's row until it commits, then replays. Errors (4xx) are not stored:
nothing was written, so a retry runs afresh. The record is written once, after the handler, in its
transaction (see `idempotent` for why a replay still ends with the stored response).

A use case that writes everything in one statement (the matching engine's order acceptance, #19) stores
the record in that statement itself: `idempotent_in_statement` hands it a `Claim` (the key, the request's
fingerprint, and `params(response)` for the statement), and replays when the use case reports the key
taken.

The record's model and table stay in `marketplace` (`IdempotencyRecord`) so that no migration moves
them; the kernel reaches the model by its app label, never by an import, so `core` stays below every
app, and names the table by the model (`_meta.db_table`), never by spelling it.
"""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from .errors import DomainError
from .prepared import PreparedQuery

HEADER = "Idempotency-Key"
_ENCODER = DjangoJSONEncoder
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


class _KeyTaken(Exception):
    """The key was stored by another request while this one ran: undo this one's effects."""


def _table() -> str:
    return apps.get_model("marketplace", "IdempotencyRecord")._meta.db_table


@functools.cache
def _store() -> PreparedQuery:
    """The record, after the handler, in its transaction; prepared once per session (built at first use:
    the model is looked up by label once the apps are loaded)."""
    return PreparedQuery(
        f"""INSERT INTO {_table()}
               (organization_id, key, fingerprint, method_path, request_body, status_code, response_body,
                created_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, now())
           ON CONFLICT (organization_id, key) DO NOTHING RETURNING id""",
        ["bigint", "varchar", "varchar", "varchar", "jsonb", "smallint", "jsonb"])


def _key_taken(organization_id: int, key: str) -> bool:
    """Whether another request stored this key. Waits for one still in flight (a concurrent duplicate
    whose effects made this one fail, e.g. its hold used the funds) to commit or roll back."""
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(f"""INSERT INTO {_table()}
                               (organization_id, key, fingerprint, method_path, request_body, created_at)
                           VALUES (%s, %s, '', '', '{{}}', now())
                           ON CONFLICT (organization_id, key) DO NOTHING RETURNING id""", [organization_id, key])
            free = cur.fetchone() is not None
        transaction.set_rollback(True)  # only a probe
    return not free


@dataclass(frozen=True)
class Claim:
    """An idempotency key a request claims, for a use case that stores the record in its own statement."""

    organization_id: int
    key: str
    fingerprint: str
    method_path: str
    body_json: str

    def params(self, status_code: int, response: dict) -> dict:
        """The record's values, named as a statement's parameters (`idem_*`)."""
        return {"idem_key": self.key, "idem_fingerprint": self.fingerprint, "idem_method_path": self.method_path,
                "idem_request": self.body_json, "idem_status": status_code,
                "idem_response": json.dumps(response, cls=_ENCODER)}


NO_CLAIM_PARAMS = {"idem_key": None, "idem_fingerprint": None, "idem_method_path": None, "idem_request": None,
                   "idem_status": None, "idem_response": None}


def _claim(request, organization_id: int) -> tuple[Claim | None, object]:
    key = request.headers.get(HEADER)
    if key is None:
        return None, None
    if not 0 < len(key) <= 128:
        raise DomainError("validation_error", fields={HEADER: "1 to 128 characters"})
    body = request.data if isinstance(request.data, dict) else {"_": request.data}
    method_path = f"{request.method} {request.path}"
    fingerprint = hashlib.sha256(json.dumps([method_path, body], sort_keys=True, default=str).encode()).hexdigest()
    return Claim(organization_id, key, fingerprint, method_path, json.dumps(body, default=str)), body


def _replay(claim: Claim, body) -> Response:
    stored = apps.get_model("marketplace", "IdempotencyRecord").objects.get(organization_id=claim.organization_id,
                                                                            key=claim.key)
    if stored.fingerprint != claim.fingerprint:
        field = "path" if stored.method_path != claim.method_path else _first_difference(stored.request_body, body)
        raise DomainError("idempotency_conflict", field=field)
    replay_status = 200 if stored.status_code == 201 else stored.status_code  # nothing new was created
    return Response(stored.response_body, status=replay_status, headers={"Idempotent-Replayed": "true"})


def idempotent_in_statement(request, organization_id: int, handler) -> Response:
    """`idempotent` for a use case that stores the record in its own statement: `handler(claim)` (claim
    None without a key) returns the response, or None when the statement found the key taken (it then
    wrote nothing); either way, and when the handler fails because a duplicate got there first, the
    stored response is replayed as `idempotent` does."""
    claim, body = _claim(request, organization_id)
    if claim is None:
        return handler(None)
    try:
        response = handler(claim)
    except (APIException, DomainError):
        if not _key_taken(organization_id, claim.key):
            raise
        response = None
    return _replay(claim, body) if response is None else response


def idempotent(request, organization_id: int, handler) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not 0 < len(key) <= 128:
        raise DomainError("validation_error", fields={HEADER: "1 to 128 characters"})
    body = request.data if isinstance(request.data, dict) else {"_": request.data}
    method_path = f"{request.method} {request.path}"
    body_json = json.dumps(body, default=str)
    fingerprint = hashlib.sha256(json.dumps([method_path, body], sort_keys=True, default=str).encode()).hexdigest()
    # The handler runs first and the key is stored in the same transaction, after it (one statement).
    # A replay therefore runs the handler again: it either fails (the order is already cancelled, the
    # funds are held) or succeeds and finds the key taken; both end in the stored response, and this
    # request's effects are rolled back. A concurrent duplicate waits on the first one's key row (or on
    # its market lock) until that commits, then replays the same way.
    try:
        with transaction.atomic():
            response = handler()
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True)
                return response
            with connection.cursor() as cur:
                _store().execute(cur, [organization_id, key, fingerprint, method_path, body_json,
                                       response.status_code, json.dumps(response.data, cls=_ENCODER)])
                if cur.fetchone() is not None:
                    return response
            raise _KeyTaken
    except _KeyTaken:
        pass
    except (APIException, DomainError):
        if not _key_taken(organization_id, key):
            raise
    stored = apps.get_model("marketplace", "IdempotencyRecord").objects.get(organization_id=organization_id, key=key)
    if stored.fingerprint != fingerprint:
        field = "path" if stored.method_path != method_path else _first_difference(stored.request_body, body)
        raise DomainError("idempotency_conflict", field=field)
    replay_status = 200 if stored.status_code == 201 else stored.status_code  # nothing new was created
    return Response(stored.response_body, status=replay_status, headers={"Idempotent-Replayed": "true"})
