"""#14 item 11: logins are throttled per client address and per account with an exponential lockout,
the Django admin login included; a password change revokes the user's API tokens."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts import lockout
from accounts.models import ApiToken, AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords", "clear_login_throttle")]

PASSWORD = "Str0ng-pass-phrase!"


@pytest.fixture
def lax_throttle(settings, monkeypatch):
    """The per-(username, address) rate throttle out of the way, so that only the lockout answers."""
    from core.throttles import LoginThrottle

    monkeypatch.setattr(LoginThrottle, "THROTTLE_RATES", {"login": "1000/min"})
    settings.LOGIN_LOCKOUT = {"account_failures": 5, "address_failures": 20, "base_seconds": 60,
                              "max_seconds": 3600, "reset_seconds": 86400}


def login(client, username, password):
    return client.post("/api/v1/auth/login", {"username": username, "password": password}, format="json")


def test_one_password_against_many_usernames_locks_the_address(lax_throttle, make_org, make_member):
    org = make_org()
    make_member(org, username="victim", password=PASSWORD)
    attacker = APIClient(REMOTE_ADDR="203.0.113.9")
    statuses = [login(attacker, f"user-{i}", PASSWORD).status_code for i in range(25)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    r = login(attacker, "victim", PASSWORD)  # even the right password: the address is locked
    assert r.status_code == 429 and r.json()["code"] == "login_locked" and int(r["Retry-After"]) > 0
    assert login(APIClient(REMOTE_ADDR="198.51.100.7"), "victim", PASSWORD).status_code == 200


def test_the_account_locks_from_any_address_with_a_doubling_window(lax_throttle, make_org, make_member):
    make_member(make_org(), username="carol", password=PASSWORD)
    for i in range(5):  # five addresses, one guess each: the per-address throttle never sees it
        assert login(APIClient(REMOTE_ADDR=f"192.0.2.{i + 1}"), "carol", "wrong-guess").status_code == 401
    r = login(APIClient(REMOTE_ADDR="192.0.2.99"), "Carol", PASSWORD)
    assert r.status_code == 429 and r.json()["code"] == "login_locked"
    first = int(r["Retry-After"])
    assert 0 < first <= 60
    # the lock ends; the next failure doubles the window
    from django.core.cache import cache
    key = lockout._key("account", "carol")
    state = cache.get(key)
    cache.set(key, {**state, "locked_until": 0})
    assert login(APIClient(REMOTE_ADDR="192.0.2.50"), "carol", "again-wrong").status_code == 401
    r = login(APIClient(REMOTE_ADDR="192.0.2.51"), "carol", PASSWORD)
    assert r.status_code == 429 and 60 < int(r["Retry-After"]) <= 120
    # a success (after the lock) clears the account's count
    cache.set(key, {**cache.get(key), "locked_until": 0})
    assert login(APIClient(REMOTE_ADDR="192.0.2.52"), "carol", PASSWORD).status_code == 200
    assert cache.get(key) is None


def test_failed_and_locked_logins_are_audited(lax_throttle, make_org, make_member):
    make_member(make_org(), username="dave", password=PASSWORD)
    client = APIClient(REMOTE_ADDR="192.0.2.77")
    for _ in range(6):
        login(client, "dave", "wrong")
    failed = AuditEvent.objects.filter(action="auth.login_failed")
    assert failed.count() == 5 and failed.first().after["address"] == "192.0.2.77"
    assert AuditEvent.objects.filter(action="auth.login_locked").count() == 1


def test_the_admin_login_locks_out_too(lax_throttle, client, make_org, make_member):
    m = make_member(make_org("exchange_operator", "350000"), "admin", username="root", password=PASSWORD)
    m.user.is_staff = m.user.is_superuser = True
    m.user.save()
    for _ in range(5):
        r = client.post("/admin/login/", {"username": "root", "password": "nope", "next": "/admin/"})
        assert r.status_code == 200  # the form again
    r = client.post("/admin/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"})
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert AuditEvent.objects.filter(action="auth.login_failed", after__via="admin").count() == 5
    # and the API login of the same account is locked as well: one account, one lock
    assert login(APIClient(REMOTE_ADDR="192.0.2.200"), "root", PASSWORD).status_code == 429


def test_a_password_change_revokes_every_api_token(make_org, make_member, client_for):
    m = make_member(make_org(), "trader", username="erin", password=PASSWORD)
    other = make_member(make_org("enterprise", "350205"), "viewer")
    other.user = m.user
    other.user_id = m.user_id
    other.save()
    c1, c2 = client_for(m), client_for(other)
    r = c1.post("/api/v1/auth/password", {"old_password": "wrong", "new_password": "N3w-pass-phrase!!"},
                format="json")
    assert r.status_code == 400 and r.json()["code"] == "wrong_password"
    assert c2.get("/api/v1/me").status_code == 200
    r = c1.post("/api/v1/auth/password", {"old_password": PASSWORD, "new_password": "N3w-pass-phrase!!"},
                format="json")
    assert r.status_code == 204
    assert c1.get("/api/v1/me").status_code == 401 and c2.get("/api/v1/me").status_code == 401
    assert not ApiToken.objects.filter(membership__user=m.user, revoked_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action="auth.password_change", object_id=str(m.user_id)).exists()
    revoked = AuditEvent.objects.get(action="auth.tokens_revoked", object_id=str(m.user_id))
    assert len(revoked.after["tokens"]) == 2


def test_a_password_set_anywhere_else_revokes_the_tokens_too(make_org, make_member, client_for):
    """The admin's password form and `manage.py changepassword` both end in User.save()."""
    m = make_member(make_org(), "trader", username="frank", password=PASSWORD)
    c = client_for(m)
    m.user.set_password("An0ther-pass-phrase")
    m.user.save()
    assert c.get("/api/v1/me").status_code == 401
    # saving the user without touching the password revokes nothing
    c = client_for(m)
    m.user.display_name = "Frank"
    m.user.save()
    assert c.get("/api/v1/me").status_code == 200
