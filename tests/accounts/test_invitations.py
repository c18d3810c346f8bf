"""#14 item 10: memberships by consent. Adding an existing user creates an invitation that the user
accepts or declines; nobody is attached silently; unknown and existing usernames get the same answer."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Membership, MembershipInvitation

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords", "clear_login_throttle")]
PASSWORD = "Str0ng-pass-phrase!"


@pytest.fixture
def setting(make_org, make_member, client_for):
    enterprise = make_org("enterprise", "350102")
    regulator = make_org("regulator", "350100", jurisdiction="350100")
    victim = make_member(regulator, "approver", username="reg-approver", password=PASSWORD)
    return enterprise, client_for(make_member(enterprise, "admin")), victim


def test_an_existing_user_is_invited_not_attached(setting, client_for):
    enterprise, admin, victim = setting
    r = admin.post("/api/v1/memberships", {"role": "admin", "username": "reg-approver"}, format="json")
    assert r.status_code == 202, r.content
    assert not Membership.objects.filter(user=victim.user, organization=enterprise).exists()
    # the victim's plain login still works: still one membership
    login = APIClient().post("/api/v1/auth/login", {"username": "reg-approver", "password": PASSWORD}, format="json")
    assert login.status_code == 200
    mine = client_for(victim)
    invitations = mine.get("/api/v1/invitations").json()
    assert [(i["organization"], i["role"]) for i in invitations] == [(enterprise.id, "admin")]
    r = mine.post(f"/api/v1/invitations/{invitations[0]['id']}/decline")
    assert r.status_code == 200 and r.json()["status"] == "declined"
    assert not Membership.objects.filter(user=victim.user, organization=enterprise).exists()
    assert mine.post(f"/api/v1/invitations/{invitations[0]['id']}/accept").status_code == 409
    assert AuditEvent.objects.filter(action="invitation.decline").exists()


def test_accepting_creates_the_membership_and_only_the_invitee_may(setting, client_for, make_member):
    enterprise, admin, victim = setting
    admin.post("/api/v1/memberships", {"role": "viewer", "username": "reg-approver"}, format="json")
    invitation = MembershipInvitation.objects.get(user=victim.user)
    someone_else = client_for(make_member(enterprise, "admin"))
    assert someone_else.post(f"/api/v1/invitations/{invitation.id}/accept").status_code == 404
    r = client_for(victim).post(f"/api/v1/invitations/{invitation.id}/accept")
    assert r.status_code == 201 and r.json()["role"] == "viewer"
    assert Membership.objects.filter(user=victim.user, organization=enterprise, role="viewer").exists()
    assert AuditEvent.objects.filter(action="invitation.accept", actor_user_id=victim.user_id).exists()


def test_unknown_and_existing_usernames_get_the_same_answer(setting):
    enterprise, admin, victim = setting
    known = admin.post("/api/v1/memberships", {"role": "viewer", "username": "reg-approver"}, format="json")
    unknown = admin.post("/api/v1/memberships", {"role": "viewer", "username": "no-such-person"}, format="json")
    assert known.status_code == unknown.status_code == 202
    strip = lambda body: {k: v for k, v in body.items() if k != "username"}  # noqa: E731
    assert strip(known.json()) == strip(unknown.json())
    # and asking twice changes nothing
    again = admin.post("/api/v1/memberships", {"role": "viewer", "username": "reg-approver"}, format="json")
    assert again.status_code == 202 and MembershipInvitation.objects.filter(user=victim.user).count() == 1
