"""Routes of the market directory, mounted at /api/v1/ without trailing slashes: markets,
markets/{id}, markets/{id}/halt|resume."""
from rest_framework.routers import SimpleRouter

from .views import MarketViewSet

router = SimpleRouter(trailing_slash=False)
router.register("markets", MarketViewSet, basename="market")
urlpatterns = router.urls
