from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, organizations and regions"

    def ready(self):
        from . import schema  # noqa: F401  (registers the OpenAPI authentication extension)
