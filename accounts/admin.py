from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import ApiToken, AuditEvent, Basin, Membership, Organization, Region, User


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "level", "parent", "zone")
    list_filter = ("level", "zone", "basins")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(Basin)
class BasinAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("id", "name_zh", "kind", "region", "uscc", "status", "jurisdiction")
    list_filter = ("kind", "status", "region__zone")
    search_fields = ("name_zh", "name_en", "uscc")
    raw_id_fields = ("region", "jurisdiction", "parent")
    inlines = [MembershipInline]


@admin.register(User)
class ExchangeUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "email", "is_staff", "is_active")
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role", "is_active")
    list_filter = ("role", "is_active", "organization__kind")
    search_fields = ("user__username", "organization__name_zh")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "membership", "created_at", "expires_at", "revoked_at")
    readonly_fields = ("key_hash", "prefix", "membership", "created_at", "expires_at")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "action", "object_type", "object_id", "actor_user", "actor_organization", "request_id")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "request_id")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
