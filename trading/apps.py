from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"

    def ready(self):
        from accounts.services import organization_suspended

        from .freeze import on_organization_suspended

        # freezing an organization pulls its orders, listings and bids in the same transaction
        organization_suspended.connect(on_organization_suspended, dispatch_uid="trading.freeze")
