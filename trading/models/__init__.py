"""The models of trading, one module per room, under the one app label `trading` (so tables and
migrations did not move): orders, trades, trade events and the settlement outbox (`trades`), listings and
bids (`listings`), webhook endpoints and deliveries (`webhooks`), package bids (`packages`)."""
from trading.models.listings import Bid, BidStatus, Listing, ListingKind, ListingStatus
from trading.models.packages import Package, PackageLeg, PackageStatus
from trading.models.trades import (
    TERMINAL_TRADE_STATUSES,
    Order,
    OrderRequest,
    OrderRequestKind,
    OrderStatus,
    OutboxStatus,
    SettlementOutbox,
    Side,
    TimeInForce,
    Trade,
    TradeEvent,
    TradeSource,
    TradeStatus,
)
from trading.models.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "TERMINAL_TRADE_STATUSES", "Bid", "BidStatus", "Listing", "ListingKind", "ListingStatus", "Order", "OrderRequest",
    "OrderRequestKind", "OrderStatus", "OutboxStatus", "Package", "PackageLeg", "PackageStatus",
    "SettlementOutbox", "Side", "TimeInForce", "Trade", "TradeEvent", "TradeSource", "TradeStatus",
    "WebhookDelivery", "WebhookEndpoint",
]
