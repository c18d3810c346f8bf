"""The compliance API (mounted under /api/v1/compliance/). Views parse, authorize by role and kind, and
render; every change is one call to `compliance.services` (which checks the object-level rules: the
year's authority, the assigned verifier, the covered enterprise)."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import GOVERNMENT_KINDS
from accounts.permissions import acting_membership, member_with
from core.api import error_responses
from core.money import from_minor
from ledger.views import IDEMPOTENCY_HEADER, idempotency_key
from oversight.scope import OVERSIGHT_KINDS

from . import selectors, services
from .serializers import (
    AllocationInput,
    AllocationSerializer,
    CoverageInput,
    CoverageSerializer,
    CoveredSerializer,
    CoverInput,
    EmissionInput,
    EmissionSerializer,
    ObligationSerializer,
    ShortfallReportSerializer,
    SurrenderInput,
    SurrenderSerializer,
    YearField,
    YearInput,
    YearSerializer,
)

WRITERS = ("admin", "trader")
GOVERNMENT = tuple(sorted(GOVERNMENT_KINDS))
GovernmentAdmin = member_with(roles=("admin",), kinds=GOVERNMENT)
GovernmentWriter = member_with(roles=WRITERS, kinds=GOVERNMENT)
VerifierWriter = member_with(roles=WRITERS, kinds=("verifier",))
EnterpriseWriter = member_with(roles=WRITERS, kinds=("enterprise",))
Oversight = member_with(roles=(), kinds=(), safe_kinds=OVERSIGHT_KINDS)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 422)
TAGS = ["compliance"]
YEAR_PARAM = OpenApiParameter("year", OpenApiTypes.INT, description="a compliance year's id")


def _m(request):
    return acting_membership(request)


def _rid(request) -> str:
    return getattr(request, "request_id", "")


def _valid(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _year_param(request, *, required: bool = False):
    raw = request.query_params.get("year")
    if raw is None:
        if required:
            raise serializers.ValidationError({"year": [serializers.ErrorDetail("required", code="required")]})
        return None
    return YearField().run_validation(raw) if raw else None


def _replayable(data, replayed: bool) -> Response:
    response = Response(data, status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


class CoverageView(APIView):
    permission_classes = [GovernmentAdmin]  # reads: every member (member_with's safe roles)

    @extend_schema(tags=TAGS, operation_id="compliance_coverage_list",
                   summary="Where each right type runs a compliance cycle (data, not code)",
                   responses={200: CoverageSerializer(many=True), **error_responses(401, 403)})
    def get(self, request):
        return Response(CoverageSerializer(selectors.coverage(), many=True).data)

    @extend_schema(tags=TAGS, operation_id="compliance_coverage_create",
                   summary="Put a right type of one's division under a compliance cycle (a government admin)",
                   request=CoverageInput, responses={201: CoverageSerializer, **WRITE_ERRORS})
    def post(self, request):
        v = _valid(CoverageInput, request)
        row = services.coverage_create(membership=_m(request), right_type_id=v["right_type"], region_id=v["region"],
                                       subtype=v["subtype"], since_year=v["since_year"], request_id=_rid(request))
        return Response(CoverageSerializer(row).data, status=status.HTTP_201_CREATED)


class YearsView(APIView):
    permission_classes = [GovernmentWriter]

    @extend_schema(tags=TAGS, operation_id="compliance_years_list", summary="Compliance years",
                   responses={200: YearSerializer(many=True), **error_responses(401, 403)})
    def get(self, request):
        return Response(YearSerializer(selectors.years()[:500], many=True).data)

    @extend_schema(tags=TAGS, operation_id="compliance_years_create",
                   summary="Open a compliance year (the allowance's registered issuer)",
                   request=YearInput, responses={201: YearSerializer, **WRITE_ERRORS})
    def post(self, request):
        v = _valid(YearInput, request)
        year = services.compliance_year_create(
            membership=_m(request), right_type_id=v["right_type"], region_id=v["region"], year=v["year"],
            allocation_asset=v["allocation_asset"], deadline=v["deadline"],
            pre_allocation_percent=v["pre_allocation_percent"], name=v["name"], request_id=_rid(request))
        return Response(YearSerializer(year).data, status=status.HTTP_201_CREATED)


class EnterprisesView(APIView):
    permission_classes = [GovernmentWriter]

    @extend_schema(tags=TAGS, operation_id="compliance_enterprises_create",
                   summary="Cover an enterprise in a year: allocation method and verifier (the year's authority)",
                   request=CoverInput, responses={201: CoveredSerializer, **WRITE_ERRORS})
    def post(self, request):
        v = _valid(CoverInput, request)
        covered = services.enterprise_cover(
            membership=_m(request), year=v["year"], organization=v["organization"], method=v["method"],
            benchmark=v.get("benchmark"), listed_amount=v.get("listed_amount"), output_unit=v["output_unit"],
            verifier=v.get("verifier"), request_id=_rid(request))
        return Response(CoveredSerializer(covered).data, status=status.HTTP_201_CREATED)


class AllocationsView(APIView):
    permission_classes = [GovernmentWriter]

    @extend_schema(tags=TAGS, operation_id="compliance_allocations_list",
                   summary="Allocations the acting organization may see", parameters=[YEAR_PARAM],
                   responses={200: AllocationSerializer(many=True), **error_responses(400, 401)})
    def get(self, request):
        qs = selectors.allocations_visible(_m(request), getattr(_year_param(request), "pk", None))
        return Response(AllocationSerializer(qs[:1000], many=True).data)

    @extend_schema(tags=TAGS, operation_id="compliance_allocations_create",
                   summary="Propose a pre-allocation or the true-up (the year's authority; a positive amount is "
                           "an issuance request another person confirms at /movement-requests/{id}/confirm; a "
                           "negative true-up is owed: added to the obligation)",
                   request=AllocationInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: AllocationSerializer,
                              200: OpenApiResponse(AllocationSerializer, description="replay"),
                              **WRITE_ERRORS})
    def post(self, request):
        key = idempotency_key(request)
        v = _valid(AllocationInput, request)
        allocation, replayed = services.allocation_propose(
            membership=_m(request), year=v["year"], organization=v["organization"], phase=v["phase"],
            amount=v.get("amount"), expected_output=v.get("expected_output"), idempotency_key=key,
            request_id=_rid(request))
        return _replayable(AllocationSerializer(allocation).data, replayed)


class EmissionsView(APIView):
    permission_classes = [VerifierWriter]

    @extend_schema(tags=TAGS, operation_id="compliance_emissions_list",
                   summary="Verified emissions (every version) the acting organization may see",
                   parameters=[YEAR_PARAM], responses={200: EmissionSerializer(many=True), **error_responses(400, 401)})
    def get(self, request):
        qs = selectors.emissions_visible(_m(request), getattr(_year_param(request), "pk", None))
        return Response(EmissionSerializer(qs[:1000], many=True).data)

    @extend_schema(tags=TAGS, operation_id="compliance_emissions_create",
                   summary="Submit verified emissions (the assigned verifier); a correction is a new version "
                           "with a reason", request=EmissionInput, responses={201: EmissionSerializer, **WRITE_ERRORS})
    def post(self, request):
        v = _valid(EmissionInput, request)
        row = services.emission_submit(
            membership=_m(request), year=v["year"], organization=v["organization"], amount=v["amount"],
            output=v.get("output"), evidence_sha256=v["evidence_sha256"], evidence_reference=v["evidence_reference"],
            reason=v["reason"], request_id=_rid(request))
        return Response(EmissionSerializer(row).data, status=status.HTTP_201_CREATED)


class SurrendersView(APIView):
    permission_classes = [EnterpriseWriter]

    @extend_schema(tags=TAGS, operation_id="compliance_surrenders_create",
                   summary="Surrender allowances for a year (清缴) before its deadline: a ledger retirement",
                   request=SurrenderInput, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: SurrenderSerializer, 200: OpenApiResponse(SurrenderSerializer, description="replay"),
                              **WRITE_ERRORS})
    def post(self, request):
        key = idempotency_key(request)
        v = _valid(SurrenderInput, request)
        surrender, replayed = services.surrender_create(membership=_m(request), year=v["year"], asset=v["asset"],
                                                        amount=v["amount"], idempotency_key=key,
                                                        request_id=_rid(request))
        return _replayable(SurrenderSerializer(surrender).data, replayed)


class ObligationsView(APIView):
    @extend_schema(tags=TAGS, operation_id="compliance_obligations_list",
                   summary="Obligations: allocated, verified emissions, owed true-up, surrendered, remaining, "
                           "deadline (an enterprise its own; verifiers, authorities and regulators what they cover)",
                   parameters=[YEAR_PARAM],
                   responses={200: ObligationSerializer(many=True), **error_responses(400, 401)})
    def get(self, request):
        rows = selectors.obligations(_m(request), getattr(_year_param(request), "pk", None))
        return Response(ObligationSerializer(rows, many=True).data)


def report_data(membership, year) -> dict:
    report = selectors.shortfall_report(membership, year)
    scale = year.allocation_asset.scale
    amounts = ("obligation", "surrendered", "shortfall")
    return {"year": year, "deadline_passed": year.deadline < services.today(),
            "rows": [{**r, **{k: from_minor(r[k], scale) for k in amounts}} for r in report["rows"]],
            "regions": [{**r, **{k: from_minor(r[k], scale) for k in amounts}} for r in report["regions"]]}


class ShortfallsView(APIView):
    permission_classes = [Oversight]

    @extend_schema(tags=TAGS, operation_id="compliance_shortfalls_report",
                   summary="Shortfall list of a year per enterprise and region (regulators in their jurisdiction, "
                           "the operator)", parameters=[OpenApiParameter("year", OpenApiTypes.INT, required=True)],
                   responses={200: ShortfallReportSerializer, **error_responses(400, 401, 403)})
    def get(self, request):
        year = _year_param(request, required=True)
        return Response(ShortfallReportSerializer(report_data(_m(request), year)).data)
