"""The OpenAPI document: served at /api/schema/, valid OpenAPI 3, and the accounts endpoints generate
without a single drf-spectacular warning or error (`spectacular --validate --fail-on-warn` for them)."""
import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

ACCOUNTS_PATHS = {
    "/api/v1/auth/login": {"post"}, "/api/v1/auth/logout": {"post"}, "/api/v1/auth/refresh": {"post"},
    "/api/v1/me": {"get"}, "/api/v1/regions": {"get"}, "/api/v1/regions/{code}": {"get"},
    "/api/v1/basins": {"get"}, "/api/v1/basins/{code}": {"get"},
    "/api/v1/organizations": {"get", "post"}, "/api/v1/organizations/{id}": {"get", "patch"},
    "/api/v1/organizations/{id}/suspend": {"post"}, "/api/v1/organizations/{id}/activate": {"post"},
    "/api/v1/memberships": {"get", "post"}, "/api/v1/memberships/{id}": {"get", "patch"},
}


@pytest.mark.django_db
def test_schema_endpoint_is_valid(client):
    r = client.get("/api/schema/?format=json")
    assert r.status_code == 200
    schema = r.json()
    validate_schema(schema)
    for path, methods in ACCOUNTS_PATHS.items():
        assert set(schema["paths"][path]) >= methods, path


def test_docs_page(client):
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_accounts_schema_generates_without_warnings():
    from django.urls import include
    from django.urls import path as url_path

    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[url_path("api/v1/", include("accounts.urls"))])
    schema = generator.get_schema(request=None, public=True)
    validate_schema(schema)
    assert not GENERATOR_STATS, (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
    assert set(schema["paths"]) == set(ACCOUNTS_PATHS)
    login = schema["paths"]["/api/v1/auth/login"]["post"]
    assert login["security"] == [{}] or login.get("security") in ([], [{}])
    assert schema["paths"]["/api/v1/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert set(login["responses"]) >= {"200", "400", "401", "429"}
    error = schema["components"]["schemas"]["ErrorEnvelope"]
    assert set(error["properties"]) == {"code", "message", "fields", "request_id"}
