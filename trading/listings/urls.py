"""Routes of the listings API, mounted at /api/v1/ (no trailing slashes):
listings, listings/{id}, listings/{id}/cancel|buy|bids|accept|reject."""
from rest_framework.routers import SimpleRouter

from trading.listings.views import ListingViewSet

router = SimpleRouter(trailing_slash=False)
router.register("listings", ListingViewSet, basename="listing")
urlpatterns = router.urls
