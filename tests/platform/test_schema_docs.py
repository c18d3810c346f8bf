"""The whole OpenAPI document reads well (issue 16 items 2 and 3): one tag per resource, clean unique
operationIds, the error envelope with `code` an enum of every registered code on every operation, 422
where business rules refuse, `x-error-codes`, examples on the main operations, typed reports, no internal
docstrings as descriptions, and generation without a single drf-spectacular warning."""
import re

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from core.errors import CODES


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        GENERATOR_STATS.reset()
        generated = SchemaGenerator().get_schema(request=None, public=True)
        warnings = (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
    return generated, warnings


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_generates_valid_without_warnings(schema):
    document, (warnings, errors) = schema
    validate_schema(document)
    assert not warnings and not errors, (warnings, errors)


def test_one_tag_per_resource_and_clean_unique_operation_ids(schema):
    document, _ = schema
    ids = []
    for path, method, operation in operations(document):
        assert len(operation["tags"]) == 1 and operation["tags"][0] != "v1", (path, method, operation["tags"])
        assert re.fullmatch(r"[a-z][a-z0-9_]*", operation["operationId"]), operation["operationId"]
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids))
    tags = {operation["tags"][0] for _p, _m, operation in operations(document)}
    assert tags >= {"orders", "markets", "trades", "listings", "ledger", "cash", "issuance", "checkpoints",
                    "approvals", "reports", "exports", "webhooks", "auth", "organizations"}
    by_path = {(p, m): o for p, m, o in operations(document)}
    assert by_path[("/api/v1/exports/journal.csv", "get")]["operationId"] == "exports_journal_csv"
    assert by_path[("/api/v1/orders", "post")]["tags"] == ["orders"]


def test_every_operation_documents_the_envelope(schema):
    document, _ = schema
    components = document["components"]["schemas"]
    assert components["ErrorEnvelope"]["properties"]["code"] == {"$ref": "#/components/schemas/ErrorCode"}
    assert set(components["ErrorCode"]["enum"]) == set(CODES)
    assert "P-PRICE-003" in components["ErrorCode"]["enum"]
    listed = {entry["code"]: entry for entry in document["x-error-codes"]}
    assert set(listed) == set(CODES)
    assert listed["not_found"] == {"code": "not_found", "status": 404, "zh": "对象不存在", "en": "Not found"}
    for path, method, operation in operations(document):
        responses = operation["responses"]
        for status in ("401", "429"):
            assert responses[status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorEnvelope"}, (path, method, status)
        if "{" in path:
            assert "404" in responses, (path, method)
    by_path = {(p, m): o for p, m, o in operations(document)}
    for key in [("/api/v1/orders", "post"), ("/api/v1/listings", "post"), ("/api/v1/listings/{id}/bids", "post"),
                ("/api/v1/cash/withdrawals", "post"), ("/api/v1/transfers", "post")]:
        assert "422" in by_path[key]["responses"], key


def test_examples_on_the_main_operations(schema):
    document, _ = schema
    by_id = {o["operationId"]: o for _p, _m, o in operations(document)}
    for operation_id in ("auth_login", "orders_create", "cash_deposits_create"):
        content = by_id[operation_id]["requestBody"]["content"]["application/json"]
        assert content["examples"]["example"]["value"], operation_id
    refused = by_id["orders_create"]["responses"]["422"]["content"]["application/json"]["examples"]
    assert refused["example"]["value"]["code"] in CODES
    cancel = by_id["orders_cancel_create"]["responses"]["409"]["content"]["application/json"]["examples"]
    assert cancel["example"]["value"]["code"] == "order_not_open"


def test_no_internal_docstrings_as_descriptions(schema):
    document, _ = schema
    for name, component in document["components"]["schemas"].items():
        description = component.get("description", "")
        assert "input serializer" not in description and "context[" not in description, name


def test_reports_are_typed_and_export_filters_declared(schema):
    document, _ = schema
    for path, _method, operation in operations(document):
        if path.startswith("/api/v1/oversight/reports/"):
            body = operation["responses"]["200"]["content"]["application/json"]["schema"]
            assert "$ref" in body, path  # a named component, not a free-form object
    journal = {p["name"] for p in document["paths"]["/api/v1/exports/journal.csv"]["get"]["parameters"]}
    assert {"since", "until"} <= journal
    trades = {p["name"] for p in document["paths"]["/api/v1/oversight/exports/trades.{fmt}"]["get"]["parameters"]}
    assert {"since", "until", "market"} <= trades
