"""The error envelope: `code`, `message` in the request's language (Chinese by default, English with
Accept-Language: en), `fields` for field errors, `request_id`; every code is registered with both
languages; audit events are written for successful writes only."""
import pytest
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Organization
from core.errors import CODES, ApiError, message_for, register

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def operator_secret(make_org, make_member):
    from accounts.services import token_issue

    secret, _ = token_issue(membership=make_member(make_org("exchange_operator", "350000"), "admin"))
    return secret


def client(secret=None, language=None):
    c = APIClient(**({"HTTP_ACCEPT_LANGUAGE": language} if language else {}))
    if secret:
        c.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return c


def test_every_code_has_a_4xx_status_and_two_messages():
    for code, (status, zh, en) in CODES.items():
        assert 400 <= status < 500 or code == "server_error", code  # server_error: the 500 envelope
        assert zh and en and zh != en, code
        assert code.strip() == code and " " not in code


@pytest.mark.parametrize("language, expected", [(None, "zh"), ("zh-hans", "zh"), ("zh-CN,zh;q=0.9", "zh"),
                                                ("en", "en"), ("en-US,en;q=0.8", "en")])
def test_message_language(language, expected):
    r = client(language=language).get("/api/v1/me")
    body = r.json()
    assert r.status_code == 401
    assert set(body) == {"code", "message", "fields", "request_id"}
    assert body["code"] == "not_authenticated" and body["fields"] == {}
    _, zh, en = CODES["not_authenticated"]
    assert body["message"] == (zh if expected == "zh" else en)


def test_request_id_is_echoed(operator_secret):
    r = client(operator_secret).post("/api/v1/organizations", {}, format="json", HTTP_X_REQUEST_ID="req-123")
    assert r["X-Request-ID"] == "req-123" and r.json()["request_id"] == "req-123"


def test_field_errors_shape(operator_secret):
    r = client(operator_secret, "en").post("/api/v1/organizations", {"kind": "bank", "name_zh": "x" * 200,
                                                                     "region": "350102", "uscc": "bad"},
                                           format="json")
    body = r.json()
    assert r.status_code == 400 and body["code"] == "validation_error"
    assert body["message"] == "The request has invalid fields"
    assert body["fields"]["kind"][0]["code"] == "invalid_choice"
    assert body["fields"]["name_zh"][0]["code"] == "max_length"
    assert body["fields"]["uscc"][0]["code"] == "invalid_uscc"
    assert all(isinstance(e["message"], str) and e["message"] for errs in body["fields"].values() for e in errs)


def test_field_messages_follow_the_language(operator_secret):
    zh = client(operator_secret).post("/api/v1/organizations", {}, format="json").json()
    en = client(operator_secret, "en").post("/api/v1/organizations", {}, format="json").json()
    assert zh["message"] == "请求参数有误" and en["message"] == "The request has invalid fields"
    assert en["fields"]["kind"][0]["message"] == "This field is required."
    assert zh["fields"]["kind"][0]["message"] != en["fields"]["kind"][0]["message"]
    bad = {"kind": "enterprise", "name_zh": "x", "region": "999999", "uscc": "91350000158142711F", "typo": 1}
    zh = client(operator_secret).post("/api/v1/organizations", bad, format="json").json()["fields"]
    en = client(operator_secret, "en").post("/api/v1/organizations", bad, format="json").json()["fields"]
    assert zh["typo"][0]["message"] == "包含未知字段" and en["typo"][0]["message"] == "Unknown field"
    bad.pop("typo")
    zh = client(operator_secret).post("/api/v1/organizations", bad, format="json").json()["fields"]
    assert zh["region"][0] == {"code": "unknown_region", "message": "未知的行政区划代码"}


def test_a_single_known_code_becomes_the_envelope_code(operator_secret):
    r = client(operator_secret).post("/api/v1/organizations",
                                     {"kind": "enterprise", "name_zh": "x", "region": "350102", "uscc": "x",
                                      "extra": 1, "more": 2}, format="json")
    assert r.json()["code"] == "unknown_field"
    assert set(r.json()["fields"]) == {"extra", "more"}


def test_unknown_fields(operator_secret):
    r = client(operator_secret, "en").post("/api/v1/organizations",
                                           {"kind": "enterprise", "name_zh": "x", "region": "350102",
                                            "uscc": "91350000158142711F", "regoin": "350100"}, format="json")
    assert r.status_code == 400
    assert r.json() | {"request_id": ""} == {
        "code": "unknown_field", "message": "Unknown field", "request_id": "",
        "fields": {"regoin": [{"code": "unknown_field", "message": "Unknown field"}]},
    }
    assert not Organization.objects.filter(uscc="91350000158142711F").exists()


@pytest.mark.parametrize("content_type, payload", [
    ("text/plain", "kind=enterprise"),
    ("application/x-www-form-urlencoded", "kind=enterprise"),
    ("application/xml", "<a/>"),
    ("multipart/form-data; boundary=x", "--x--"),
])
def test_wrong_content_type(operator_secret, content_type, payload):
    before = AuditEvent.objects.count()
    r = client(operator_secret, "en").post("/api/v1/organizations", payload, content_type=content_type)
    assert r.status_code == 415
    assert r.json()["code"] == "unsupported_media_type" and r.json()["message"] == "Unsupported content type"
    assert AuditEvent.objects.count() == before


def test_malformed_json(operator_secret):
    r = client(operator_secret).post("/api/v1/organizations", '{"kind": ', content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "malformed_request"


def test_not_acceptable(operator_secret):
    r = client(operator_secret).get("/api/v1/regions", HTTP_ACCEPT="application/xml")
    assert r.status_code == 406 and r.json()["code"] == "not_acceptable"


def test_method_not_allowed_and_not_found(operator_secret):
    r = client(operator_secret, "en").delete("/api/v1/me")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    r = client(operator_secret).get("/api/v1/organizations/999999999")
    assert r.status_code == 404 and r.json()["code"] == "not_found" and r.json()["message"] == "对象不存在"


def test_audit_written_for_writes_and_absent_for_failures(operator_secret):
    c = client(operator_secret)
    body = {"kind": "enterprise", "name_zh": "审计测试", "region": "350102", "uscc": "914403001922038216"}
    before = AuditEvent.objects.count()
    assert c.post("/api/v1/organizations", body, format="json").status_code == 201
    assert AuditEvent.objects.count() == before + 1
    for bad in ({**body, "region": "000000"}, {**body, "uscc": "914403001922038217"}, body,
                {**body, "uscc": "91330100716105852F", "x": 1}):
        assert c.post("/api/v1/organizations", bad, format="json").status_code in (400, 409)
    assert AuditEvent.objects.count() == before + 1


def test_audit_events_are_append_only():
    from django.db import connection, transaction
    from django.db.utils import IntegrityError

    from accounts.actor import Actor
    from accounts.audit import audit_record

    event = audit_record(actor=Actor.system(), action="test.event", object_type="test", object_id=1)
    for sql in ("UPDATE accounts_auditevent SET action = 'x' WHERE id = %s",
                "DELETE FROM accounts_auditevent WHERE id = %s"):
        with pytest.raises(IntegrityError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


def test_api_error_requires_a_registered_code():
    with pytest.raises(ValueError):
        ApiError("no_such_code_ever")
    assert register("test_only_code", 422, "测试", "test") == "test_only_code"
    with pytest.raises(ValueError):
        register("test_only_code", 400, "测试", "test")
    del CODES["test_only_code"]


def test_message_placeholders():
    from django.utils import translation

    with translation.override("en"):
        assert "field price differs" in message_for("idempotency_conflict", field="price")
        assert message_for("idempotency_conflict") == CODES["idempotency_conflict"][2]


def test_django_validation_errors_never_500(rf):
    """A Django ValidationError escaping a service becomes a 400 envelope."""
    from django.core.exceptions import ValidationError

    from core.handlers import exception_handler

    response = exception_handler(ValidationError({"name_zh": ["too long"]}, code="max_length"), {"request": None})
    assert response.status_code == 400 and "name_zh" in response.data["fields"]


def test_handler404_answers_api_paths_with_the_envelope(rf):
    from core.handlers import handler404

    response = handler404(rf.get("/api/v1/no-such-thing"), None)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    import json

    assert json.loads(response.content)["code"] == "not_found"
    assert handler404(rf.get("/admin/nothing"), None).status_code == 404
