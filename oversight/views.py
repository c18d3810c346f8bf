"""The regulator API under /api/v1/oversight/, scoped to the caller's jurisdiction (see
`oversight.scope`). Readers: every member of a regulator or of the exchange operator. Deciders (approve,
reject, object, freeze, halt, run surveillance): their admins and approvers. Rulebook changes: the
operator or the provincial regulator. Views are thin: scope → filter → service → serializer."""
from __future__ import annotations

from datetime import date

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.plumbing import build_array_type, build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actor import Actor
from accounts.models import AuditEvent, Organization, Region
from accounts.permissions import acting_membership, member_with
from core.api import ORDERED_LIST_BACKENDS, DirectoryPagination, IdCursorPagination, error_responses, local_times
from core.errors import ApiError
from core.tabular import XLSX_TYPE, CsvRenderer, JsonLinesRenderer, XlsxRenderer, language
from ledger.models import Asset
from marketplace.models import Market, NonAttainmentFlag, RulebookVersion
from marketplace.rules import compiled, rule_kinds
from trading.models import Trade

from . import approvals as approval_services
from . import reports, serializers, services
from .dossier import trade_dossier
from .exports import AUDIT_COLUMNS, TRADE_COLUMNS, audit_rows, streaming, trade_rows
from .filters import AlertFilter, ApprovalFilter, AuditFilter, TradeFilter
from .models import Alert, ApprovalRequest
from .scope import DECIDING_ROLES, OVERSIGHT_KINDS, Scope
from .serializers import (
    AlertSerializer,
    ApprovalSerializer,
    AuditEventSerializer,
    CommentSerializer,
    FlagCreateSerializer,
    FlagSerializer,
    OrganizationStatusSerializer,
    OversightMarketSerializer,
    ReasonSerializer,
    RulebookCreateSerializer,
    RulebookSerializer,
    SurveillanceRunSerializer,
    TradeRowSerializer,
)
from .surveillance import run_surveillance

Oversight = member_with(roles=DECIDING_ROLES, kinds=OVERSIGHT_KINDS, safe_kinds=OVERSIGHT_KINDS)
PK = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
FMT = OpenApiParameter("fmt", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["csv", "xlsx", "jsonl"])
LANG = OpenApiParameter("lang", OpenApiTypes.STR, enum=["zh", "en"],
                        description="headers and names: Chinese or English (default: Accept-Language)")
EXPORT_RESPONSES = {(200, "text/csv"): OpenApiTypes.STR, (200, XLSX_TYPE): OpenApiTypes.BINARY,
                    (200, "application/x-ndjson"): OpenApiTypes.STR}


def _scope(request) -> Scope:
    return Scope(acting_membership(request))


def _membership(request):
    return acting_membership(request)


def _date(request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError("validation_error", fields={name: gettext("a date, YYYY-MM-DD")})


def _choice(request, name: str, choices, default):
    value = request.query_params.get(name, default)
    if value not in choices:
        raise ApiError("validation_error", fields={
            name: gettext("one of {choices}").format(choices=", ".join(choices))})
    return value


def _assets_for(trades) -> dict:
    ids = {t.asset_id for t in trades}
    return {pk: rest for pk, *rest in Asset.objects.filter(pk__in=ids).values_list(
        "id", "code", "right_type_id", "subtype", "origin_region_id", "scale")}


class OversightView(APIView):
    permission_classes = (Oversight,)


class OversightList(generics.ListAPIView):
    permission_classes = (Oversight,)
    pagination_class = IdCursorPagination


# --- trades ------------------------------------------------------------------------------------------

class TradeListView(OversightList):
    """Trades in the caller's jurisdiction (either party or the instrument's origin), newest first."""

    serializer_class = TradeRowSerializer
    filterset_class = TradeFilter
    queryset = Trade.objects.none()
    filter_backends = ORDERED_LIST_BACKENDS
    ordering_fields = ["id", "created_at", "price", "quantity", "value", "status"]
    ordering = "-id"

    def get_queryset(self):
        return _scope(self.request).trades(Trade.objects.select_related("buyer", "seller", "market"))

    def list(self, request, *args, **kwargs):
        qs = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(qs)
        data = TradeRowSerializer(page, many=True, context={"assets": _assets_for(page)}).data
        return self.get_paginated_response(data)


class TradeDossierView(OversightView):
    @extend_schema(parameters=[PK], responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403, 404)},
                   description="The trade's full dossier: orders or listing and bids, rule checks, approvals, "
                               "ledger transactions with Merkle inclusion proof, audit events.")
    def get(self, request, pk: int):
        qs = _scope(request).trades(Trade.objects.select_related("buyer", "seller", "market", "buy_order",
                                                                   "sell_order"))
        trade = get_object_or_404(qs, pk=pk)
        return Response(local_times(trade_dossier(trade)))


class ExportView(OversightView):
    renderer_classes = [JSONRenderer, CsvRenderer, XlsxRenderer, JsonLinesRenderer]
    filter_backends = [DjangoFilterBackend]  # read by the schema (filters=True): the export takes the search's filters


def _filtered(filterset):
    if not filterset.is_valid():
        raise ApiError("validation_error", fields={k: [{"code": "invalid", "message": str(e)} for e in v]
                                                  for k, v in filterset.errors.items()})
    return filterset.qs


class TradeExportView(ExportView):
    filterset_class = TradeFilter
    queryset = Trade.objects.none()

    @extend_schema(parameters=[FMT, LANG], filters=True, responses=EXPORT_RESPONSES,
                   description="Every trade matching the trade-search filters, streamed (constant memory). CSV "
                               "is UTF-8 with BOM; headers and names in the caller's language; times in "
                               "Asia/Shanghai; formulas neutralised.")
    def get(self, request, fmt: str):
        lang = language(request)
        qs = _filtered(TradeFilter(request.query_params, queryset=_scope(request).trades(), request=request))
        return streaming(trade_rows(qs, lang=lang), TRADE_COLUMNS, fmt, "trades", lang=lang)


# --- audit -------------------------------------------------------------------------------------------

class AuditListView(OversightList):
    """The audit log of user and system actions concerning the caller's jurisdiction (events whose
    region codes lie in it; the operator sees every event)."""

    serializer_class = AuditEventSerializer
    filterset_class = AuditFilter
    queryset = AuditEvent.objects.none()

    def get_queryset(self):
        return _scope(self.request).by_region_codes(AuditEvent.objects.all())


class AuditExportView(ExportView):
    filterset_class = AuditFilter
    queryset = AuditEvent.objects.none()

    @extend_schema(parameters=[FMT, LANG], filters=True, responses=EXPORT_RESPONSES)
    def get(self, request, fmt: str):
        lang = language(request)
        qs = _filtered(AuditFilter(request.query_params,
                                   queryset=_scope(request).by_region_codes(AuditEvent.objects.all()), request=request))
        return streaming(audit_rows(qs, lang=lang), AUDIT_COLUMNS, fmt, "audit", lang=lang)


# --- participants and markets -----------------------------------------------------------------------

class OrganizationListView(OversightList):
    """Organizations in the caller's jurisdiction with their status (frozen = suspended)."""

    serializer_class = OrganizationStatusSerializer
    queryset = Organization.objects.none()
    filterset_fields = ["status", "kind"]
    pagination_class = DirectoryPagination  # a directory (README: paging rule); ?cursor= deprecated

    def get_queryset(self):
        return _scope(self.request).organizations(Organization.objects.all()).order_by("id")


class OrganizationFreezeView(OversightView):
    frozen = True

    @extend_schema(parameters=[PK], request=ReasonSerializer,
                   responses={200: OrganizationStatusSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        org = get_object_or_404(_scope(request).organizations(), pk=pk)
        org = services.organization_freeze(actor=Actor.from_request(request), membership=_membership(request),
                                           organization=org, frozen=self.frozen, reason=data.validated_data["reason"])
        return Response(OrganizationStatusSerializer(org).data)


class OrganizationUnfreezeView(OrganizationFreezeView):
    frozen = False


class MarketListView(OversightList):
    serializer_class = OversightMarketSerializer
    queryset = Market.objects.none()
    filterset_fields = ["status"]
    pagination_class = DirectoryPagination  # a directory (README: paging rule); ?cursor= deprecated

    def get_queryset(self):
        return _scope(self.request).markets(Market.objects.select_related("asset")).order_by("id")


class MarketHaltView(OversightView):
    halted = True

    @extend_schema(parameters=[PK], request=ReasonSerializer,
                   responses={200: OversightMarketSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        market = get_object_or_404(_scope(request).markets(Market.objects.select_related("asset")), pk=pk)
        market = services.market_halt(actor=Actor.from_request(request), membership=_membership(request),
                                      market=market, halted=self.halted, reason=data.validated_data["reason"])
        return Response(OversightMarketSerializer(market).data)


class MarketResumeView(MarketHaltView):
    halted = False


# --- the rulebook -------------------------------------------------------------------------------------

class RulebookListView(OversightList):
    """Every rulebook version (newest first) with its rules. POST: a new version (operator or provincial
    regulator; audit event `rule.change`)."""

    serializer_class = RulebookSerializer
    queryset = RulebookVersion.objects.none()
    pagination_class = None

    def get_queryset(self):
        return RulebookVersion.objects.prefetch_related("rules").order_by("-version")

    @extend_schema(request=RulebookCreateSerializer,
                   responses={201: RulebookSerializer, **error_responses(400, 401, 403)})
    def post(self, request):
        data = RulebookCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        book = services.rulebook_create(actor=Actor.from_request(request), membership=_membership(request),
                                        rules=v["rules"], effective_from=v.get("effective_from"),
                                        description=v["description"])
        return Response(RulebookSerializer(RulebookVersion.objects.prefetch_related("rules").get(pk=book.pk)).data,
                        status=status.HTTP_201_CREATED)


class RulebookDetailView(OversightView):
    @extend_schema(parameters=[OpenApiParameter("version", OpenApiTypes.INT, OpenApiParameter.PATH)],
                   responses={200: RulebookSerializer, **error_responses(401, 404)})
    def get(self, request, version: int):
        book = get_object_or_404(RulebookVersion.objects.prefetch_related("rules"), version=version)
        return Response(RulebookSerializer(book).data)


class RuleKindsView(OversightView):
    @extend_schema(responses={200: build_array_type(build_basic_type(OpenApiTypes.OBJECT))})
    def get(self, request):
        return Response(rule_kinds(compiled().facts))


class FlagListView(OversightList):
    """Non-attainment flags (region × pollutant × period). POST adds one in the caller's jurisdiction."""

    serializer_class = FlagSerializer
    queryset = NonAttainmentFlag.objects.none()
    pagination_class = None

    def get_queryset(self):
        return NonAttainmentFlag.objects.order_by("-period_start", "id")

    @extend_schema(request=FlagCreateSerializer, responses={201: FlagSerializer, **error_responses(400, 401, 403, 404)})
    def post(self, request):
        data = FlagCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        region = Region.objects.filter(code=v["region"]).first()
        if region is None:
            raise ApiError("unknown_region", fields={"region": v["region"]})
        flag = services.non_attainment_flag_create(
            actor=Actor.from_request(request), membership=_membership(request), region=region,
            pollutant=v["pollutant"], period_start=v["period_start"], period_end=v["period_end"])
        return Response(FlagSerializer(flag).data, status=status.HTTP_201_CREATED)


# --- approvals ----------------------------------------------------------------------------------------

class ApprovalListView(OversightList):
    """Approval requests of trades in the caller's jurisdiction or naming it (default: pending ones)."""

    serializer_class = ApprovalSerializer
    filterset_class = ApprovalFilter
    queryset = ApprovalRequest.objects.none()
    filter_backends = ORDERED_LIST_BACKENDS
    ordering_fields = ["id", "created_at", "pending_since", "status"]
    ordering = "-id"

    def get_queryset(self):
        return _scope(self.request).approvals(ApprovalRequest.objects.select_related("trade")
                                              .prefetch_related("decisions"))


class ApprovalDetailView(OversightView):
    @extend_schema(parameters=[PK], responses={200: ApprovalSerializer, **error_responses(401, 404)})
    def get(self, request, pk: int):
        req = get_object_or_404(_scope(request).approvals(ApprovalRequest.objects.select_related("trade")), pk=pk)
        return Response(ApprovalSerializer(req).data)


class ApprovalActionView(OversightView):
    action_name = "approve"

    @extend_schema(parameters=[PK], request=CommentSerializer,
                   responses={200: ApprovalSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        get_object_or_404(_scope(request).approvals(ApprovalRequest.objects.all()), pk=pk)
        membership = _membership(request)
        actor = Actor.from_request(request)
        if self.action_name == "approve":
            data = CommentSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            approval_services.approval_approve(membership=membership, request_id=pk, actor=actor,
                                               comment=data.validated_data["comment"])
        else:
            data = ReasonSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            fn = (approval_services.approval_reject if self.action_name == "reject"
                  else approval_services.approval_object)
            fn(membership=membership, request_id=pk, actor=actor, reason=data.validated_data["reason"])
        req = ApprovalRequest.objects.select_related("trade").prefetch_related("decisions").get(pk=pk)
        return Response(ApprovalSerializer(req).data)


class ApprovalRejectView(ApprovalActionView):
    action_name = "reject"

    @extend_schema(parameters=[PK], request=ReasonSerializer,
                   responses={200: ApprovalSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        return super().post(request, pk)


class ApprovalObjectView(ApprovalRejectView):
    action_name = "object"


# --- reports ------------------------------------------------------------------------------------------

REPORT_DATES = [OpenApiParameter("since", OpenApiTypes.DATE), OpenApiParameter("until", OpenApiTypes.DATE),
                OpenApiParameter("right_type", OpenApiTypes.STR),
                OpenApiParameter("level", OpenApiTypes.STR, enum=list(reports.LEVELS))]


class VolumeReportView(OversightView):
    @extend_schema(parameters=REPORT_DATES + [
        OpenApiParameter("period", OpenApiTypes.STR, enum=list(reports.PERIODS)),
        OpenApiParameter("by", OpenApiTypes.STR, enum=["origin", "destination"]),
        OpenApiParameter("region", OpenApiTypes.STR)], responses={200: serializers.VolumeReportSerializer})
    def get(self, request):
        q = request.query_params
        rows = reports.volume_report(_scope(request), period=_choice(request, "period", reports.PERIODS, "month"),
                                     by=_choice(request, "by", ("origin", "destination"), "origin"),
                                     level=_choice(request, "level", reports.LEVELS, "county"),
                                     since=_date(request, "since"), until=_date(request, "until"),
                                     right_type=q.get("right_type") or None, region=q.get("region") or None)
        return Response(local_times({"rows": rows}))


class FlowReportView(OversightView):
    @extend_schema(parameters=REPORT_DATES, responses={200: serializers.FlowReportSerializer})
    def get(self, request):
        rows = reports.flow_matrix(_scope(request), level=_choice(request, "level", reports.LEVELS, "county"),
                                   since=_date(request, "since"), until=_date(request, "until"),
                                   right_type=request.query_params.get("right_type") or None)
        return Response(local_times({"rows": rows}))


class FarmlandProceedsView(OversightView):
    @extend_schema(responses={200: serializers.FarmlandProceedsReportSerializer})
    def get(self, request):
        return Response(local_times({"rows": reports.farmland_proceeds(_scope(request))}))


class ConcentrationView(OversightView):
    @extend_schema(parameters=[OpenApiParameter("top", OpenApiTypes.INT), OpenApiParameter("asset", OpenApiTypes.INT),
                               OpenApiParameter("right_type", OpenApiTypes.STR)],
                   responses={200: serializers.ConcentrationReportSerializer})
    def get(self, request):
        q = request.query_params
        try:
            top = min(max(int(q.get("top", 5)), 1), 100)
            asset = int(q["asset"]) if q.get("asset") else None
        except ValueError:
            raise ApiError("validation_error", fields={"top": gettext("an integer")})
        return Response(local_times({"rows": reports.concentration(_scope(request), top=top, asset_id=asset,
                                                                   right_type=q.get("right_type") or None)}))


class PendingApprovalsReportView(OversightView):
    @extend_schema(responses={200: serializers.PendingApprovalsReportSerializer})
    def get(self, request):
        return Response(local_times(reports.pending_approvals(_scope(request))))


# --- surveillance -------------------------------------------------------------------------------------

class AlertListView(OversightList):
    """Surveillance alerts concerning the caller's jurisdiction, newest first."""

    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    queryset = Alert.objects.none()
    filter_backends = ORDERED_LIST_BACKENDS
    ordering_fields = ["id", "detected_at", "severity", "kind"]
    ordering = "-id"

    def get_queryset(self):
        return _scope(self.request).by_region_codes(Alert.objects.all())


class AlertDetailView(OversightView):
    @extend_schema(parameters=[PK], responses={200: AlertSerializer, **error_responses(401, 404)})
    def get(self, request, pk: int):
        alert = get_object_or_404(_scope(request).by_region_codes(Alert.objects.all()), pk=pk)
        return Response(AlertSerializer(alert).data)


class SurveillanceRunView(OversightView):
    @extend_schema(request=SurveillanceRunSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        data = SurveillanceRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"new_alerts": run_surveillance(window_hours=data.validated_data.get("window_hours"))})
