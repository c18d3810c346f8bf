"""Login, logout, refresh, `me`; token expiry and revocation; login throttling; suspended organizations."""
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, AuditEvent, Membership, Organization

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords", "clear_login_throttle")]

PASSWORD = "Str0ng-pass-phrase!"


def login(client, **body):
    return client.post("/api/v1/auth/login", body, format="json")


def bearer(secret, language="en"):
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def member(make_org, make_member):
    return make_member(make_org("enterprise", "350102", name="闽江企业"), "trader", username="alice")


def test_login_with_a_single_membership(anon_client, member):
    r = login(anon_client, username="alice", password=PASSWORD)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["membership"]["id"] == member.pk
    assert body["membership"]["role"] == "trader"
    assert body["membership"]["organization"]["id"] == member.organization_id
    assert body["expires_at"]
    token = ApiToken.objects.get(membership=member)
    # only the hash is stored
    assert token.key_hash == ApiToken.hash_secret(body["token"]) and body["token"] not in token.key_hash
    me = bearer(body["token"]).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["acting"]["id"] == member.pk
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor_user_id == member.user_id and event.object_id == str(token.pk)


def test_token_lifetime_follows_settings(anon_client, member, settings):
    settings.API_TOKEN_TTL = timedelta(hours=2)
    before = timezone.now()
    login(anon_client, username="alice", password=PASSWORD)
    token = ApiToken.objects.get(membership=member)
    assert before + timedelta(hours=2) <= token.expires_at <= timezone.now() + timedelta(hours=2)


@pytest.mark.parametrize("username, password", [("alice", "wrong-password-1"), ("nobody", PASSWORD),
                                                ("ALICE ", PASSWORD)])
def test_wrong_credentials(anon_client, member, username, password):
    r = login(anon_client, username=username, password=password)
    assert r.status_code == 401
    assert r.json()["code"] == "authentication_failed"
    assert not ApiToken.objects.exists() and not AuditEvent.objects.exists()


def test_inactive_user_cannot_log_in(anon_client, member):
    member.user.is_active = False
    member.user.save()
    assert login(anon_client, username="alice", password=PASSWORD).json()["code"] == "authentication_failed"


def test_choosing_among_several_memberships(anon_client, member, make_org):
    other = make_org("county_government", "350121", name="闽侯县")
    second = Membership.objects.create(user=member.user, organization=other, role="viewer")
    r = login(anon_client, username="alice", password=PASSWORD)
    assert r.status_code == 400 and r.json()["code"] == "ambiguous_organization"
    assert str(other.pk) in r.json()["fields"]["organization"][0]["message"]
    r = login(anon_client, username="alice", password=PASSWORD, organization=other.pk)
    assert r.status_code == 200 and r.json()["membership"]["id"] == second.pk
    me = bearer(r.json()["token"]).get("/api/v1/me").json()
    assert me["acting"]["organization"]["id"] == other.pk and me["acting"]["role"] == "viewer"
    assert {m["id"] for m in me["memberships"]} == {member.pk, second.pk}
    assert me["user"]["username"] == "alice"


def test_organization_the_user_does_not_belong_to(anon_client, member, make_org):
    stranger = make_org("enterprise", "350205")
    r = login(anon_client, username="alice", password=PASSWORD, organization=stranger.pk)
    assert r.status_code == 403 and r.json()["code"] == "no_membership"
    r = login(anon_client, username="alice", password=PASSWORD, organization=2**62)
    assert r.status_code == 403 and r.json()["code"] == "no_membership"
    r = login(anon_client, username="alice", password=PASSWORD, organization=2**64)
    assert r.status_code == 400 and r.json()["fields"]["organization"][0]["code"] == "max_value"


def test_inactive_membership_cannot_log_in(anon_client, member):
    Membership.objects.filter(pk=member.pk).update(is_active=False)
    r = login(anon_client, username="alice", password=PASSWORD)
    assert r.status_code == 403 and r.json()["code"] == "no_membership"


def test_suspended_organization_cannot_log_in(anon_client, member):
    Organization.objects.filter(pk=member.organization_id).update(status="suspended")
    r = login(anon_client, username="alice", password=PASSWORD)
    assert r.status_code == 403 and r.json()["code"] == "organization_suspended"
    assert not ApiToken.objects.exists()


def test_suspended_organization_reads_but_does_not_write(client_for, member, make_org):
    client = client_for(member)
    Organization.objects.filter(pk=member.organization_id).update(status="suspended")
    assert client.get("/api/v1/me").status_code == 200
    r = client.post("/api/v1/auth/refresh", {}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "organization_suspended"
    assert client.post("/api/v1/auth/logout").status_code == 204


def test_login_ignores_a_bearer_header(member):
    client = bearer("garbage")
    assert login(client, username="alice", password=PASSWORD).status_code == 200


def test_login_input_is_strict(anon_client, member):
    r = login(anon_client, username="alice", password=PASSWORD, remember_me=True)
    assert r.status_code == 400 and r.json()["code"] == "unknown_field"
    r = anon_client.post("/api/v1/auth/login", {"username": "alice", "password": PASSWORD})  # multipart
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    r = anon_client.post("/api/v1/auth/login", "{not json", content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "malformed_request"
    r = login(anon_client, username="a" * 151, password=PASSWORD)
    assert r.status_code == 400 and r.json()["fields"]["username"][0]["code"] == "max_length"
    r = login(anon_client, username="alice")
    assert r.status_code == 400 and r.json()["fields"]["password"][0]["code"] == "required"
    assert not ApiToken.objects.exists()


# --- tokens ---------------------------------------------------------------------------------------------

def test_missing_and_garbage_tokens(anon_client, member):
    r = anon_client.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    assert r["WWW-Authenticate"] == "Bearer"
    r = bearer("not-a-token").get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "authentication_failed"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    assert client.get("/api/v1/me").json()["code"] == "authentication_failed"


def test_expired_token(anon_client, member):
    secret = login(anon_client, username="alice", password=PASSWORD).json()["token"]
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    r = bearer(secret).get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "token_expired"
    r = bearer(secret).post("/api/v1/auth/refresh", {}, format="json")
    assert r.status_code == 401 and r.json()["code"] == "token_expired"


def test_logout_revokes(anon_client, member):
    secret = login(anon_client, username="alice", password=PASSWORD).json()["token"]
    client = bearer(secret)
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert ApiToken.objects.get().revoked_at is not None
    assert AuditEvent.objects.filter(action="auth.logout").count() == 1
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "token_revoked"
    r = client.post("/api/v1/auth/logout")
    assert r.status_code == 401 and r.json()["code"] == "token_revoked"
    assert AuditEvent.objects.filter(action="auth.logout").count() == 1


def test_logout_leaves_other_tokens_alone(anon_client, member):
    first = login(anon_client, username="alice", password=PASSWORD).json()["token"]
    second = login(anon_client, username="alice", password=PASSWORD).json()["token"]
    bearer(first).post("/api/v1/auth/logout")
    assert bearer(second).get("/api/v1/me").status_code == 200


def test_refresh(anon_client, member):
    old = login(anon_client, username="alice", password=PASSWORD).json()["token"]
    r = bearer(old).post("/api/v1/auth/refresh")
    assert r.status_code == 200, r.content
    new = r.json()["token"]
    assert new != old and r.json()["membership"]["id"] == member.pk
    assert bearer(old).get("/api/v1/me").json()["code"] == "token_revoked"
    assert bearer(new).get("/api/v1/me").status_code == 200
    event = AuditEvent.objects.get(action="auth.refresh")
    assert event.object_id == str(ApiToken.objects.get(key_hash=ApiToken.hash_secret(new)).pk)
    r = bearer(old).post("/api/v1/auth/refresh")
    assert r.status_code == 401 and r.json()["code"] == "token_revoked"


def test_refresh_refuses_a_body_with_unknown_fields(client_for, member):
    client = client_for(member)
    r = client.post("/api/v1/auth/refresh", {"ttl": 999}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "unknown_field"
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_deactivated_membership_tokens_stop_working(client_for, member, make_member):
    admin = make_member(member.organization, "admin")
    client = client_for(member)
    r = client_for(admin).patch(f"/api/v1/memberships/{member.pk}", {"is_active": False}, format="json")
    assert r.status_code == 200
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "token_revoked"


def test_deactivated_user_tokens_stop_working(client_for, member):
    client = client_for(member)
    member.user.is_active = False
    member.user.save()
    assert client.get("/api/v1/me").json()["code"] == "authentication_failed"


def test_me_shows_all_memberships_including_inactive(client_for, member, make_org):
    other = make_org("enterprise", "350582")
    Membership.objects.create(user=member.user, organization=other, role="admin", is_active=False)
    body = client_for(member).get("/api/v1/me").json()
    assert [m["is_active"] for m in body["memberships"]] == [True, False]
    assert body["token"]["prefix"] and body["token"]["expires_at"]
    assert set(body["user"]) == {"id", "username", "display_name", "email"}


# --- throttling -----------------------------------------------------------------------------------------

def test_login_is_throttled_per_username_and_address(anon_client, member, make_member, settings):
    from rest_framework.settings import api_settings

    limit = int(api_settings.DEFAULT_THROTTLE_RATES["login"].split("/")[0])
    for _ in range(limit):
        assert login(anon_client, username="alice", password="wrong-password-1").status_code == 401
    r = login(anon_client, username="alice", password=PASSWORD)
    assert r.status_code == 429
    assert r.json()["code"] == "throttled" and int(r["Retry-After"]) > 0
    # another username from the same address is counted separately
    make_member(member.organization, username="bob")
    assert login(anon_client, username="bob", password=PASSWORD).status_code == 200
    # another address is counted separately; a forged X-Forwarded-For is not another address
    forged = APIClient(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.8.7")
    assert login(forged, username="alice", password=PASSWORD).status_code == 429
    elsewhere = APIClient(REMOTE_ADDR="10.1.2.3")
    assert login(elsewhere, username="alice", password=PASSWORD).status_code == 200
    assert login(anon_client, username=" ALICE", password=PASSWORD).status_code == 429


def test_throttle_message_is_localised(member, clear_login_throttle):
    from rest_framework.settings import api_settings

    limit = int(api_settings.DEFAULT_THROTTLE_RATES["login"].split("/")[0])
    client = APIClient()  # no Accept-Language: Chinese
    for _ in range(limit + 1):
        r = login(client, username="alice", password="nope-nope-nope")
    assert r.status_code == 429 and r.json()["message"] == "请求过于频繁，请稍后再试"
