"""Routes of the compensation API, mounted at /api/v1/ (no trailing slashes)."""
from django.urls import path, re_path

from . import views

urlpatterns = [
    path("compensation/agreements", views.AgreementListView.as_view(), name="compensation-agreements"),
    path("compensation/agreements/<int:pk>", views.AgreementDetailView.as_view(), name="compensation-agreement"),
    path("compensation/agreements/<int:pk>/versions", views.AgreementVersionCreateView.as_view(),
         name="compensation-agreement-versions"),
    path("compensation/versions/<int:pk>/sign", views.VersionSignView.as_view(), name="compensation-version-sign"),
    path("compensation/approvals", views.ApprovalListView.as_view(), name="compensation-approvals"),
    path("compensation/approvals/<int:pk>/approve", views.ApprovalDecideView.as_view(),
         name="compensation-approval-approve"),
    path("compensation/approvals/<int:pk>/reject", views.ApprovalRejectView.as_view(),
         name="compensation-approval-reject"),
    path("compensation/assessments/<int:pk>/object", views.AssessmentObjectView.as_view(),
         name="compensation-assessment-object"),
    path("compensation/objections/<int:pk>/resolve", views.ObjectionResolveView.as_view(),
         name="compensation-objection-resolve"),
    path("compensation/measurements", views.MeasurementListView.as_view(), name="compensation-measurements"),
    path("compensation/measurements/upload", views.MeasurementUploadView.as_view(),
         name="compensation-measurements-upload"),
    path("compensation/reports/regions", views.RegionReportView.as_view(), name="compensation-report-regions"),
    re_path(r"^compensation/exports/results\.(?P<fmt>csv|xlsx|jsonl)$", views.ResultExportView.as_view(),
            name="compensation-export-results"),
]
