"""Routes of webhooks, mounted at /api/v1/ (no trailing slashes)."""
from rest_framework.routers import SimpleRouter

from trading.notifications.views import WebhookEndpointViewSet

router = SimpleRouter(trailing_slash=False)
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = router.urls
