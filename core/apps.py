from django.apps import AppConfig


class CoreConfig(AppConfig):
    """A minimal app (no models): it exists so that its OpenAPI hooks load with the others."""

    name = "core"
    verbose_name = "Platform kernel"

    def ready(self):
        from django.core.signals import request_finished

        from . import logs, schema  # noqa: F401  (schema registers the OpenAPI authentication extension)

        request_finished.connect(logs.request_finished, dispatch_uid="core.logs.request_finished")
