"""The Django admin: the exchange operator's back office (session login, `is_staff` users).

Changes made here bypass the API's services, so every save and delete made through the admin writes an
audit event itself, in the admin's own transaction. Regions are reference data (codes are fixed; basin
membership may be edited); tokens and audit events are read-only, with a "revoke" action for tokens.
"""
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.forms.models import model_to_dict
from django.utils import timezone

from .actor import Actor
from .audit import audit_record
from .models import ApiToken, AuditEvent, Basin, Membership, Organization, Region, User
from .services import organization_set_status, token_revoke


def _snapshot(obj) -> dict:
    data = model_to_dict(obj, exclude=["password"])
    return {k: (sorted(str(x.pk) for x in v) if isinstance(v, list) else
                v if isinstance(v, (int, str, bool, type(None))) else str(v)) for k, v in data.items()}


def _admin_actor(request) -> Actor:
    return Actor(user_id=request.user.pk, organization_id=None, role="admin_site", organization_kind="admin_site",
                 request_id=getattr(request, "request_id", ""))


class AuditedAdmin(admin.ModelAdmin):
    """Writes `<object_type>.admin_create|admin_update|admin_delete` audit events."""

    audit_object_type = ""

    def _regions(self, obj) -> list[str]:
        return []

    def save_model(self, request, obj, form, change):
        before = None
        if change and obj.pk:
            old = type(obj).objects.filter(pk=obj.pk).first()
            before = _snapshot(old) if old else None
        super().save_model(request, obj, form, change)
        action = f"{self.audit_object_type}.admin_{'update' if change else 'create'}"
        audit_record(actor=_admin_actor(request), action=action, object_type=self.audit_object_type,
                     object_id=obj.pk, before=before, after=_snapshot(obj), region_codes=self._regions(obj))

    def delete_model(self, request, obj):
        audit_record(actor=_admin_actor(request), action=f"{self.audit_object_type}.admin_delete",
                     object_type=self.audit_object_type, object_id=obj.pk, before=_snapshot(obj),
                     region_codes=self._regions(obj))
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Region)
class RegionAdmin(AuditedAdmin):
    audit_object_type = "region"
    list_display = ("code", "name_zh", "name_en", "level", "parent", "zone", "basin_list")
    list_filter = ("level", "zone", "basins", ("parent", admin.RelatedOnlyFieldListFilter))
    search_fields = ("code", "name_zh", "name_en")
    filter_horizontal = ("basins",)
    list_select_related = ("parent",)
    readonly_fields = ("code", "level", "parent")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("basins")

    @admin.display(description="basins")
    def basin_list(self, obj):
        return ", ".join(b.code for b in obj.basins.all())

    def has_add_permission(self, request):
        return False  # GB/T 2260 divisions come from the fixture, not from typing

    def has_delete_permission(self, request, obj=None):
        return False

    def _regions(self, obj):
        return [obj.code]


@admin.register(Basin)
class BasinAdmin(AuditedAdmin):
    audit_object_type = "basin"
    list_display = ("code", "name_zh", "name_en", "region_count")
    search_fields = ("code", "name_zh", "name_en")

    @admin.display(description="regions")
    def region_count(self, obj):
        return obj.regions.count()

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    """Read-only here: memberships are changed on their own page, where the change is audited."""

    model = Membership
    extra = 0
    fields = ("user", "organization", "role", "is_active", "created_at")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(AuditedAdmin):
    audit_object_type = "organization"
    list_display = ("id", "name_zh", "name_en", "kind", "region", "uscc", "status", "jurisdiction", "member_count")
    list_filter = ("kind", "status", "region__zone", "region__level",
                   ("jurisdiction", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name_zh", "name_en", "uscc", "region__code", "region__name_zh", "discharge_permit_no")
    raw_id_fields = ("region", "jurisdiction", "parent")
    list_select_related = ("region", "jurisdiction")
    readonly_fields = ("created_at",)
    date_hierarchy = "created_at"
    inlines = (MembershipInline,)
    actions = ("suspend", "activate")

    @admin.display(description="members")
    def member_count(self, obj):
        return obj.memberships.filter(is_active=True).count()

    def has_delete_permission(self, request, obj=None):
        return False  # suspend instead; the ledger and audit log keep referring to organizations

    def _regions(self, obj):
        return [obj.region_id]

    def _set_status(self, request, queryset, status):
        changed = 0
        for org in queryset.exclude(status=status):
            organization_set_status(actor=_admin_actor(request), organization=org, status=status,
                                    reason="admin site")
            changed += 1
        self.message_user(request, f"{changed} organization(s) now {status}", messages.SUCCESS)

    @admin.action(description="Suspend selected organizations", permissions=["change"])
    def suspend(self, request, queryset):
        self._set_status(request, queryset, "suspended")

    @admin.action(description="Activate selected organizations", permissions=["change"])
    def activate(self, request, queryset):
        self._set_status(request, queryset, "active")


@admin.register(User)
class ExchangeUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "email", "is_staff", "is_active", "last_login", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "memberships__role", "memberships__organization__kind")
    search_fields = ("username", "display_name", "email", "memberships__organization__name_zh")
    fieldsets = UserAdmin.fieldsets + (("Exchange", {"fields": ("display_name",)}),)
    inlines = (MembershipInline,)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(actor=_admin_actor(request), action=f"user.admin_{'update' if change else 'create'}",
                     object_type="user", object_id=obj.pk,
                     after={"username": obj.username, "is_active": obj.is_active, "is_staff": obj.is_staff,
                            "is_superuser": obj.is_superuser})

    def get_queryset(self, request):
        return super().get_queryset(request).distinct()


@admin.register(Membership)
class MembershipAdmin(AuditedAdmin):
    audit_object_type = "membership"
    list_display = ("id", "user", "organization", "role", "is_active", "created_at")
    list_filter = ("role", "is_active", "organization__kind", "organization__status")
    search_fields = ("user__username", "user__display_name", "organization__name_zh", "organization__uscc")
    raw_id_fields = ("user", "organization")
    list_select_related = ("user", "organization")
    readonly_fields = ("created_at",)

    def has_delete_permission(self, request, obj=None):
        return False

    def _regions(self, obj):
        return [obj.organization.region_id]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not obj.is_active:
            ApiToken.objects.filter(membership=obj, revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "membership", "created_at", "expires_at", "revoked_at", "is_live")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "membership__organization__kind")
    search_fields = ("prefix", "membership__user__username", "membership__organization__name_zh")
    readonly_fields = ("key_hash", "prefix", "membership", "created_at", "expires_at", "revoked_at")
    list_select_related = ("membership__user", "membership__organization")
    date_hierarchy = "created_at"
    actions = ("revoke",)

    @admin.display(boolean=True, description="live")
    def is_live(self, obj):
        return obj.revoked_at is None and obj.expires_at > timezone.now()

    def has_add_permission(self, request):
        return False  # tokens come from the login endpoint only

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            token_revoke(actor=_admin_actor(request), token=token)
        self.message_user(request, "revoked", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "action", "object_type", "object_id", "actor_user", "actor_organization",
                    "request_id")
    list_filter = ("action", "object_type", ("actor_organization", admin.RelatedOnlyFieldListFilter))
    search_fields = ("object_id", "request_id", "action", "actor_user__username")
    list_select_related = ("actor_user", "actor_organization")
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
