"""The operator's admin for trading, read-only: orders, trades, listings, webhooks and their deliveries.
Amounts in the instrument's unit and in yuan. Every change goes through the trading services."""
from django.contrib import admin

from ledger.admin import ReadOnlyAdmin, ReadOnlyInline
from ledger.adminfmt import amount, asset_amount, asset_code, yuan

from .models import Listing, Order, Trade, WebhookDelivery, WebhookEndpoint


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "market", "organization", "side", "limit_price", "order_quantity", "open_quantity",
                    "status", "time_in_force", "created_at")
    list_filter = ("status", "side", "time_in_force")
    search_fields = ("market__code", "organization__name_zh", "client_order_id")
    list_select_related = ("market__asset", "organization")
    show_full_result_count = False

    @admin.display(description="限价 / limit", ordering="price")
    def limit_price(self, o):
        return yuan(o.price)

    @admin.display(description="数量 / quantity")
    def order_quantity(self, o):
        return amount(o.quantity, o.market.asset.scale, o.market.asset.unit)

    @admin.display(description="未成交 / remaining")
    def open_quantity(self, o):
        return amount(o.remaining, o.market.asset.scale, o.market.asset.unit)


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ("id", "instrument", "source", "buyer", "seller", "trade_price", "trade_quantity", "trade_value",
                    "status", "created_at")
    list_filter = ("status", "source")
    search_fields = ("buyer__name_zh", "seller__name_zh")
    list_select_related = ("buyer", "seller")
    show_full_result_count = False

    @admin.display(description="标的 / instrument")
    def instrument(self, t):
        return asset_code(t.asset_id)

    @admin.display(description="价格 / price", ordering="price")
    def trade_price(self, t):
        return yuan(t.price)

    @admin.display(description="数量 / quantity")
    def trade_quantity(self, t):
        return asset_amount(t.quantity, t.asset_id)

    @admin.display(description="金额 / value")
    def trade_value(self, t):
        return yuan(t.value)


@admin.register(Listing)
class ListingAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "title", "seller", "instrument", "listing_quantity", "listing_remaining",
                    "listing_price", "reserve", "status", "end_at")
    list_filter = ("kind", "status")
    search_fields = ("title", "seller__name_zh")
    list_select_related = ("seller",)

    @admin.display(description="标的 / instrument")
    def instrument(self, x):
        return asset_code(x.asset_id)

    @admin.display(description="数量 / quantity")
    def listing_quantity(self, x):
        return asset_amount(x.quantity, x.asset_id)

    @admin.display(description="剩余 / remaining")
    def listing_remaining(self, x):
        return asset_amount(x.remaining, x.asset_id)

    @admin.display(description="价格 / price")
    def listing_price(self, x):
        return yuan(x.price)

    @admin.display(description="保留价 / reserve")
    def reserve(self, x):
        return yuan(x.reserve_price)


class DeliveryInline(ReadOnlyInline):
    model = WebhookDelivery
    fields = ("id", "event", "trade_id", "status", "attempts", "last_error", "created_at", "delivered_at")
    max_num = 0
    ordering = ("-id",)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("id", "organization", "url", "created_at")
    search_fields = ("organization__name_zh", "url")
    exclude = ("secret",)  # the signing secret is the participant's, not for display
    list_select_related = ("organization",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("id", "endpoint", "event", "trade_id", "status", "attempts", "next_attempt_at", "delivered_at")
    list_filter = ("status", "event")
    list_select_related = ("endpoint",)
    show_full_result_count = False
