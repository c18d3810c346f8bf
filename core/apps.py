from django.apps import AppConfig


class CoreConfig(AppConfig):
    """A minimal app (no models): it exists so that its OpenAPI hooks load with the others."""

    name = "core"
    verbose_name = "Platform kernel"

    def ready(self):
        from . import schema  # noqa: F401  (registers the OpenAPI authentication extension)
