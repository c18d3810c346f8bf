from django.apps import AppConfig


class OversightConfig(AppConfig):
    name = "oversight"

    def ready(self):
        # imported here, not at module top: an AppConfig module is loaded before the models are ready
        from trading.common.signals import trades_pending_approval

        from .approvals import on_trades_pending_approval

        trades_pending_approval.connect(on_trades_pending_approval, dispatch_uid="oversight.open_approvals")
