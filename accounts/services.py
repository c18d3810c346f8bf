"""Use cases that change accounts: organizations, users, memberships and API tokens.
Each is one transaction and writes its audit event in it."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone

from .actor import Actor
from .audit import audit_record
from .errors import ApiError
from .models import ApiToken, Membership, Organization, User


def _org_snapshot(org: Organization) -> dict:
    return {
        "kind": org.kind, "name_zh": org.name_zh, "name_en": org.name_en, "region": org.region_id,
        "uscc": org.uscc, "status": org.status, "jurisdiction": org.jurisdiction_id, "parent": org.parent_id,
        "discharge_permit_no": org.discharge_permit_no,
    }


@transaction.atomic
def organization_create(*, actor: Actor, kind: str, name_zh: str, region_id: str, uscc: str, name_en: str = "",
                        jurisdiction_id: str | None = None, parent_id: int | None = None,
                        discharge_permit_no: str = "") -> Organization:
    org = Organization(kind=kind, name_zh=name_zh, name_en=name_en, region_id=region_id, uscc=uscc,
                       jurisdiction_id=jurisdiction_id, parent_id=parent_id, discharge_permit_no=discharge_permit_no)
    org.full_clean()
    org.save()
    audit_record(actor=actor, action="organization.create", object_type="organization", object_id=org.pk,
                 after=_org_snapshot(org), region_codes=[region_id])
    return org


@transaction.atomic
def organization_update(*, actor: Actor, organization: Organization, **changes) -> Organization:
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    before = _org_snapshot(org)
    for field, value in changes.items():
        setattr(org, field, value)
    org.full_clean()
    org.save()
    audit_record(actor=actor, action="organization.update", object_type="organization", object_id=org.pk,
                 before=before, after=_org_snapshot(org), region_codes=[org.region_id])
    return org


@transaction.atomic
def organization_set_status(*, actor: Actor, organization: Organization, status: str, reason: str) -> Organization:
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    before = {"status": org.status}
    org.status = status
    org.save(update_fields=["status"])
    audit_record(actor=actor, action=f"organization.{'suspend' if status == 'suspended' else 'activate'}",
                 object_type="organization", object_id=org.pk, before=before,
                 after={"status": status, "reason": reason}, region_codes=[org.region_id])
    return org


@transaction.atomic
def user_create(*, actor: Actor, username: str, password: str, display_name: str = "", email: str = "") -> User:
    user = User(username=username, display_name=display_name, email=email)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    audit_record(actor=actor, action="user.create", object_type="user", object_id=user.pk,
                 after={"username": username})
    return user


@transaction.atomic
def membership_create(*, actor: Actor, user: User, organization: Organization, role: str) -> Membership:
    if Membership.objects.filter(user=user, organization=organization).exists():
        raise ApiError("conflict", fields={"user": "already a member of this organization"})
    m = Membership.objects.create(user=user, organization=organization, role=role)
    audit_record(actor=actor, action="membership.create", object_type="membership", object_id=m.pk,
                 after={"user": user.pk, "organization": organization.pk, "role": role},
                 region_codes=[organization.region_id])
    return m


@transaction.atomic
def membership_update(*, actor: Actor, membership: Membership, role: str | None = None,
                      is_active: bool | None = None) -> Membership:
    m = Membership.objects.select_for_update().get(pk=membership.pk)
    before = {"role": m.role, "is_active": m.is_active}
    if role is not None:
        m.role = role
    if is_active is not None:
        m.is_active = is_active
        if not is_active:
            ApiToken.objects.filter(membership=m, revoked_at__isnull=True).update(revoked_at=timezone.now())
    m.save()
    audit_record(actor=actor, action="membership.update", object_type="membership", object_id=m.pk,
                 before=before, after={"role": m.role, "is_active": m.is_active},
                 region_codes=[m.organization.region_id])
    return m


def _new_token(membership: Membership) -> tuple[str, ApiToken]:
    secret = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        key_hash=ApiToken.hash_secret(secret), prefix=secret[:8], membership=membership,
        expires_at=timezone.now() + settings.API_TOKEN_TTL,
    )
    return secret, token


@transaction.atomic
def token_issue(*, membership: Membership, request_id: str = "") -> tuple[str, ApiToken]:
    """Log in: a new token for one membership. Returns (secret, token); only the hash is stored."""
    secret, token = _new_token(membership)
    actor = Actor(user_id=membership.user_id, organization_id=membership.organization_id, role=membership.role,
                  organization_kind=membership.organization.kind, request_id=request_id)
    audit_record(actor=actor, action="auth.login", object_type="token", object_id=token.pk,
                 after={"membership": membership.pk}, region_codes=[membership.organization.region_id])
    return secret, token


@transaction.atomic
def token_revoke(*, actor: Actor, token: ApiToken) -> None:
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if updated:
        audit_record(actor=actor, action="auth.logout", object_type="token", object_id=token.pk)


@transaction.atomic
def token_refresh(*, actor: Actor, token: ApiToken) -> tuple[str, ApiToken]:
    """Swap a live token for a new one with a fresh expiry; the old one is revoked."""
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    secret, new = _new_token(token.membership)
    audit_record(actor=actor, action="auth.refresh", object_type="token", object_id=new.pk,
                 before={"token": token.pk})
    return secret, new
