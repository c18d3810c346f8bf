"""Routes of the accounts API, mounted at /api/v1/ (no trailing slashes)."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=False)
router.register("regions", views.RegionViewSet, basename="region")
router.register("basins", views.BasinViewSet, basename="basin")
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("memberships", views.MembershipViewSet, basename="membership")

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/password", views.PasswordView.as_view(), name="auth-password"),
    path("me", views.MeView.as_view(), name="me"),
    path("invitations", views.InvitationListView.as_view(), name="invitation-list"),
    path("invitations/<int:pk>/accept", views.InvitationAcceptView.as_view(), name="invitation-accept"),
    path("invitations/<int:pk>/decline", views.InvitationDeclineView.as_view(), name="invitation-decline"),
    *router.urls,
]
