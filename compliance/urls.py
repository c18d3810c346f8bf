from django.urls import path

from . import views

urlpatterns = [
    path("compliance/coverage", views.CoverageView.as_view(), name="compliance-coverage"),
    path("compliance/years", views.YearsView.as_view(), name="compliance-years"),
    path("compliance/enterprises", views.EnterprisesView.as_view(), name="compliance-enterprises"),
    path("compliance/allocations", views.AllocationsView.as_view(), name="compliance-allocations"),
    path("compliance/emissions", views.EmissionsView.as_view(), name="compliance-emissions"),
    path("compliance/surrenders", views.SurrendersView.as_view(), name="compliance-surrenders"),
    path("compliance/obligations", views.ObligationsView.as_view(), name="compliance-obligations"),
    path("compliance/shortfalls", views.ShortfallsView.as_view(), name="compliance-shortfalls"),
]
