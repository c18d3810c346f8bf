from django.apps import AppConfig


class ReserveConfig(AppConfig):
    name = "reserve"
    verbose_name = "Government reserve (收储)"
    default_auto_field = "django.db.models.BigAutoField"
