"""#14 item 16: refusals are audit events — failed logins (test_login_lockout), refused privileged calls,
password changes and token revocations — bounded per (actor or address, kind) and minute, with a count of
the ones left out, so that a flood cannot fill the table."""
from __future__ import annotations

import pytest

from accounts import refusals
from accounts.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def test_an_enterprise_calling_the_deposit_endpoint_gets_403_and_an_audit_event(make_org, make_member, client_for):
    m = make_member(make_org("enterprise", "350102"), "admin")
    c = client_for(m)
    r = c.post("/api/v1/cash/deposits", {"organization": m.organization_id, "amount": "1.00", "bank_reference": "x"},
               format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert r.status_code == 403
    ev = AuditEvent.objects.get(action="auth.refused")
    assert ev.actor_user_id == m.user_id and ev.actor_organization_id == m.organization_id
    assert ev.after["path"] == "/api/v1/cash/deposits" and ev.after["method"] == "POST"
    assert ev.after["code"] == "permission_denied"


def test_a_flood_of_refusals_is_bounded_and_counted(make_org, make_member, client_for, settings, monkeypatch):
    settings.AUDIT_REFUSALS_PER_MINUTE = 3
    clock = [1_000_000.0]
    monkeypatch.setattr(refusals.time, "time", lambda: clock[0])
    m = make_member(make_org("enterprise", "350102"), "trader")
    c = client_for(m)
    for _ in range(20):
        assert c.post("/api/v1/transfers", {}, format="json").status_code == 403
    assert AuditEvent.objects.filter(action="auth.refused").count() == 3
    # another actor has its own allowance
    other = client_for(make_member(make_org("enterprise", "350205"), "trader"))
    assert other.post("/api/v1/transfers", {}, format="json").status_code == 403
    assert AuditEvent.objects.filter(action="auth.refused").count() == 4
    # the next minute: written again, with how many were left out
    clock[0] += 60
    assert c.post("/api/v1/transfers", {}, format="json").status_code == 403
    latest = AuditEvent.objects.filter(action="auth.refused", actor_user_id=m.user_id).order_by("-id").first()
    assert latest.after["suppressed"] == 17


def test_logout_and_refresh_revoke_with_an_audit_event(make_org, make_member, client_for):
    c = client_for(make_member(make_org(), "trader"))
    assert c.post("/api/v1/auth/logout").status_code == 204
    assert AuditEvent.objects.filter(action="auth.logout").exists()
