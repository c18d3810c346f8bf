"""The Django admin for the operator: session login, every accounts page renders with search and
filters, changes made there are audited, and reference data / audit rows cannot be deleted there."""
import pytest

from accounts.models import ApiToken, AuditEvent, Organization

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


# the (read-only) memberships inline still posts its management form
INLINE = {"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}


@pytest.fixture
def staff_client(client, make_org, make_member):
    m = make_member(make_org("exchange_operator", "350000"), "admin", username="root", password="Adm1n-pass-phrase!")
    m.user.is_staff = m.user.is_superuser = True
    m.user.save()
    r = client.post("/admin/login/", {"username": "root", "password": "Adm1n-pass-phrase!", "next": "/admin/"})
    assert r.status_code == 302 and r["Location"] == "/admin/"
    client.membership = m
    return client


def test_session_login_is_required(client):
    r = client.get("/admin/accounts/organization/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]


@pytest.mark.parametrize("model", ["region", "basin", "organization", "user", "membership", "apitoken",
                                   "auditevent"])
def test_changelists_render_with_search_and_filters(staff_client, model, client_for):
    client_for(staff_client.membership)  # a token and an audit event to list
    assert staff_client.get(f"/admin/accounts/{model}/").status_code == 200
    assert staff_client.get(f"/admin/accounts/{model}/?q=35").status_code == 200


def test_filters_and_change_pages(staff_client, make_org):
    org = make_org("enterprise", "350102")
    assert staff_client.get("/admin/accounts/organization/?kind__exact=enterprise&region__zone=mindongbei"
                            ).status_code == 200
    assert staff_client.get(f"/admin/accounts/organization/{org.pk}/change/").status_code == 200
    assert staff_client.get("/admin/accounts/region/350121/change/").status_code == 200
    assert staff_client.get("/admin/accounts/region/?level__exact=county&basins__code__exact=minjiang"
                            ).status_code == 200


def test_admin_changes_are_audited(staff_client, make_org):
    org = make_org("enterprise", "350102", name="旧名")
    data = {"kind": org.kind, "name_zh": "新名", "name_en": "", "region": "350102", "uscc": org.uscc,
            "status": "active", "jurisdiction": "", "parent": "", "discharge_permit_no": "", **INLINE}
    r = staff_client.post(f"/admin/accounts/organization/{org.pk}/change/", data)
    assert r.status_code == 302, r.content[:2000]
    org.refresh_from_db()
    assert org.name_zh == "新名"
    event = AuditEvent.objects.get(action="organization.admin_update")
    assert event.before["name_zh"] == "旧名" and event.after["name_zh"] == "新名"
    assert event.actor_user_id == staff_client.membership.user_id


def test_admin_validates_uscc(staff_client, make_org):
    org = make_org("enterprise", "350102")
    data = {"kind": org.kind, "name_zh": "x", "name_en": "", "region": "350102", "uscc": "91350000158142711A",
            "status": "active", "jurisdiction": "", "parent": "", "discharge_permit_no": "", **INLINE}
    r = staff_client.post(f"/admin/accounts/organization/{org.pk}/change/", data)
    assert r.status_code == 200  # the form again, with the error
    org.refresh_from_db()
    assert org.uscc != "91350000158142711A"


def test_suspend_action(staff_client, make_org):
    org = make_org("enterprise")
    r = staff_client.post("/admin/accounts/organization/", {"action": "suspend", "_selected_action": [org.pk]})
    assert r.status_code == 302
    org.refresh_from_db()
    assert org.status == "suspended"
    assert AuditEvent.objects.filter(action="organization.suspend", object_id=str(org.pk)).exists()


def test_revoke_token_action(staff_client, client_for, make_org, make_member):
    member_client = client_for(make_member(make_org("enterprise"), "trader"))
    token = ApiToken.objects.get(membership=member_client.membership)
    staff_client.post("/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert member_client.get("/api/v1/me").json()["code"] == "token_revoked"


def test_no_deleting_reference_data_or_history(staff_client, make_org):
    org = make_org("enterprise")
    assert staff_client.get(f"/admin/accounts/organization/{org.pk}/delete/").status_code == 403
    assert staff_client.get("/admin/accounts/region/350121/delete/").status_code == 403
    assert staff_client.get("/admin/accounts/region/add/").status_code == 403
    assert staff_client.get("/admin/accounts/apitoken/add/").status_code == 403
    event = AuditEvent.objects.first()
    if event:
        assert staff_client.get(f"/admin/accounts/auditevent/{event.pk}/delete/").status_code == 403
    assert Organization.objects.filter(pk=org.pk).exists()
