from django.apps import apps
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.health import healthz, readyz

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("ledger.urls")),
    path("", include("marketplace.urls")),
    path("", include("trading.orderbook.urls")),
    path("", include("trading.listings.urls")),
    path("", include("trading.settlement.urls")),
    path("", include("trading.notifications.urls")),
    path("", include("oversight.urls")),
]

# the API's error envelope under /api/, Django's plain pages elsewhere (never the URL map)
handler400 = "core.handlers.handler400"
handler403 = "core.handlers.handler403"
handler404 = "core.handlers.handler404"
handler500 = "core.handlers.handler500"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves Swagger UI's start-up script as a file: no inline script, so a strict CSP holds
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include(api_v1)),
]
if apps.is_installed("bench"):  # only with ENABLE_BENCH_APP=1 (`make bench`)
    urlpatterns.append(path("api/v1/bench/", include("bench.urls")))
