from django.apps import AppConfig


class ReserveConfig(AppConfig):
    name = "reserve"
    verbose_name = "Government reserve (收储)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # a reserve body listing directly (not through a release) still meets the guided floor
        from trading.common.signals import listing_checking

        from .services import refuse_direct_listing_below_floor

        listing_checking.connect(refuse_direct_listing_below_floor, dispatch_uid="reserve-floor")
