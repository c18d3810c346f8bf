"""Use cases that change accounts: organizations, users, memberships and API tokens (login, logout,
refresh). Each is one transaction, takes keyword-only arguments, and writes its audit event in that
transaction. Business refusals are `DomainError`s with codes from `core.errors`; a refused call writes
nothing."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from rest_framework.exceptions import Throttled
from rest_framework.exceptions import ValidationError as DrfValidationError
from rest_framework.fields import get_error_detail

from core.errors import DomainError, field_error, register

from . import lockout
from .actor import Actor
from .audit import audit_record
from .models import ApiToken, InvitationStatus, Membership, MembershipInvitation, Organization, Role, User
from .refusals import record_refusal

# (field, Django validation code) → our stable code; uniqueness conflicts are 409s, the rest 400s.
_CODE_MAP = {
    ("uscc", "unique"): "duplicate_uscc",
    ("uscc", "invalid_uscc"): "invalid_uscc",
    ("region", "invalid"): "unknown_region",
    ("jurisdiction", "invalid"): "unknown_region",
    ("username", "unique"): "username_taken",
}
_CONFLICT_CODES = {"duplicate_uscc", "username_taken"}
INVITATION_CLOSED = register("invitation_closed", 409, "该邀请已处理", "This invitation is no longer pending")
WRONG_PASSWORD = register("wrong_password", 400, "原密码不正确", "The current password is wrong")
LOGIN_LOCKED = register("login_locked", 429, "登录失败次数过多，请稍后再试",
                        "Too many failed logins; try again later")

# Sent inside `organization_set_status`'s transaction when an organization is frozen; arguments
# `organization`, `actor`, `reason`, `summary` (a dict receivers fill with what they pulled, for the audit
# row). Trading connects the pull of open orders, listings and bids (`trading.freeze`).
organization_suspended = Signal()


def _full_clean(obj, *, exclude=None) -> None:
    """`full_clean` whose failures become API errors with our codes (never a 500)."""
    try:
        obj.full_clean(exclude=exclude)
    except DjangoValidationError as exc:
        errors = exc.error_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.error_list}
        fields = {}
        for name, errs in errors.items():
            fields[name] = [
                {"code": _CODE_MAP.get((name, e.code), e.code or "invalid"), "message": " ".join(e.messages)}
                for e in errs
            ]
        conflict = next((e["code"] for errs in fields.values() for e in errs if e["code"] in _CONFLICT_CODES), None)
        if conflict:
            raise DomainError(conflict, fields=fields)
        codes = {e["code"] for errs in fields.values() for e in errs}
        code = codes.pop() if len(codes) == 1 and next(iter(codes)) in ("invalid_uscc", "unknown_region") else None
        if code:
            raise DomainError(code, fields=fields)
        raise DrfValidationError(get_error_detail(exc))


def _save_unique(obj, *, conflict_code: str, field: str) -> None:
    """Save; a unique violation lost to a concurrent insert is the same conflict a pre-check reports."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        if getattr(getattr(exc, "__cause__", None), "pgcode", None) == "23505":
            raise field_error(conflict_code, field) from exc
        raise


# --- organizations -----------------------------------------------------------------------------------

ORGANIZATION_EDITABLE = {"name_zh", "name_en", "region_id", "uscc", "jurisdiction_id", "parent_id",
                         "discharge_permit_no"}


def _org_snapshot(org: Organization) -> dict:
    return {
        "kind": org.kind, "name_zh": org.name_zh, "name_en": org.name_en, "region": org.region_id,
        "uscc": org.uscc, "status": org.status, "jurisdiction": org.jurisdiction_id, "parent": org.parent_id,
        "discharge_permit_no": org.discharge_permit_no,
    }


def _check_jurisdiction(org: Organization) -> None:
    if org.kind == "regulator" and not org.jurisdiction_id:
        raise field_error("jurisdiction_required", "jurisdiction")
    if org.kind != "regulator" and org.jurisdiction_id:
        raise field_error("jurisdiction_not_allowed", "jurisdiction")


def _check_parent(org: Organization) -> None:
    """No organization may be its own ancestor (surveillance walks this chain)."""
    seen = {org.pk} if org.pk else set()
    parent_id = org.parent_id
    while parent_id is not None:
        if parent_id in seen:
            raise field_error("invalid_parent", "parent")
        seen.add(parent_id)
        parent_id = Organization.objects.filter(pk=parent_id).values_list("parent_id", flat=True).first()


@transaction.atomic
def organization_create(*, actor: Actor, kind: str, name_zh: str, region_id: str, uscc: str, name_en: str = "",
                        jurisdiction_id: str | None = None, parent_id: int | None = None,
                        discharge_permit_no: str = "") -> Organization:
    org = Organization(kind=kind, name_zh=name_zh, name_en=name_en, region_id=region_id, uscc=uscc,
                       jurisdiction_id=jurisdiction_id, parent_id=parent_id, discharge_permit_no=discharge_permit_no)
    _check_jurisdiction(org)
    _full_clean(org)
    _save_unique(org, conflict_code="duplicate_uscc", field="uscc")
    audit_record(actor=actor, action="organization.create", object_type="organization", object_id=org.pk,
                 after=_org_snapshot(org), region_codes=[region_id])
    return org


@transaction.atomic
def organization_update(*, actor: Actor, organization: Organization, **changes) -> Organization:
    """Change directory data. `kind` and `status` are not editable here (status: `organization_set_status`)."""
    unknown = set(changes) - ORGANIZATION_EDITABLE
    if unknown:
        raise TypeError(f"organization_update cannot change {sorted(unknown)}")
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    before = _org_snapshot(org)
    for field, value in changes.items():
        setattr(org, field, value)
    _check_jurisdiction(org)
    _check_parent(org)
    _full_clean(org)
    _save_unique(org, conflict_code="duplicate_uscc", field="uscc")
    after = _org_snapshot(org)
    audit_record(actor=actor, action="organization.update", object_type="organization", object_id=org.pk,
                 before=before, after=after, region_codes=sorted({before["region"], org.region_id}))
    return org


@transaction.atomic
def organization_set_status(*, actor: Actor, organization: Organization, status: str, reason: str) -> Organization:
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    if org.status == status:
        raise DomainError("status_unchanged", fields={"status": status})
    if status == "suspended" and actor.organization_id == org.pk:
        # the operator suspending itself would leave nobody able to lift the suspension over the API
        raise DomainError("cannot_suspend_self")
    before = {"status": org.status}
    org.status = status
    org.save(update_fields=["status"])
    summary: dict = {}
    if status == "suspended":
        # receivers (trading) pull the organization's open orders, listings and bids in this transaction
        organization_suspended.send(sender=Organization, organization=org, actor=actor, reason=reason,
                                    summary=summary)
    audit_record(actor=actor, action=f"organization.{'suspend' if status == 'suspended' else 'activate'}",
                 object_type="organization", object_id=org.pk, before=before,
                 after={"status": status, "reason": reason, **({"pulled": summary} if summary else {})},
                 region_codes=[org.region_id])
    return org


# --- users and memberships ---------------------------------------------------------------------------

@transaction.atomic
def user_create(*, actor: Actor, username: str, password: str, display_name: str = "", email: str = "",
                password_hash: str | None = None) -> User:
    """`password_hash`: the stored hash of `password`, already validated and hashed for another user
    (the demo seeding gives its many users one published password: one key derivation instead of one
    per user). Never from a request."""
    user = User(username=username, display_name=display_name, email=email)
    if User.objects.filter(username__iexact=username).exists():
        # case-insensitively: "Chen" and "chen" as two people invites impersonation
        raise field_error("username_taken", "username")
    _full_clean(user, exclude=["password"])
    if password_hash is not None:
        user.password = password_hash
    else:
        try:
            validate_password(password, user)
        except DjangoValidationError as exc:
            raise DomainError("weak_password", fields={
                "password": [{"code": e.code or "invalid", "message": " ".join(e.messages)} for e in exc.error_list]
            })
        user.set_password(password)
    _save_unique(user, conflict_code="username_taken", field="username")
    audit_record(actor=actor, action="user.create", object_type="user", object_id=user.pk,
                 after={"username": username, "display_name": display_name, "email": email})
    return user


@transaction.atomic
def membership_create(*, actor: Actor, user: User, organization: Organization, role: str) -> Membership:
    Organization.objects.select_for_update().filter(pk=organization.pk).first()  # serialize per organization
    if Membership.objects.filter(user=user, organization=organization).exists():
        raise field_error("already_member", "username")
    m = Membership(user=user, organization=organization, role=role)
    _full_clean(m, exclude=["user", "organization"])
    _save_unique(m, conflict_code="already_member", field="username")
    audit_record(actor=actor, action="membership.create", object_type="membership", object_id=m.pk,
                 after={"user": user.pk, "username": user.username, "organization": organization.pk, "role": role},
                 region_codes=[organization.region_id])
    return m


@transaction.atomic
def membership_add(*, actor: Actor, organization: Organization, role: str, username: str,
                   password: str | None = None, display_name: str = "", email: str = "") -> Membership | None:
    """Add a person to an organization: with `password` a new user is created (the username must be
    free) and becomes a member; without, the existing user `username` is invited (`membership_invite`) and
    None is returned — nobody is attached to an organization without their consent."""
    if password is not None:
        user = user_create(actor=actor, username=username, password=password, display_name=display_name,
                           email=email)
        return membership_create(actor=actor, user=user, organization=organization, role=role)
    membership_invite(actor=actor, organization=organization, role=role, username=username)
    return None


@transaction.atomic
def membership_invite(*, actor: Actor, organization: Organization, role: str, username: str) -> None:
    """Invite an existing user; the answer is the same whether or not the username exists (no enumeration:
    the caller learns nothing it may not already know — a member of its own organization is `already_member`).
    An invitation already pending is left as it is."""
    if role not in Role.values:
        raise DomainError("validation_error", fields={"role": "invalid choice"})
    Organization.objects.select_for_update().filter(pk=organization.pk).first()  # serialize per organization
    user = User.objects.filter(username=username, is_active=True).first()
    invitation = None
    if user is not None:
        if Membership.objects.filter(user=user, organization=organization).exists():
            raise field_error("already_member", "username")
        invitation = MembershipInvitation.objects.filter(user=user, organization=organization,
                                                         status=InvitationStatus.PENDING).first()
        if invitation is None:
            invitation = MembershipInvitation.objects.create(user=user, organization=organization, role=role,
                                                             invited_by_id=actor.user_id)
    # recorded either way (an unknown name is how probing shows), never told to the caller
    audit_record(actor=actor, action="membership.invite", object_type="invitation",
                 object_id=invitation.pk if invitation else "",
                 after={"username": username[:150], "organization": organization.pk, "role": role,
                        "user": user.pk if user else None}, region_codes=[organization.region_id])


def _own_invitation(user_id: int, invitation_id: int) -> MembershipInvitation:
    invitation = (MembershipInvitation.objects.select_for_update().select_related("organization")
                  .filter(pk=invitation_id, user_id=user_id).first())
    if invitation is None:
        raise DomainError("not_found")
    if invitation.status != InvitationStatus.PENDING:
        raise DomainError(INVITATION_CLOSED, fields={"status": invitation.status})
    return invitation


@transaction.atomic
def invitation_accept(*, actor: Actor, invitation_id: int) -> Membership:
    """The invited user accepts: the membership is created (audited as the user's own act)."""
    invitation = _own_invitation(actor.user_id, invitation_id)
    invitation.status, invitation.decided_at = InvitationStatus.ACCEPTED, timezone.now()
    invitation.save(update_fields=["status", "decided_at"])
    audit_record(actor=actor, action="invitation.accept", object_type="invitation", object_id=invitation.pk,
                 after={"organization": invitation.organization_id, "role": invitation.role},
                 region_codes=[invitation.organization.region_id])
    return membership_create(actor=actor, user=invitation.user, organization=invitation.organization,
                             role=invitation.role)


@transaction.atomic
def invitation_decline(*, actor: Actor, invitation_id: int) -> MembershipInvitation:
    invitation = _own_invitation(actor.user_id, invitation_id)
    invitation.status, invitation.decided_at = InvitationStatus.DECLINED, timezone.now()
    invitation.save(update_fields=["status", "decided_at"])
    audit_record(actor=actor, action="invitation.decline", object_type="invitation", object_id=invitation.pk,
                 after={"organization": invitation.organization_id, "role": invitation.role},
                 region_codes=[invitation.organization.region_id])
    return invitation


@transaction.atomic
def membership_update(*, actor: Actor, membership: Membership, role: str | None = None,
                      is_active: bool | None = None) -> Membership:
    # lock the organization first: two admins demoting each other at once must not both succeed
    Organization.objects.select_for_update().filter(pk=membership.organization_id).first()
    m = Membership.objects.select_for_update().select_related("organization").get(pk=membership.pk)
    before = {"role": m.role, "is_active": m.is_active}
    if role is not None:
        if role not in Role.values:
            raise DomainError("validation_error", fields={"role": "invalid choice"})
        m.role = role
    if is_active is not None:
        m.is_active = is_active
    was_admin = before["role"] == Role.ADMIN and before["is_active"]
    if was_admin and not (m.role == Role.ADMIN and m.is_active):
        others = Membership.objects.filter(organization_id=m.organization_id, role=Role.ADMIN, is_active=True,
                                           user__is_active=True).exclude(pk=m.pk)
        if not others.exists():
            raise DomainError("last_admin")
    if before == {"role": m.role, "is_active": m.is_active}:
        return m  # nothing changed: nothing to record
    if not m.is_active:
        ApiToken.objects.filter(membership=m, revoked_at__isnull=True).update(revoked_at=timezone.now())
    m.save(update_fields=["role", "is_active"])
    audit_record(actor=actor, action="membership.update", object_type="membership", object_id=m.pk,
                 before=before, after={"role": m.role, "is_active": m.is_active},
                 region_codes=[m.organization.region_id])
    return m


# --- API tokens --------------------------------------------------------------------------------------

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
def login(*, username: str, password: str, organization_id: int | None = None,
          request_id: str = "", address: str = "unknown") -> tuple[str, ApiToken]:
    """Check the password, choose the membership the token will act for, and issue the token.

    The acting organization is fixed at login: `organization_id` names it, and may be left out when the
    user has exactly one active membership. Acting for another organization means logging in again.
    A locked-out address or account (`accounts.lockout`) is refused before the password is checked."""
    wait, _which = lockout.locked_for(address=address, username=username)
    if wait:
        raise Throttled(wait=wait, code=LOGIN_LOCKED)
    # Django's ModelBackend hashes even for unknown usernames (no timing oracle) and refuses inactive users
    user = authenticate(request=None, username=username, password=password)
    if user is None:
        lockout.record_failure(address=address, username=username)
        raise DomainError("authentication_failed")
    lockout.record_success(username=username)
    memberships = Membership.objects.select_related("organization", "organization__region").filter(
        user=user, is_active=True)
    if organization_id is not None:
        membership = memberships.filter(organization_id=organization_id).first()
        if membership is None:
            raise field_error("no_membership", "organization")
    else:
        candidates = list(memberships[:20])
        if not candidates:
            raise DomainError("no_membership")
        if len(candidates) > 1:
            choices = ", ".join(f"{m.organization_id} ({m.organization.name_zh})" for m in candidates)
            raise DomainError("ambiguous_organization", fields={"organization": choices})
        membership = candidates[0]
    if not membership.organization.is_active:
        raise DomainError("organization_suspended")
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    return token_issue(membership=membership, request_id=request_id)


def login_refused(*, username: str, address: str, exc: Exception, request_id: str = "") -> None:
    """Audit a refused login (bounded per address and username: `accounts.refusals`)."""
    code = getattr(exc, "code", None) or (exc.get_codes() if hasattr(exc, "get_codes") else "")
    action = "auth.login_locked" if code == LOGIN_LOCKED else "auth.login_failed"
    user_id = User.objects.filter(username__iexact=username).values_list("pk", flat=True).first()
    actor = Actor(user_id=None, organization_id=None, request_id=request_id)
    record_refusal(action=action, who=f"address:{address}", actor=actor, object_type="user",
                   object_id=user_id or "", after={"username": username[:150], "address": address, "code": code})


@transaction.atomic
def token_revoke(*, actor: Actor, token: ApiToken) -> None:
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if updated:
        audit_record(actor=actor, action="auth.logout", object_type="token", object_id=token.pk)


@transaction.atomic
def token_refresh(*, actor: Actor, token: ApiToken) -> tuple[str, ApiToken]:
    """Swap a live token for a new one with a fresh expiry; the old one is revoked."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if not updated:
        # a concurrent refresh or logout already consumed it: refreshing twice must not fork the session
        raise DomainError("token_revoked")
    secret, new = _new_token(token.membership)
    audit_record(actor=actor, action="auth.refresh", object_type="token", object_id=new.pk,
                 before={"token": token.pk})
    return secret, new


# --- passwords ---------------------------------------------------------------------------------------

@transaction.atomic
def password_change(*, actor: Actor, user: User, old_password: str, new_password: str, address: str = "unknown"
                    ) -> int:
    """Change one's own password (the old one checked, as a login would: lockout and all). Every API token
    of the user is revoked (`on_user_saved`). Returns how many tokens were revoked."""
    wait, _which = lockout.locked_for(address=address, username=user.username)
    if wait:
        raise Throttled(wait=wait, code=LOGIN_LOCKED)
    if not user.check_password(old_password):
        lockout.record_failure(address=address, username=user.username)
        raise field_error("wrong_password", "old_password")
    try:
        validate_password(new_password, user)
    except DjangoValidationError as exc:
        raise DomainError("weak_password", fields={
            "new_password": [{"code": e.code or "invalid", "message": " ".join(e.messages)} for e in exc.error_list]
        })
    user.set_password(new_password)
    user._password_change_actor = actor
    user.save(update_fields=["password"])
    return user._tokens_revoked


def _password_changing(sender, instance, update_fields=None, **kwargs) -> None:
    """pre_save of User: notice a password change, whoever makes it (API, admin, `changepassword`)."""
    instance._password_changed = False
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    old = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._password_changed = old is not None and old != instance.password


def on_user_saved(sender, instance, created=False, **kwargs) -> None:
    """post_save of User: a changed password revokes every API token of the user; both audited."""
    if created or not getattr(instance, "_password_changed", False):
        return
    instance._password_changed = False
    actor = getattr(instance, "_password_change_actor", None) or Actor.system()
    revoked = list(ApiToken.objects.filter(membership__user_id=instance.pk, revoked_at__isnull=True)
                   .values_list("pk", flat=True))
    if revoked:
        ApiToken.objects.filter(pk__in=revoked).update(revoked_at=timezone.now())
    instance._tokens_revoked = len(revoked)
    audit_record(actor=actor, action="auth.password_change", object_type="user", object_id=instance.pk,
                 after={"username": instance.username})
    if revoked:
        audit_record(actor=actor, action="auth.tokens_revoked", object_type="user", object_id=instance.pk,
                     after={"tokens": revoked, "reason": "password_change"})
