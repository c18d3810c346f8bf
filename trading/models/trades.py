"""Orders, trades and the settlement outbox (listings and auctions live in `trading.models.listings`).

Design overview
---------------
* An `Order` exists only with its escrow: placing it holds the buyer's cash or the seller's rights
  in the ledger in the same transaction. `hold_remaining` is what is still held for the order; it always
  equals the worst-case cost of the order's remaining quantity (buy: value at the limit price plus the
  largest fee that could still be charged; sell: the remaining quantity).
* Matching runs in the placement transaction under the market row lock. Each fill moves part of the
  order's escrow to the `Trade` (`buyer_hold`, `seller_hold`); the ledger does not see that move — the
  money stays in the participant's held bucket — so "held = open exposure" reads: an organization's
  held balance of an asset equals the escrow of its open orders, unsettled trades, bids and listings.
* A trade is written with its `SettlementOutbox` row in the same transaction; the row, not the Celery
  message, is the durable truth that the trade needs settling.
* Rounding: a CNY amount computed from price × quantity or from a rate is rounded up to the next fen,
  once, where it is computed (`trading.common.pricing`, under the rule of `core.money`). Fees are charged
  on an order's cumulative filled value, so splitting an order into fills never changes its total fee.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from accounts.models import Organization, User
from marketplace.models import Market


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class TimeInForce(models.TextChoices):
    GTC = "gtc", "Good till cancelled"
    DAY = "day", "Day"
    IOC = "ioc", "Immediate or cancel"
    FOK = "fok", "Fill or kill"


class OrderStatus(models.TextChoices):
    # accepted: held and durable, waiting for the market's matching engine (`trading.orderbook.engine`)
    ACCEPTED = "accepted", "Accepted"
    OPEN = "open", "Open"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class Order(models.Model):
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="orders")
    # no single-column FK indexes: (organization, status, id) leads with the organization; nothing reads
    # orders by user (a user's deletion, which PROTECT checks, is an admin rarity)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="orders", db_index=False)
    user = models.ForeignKey(User, null=True, on_delete=models.PROTECT, db_index=False)
    side = models.CharField(max_length=4, choices=Side.choices)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC)
    price = models.BigIntegerField(help_text="limit, fen per unit")
    quantity = models.BigIntegerField(help_text="asset minor units")
    remaining = models.BigIntegerField()
    filled_value = models.BigIntegerField(default=0, help_text="fen, at execution prices")
    fees_charged = models.BigIntegerField(default=0)
    hold_remaining = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.OPEN)
    cancel_reason = models.CharField(max_length=40, blank=True)
    session = models.CharField(max_length=20, blank=True)
    rule_version = models.PositiveIntegerField(null=True)
    client_order_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = gettext_lazy("order")
        verbose_name_plural = gettext_lazy("orders")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0) & Q(quantity__gt=0), name="order_positive"),
            models.CheckConstraint(condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("quantity")),
                                   name="order_remaining_range"),
            models.CheckConstraint(condition=Q(hold_remaining__gte=0), name="order_hold_non_negative"),
            models.CheckConstraint(condition=~Q(status="open") | Q(remaining__gt=0), name="order_open_has_remaining"),
            models.CheckConstraint(condition=Q(status__in=("open", "accepted")) | Q(hold_remaining=0),
                                   name="order_closed_holds_nothing"),
        ]
        indexes = [
            models.Index(fields=["market", "price", "id"], name="order_book_asks",
                         condition=Q(status="open", side="sell")),
            models.Index(models.F("market"), models.F("price").desc(), models.F("id"), name="order_book_bids",
                         condition=Q(status="open", side="buy")),
            models.Index(fields=["organization", "status", "id"]),
            # surveillance's cancel-to-trade ratio reads a window of owner cancels (oversight.surveillance)
            models.Index(fields=["updated_at"], name="order_owner_cancels",
                         condition=Q(status="cancelled", cancel_reason="cancelled_by_owner")),
        ]


class OrderRequestKind(models.TextChoices):
    PLACE = "place", "Place"
    CANCEL = "cancel", "Cancel"
    REDUCE = "reduce", "Reduce"


class OrderRequest(models.Model):
    """A request waiting for its market's matching engine (`trading.orderbook.engine`): the engine takes
    a market's requests in id order, applies them to its book, and deletes them in the transaction that
    writes their results, so a request is either pending here or done (its outcome is on the order and
    in the audit log). Only markets matched by the engine have requests."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, db_index=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="requests", db_index=False)
    kind = models.CharField(max_length=6, choices=OrderRequestKind.choices)
    new_remaining = models.BigIntegerField(null=True, blank=True, help_text="reduce: the quantity left")
    user = models.ForeignKey(User, null=True, on_delete=models.PROTECT, db_index=False)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = gettext_lazy("order request")
        verbose_name_plural = gettext_lazy("order requests")
        indexes = [models.Index(fields=["market", "id"], name="order_request_queue")]


class TradeStatus(models.TextChoices):
    MATCHED = "matched", "Matched"
    PENDING_APPROVAL = "pending_approval", "Pending approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SETTLING = "settling", "Settling"
    SETTLED = "settled", "Settled"
    FAILED = "failed", "Failed"


TERMINAL_TRADE_STATUSES = {"settled", "failed", "rejected"}


class TradeSource(models.TextChoices):
    ORDER_BOOK = "order_book", "Order book"
    LISTING = "listing", "Fixed-price listing"
    AUCTION = "auction", "Auction"
    NEGOTIATED = "negotiated", "Negotiated transfer"


class Trade(models.Model):
    # single-column FK indexes on market, buyer and seller are left out: the (market, id), (buyer, id)
    # and (seller, id) indexes lead with them, and every index is another insertion per trade and per
    # settlement (the status update cannot be HOT)
    market = models.ForeignKey(Market, null=True, blank=True, on_delete=models.PROTECT, related_name="trades",
                               db_index=False)
    asset_id = models.BigIntegerField(help_text="the traded instrument (ledger asset)")
    source = models.CharField(max_length=12, choices=TradeSource.choices, default=TradeSource.ORDER_BOOK)
    buy_order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="buy_trades")
    sell_order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="sell_trades")
    listing_id = models.BigIntegerField(null=True, blank=True)
    buyer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="buy_trades", db_index=False)
    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sell_trades", db_index=False)
    price = models.BigIntegerField()
    quantity = models.BigIntegerField()
    value = models.BigIntegerField(help_text="fen")
    buyer_fee = models.BigIntegerField(default=0)
    seller_fee = models.BigIntegerField(default=0)
    buyer_hold = models.BigIntegerField(help_text="buyer's held cash earmarked for this trade")
    seller_hold = models.BigIntegerField(help_text="seller's held rights earmarked for this trade")
    aggressor = models.CharField(max_length=4, choices=Side.choices, blank=True)
    status = models.CharField(max_length=16, choices=TradeStatus.choices, default=TradeStatus.MATCHED)
    session = models.CharField(max_length=20, blank=True)
    rule_version = models.PositiveIntegerField(null=True)
    ledger_transaction_id = models.BigIntegerField(null=True, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("trade")
        verbose_name_plural = gettext_lazy("trades")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0) & Q(quantity__gt=0) & Q(value__gte=0),
                                   name="trade_positive"),
            models.CheckConstraint(condition=~Q(buyer=models.F("seller")), name="trade_no_self_trade"),
            models.CheckConstraint(condition=Q(buyer_hold__gte=models.F("value") + models.F("buyer_fee")),
                                   name="trade_buyer_hold_covers_cost"),
            models.CheckConstraint(condition=Q(seller_fee__lte=models.F("value")),
                                   name="trade_seller_fee_within_value"),
            models.CheckConstraint(condition=~Q(status="settled") | Q(ledger_transaction_id__isnull=False),
                                   name="trade_settled_has_ledger_txn"),
        ]
        indexes = [models.Index(fields=["market", "id"]), models.Index(fields=["buyer", "id"]),
                   models.Index(fields=["seller", "id"]), models.Index(fields=["status"], name="trade_status")]


class TradeEvent(models.Model):
    """The trade's lifecycle, one row per transition (what each party lists as its notifications)."""

    trade = models.ForeignKey(Trade, on_delete=models.PROTECT, related_name="events")
    status = models.CharField(max_length=16, choices=TradeStatus.choices)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("trade event")
        verbose_name_plural = gettext_lazy("trade events")
        ordering = ["id"]


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"


class SettlementOutbox(models.Model):
    trade = models.OneToOneField(Trade, on_delete=models.PROTECT, related_name="outbox")
    status = models.CharField(max_length=8, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    queue = models.CharField(max_length=30)
    not_before = models.DateTimeField(null=True, blank=True, help_text="end-of-day cut-off or public notice end")
    attempts = models.PositiveIntegerField(default=0)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("settlement outbox row")
        verbose_name_plural = gettext_lazy("settlement outbox")
        indexes = [models.Index(fields=["created_at"], name="outbox_pending", condition=Q(status="pending"))]
