"""Every message a person reads in a zh response is Chinese (issue 16 item 7; README "API conventions": the
project's own field messages go through gettext, locale/zh_Hans): the envelope's `message` (core.errors'
code table) and every field message (DRF's and Django's own through their catalogues, the project's through
ours). Representative bad input for every JSON write of the schema (an empty body, every property of the
wrong type, bad amounts, an unknown field) as a participant and as the operator, and a bad value for every
query parameter of every GET, all with `Accept-Language: zh-hans`, in the world of the authorization matrix.
A message with no Chinese character is an English message that escaped the catalogue."""
from __future__ import annotations

import json
import re

import pytest
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator

CJK = re.compile(r"[\u4e00-\u9fff]")
AMOUNTS = {"amount", "price", "quantity", "remaining", "min_purchase", "reserve_price", "min_increment"}
# path prefix → the world object its {id} names (the operator reaches them all)
OBJECTS = [("/api/v1/orders/", "order"), ("/api/v1/trades/", "trade"), ("/api/v1/listings/", "listing"),
           ("/api/v1/webhooks/", "webhook"), ("/api/v1/memberships/", "membership"),
           ("/api/v1/organizations/", "B"), ("/api/v1/markets/", "market"), ("/api/v1/movement-requests/", "movement"),
           ("/api/v1/oversight/approvals/", "approval"), ("/api/v1/oversight/alerts/", "alert"),
           ("/api/v1/invitations/", "invitation"), ("/api/v1/market-proposals/", "market_proposal"),
           ("/api/v1/oversight/markets/", "market"), ("/api/v1/oversight/organizations/", "B"),
           ("/api/v1/oversight/trades/", "trade"), ("/api/v1/transactions/", "transaction"),
           ("/api/v1/ledger/verifications/", "verification")]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def _concrete(path: str, w) -> str:
    for prefix, key in OBJECTS:
        if path.startswith(prefix):
            return re.sub(r"\{[^}]+\}", str(w.ids[key]), path)
    return re.sub(r"\{[^}]+\}", "1", path)


def _wrong(prop: dict):
    kind = prop.get("type")
    if kind == "integer" or kind == "number":
        return "x"
    if kind == "boolean":
        return "perhaps"
    if kind == "array":
        return "x"
    if kind == "object":
        return "x"
    return {"a": 1}


def _bodies(props: dict) -> list[dict]:
    bodies = [{}, {"no_such_field": 1}, {name: _wrong(p) for name, p in props.items() if not p.get("readOnly")}]
    for name in sorted(AMOUNTS & set(props)):
        bodies += [{name: "1e3"}, {name: "-5"}, {name: "0.0000001"}, {name: "99999999999999999999"}]
    for name, p in props.items():
        if p.get("enum") or "$ref" in p or "allOf" in p:
            bodies.append({name: "no-such-choice"})
        if p.get("type") == "string" and p.get("maxLength"):
            bodies.append({name: "x" * (p["maxLength"] + 1)})
        if p.get("type") == "integer":
            bodies.append({name: -1})
    return bodies


def _messages(body, where="message"):
    """(where, text) for the envelope's message and every field message, however nested."""
    if isinstance(body, str):
        yield where, body
    elif isinstance(body, dict):
        for key, value in body.items():
            if key in ("code", "request_id"):
                continue
            yield from _messages(value, f"{where}.{key}" if where != "message" or key != "message" else where)
    elif isinstance(body, list):
        for item in body:
            yield from _messages(item, where)


def _collect(w, role, method, path, problems, *, body=None, query=None):
    client = w.client(role, language="zh-hans")
    with transaction.atomic():
        if body is None:
            response = client.get(_concrete(path, w), query or {})
        else:
            response = getattr(client, method)(_concrete(path, w), json.dumps(body),
                                               content_type="application/json", HTTP_IDEMPOTENCY_KEY="zh-1")
        transaction.set_rollback(True)
    if not 400 <= response.status_code < 500 or not response.get("Content-Type", "").startswith("application/json"):
        return 0
    payload = response.json()
    count = 0
    for where, text in _messages(payload):
        count += 1
        if not CJK.search(text):
            problems.add(f"{method.upper()} {path} [{payload.get('code')}] {where}: {text!r}")
    return count


@pytest.mark.django_db
def test_bad_input_is_answered_in_chinese(world, schema, clear_login_throttle):
    problems: set[str] = set()
    checked = 0
    components = schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method == "get":
                for p in operation.get("parameters", []):
                    if p["in"] == "query":
                        checked += _collect(world, "operator", "get", path, problems, query={p["name"]: "zz-bad!"})
                continue
            ref = ((operation.get("requestBody") or {}).get("content", {}).get("application/json") or {}).get(
                "schema", {}).get("$ref")
            props = components[ref.rsplit("/", 1)[1]].get("properties", {}) if ref else {}
            for role in ("trader", "operator"):
                for body in _bodies(props):
                    checked += _collect(world, role, method, path, problems, body=body)
    assert checked > 300, checked  # the walk produced field messages to read
    assert not problems, f"{len(problems)} messages without Chinese:\n  " + "\n  ".join(sorted(problems))
