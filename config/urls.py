from django.apps import apps
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.health import healthz, readyz
from core.metrics import metrics_view

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("ledger.urls")),
    path("", include("marketplace.urls")),
    path("", include("trading.orderbook.urls")),
    path("", include("trading.listings.urls")),
    path("", include("trading.packages.urls")),
    path("", include("trading.settlement.urls")),
    path("", include("trading.notifications.urls")),
    path("", include("oversight.urls")),
    path("", include("compensation.urls")),
    path("", include("assistance.urls")),
    path("", include("compliance.urls")),
    path("", include("reserve.urls")),
]

admin.site.site_header = "海峡资源环境交易中心 · 运营管理后台 / Exchange operator admin"
admin.site.site_title = "交易中心运营后台 / Exchange admin"
admin.site.index_title = "运营管理 / Operations"

# the API's error envelope under /api/, Django's plain pages elsewhere (never the URL map)
handler400 = "core.handlers.handler400"
handler403 = "core.handlers.handler403"
handler404 = "core.handlers.handler404"
handler500 = "core.handlers.handler500"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves Swagger UI's start-up script as a file: no inline script, so a strict CSP holds
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include(api_v1)),
    path("", include("console.urls")),  # the web console (top layer; nothing imports it)
]
if apps.is_installed("bench"):  # only with ENABLE_BENCH_APP=1 (`make bench`)
    urlpatterns.append(path("api/v1/bench/", include("bench.urls")))
