"""Routes of webhooks and settlement reports, mounted at /api/v1/ (no trailing slashes)."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from .webhook_views import (
    EarmarkedPayoutView,
    EarmarkedReportView,
    OperatorWebhookDeliveriesView,
    SettlementBatchesView,
    WebhookEndpointViewSet,
)

router = SimpleRouter(trailing_slash=False)
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path("settlement/batches", SettlementBatchesView.as_view(), name="settlement-batches"),
    path("settlement/earmarked-report", EarmarkedReportView.as_view(), name="settlement-earmarked-report"),
    path("settlement/earmarked-payouts", EarmarkedPayoutView.as_view(), name="settlement-earmarked-payouts"),
    path("webhook-deliveries", OperatorWebhookDeliveriesView.as_view(), name="webhook-delivery-log"),
    *router.urls,
]
