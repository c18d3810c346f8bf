"""Package bids API: `POST /packages` (place: 201 with the outcome, filled or unfilled) and `GET
/packages` (the acting organization's own, newest first; `?id=` for one). Thin: serializer → service."""
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from accounts.actor import Actor
from accounts.models import TRADING_KINDS
from accounts.permissions import acting_membership, member_with
from core.api import IdCursorPagination, error_responses
from core.errors import ApiError
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from marketplace.errors import NOT_A_TRADER
from trading.models import Package
from trading.packages import selectors
from trading.packages.serializers import PackageCreateSerializer, PackageSerializer
from trading.packages.services import package_place

IdemHeader = OpenApiParameter(IDEMPOTENCY_PARAMETER["name"], str, OpenApiParameter.HEADER, required=False,
                              description=IDEMPOTENCY_PARAMETER["description"])


class PackageListView(generics.ListAPIView):
    pagination_class = IdCursorPagination  # grows with activity: cursor (README "API conventions")
    serializer_class = PackageSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [member_with(roles=("admin", "trader"), kinds=TRADING_KINDS)()]
        return [member_with()()]

    def permission_denied(self, request, message=None, code=None):
        if request.auth is not None and request.method == "POST":
            raise ApiError(NOT_A_TRADER)
        super().permission_denied(request, message, code)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Package.objects.none()
        qs = selectors.packages_of(acting_membership(self.request).organization_id)
        package_id = self.request.query_params.get("id")
        if package_id is not None:
            if not package_id.isdigit() or len(package_id) > 18:
                raise ApiError("validation_error", fields={"id": gettext("a package id")})
            qs = qs.filter(pk=int(package_id))
        return qs

    @extend_schema(operation_id="packages_list", tags=["packages"],
                   parameters=[OpenApiParameter("id", int, description="only this package")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(operation_id="packages_create", tags=["packages"], request=PackageCreateSerializer,
                   parameters=[IdemHeader],
                   responses={201: PackageSerializer,
                              200: OpenApiResponse(PackageSerializer, description="an idempotent replay"),
                              **error_responses(400, 403, 404, 409, 422)})
    def post(self, request):
        organization = acting_membership(request).organization

        def handler():
            data = PackageCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            result = package_place(actor=Actor.from_request(request), buyer=organization, legs=v["specs"],
                                   total_limit=v["total_limit"], client_reference=v["client_reference"])
            return Response(PackageSerializer(result.package).data, status=status.HTTP_201_CREATED)

        return idempotent(request, organization.id, handler)
