"""Who may call what: every accounts endpoint × every role (enterprise admin/trader/approver/viewer, county
government, regulator, exchange operator, anonymous). Other organizations' objects the caller may not see
are 404s; endpoints the caller's role may not use are 403s; no token is 401."""
import pytest

from accounts.models import AuditEvent, Membership
from accounts.uscc import make_uscc

from tests.support.accounts import ROLE_NAMES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clear_login_throttle")]

ALL = (*ROLE_NAMES, "anonymous")
ADMINS = {"enterprise_admin", "county_admin", "regulator_admin", "operator_admin"}


@pytest.fixture
def world(role_world):
    return role_world


@pytest.fixture
def call(world, client_for, anon_client):
    """call(role, method, path, body=None) → response"""

    def _call(role, method, path, body=None):
        client = anon_client if role == "anonymous" else client_for(world.members[role])
        kwargs = {"format": "json"} if body is not None else {}
        return getattr(client, method)(path, body, **kwargs) if body is not None else getattr(client, method)(path)

    return _call


def expect(response, status):
    assert response.status_code == status, (response.status_code, response.content)
    if status == 401:
        assert response.json()["code"] == "not_authenticated"
    elif status == 403:
        assert response.json()["code"] == "permission_denied"
    elif status == 404:
        assert response.json()["code"] == "not_found"


# --- reads every member may do -----------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL)
@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/regions", "/api/v1/regions/350121", "/api/v1/basins",
                                  "/api/v1/basins/minjiang", "/api/v1/organizations"])
def test_member_reads(call, role, path):
    expect(call(role, "get", path), 401 if role == "anonymous" else 200)


@pytest.mark.parametrize("role", ALL)
def test_organization_retrieve_any(call, world, role):
    expect(call(role, "get", f"/api/v1/organizations/{world.orgs['other_enterprise'].pk}"),
           401 if role == "anonymous" else 200)


@pytest.mark.parametrize("role", ALL)
def test_logout_and_refresh(call, role):
    expect(call(role, "post", "/api/v1/auth/refresh"), 401 if role == "anonymous" else 200)
    expect(call(role, "post", "/api/v1/auth/logout"), 401 if role == "anonymous" else 204)


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_login_for_every_role(anon_client, world, role):
    m = world.members[role]
    r = anon_client.post("/api/v1/auth/login", {"username": m.user.username, "password": "Str0ng-pass-phrase!"},
                         format="json")
    assert r.status_code == 200 and r.json()["membership"]["role"] == m.role


# --- private directory fields ------------------------------------------------------------------------

# the enterprise is in Gulou, Fuzhou: its own members, Fuzhou's regulator and the operator see its private
# fields; Minhou's government (another county) and other enterprises do not.
SEES_ENTERPRISE_PRIVATE = {"enterprise_admin", "enterprise_trader", "enterprise_approver", "enterprise_viewer",
                           "regulator_admin", "regulator_approver", "operator_admin", "operator_approver",
                           "operator_viewer"}


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_private_fields(call, world, role):
    enterprise = world.orgs["enterprise"]
    enterprise.discharge_permit_no = "PERMIT-001"
    enterprise.save()
    body = call(role, "get", f"/api/v1/organizations/{enterprise.pk}").json()
    assert body["uscc"] == enterprise.uscc and body["region"] == "350102"
    if role in SEES_ENTERPRISE_PRIVATE:
        assert body["discharge_permit_no"] == "PERMIT-001"
    else:
        assert "discharge_permit_no" not in body and "parent" not in body
    listed = {o["id"]: o for o in call(role, "get", "/api/v1/organizations?page_size=500").json()["results"]}
    assert set(listed) >= {o.pk for o in world.orgs.values()}
    assert ("discharge_permit_no" in listed[enterprise.pk]) == (role in SEES_ENTERPRISE_PRIVATE)
    # Xiamen is outside every test organization's region except the operator's
    sees_xiamen = role.startswith("operator")
    assert ("discharge_permit_no" in listed[world.orgs["other_enterprise"].pk]) == sees_xiamen


# --- organization management: the operator's admins only -----------------------------------------------

def _new_org_body():
    return {"kind": "enterprise", "name_zh": "新企业", "region": "350181", "uscc": make_uscc("350181MA0000077")}


@pytest.mark.parametrize("role", ALL)
def test_organization_create(call, role):
    expected = {"anonymous": 401, "operator_admin": 201}.get(role, 403)
    before = AuditEvent.objects.filter(action="organization.create").count()
    expect(call(role, "post", "/api/v1/organizations", _new_org_body()), expected)
    after = AuditEvent.objects.filter(action="organization.create").count()
    assert after - before == (1 if expected == 201 else 0)


@pytest.mark.parametrize("role", ALL)
def test_organization_update(call, world, role):
    target = world.orgs["other_enterprise"]
    expected = {"anonymous": 401, "operator_admin": 200}.get(role, 403)
    expect(call(role, "patch", f"/api/v1/organizations/{target.pk}", {"name_en": "Renamed"}), expected)
    target.refresh_from_db()
    assert (target.name_en == "Renamed") == (expected == 200)


@pytest.mark.parametrize("role", ALL)
def test_organization_own_update_is_not_self_service(call, world, role):
    """Even an organization's own admin cannot edit its directory entry (the operator vets it)."""
    if role == "anonymous" or role.startswith("operator"):
        return
    org = world.members[role].organization
    expect(call(role, "patch", f"/api/v1/organizations/{org.pk}", {"name_en": "x"}), 403)


@pytest.mark.parametrize("role", ALL)
@pytest.mark.parametrize("act", ["suspend", "activate"])
def test_organization_status_actions(call, world, role, act):
    target = world.orgs["other_enterprise"]
    if act == "activate":
        target.status = "suspended"
        target.save()
    expected = {"anonymous": 401, "operator_admin": 200}.get(role, 403)
    expect(call(role, "post", f"/api/v1/organizations/{target.pk}/{act}", {"reason": "test"}), expected)
    target.refresh_from_db()
    assert target.status == ("suspended" if (act == "suspend") == (expected == 200) else "active")


# --- memberships: each organization's admins, their own organization only --------------------------------

@pytest.mark.parametrize("role", ALL)
def test_membership_list(call, world, role):
    r = call(role, "get", "/api/v1/memberships?page_size=500")
    if role == "anonymous":
        return expect(r, 401)
    if role not in ADMINS:
        return expect(r, 403)
    expect(r, 200)
    orgs = {m["organization"]["id"] for m in r.json()["results"]}
    if role == "operator_admin":
        assert orgs >= {o.pk for o in world.orgs.values()}
    else:
        assert orgs == {world.members[role].organization_id}


@pytest.mark.parametrize("role", ALL)
def test_membership_retrieve(call, world, role):
    own = world.members["enterprise_viewer"]
    foreign = world.members["other_admin"]
    own_status = {"anonymous": 401, "enterprise_admin": 200, "operator_admin": 200}.get(
        role, 403 if role not in ADMINS else 404)
    foreign_status = {"anonymous": 401, "operator_admin": 200}.get(role, 403 if role not in ADMINS else 404)
    expect(call(role, "get", f"/api/v1/memberships/{own.pk}"), own_status)
    expect(call(role, "get", f"/api/v1/memberships/{foreign.pk}"), foreign_status)


@pytest.mark.parametrize("role", ALL)
def test_membership_create_in_own_organization(call, world, role):
    body = {"role": "viewer", "username": f"new_{role}", "password": "Another-strong-pass-42"}
    expected = 401 if role == "anonymous" else 201 if role in ADMINS else 403
    r = call(role, "post", "/api/v1/memberships", body)
    expect(r, expected)
    if expected == 201:
        assert r.json()["organization"]["id"] == world.members[role].organization_id
        assert Membership.objects.filter(user__username=f"new_{role}").count() == 1
    else:
        assert not Membership.objects.filter(user__username=f"new_{role}").exists()


@pytest.mark.parametrize("role", ALL)
def test_membership_create_in_another_organization(call, world, role):
    target = world.orgs["other_enterprise"]
    body = {"organization": target.pk, "role": "trader", "username": "outsider",
            "password": "Another-strong-pass-42"}
    expected = {"anonymous": 401, "operator_admin": 201}.get(role, 403)
    expect(call(role, "post", "/api/v1/memberships", body), expected)
    assert Membership.objects.filter(organization=target, user__username="outsider").exists() == (expected == 201)


@pytest.mark.parametrize("role", ALL)
def test_membership_update(call, world, role):
    own = world.members["enterprise_viewer"]
    foreign = world.members["other_admin"]
    own_status = {"anonymous": 401, "enterprise_admin": 200, "operator_admin": 200}.get(
        role, 403 if role not in ADMINS else 404)
    expect(call(role, "patch", f"/api/v1/memberships/{own.pk}", {"role": "trader"}), own_status)
    own.refresh_from_db()
    assert own.role == ("trader" if own_status == 200 else "viewer")
    # the other organization's only admin: even the operator may not leave it without one
    foreign_status = {"anonymous": 401}.get(role, 403 if role not in ADMINS else 404)
    r = call(role, "patch", f"/api/v1/memberships/{foreign.pk}", {"role": "viewer"})
    if role == "operator_admin":
        assert r.status_code == 409 and r.json()["code"] == "last_admin"
    else:
        expect(r, foreign_status)
    foreign.refresh_from_db()
    assert foreign.role == "admin"


def test_unsupported_methods(call, world):
    r = call("operator_admin", "put", f"/api/v1/organizations/{world.orgs['enterprise'].pk}", {"name_zh": "x"})
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    r = call("operator_admin", "delete", f"/api/v1/organizations/{world.orgs['enterprise'].pk}")
    assert r.status_code == 405
    r = call("operator_admin", "delete", f"/api/v1/memberships/{world.members['enterprise_viewer'].pk}")
    assert r.status_code == 405
    assert call("operator_admin", "post", "/api/v1/regions", {"code": "350199"}).status_code == 405
