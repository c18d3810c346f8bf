from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import (MarketCandlesView, MarketDepthView, MarketTradesView, OrderViewSet, PublicTradeFeedView,
                    TradeViewSet)

router = SimpleRouter()
router.register("orders", OrderViewSet, basename="order")
router.register("trades", TradeViewSet, basename="trade")
urlpatterns = router.urls + [
    path("markets/<int:pk>/book", MarketDepthView.as_view(), name="market-book"),
    path("markets/<int:pk>/trades", MarketTradesView.as_view(), name="market-trades"),
    path("markets/<int:pk>/candles", MarketCandlesView.as_view(), name="market-candles"),
    path("feed/trades", PublicTradeFeedView.as_view(), name="trade-feed"),
]
