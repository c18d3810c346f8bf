"""Routes of webhooks, mounted at /api/v1/ (no trailing slashes)."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from trading.notifications.views import OperatorWebhookDeliveriesView, WebhookEndpointViewSet

router = SimpleRouter(trailing_slash=False)
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path("webhook-deliveries", OperatorWebhookDeliveriesView.as_view(), name="webhook-delivery-log"),
    *router.urls,
]
