"""Membership management: an organization's admins add people (new users with Django's password
validators, or existing users by username), change roles and deactivate; the last admin stays."""
import pytest

from accounts.models import ApiToken, AuditEvent, Membership, User

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

STRONG = "Another-strong-pass-42"


@pytest.fixture
def org(make_org):
    return make_org("enterprise", "350102")


@pytest.fixture
def admin(org, make_member, client_for):
    return client_for(make_member(org, "admin", username="boss"))


def counts():
    return User.objects.count(), Membership.objects.count(), AuditEvent.objects.count()


def test_create_a_new_user(admin, org, anon_client):
    r = admin.post("/api/v1/memberships", {"role": "trader", "username": "newbie", "password": STRONG,
                                           "display_name": "新人", "email": "newbie@example.com"}, format="json")
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["role"] == "trader" and data["organization"]["id"] == org.pk
    assert data["user"]["username"] == "newbie" and data["user"]["display_name"] == "新人"
    assert "password" not in str(data)
    assert [e.action for e in AuditEvent.objects.order_by("id")][-2:] == ["user.create", "membership.create"]
    r = anon_client.post("/api/v1/auth/login", {"username": "newbie", "password": STRONG}, format="json")
    assert r.status_code == 200


def test_attach_an_existing_user(admin, org, make_org, make_member):
    elsewhere = make_member(make_org("enterprise", "350205"), "trader", username="wanderer")
    r = admin.post("/api/v1/memberships", {"role": "viewer", "username": "wanderer"}, format="json")
    assert r.status_code == 201, r.content
    assert Membership.objects.filter(user=elsewhere.user).count() == 2
    assert not AuditEvent.objects.filter(action="user.create").exists()


@pytest.mark.parametrize("payload, status, code, field", [
    ({"role": "viewer", "username": "ghost"}, 400, "unknown_user", "username"),
    ({"role": "viewer", "username": "boss"}, 409, "already_member", "username"),
    ({"role": "viewer", "username": "boss", "password": STRONG}, 409, "username_taken", "username"),
    ({"role": "viewer", "username": "BOSS", "password": STRONG}, 409, "username_taken", "username"),
    ({"role": "viewer", "username": "weak", "password": "12345678"}, 400, "weak_password", "password"),
    ({"role": "viewer", "username": "weak", "password": "short"}, 400, "weak_password", "password"),
    ({"role": "viewer", "username": "weak", "password": "password"}, 400, "weak_password", "password"),
    ({"role": "viewer", "username": "has space", "password": STRONG}, 400, "validation_error", "username"),
    ({"role": "viewer", "username": "u" * 151, "password": STRONG}, 400, "validation_error", "username"),
    ({"role": "viewer", "username": "ok", "password": STRONG, "email": "not-an-email"}, 400, "validation_error",
     "email"),
    ({"role": "viewer", "username": "ok", "email": "a@b.cn"}, 400, "validation_error", "display_name"),
    ({"role": "owner", "username": "ok", "password": STRONG}, 400, "validation_error", "role"),
    ({"role": "viewer", "username": "ok", "password": STRONG, "is_staff": True}, 400, "unknown_field", "is_staff"),
    ({"role": "viewer", "username": "ok", "password": STRONG, "organization": 2**62}, 403, "permission_denied",
     "organization"),
    ({"username": "ok", "password": STRONG}, 400, "validation_error", "role"),
])
def test_refusals_write_nothing(admin, payload, status, code, field):
    before = counts()
    r = admin.post("/api/v1/memberships", payload, format="json")
    assert r.status_code == status, r.content
    assert r.json()["code"] == code
    assert field in r.json()["fields"]
    assert counts() == before


def test_weak_password_messages_are_localised(admin):
    r = admin.post("/api/v1/memberships", {"role": "viewer", "username": "weak", "password": "12345678"},
                   format="json")
    codes = {e["code"] for e in r.json()["fields"]["password"]}
    assert {"password_too_common", "password_entirely_numeric"} <= codes
    admin.credentials(HTTP_AUTHORIZATION=admin._credentials["HTTP_AUTHORIZATION"], HTTP_ACCEPT_LANGUAGE="zh-hans")
    r = admin.post("/api/v1/memberships", {"role": "viewer", "username": "weak", "password": "12345678"},
                   format="json")
    assert r.json()["message"] == "密码不符合安全要求"


def test_operator_admin_manages_any_organization(org, make_org, make_member, client_for):
    operator = client_for(make_member(make_org("exchange_operator", "350000"), "admin"))
    r = operator.post("/api/v1/memberships", {"organization": org.pk, "role": "approver", "username": "helper",
                                              "password": STRONG}, format="json")
    assert r.status_code == 201 and r.json()["organization"]["id"] == org.pk
    r = operator.post("/api/v1/memberships", {"organization": 2**62, "role": "approver", "username": "h2",
                                              "password": STRONG}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "unknown_organization"
    assert not User.objects.filter(username="h2").exists()
    ids = {m["organization"]["id"] for m in operator.get(f"/api/v1/memberships?organization={org.pk}").json()[
        "results"]}
    assert ids == {org.pk}


def test_update_role_and_deactivate(admin, org, make_member, client_for):
    member = make_member(org, "viewer")
    member_client = client_for(member)
    r = admin.patch(f"/api/v1/memberships/{member.pk}", {"role": "trader"}, format="json")
    assert r.status_code == 200 and r.json()["role"] == "trader"
    assert member_client.get("/api/v1/me").json()["acting"]["role"] == "trader"  # effective at once
    r = admin.patch(f"/api/v1/memberships/{member.pk}", {"is_active": False}, format="json")
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert not ApiToken.objects.filter(membership=member, revoked_at__isnull=True).exists()
    events = AuditEvent.objects.filter(action="membership.update", object_id=str(member.pk)).order_by("id")
    assert [(e.before, e.after) for e in events] == [
        ({"role": "viewer", "is_active": True}, {"role": "trader", "is_active": True}),
        ({"role": "trader", "is_active": True}, {"role": "trader", "is_active": False}),
    ]
    r = admin.patch(f"/api/v1/memberships/{member.pk}", {"is_active": True}, format="json")
    assert r.status_code == 200 and r.json()["is_active"] is True


def test_a_no_op_update_records_nothing(admin, org, make_member):
    member = make_member(org, "viewer")
    before = AuditEvent.objects.count()
    assert admin.patch(f"/api/v1/memberships/{member.pk}", {"role": "viewer"}, format="json").status_code == 200
    assert AuditEvent.objects.count() == before


def test_last_admin_stays(admin, org, make_member):
    me = admin.membership
    for payload in ({"role": "trader"}, {"is_active": False}):
        r = admin.patch(f"/api/v1/memberships/{me.pk}", payload, format="json")
        assert r.status_code == 409 and r.json()["code"] == "last_admin"
    second = make_member(org, "admin")
    assert admin.patch(f"/api/v1/memberships/{me.pk}", {"role": "trader"}, format="json").status_code == 200
    me.refresh_from_db()
    assert me.role == "trader"
    assert Membership.objects.get(pk=second.pk).role == "admin"


def test_bad_updates(admin, org, make_member):
    member = make_member(org, "viewer")
    for payload, code in [({"role": "owner"}, "validation_error"), ({"organization": 1}, "unknown_field"),
                          ({"is_active": "perhaps"}, "validation_error")]:
        r = admin.patch(f"/api/v1/memberships/{member.pk}", payload, format="json")
        assert r.status_code == 400 and r.json()["code"] == code
    r = admin.patch(f"/api/v1/memberships/{member.pk}", "role=trader", content_type="text/plain")
    assert r.status_code == 415
    member.refresh_from_db()
    assert member.role == "viewer"


def test_filters(admin, org, make_member):
    make_member(org, "viewer")
    inactive = make_member(org, "trader")
    Membership.objects.filter(pk=inactive.pk).update(is_active=False)
    results = admin.get("/api/v1/memberships?role=viewer").json()["results"]
    assert [m["role"] for m in results] == ["viewer"]
    assert [m["id"] for m in admin.get("/api/v1/memberships?is_active=false").json()["results"]] == [inactive.pk]
    r = admin.get("/api/v1/memberships?organization=abc")
    assert r.status_code == 400
    r = admin.get(f"/api/v1/memberships?organization={2**70}")
    assert r.status_code == 400
