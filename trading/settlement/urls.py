"""Routes of the settlement reports and the earmarked payout, mounted at /api/v1/ (no trailing slashes)."""
from django.urls import path

from trading.settlement.views import (
    EarmarkedExportView,
    EarmarkedPayoutView,
    EarmarkedReportView,
    SettlementBatchesView,
)

urlpatterns = [
    path("settlement/batches", SettlementBatchesView.as_view(), name="settlement-batches"),
    path("settlement/earmarked-report", EarmarkedReportView.as_view(), name="settlement-earmarked-report"),
    path("settlement/earmarked-payouts", EarmarkedPayoutView.as_view(), name="settlement-earmarked-payouts"),
    path("settlement/exports/earmarked-funds", EarmarkedExportView.as_view(), name="settlement-export-earmarked"),
]
