"""HTTP endpoints of accounts: login/logout/refresh, `me`, regions, basins, the organization directory
(managed by the exchange operator's admins) and memberships (managed by each organization's admins).

Views only parse input (strict serializers), check permissions, pick querysets from `selectors` and call
`services`; every write is a service call that records its audit event in the same transaction.

Acting organization: a token is scoped to one membership, chosen at login (`organization`, optional
when the user has exactly one active membership). To act for another organization, log in again.
"""
from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiTypes,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from core.errors import field_error
from core.throttles import LoginThrottle

from . import selectors, services
from .actor import Actor
from .filters import MembershipFilter, OrganizationFilter, RegionFilter
from .models import Membership, Organization
from .permissions import (
    IsMember,
    IsOrgAdmin,
    ReadAnyWriteOperatorAdmin,
    acting_membership,
    is_operator_admin,
)
from .serializers import (
    MAX_ID,
    BasinSerializer,
    EmptyInputSerializer,
    LoginInputSerializer,
    MembershipCreateInputSerializer,
    MembershipSerializer,
    MembershipUpdateInputSerializer,
    MeSerializer,
    OrganizationCreateInputSerializer,
    OrganizationSerializer,
    OrganizationStatusInputSerializer,
    OrganizationUpdateInputSerializer,
    RegionSerializer,
    TokenSerializer,
)

AUTH_ERRORS = error_responses(401, 403)


def _validated(serializer_class, request, **kwargs) -> dict:
    # request.data is read here: a non-JSON body becomes 415 before anything else happens
    serializer = serializer_class(data=request.data if request.data is not None else {}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _token_body(secret, token) -> dict:
    return TokenSerializer({"token": secret, "expires_at": token.expires_at, "membership": token.membership}).data


class IntIdLookupMixin:
    """Ids in the URL are checked before the database sees them: `/organizations/abc` or an id beyond
    bigint is a 404 in the error envelope, not a database error (the route takes any segment so that
    the envelope, not Django's HTML page, answers)."""

    lookup_value_regex = "[^/]+"

    def get_object(self):
        raw = str(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, ""))
        if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
            raise Http404
        return super().get_object()


# --- authentication ----------------------------------------------------------------------------------

class LoginView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = (LoginThrottle,)

    @extend_schema(
        operation_id="auth_login", tags=["auth"], request=LoginInputSerializer,
        responses={200: TokenSerializer, **error_responses(400, 401, 403, 415, 429)},
        description="Exchange a username and password for a bearer token acting for one organization. "
                    "`organization` may be left out when the user has exactly one active membership. "
                    "Throttled per username and client address.",
    )
    def post(self, request):
        data = _validated(LoginInputSerializer, request)
        secret, token = services.login(username=data["username"], password=data["password"],
                                       organization_id=data.get("organization"),
                                       request_id=getattr(request, "request_id", ""))
        return Response(_token_body(secret, token))


class LogoutView(APIView):
    permission_classes = (IsMember,)
    allow_suspended_organization = True  # leaving must always be possible

    @extend_schema(operation_id="auth_logout", tags=["auth"], request=None,
                   responses={204: None, **AUTH_ERRORS}, description="Revoke the token of this request.")
    def post(self, request):
        services.token_revoke(actor=Actor.from_request(request), token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RefreshView(APIView):
    permission_classes = (IsMember,)

    @extend_schema(operation_id="auth_refresh", tags=["auth"], request=None,
                   responses={200: TokenSerializer, **AUTH_ERRORS},
                   description="A new token for the same membership with a fresh expiry; this request's token "
                               "is revoked.")
    def post(self, request):
        _validated(EmptyInputSerializer, request)
        secret, token = services.token_refresh(actor=Actor.from_request(request), token=request.auth)
        return Response(_token_body(secret, token))


class MeView(APIView):
    @extend_schema(operation_id="me", tags=["auth"], responses={200: MeSerializer, **error_responses(401)},
                   description="The user, all of their memberships, and the membership this token acts for.")
    def get(self, request):
        m = acting_membership(request)
        body = {
            "user": m.user,
            "memberships": selectors.memberships_of_user(user_id=m.user_id),
            "acting": m,
            "token": request.auth,
        }
        return Response(MeSerializer(body).data)


# --- reference data ----------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(tags=["regions"], responses={200: RegionSerializer(many=True), **error_responses(400, 401)}),
    retrieve=extend_schema(tags=["regions"], responses={200: RegionSerializer, **error_responses(401, 404)}),
)
class RegionViewSet(viewsets.ReadOnlyModelViewSet):
    """GB/T 2260 divisions of Fujian (province, 9 cities, 83 county-level divisions)."""

    serializer_class = RegionSerializer
    filterset_class = RegionFilter
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.region_list()


@extend_schema_view(
    list=extend_schema(tags=["regions"], responses={200: BasinSerializer(many=True), **error_responses(401)}),
    retrieve=extend_schema(tags=["regions"], responses={200: BasinSerializer, **error_responses(401, 404)}),
)
class BasinViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BasinSerializer
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.basin_list()


# --- organizations -----------------------------------------------------------------------------------

ORG_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(responses={200: OrganizationSerializer(many=True), **error_responses(400, 401)},
                       description="The directory: every organization, with its public fields; non-public fields "
                                   "only where the caller may see them."),
    retrieve=extend_schema(parameters=[ORG_ID],
                           responses={200: OrganizationSerializer, **error_responses(401, 404)}),
    create=extend_schema(request=OrganizationCreateInputSerializer,
                         responses={201: OrganizationSerializer, **error_responses(400, 401, 403, 409, 415)},
                         description="Exchange operator admins only."),
    partial_update=extend_schema(parameters=[ORG_ID], request=OrganizationUpdateInputSerializer,
                                 responses={200: OrganizationSerializer,
                                            **error_responses(400, 401, 403, 404, 409, 415)},
                                 description="Exchange operator admins only. `kind` cannot change; status has "
                                             "the suspend/activate actions."),
)
class OrganizationViewSet(IntIdLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          viewsets.GenericViewSet):
    serializer_class = OrganizationSerializer
    permission_classes = (ReadAnyWriteOperatorAdmin,)
    filterset_class = OrganizationFilter
    queryset = Organization.objects.none()  # for the schema; real querysets come from selectors
    http_method_names = ("get", "post", "patch", "head", "options")

    def get_queryset(self):
        return selectors.organization_list(membership=acting_membership(self.request))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        m = acting_membership(self.request)
        if m is not None:
            context["sees_private"] = lambda org: selectors.organization_sees_private(membership=m, organization=org)
        return context

    def _render(self, org, status_code=status.HTTP_200_OK):
        return Response(self.get_serializer(org).data, status=status_code)

    def create(self, request):
        data = _validated(OrganizationCreateInputSerializer, request)
        org = services.organization_create(
            actor=Actor.from_request(request), kind=data["kind"], name_zh=data["name_zh"], name_en=data["name_en"],
            region_id=data["region"], uscc=data["uscc"], jurisdiction_id=data["jurisdiction"],
            parent_id=data["parent"], discharge_permit_no=data["discharge_permit_no"],
        )
        return self._render(org, status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        org = self.get_object()
        data = _validated(OrganizationUpdateInputSerializer, request)
        renames = {"region": "region_id", "jurisdiction": "jurisdiction_id", "parent": "parent_id"}
        changes = {renames.get(k, k): v for k, v in data.items()}
        org = services.organization_update(actor=Actor.from_request(request), organization=org, **changes)
        return self._render(org)

    def _set_status(self, request, new_status):
        org = self.get_object()
        data = _validated(OrganizationStatusInputSerializer, request)
        org = services.organization_set_status(actor=Actor.from_request(request), organization=org,
                                               status=new_status, reason=data["reason"])
        return self._render(org)

    @extend_schema(parameters=[ORG_ID], request=OrganizationStatusInputSerializer,
                   responses={200: OrganizationSerializer, **error_responses(400, 401, 403, 404, 409, 415)},
                   description="Exchange operator admins only. Members of a suspended organization may still "
                               "read but not write, and cannot log in.")
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        return self._set_status(request, "suspended")

    @extend_schema(parameters=[ORG_ID], request=OrganizationStatusInputSerializer,
                   responses={200: OrganizationSerializer, **error_responses(400, 401, 403, 404, 409, 415)},
                   description="Exchange operator admins only.")
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        return self._set_status(request, "active")


# --- memberships -------------------------------------------------------------------------------------

MEMBERSHIP_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(responses={200: MembershipSerializer(many=True), **error_responses(400, 401, 403)},
                       description="An organization's admins see their organization's memberships; the exchange "
                                   "operator's admins see all."),
    retrieve=extend_schema(parameters=[MEMBERSHIP_ID],
                           responses={200: MembershipSerializer, **error_responses(401, 403, 404)}),
    create=extend_schema(request=MembershipCreateInputSerializer,
                         responses={201: MembershipSerializer, **error_responses(400, 401, 403, 409, 415)},
                         description="With `password`: creates the user (Django's password validators apply). "
                                     "Without: attaches the existing user `username`."),
    partial_update=extend_schema(parameters=[MEMBERSHIP_ID], request=MembershipUpdateInputSerializer,
                                 responses={200: MembershipSerializer,
                                            **error_responses(400, 401, 403, 404, 409, 415)},
                                 description="Change the role or deactivate (which revokes the member's tokens). "
                                             "An organization keeps at least one active admin."),
)
class MembershipViewSet(IntIdLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet):
    serializer_class = MembershipSerializer
    permission_classes = (IsOrgAdmin,)
    filterset_class = MembershipFilter
    queryset = Membership.objects.none()  # for the schema; real querysets come from selectors
    http_method_names = ("get", "post", "patch", "head", "options")

    def get_queryset(self):
        return selectors.membership_list(membership=acting_membership(self.request))

    def create(self, request):
        m = acting_membership(request)
        data = _validated(MembershipCreateInputSerializer, request)
        org_id = data.get("organization", m.organization_id)
        if org_id != m.organization_id and not is_operator_admin(m):
            raise field_error("permission_denied", "organization")
        organization = Organization.objects.filter(pk=org_id).first()
        if organization is None:
            raise field_error("unknown_organization", "organization")
        membership = services.membership_add(
            actor=Actor.from_request(request), organization=organization, role=data["role"],
            username=data["username"], password=data.get("password"), display_name=data["display_name"],
            email=data["email"],
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        membership = self.get_object()
        data = _validated(MembershipUpdateInputSerializer, request)
        membership = services.membership_update(actor=Actor.from_request(request), membership=membership,
                                                role=data.get("role"), is_active=data.get("is_active"))
        return Response(MembershipSerializer(membership).data)
