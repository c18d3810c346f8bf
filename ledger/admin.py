"""Read-only admin views of the registry and ledger. Nothing here can change a balance or a journal
row: value moves only through `ledger.services` (the database would refuse most edits anyway)."""
from django.contrib import admin

from .adminfmt import amount
from .models import Account, Asset, Checkpoint, LedgerTransaction, Posting, RightType


class ReadOnlyAdmin(admin.ModelAdmin):
    """Look, never touch: no add, change or delete (the change page shows the record read-only)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """An inline to look at: every listed field read-only, no add, change or delete."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RightType)
class RightTypeAdmin(ReadOnlyAdmin):
    list_display = ("code", "name_zh", "name_en", "default_unit", "basin_bound")


@admin.register(Asset)
class AssetAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "right_type", "subtype", "unit", "scale", "vintage", "origin_region", "basin",
                    "valid_from", "valid_to", "issuer")
    list_filter = ("kind", "right_type", "vintage")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "organization", "asset", "kind", "available_amount", "held_amount")
    list_filter = ("kind", "asset__right_type")
    search_fields = ("organization__name_zh", "asset__code")
    list_select_related = ("organization", "asset")

    @admin.display(description="可用 / available", ordering="available")
    def available_amount(self, obj):
        return amount(obj.available, obj.asset.scale, obj.asset.unit)

    @admin.display(description="冻结 / held", ordering="held")
    def held_amount(self, obj):
        return amount(obj.held, obj.asset.scale, obj.asset.unit)


class PostingInline(ReadOnlyInline):
    model = Posting
    fields = ("id", "account", "asset", "bucket", "formatted_amount")

    @admin.display(description="金额 / amount")
    def formatted_amount(self, obj):
        return amount(obj.amount, obj.asset.scale, obj.asset.unit)


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "created_at", "reference_type", "reference_id", "actor_organization_id", "xid")
    list_filter = ("kind",)
    search_fields = ("idempotency_key", "reference_id")
    date_hierarchy = "created_at"
    inlines = [PostingInline]


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ("tree_size", "root_hex", "xid_horizon", "created_at")

    @admin.display(description="root")
    def root_hex(self, obj):
        return bytes(obj.root_hash).hex()
