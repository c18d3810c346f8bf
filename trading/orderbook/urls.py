"""Routes of the order book API, mounted at /api/v1/ without trailing slashes, like the rest of the
API: orders, orders/{id}, orders/{id}/cancel|reduce, trades, trades/{id}, trades/events,
markets/{id}/book|trades|candles|close, feed/trades (public)."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from trading.orderbook.views import (
    MarketCandlesView,
    MarketCloseView,
    MarketDepthView,
    MarketTradesView,
    OrderViewSet,
    PublicTradeFeedView,
    TradeViewSet,
)

router = SimpleRouter(trailing_slash=False)
router.register("orders", OrderViewSet, basename="order")
router.register("trades", TradeViewSet, basename="trade")

urlpatterns = router.urls + [
    path("markets/<int:pk>/book", MarketDepthView.as_view(), name="market-book"),
    path("markets/<int:pk>/trades", MarketTradesView.as_view(), name="market-trades"),
    path("markets/<int:pk>/candles", MarketCandlesView.as_view(), name="market-candles"),
    path("markets/<int:pk>/close", MarketCloseView.as_view(), name="market-close"),
    path("feed/trades", PublicTradeFeedView.as_view(), name="trade-feed"),
]
