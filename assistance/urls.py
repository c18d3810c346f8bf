"""Routes of the assistance API, mounted at /api/v1/ (no trailing slashes)."""
from django.urls import path, re_path

from . import views

urlpatterns = [
    path("assistance/pairs", views.PairListView.as_view(), name="assistance-pairs"),
    path("assistance/pairs/<int:pk>", views.PairDetailView.as_view(), name="assistance-pair"),
    path("assistance/pairs/<int:pk>/agreements", views.AgreementProposeView.as_view(),
         name="assistance-pair-agreements"),
    path("assistance/agreements/<int:pk>/approve", views.AgreementApproveView.as_view(),
         name="assistance-agreement-approve"),
    path("assistance/agreements/<int:pk>/reject", views.AgreementRejectView.as_view(),
         name="assistance-agreement-reject"),
    path("assistance/payments", views.PaymentListView.as_view(), name="assistance-payments"),
    path("assistance/payments/<int:pk>/confirm", views.PaymentConfirmView.as_view(),
         name="assistance-payment-confirm"),
    path("assistance/payments/<int:pk>/reject", views.PaymentRejectView.as_view(), name="assistance-payment-reject"),
    path("assistance/reports/progress", views.ProgressReportView.as_view(), name="assistance-report-progress"),
    path("assistance/reports/regions", views.RegionReportView.as_view(), name="assistance-report-regions"),
    re_path(r"^assistance/exports/progress\.(?P<fmt>csv|xlsx|jsonl)$", views.ProgressExportView.as_view(),
            name="assistance-export-progress"),
    path("assistance/commitments", views.CommitmentListView.as_view(), name="assistance-commitments"),
    path("assistance/commitments/<int:pk>", views.CommitmentDetailView.as_view(), name="assistance-commitment"),
    path("assistance/commitments/<int:pk>/fulfilments", views.FulfilmentView.as_view(),
         name="assistance-commitment-fulfilments"),
    re_path(r"^assistance/exports/commitments\.(?P<fmt>csv|xlsx|jsonl)$", views.CommitmentExportView.as_view(),
            name="assistance-export-commitments"),
]
