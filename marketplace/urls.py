from rest_framework.routers import SimpleRouter

from .views import MarketViewSet

router = SimpleRouter()
router.register("markets", MarketViewSet, basename="market")
urlpatterns = router.urls
