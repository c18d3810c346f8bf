"""Routes of the reserve API, mounted at /api/v1/ (see `reserve.views`)."""
from django.urls import path

from . import views

urlpatterns = [
    path("reserve/designations", views.DesignationListView.as_view(), name="reserve-designations"),
    path("reserve/designations/decide", views.DesignationDecideView.as_view(), name="reserve-designations-decide"),
    path("reserve/buybacks", views.BuybackListView.as_view(), name="reserve-buybacks"),
    path("reserve/buybacks/close", views.BuybackCloseView.as_view(), name="reserve-buybacks-close"),
    path("reserve/tenders", views.TenderView.as_view(), name="reserve-tenders"),
    path("reserve/releases", views.ReleaseListView.as_view(), name="reserve-releases"),
    path("reserve/overview", views.OverviewView.as_view(), name="reserve-overview"),
    path("reserve/export", views.ExportView.as_view(), name="reserve-export"),
]
