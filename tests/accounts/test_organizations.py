"""Organization management by the exchange operator's admins: validation, stable codes, audit, nothing
written on error."""
import pytest

from accounts.models import AuditEvent, Organization
from accounts.uscc import make_uscc

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def operator(make_org, make_member, client_for):
    return client_for(make_member(make_org("exchange_operator", "350000"), "admin"))


@pytest.fixture
def counts():
    def snapshot():
        return Organization.objects.count(), AuditEvent.objects.count()

    return snapshot


def body(**over):
    data = {"kind": "enterprise", "name_zh": "福清化工有限公司", "name_en": "Fuqing Chemicals",
            "region": "350181", "uscc": "91350000158142711F"}
    data.update(over)
    return data


def test_create(operator):
    r = operator.post("/api/v1/organizations", body(discharge_permit_no="91350000158142711F001P"), format="json")
    assert r.status_code == 201, r.content
    data = r.json()
    org = Organization.objects.get(pk=data["id"])
    assert (org.kind, org.region_id, org.uscc, org.status) == ("enterprise", "350181", "91350000158142711F", "active")
    assert data["discharge_permit_no"] == "91350000158142711F001P"
    event = AuditEvent.objects.get(action="organization.create")
    assert event.object_id == str(org.pk) and event.after["uscc"] == org.uscc
    assert event.region_codes == ["350181"] and event.actor_organization_id == operator.membership.organization_id
    assert event.request_id == r["X-Request-ID"]


def test_uscc_is_normalised_to_upper_case(operator):
    r = operator.post("/api/v1/organizations", body(uscc="9144030071526726xg"), format="json")
    assert r.status_code == 201 and r.json()["uscc"] == "9144030071526726XG"


def test_regulator_needs_a_jurisdiction(operator, counts):
    before = counts()
    r = operator.post("/api/v1/organizations", body(kind="regulator"), format="json")
    assert r.status_code == 400 and r.json()["code"] == "jurisdiction_required"
    r = operator.post("/api/v1/organizations", body(kind="enterprise", jurisdiction="350100"), format="json")
    assert r.status_code == 400 and r.json()["code"] == "jurisdiction_not_allowed"
    assert counts() == before
    r = operator.post("/api/v1/organizations", body(kind="regulator", region="350100", jurisdiction="350100"),
                      format="json")
    assert r.status_code == 201 and r.json()["jurisdiction"] == "350100"


@pytest.mark.parametrize("over, status, code, field", [
    ({"uscc": "91350000158142711A"}, 400, "invalid_uscc", "uscc"),
    ({"uscc": "91350000158142711"}, 400, "invalid_uscc", "uscc"),
    ({"uscc": "9" * 19}, 400, "invalid_uscc", "uscc"),
    ({"uscc": 9135000015814271}, 400, "invalid_uscc", "uscc"),
    ({"region": "359999"}, 400, "unknown_region", "region"),
    ({"region": "35ab00"}, 400, "unknown_region", "region"),
    ({"region": "3501210"}, 400, "unknown_region", "region"),
    ({"kind": "regulator", "jurisdiction": "999999"}, 400, "unknown_region", "jurisdiction"),
    ({"kind": "bank"}, 400, "validation_error", "kind"),
    ({"name_zh": "长" * 121}, 400, "validation_error", "name_zh"),
    ({"name_zh": ""}, 400, "validation_error", "name_zh"),
    ({"name_en": "x" * 161}, 400, "validation_error", "name_en"),
    ({"discharge_permit_no": "P" * 41}, 400, "validation_error", "discharge_permit_no"),
    ({"parent": 2**62}, 400, "invalid_parent", "parent"),
    ({"parent": 2**64}, 400, "validation_error", "parent"),
    ({"status": "suspended"}, 400, "unknown_field", "status"),
    ({"id": 5}, 400, "unknown_field", "id"),
])
def test_bad_input_writes_nothing(operator, counts, over, status, code, field):
    before = counts()
    r = operator.post("/api/v1/organizations", body(**over), format="json")
    assert r.status_code == status, r.content
    assert r.json()["code"] == code
    assert field in r.json()["fields"]
    assert counts() == before


def test_missing_fields(operator):
    r = operator.post("/api/v1/organizations", {}, format="json")
    assert r.status_code == 400
    assert {"kind", "name_zh", "region", "uscc"} <= set(r.json()["fields"])
    assert r.json()["fields"]["kind"][0]["code"] == "required"


def test_duplicate_uscc_is_409(operator, make_org, counts):
    existing = make_org("enterprise")
    before = counts()
    r = operator.post("/api/v1/organizations", body(uscc=existing.uscc), format="json")
    assert r.status_code == 409 and r.json()["code"] == "duplicate_uscc"
    assert counts() == before


def test_wrong_content_type_writes_nothing(operator, counts):
    before = counts()
    r = operator.post("/api/v1/organizations", body())  # multipart form
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    r = operator.post("/api/v1/organizations", "kind=enterprise", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415
    r = operator.post("/api/v1/organizations", "<org/>", content_type="application/xml")
    assert r.status_code == 415
    r = operator.post("/api/v1/organizations", "[1, 2]", content_type="application/json")
    assert r.status_code == 400
    assert counts() == before


def test_update(operator, make_org):
    org = make_org("enterprise", "350102")
    r = operator.patch(f"/api/v1/organizations/{org.pk}", {"name_en": "New name", "region": "350104"},
                       format="json")
    assert r.status_code == 200, r.content
    org.refresh_from_db()
    assert (org.name_en, org.region_id) == ("New name", "350104")
    event = AuditEvent.objects.get(action="organization.update")
    assert event.before["region"] == "350102" and event.after["region"] == "350104"
    assert event.region_codes == ["350102", "350104"]


def test_update_refuses_kind_status_and_bad_values(operator, make_org, counts):
    org = make_org("enterprise", "350102")
    other = make_org("enterprise", "350103")
    before = counts()
    for payload, code in [({"kind": "regulator"}, "unknown_field"), ({"status": "suspended"}, "unknown_field"),
                          ({"region": "000000"}, "unknown_region"), ({"uscc": other.uscc}, "duplicate_uscc"),
                          ({"uscc": "91350000158142711X"}, "invalid_uscc"), ({"parent": org.pk}, "invalid_parent"),
                          ({"jurisdiction": "350100"}, "jurisdiction_not_allowed")]:
        r = operator.patch(f"/api/v1/organizations/{org.pk}", payload, format="json")
        assert r.json()["code"] == code, payload
        assert r.status_code in (400, 409)
    assert counts() == before


def test_parent_cycles_are_refused(operator, make_org):
    a = make_org("enterprise")
    b = make_org("enterprise", parent=a)
    r = operator.patch(f"/api/v1/organizations/{a.pk}", {"parent": b.pk}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_parent"
    assert operator.patch(f"/api/v1/organizations/{b.pk}", {"parent": None}, format="json").status_code == 200


def test_empty_patch_is_harmless(operator, make_org):
    org = make_org("enterprise")
    assert operator.patch(f"/api/v1/organizations/{org.pk}", {}, format="json").status_code == 200


@pytest.mark.parametrize("pk", ["0", "abc", "99999999", str(2**63), str(2**70), "-1", "1.5"])
def test_bad_ids_are_404_in_the_envelope(operator, pk):
    for r in (operator.get(f"/api/v1/organizations/{pk}"),
              operator.patch(f"/api/v1/organizations/{pk}", {"name_en": "x"}, format="json"),
              operator.post(f"/api/v1/organizations/{pk}/suspend", {"reason": "x"}, format="json")):
        assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_suspend_and_activate(operator, make_org, make_member, client_for):
    org = make_org("enterprise")
    member_client = client_for(make_member(org, "admin"))
    r = operator.post(f"/api/v1/organizations/{org.pk}/suspend", {"reason": "permit revoked"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    event = AuditEvent.objects.get(action="organization.suspend")
    assert event.after == {"status": "suspended", "reason": "permit revoked"}
    # the suspended organization's admin can read but no longer write
    assert member_client.get("/api/v1/memberships").status_code == 200
    r = member_client.post("/api/v1/memberships", {"role": "viewer", "username": "x1",
                                                   "password": "Another-strong-pass-42"}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "organization_suspended"
    r = operator.post(f"/api/v1/organizations/{org.pk}/suspend", {"reason": "again"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "status_unchanged"
    assert AuditEvent.objects.filter(action="organization.suspend").count() == 1
    r = operator.post(f"/api/v1/organizations/{org.pk}/activate", {"reason": "restored"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "active"


def test_status_change_needs_a_reason(operator, make_org):
    org = make_org("enterprise")
    r = operator.post(f"/api/v1/organizations/{org.pk}/suspend", {}, format="json")
    assert r.status_code == 400 and r.json()["fields"]["reason"][0]["code"] == "required"
    r = operator.post(f"/api/v1/organizations/{org.pk}/suspend", {"reason": "x" * 501}, format="json")
    assert r.status_code == 400
    org.refresh_from_db()
    assert org.status == "active"


def test_operator_cannot_suspend_itself(operator):
    own = operator.membership.organization_id
    r = operator.post(f"/api/v1/organizations/{own}/suspend", {"reason": "oops"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "cannot_suspend_self"


@pytest.mark.parametrize("query, expected", [
    ("kind=regulator", {"reg_fz"}),
    ("status=suspended", {"ent_xm"}),
    ("region=350100", {"ent_fz", "reg_fz", "county"}),
    ("region=350121", {"county"}),
    ("region=350200", {"ent_xm"}),
    ("kind=enterprise&region=350000", {"ent_fz", "ent_xm"}),
])
def test_filters(operator, make_org, query, expected):
    orgs = {
        "ent_fz": make_org("enterprise", "350102"),
        "ent_xm": make_org("enterprise", "350205", status="suspended"),
        "reg_fz": make_org("regulator", "350100"),
        "county": make_org("county_government", "350121"),
    }
    ids = {o["id"] for o in operator.get(f"/api/v1/organizations?{query}&page_size=500").json()["results"]}
    assert ids & {o.pk for o in orgs.values()} == {orgs[k].pk for k in expected}
    uscc = orgs["county"].uscc
    assert [o["id"] for o in operator.get(f"/api/v1/organizations?uscc={uscc}").json()["results"]] == [
        orgs["county"].pk]


@pytest.mark.parametrize("query, code", [("region=999999", "unknown_region"), ("kind=bank", "invalid_choice"),
                                         ("status=asleep", "invalid_choice")])
def test_bad_filters(operator, query, code):
    r = operator.get(f"/api/v1/organizations?{query}")
    assert r.status_code == 400
    assert next(iter(r.json()["fields"].values()))[0]["code"] == code


def test_public_fields(make_org, make_member, client_for):
    viewer = client_for(make_member(make_org("enterprise", "350205"), "viewer"))
    org = make_org("enterprise", "350102", discharge_permit_no="X-1")
    data = viewer.get(f"/api/v1/organizations/{org.pk}").json()
    assert set(data) == {"id", "kind", "name_zh", "name_en", "region", "uscc", "status", "jurisdiction"}


def test_service_level_validation_never_500s(make_org):
    """A service called with bad data (bypassing the serializers) still answers with API errors."""
    from accounts.actor import Actor
    from accounts.services import organization_create
    from core.errors import ApiError

    with pytest.raises(ApiError) as info:
        organization_create(actor=Actor.system(), kind="enterprise", name_zh="x", region_id="999999",
                            uscc=make_uscc("350000MA9999999"))
    assert info.value.code == "unknown_region"
    with pytest.raises(ApiError) as info:
        organization_create(actor=Actor.system(), kind="enterprise", name_zh="x", region_id="350102",
                            uscc="91350000158142711A")
    assert info.value.code == "invalid_uscc"
