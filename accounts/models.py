"""Who is who: regions and basins, organizations, users, memberships, API tokens, and the audit log.

Design overview
---------------
* `Region` is a GB/T 2260 division (province → city → county). Jurisdiction tests use the code
  structure: a province covers every code with its first two digits, a city every code with its first
  four. `Basin` is its own model; a county may belong to several basins.
* `Organization` is a legal person (county government, enterprise, regulator, ...) identified by its
  unified social credit code (GB 32100-2015, check character validated). Regulators carry a
  `jurisdiction` region, enforced by a CHECK constraint.
* A `User` acts through a `Membership` (user × organization × role). An API token is scoped to one
  membership, so every API request acts for exactly one organization with one role.
* `AuditEvent` rows are append-only (database triggers refuse UPDATE and DELETE); every user action
  writes one in the same transaction as the change it records (see `accounts.audit`).
"""
from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from .uscc import validate_uscc


class RegionLevel(models.TextChoices):
    PROVINCE = "province", "Province"
    CITY = "city", "City"
    COUNTY = "county", "County"


class Basin(models.Model):
    code = models.SlugField(primary_key=True, max_length=40)
    name_zh = models.CharField(max_length=60)
    name_en = models.CharField(max_length=80)

    class Meta:
        verbose_name = gettext_lazy("basin")
        verbose_name_plural = gettext_lazy("basins")
        ordering = ["code"]

    def __str__(self):
        return self.code


class Region(models.Model):
    code = models.CharField(primary_key=True, max_length=6)
    name_zh = models.CharField(max_length=60)
    name_en = models.CharField(max_length=80)
    level = models.CharField(max_length=10, choices=RegionLevel.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    zone = models.CharField(max_length=20, blank=True, db_index=True)
    basins = models.ManyToManyField(Basin, blank=True, related_name="regions")

    class Meta:
        verbose_name = gettext_lazy("region")
        verbose_name_plural = gettext_lazy("regions")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=r"^[1-8][0-9]{5}$"), name="region_code_format"),
            models.CheckConstraint(
                condition=Q(level="province", parent__isnull=True) | Q(parent__isnull=False), name="region_parent"
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.name_zh}"

    @property
    def prefix(self) -> str:
        return {"province": self.code[:2], "city": self.code[:4]}.get(self.level, self.code)

    def covers(self, code: str | None) -> bool:
        """True when the division `code` lies in this region (itself included)."""
        return bool(code) and code.startswith(self.prefix)

    @property
    def city_code(self) -> str:
        return self.code[:4] + "00" if self.level != "province" else self.code


class OrganizationKind(models.TextChoices):
    COUNTY_GOVERNMENT = "county_government", "County government"
    CITY_GOVERNMENT = "city_government", "City government"
    PROVINCIAL_AUTHORITY = "provincial_authority", "Provincial authority"
    ENTERPRISE = "enterprise", "Enterprise"
    REGULATOR = "regulator", "Regulator"
    EXCHANGE_OPERATOR = "exchange_operator", "Exchange operator"
    MONITORING_STATION = "monitoring_station", "Monitoring station (submits measured environmental data)"
    VERIFIER = "verifier", "Verifier (third-party emissions verification body)"


GOVERNMENT_KINDS = {"county_government", "city_government", "provincial_authority"}
# the kinds of organization that may trade (buy, sell, list, bid): enterprises and governments
TRADING_KINDS = ("enterprise", "county_government", "city_government", "provincial_authority")


class OrganizationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class Organization(models.Model):
    kind = models.CharField(max_length=24, choices=OrganizationKind.choices, db_index=True)
    name_zh = models.CharField(max_length=120)
    name_en = models.CharField(max_length=160, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="organizations")
    uscc = models.CharField("unified social credit code", max_length=18, unique=True, validators=[validate_uscc])
    status = models.CharField(max_length=10, choices=OrganizationStatus.choices, default=OrganizationStatus.ACTIVE)
    jurisdiction = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.PROTECT, related_name="regulators"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="subsidiaries",
        help_text="declared parent organization (used by surveillance for related-party checks)",
    )
    discharge_permit_no = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("organization")
        verbose_name_plural = gettext_lazy("organizations")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="regulator") | Q(jurisdiction__isnull=False), name="regulator_has_jurisdiction"
            ),
            models.CheckConstraint(condition=Q(uscc__regex=r"^[0-9A-HJ-NPQRTUWXY]{18}$"), name="uscc_charset"),
        ]

    def __str__(self):
        return self.name_zh

    @property
    def is_active(self) -> bool:
        return self.status == OrganizationStatus.ACTIVE


class User(AbstractUser):
    """A person. What they may do depends on the membership they act through."""

    display_name = models.CharField(max_length=120, blank=True)


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    TRADER = "trader", "Trader"
    APPROVER = "approver", "Approver"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("membership")
        verbose_name_plural = gettext_lazy("memberships")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org")]

    def __str__(self):
        return f"{self.user} @ {self.organization} ({self.role})"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"


class MembershipInvitation(models.Model):
    """An organization's admin asked an existing user to join: a membership only once the user accepts."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=10, choices=Role.choices)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("membership invitation")
        verbose_name_plural = gettext_lazy("membership invitations")
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["user", "organization"], condition=Q(status="pending"),
                                               name="one_pending_invitation")]


class ApiToken(models.Model):
    """A bearer token scoped to one membership. Only the SHA-256 of the secret is stored."""

    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="first characters of the secret, for display")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    class Meta:
        verbose_name = gettext_lazy("API token")
        verbose_name_plural = gettext_lazy("API tokens")


class AuditEvent(models.Model):
    """One user (or system) action. Append-only: triggers refuse UPDATE and DELETE."""

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False)
    actor_organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False
    )
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    # datetimes, dates and decimals in a payload are stored as ISO strings and decimal strings
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    request_id = models.CharField(max_length=64, blank=True)
    region_codes = models.JSONField(default=list, blank=True, help_text="regions the action concerns (for scoping)")

    class Meta:
        verbose_name = gettext_lazy("audit event")
        verbose_name_plural = gettext_lazy("audit events")
        ordering = ["-id"]
        indexes = [models.Index(fields=["object_type", "object_id"]),
                   models.Index(fields=["action"], name="audit_action")]  # no `_like` pattern index
