"""The operator's admin for oversight, read-only: approval requests (decided through the approvals API,
four-eyes), surveillance alerts."""
from django.contrib import admin

from ledger.admin import ReadOnlyAdmin

from .models import Alert, ApprovalRequest


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    list_display = ("id", "trade_id", "status", "jurisdiction", "required_approvals", "pending_since", "deadline")
    list_filter = ("status", "jurisdiction")


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "severity", "summary", "detected_at")
    list_filter = ("kind", "severity")
    search_fields = ("summary", "fingerprint")
