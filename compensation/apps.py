from django.apps import AppConfig


class CompensationConfig(AppConfig):
    name = "compensation"
    verbose_name = "Compensation between regions"
    default_auto_field = "django.db.models.BigAutoField"
