from django.apps import AppConfig


class AssistanceConfig(AppConfig):
    name = "assistance"
    label = "assistance"
    verbose_name = "Paired assistance (山海协作对口帮扶) and farmland buyers' support commitments"
    default_auto_field = "django.db.models.BigAutoField"
