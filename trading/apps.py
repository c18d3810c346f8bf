from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"

    def ready(self):
        from accounts.services import organization_suspended
        from trading.listings import freeze as listings_freeze
        from trading.orderbook import freeze as orderbook_freeze

        # freezing an organization pulls its orders, listings and bids in the suspension's transaction
        organization_suspended.connect(orderbook_freeze.on_organization_suspended, dispatch_uid="trading.freeze.orders")
        organization_suspended.connect(listings_freeze.on_organization_suspended,
                                       dispatch_uid="trading.freeze.listings")
