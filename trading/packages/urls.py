"""Routes of package bids, mounted at /api/v1/: packages (GET own, POST place)."""
from django.urls import path

from trading.packages.views import PackageListView

urlpatterns = [path("packages", PackageListView.as_view(), name="package-list")]
