"""Routes of the market directory, mounted at /api/v1/ without trailing slashes: markets,
markets/{id}, markets/{id}/halt|resume, market-proposals[/{id}/confirm|reject]."""
from rest_framework.routers import SimpleRouter

from .views import MarketProposalViewSet, MarketViewSet

router = SimpleRouter(trailing_slash=False)
router.register("markets", MarketViewSet, basename="market")
router.register("market-proposals", MarketProposalViewSet, basename="market-proposal")
urlpatterns = router.urls
