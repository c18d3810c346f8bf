"""Routes of the market directory, mounted at /api/v1/ without trailing slashes: markets,
markets/{id}, markets/{id}/halt|resume (a trailing slash is still accepted, undocumented)."""
from rest_framework.routers import SimpleRouter

from .views import MarketViewSet

router = SimpleRouter(trailing_slash=False)
router.register("markets", MarketViewSet, basename="market")
legacy = SimpleRouter(trailing_slash=True)
legacy.register("markets", type("LegacyMarketViewSet", (MarketViewSet,), {"schema": None}), basename="market-slash")
urlpatterns = router.urls + legacy.urls
