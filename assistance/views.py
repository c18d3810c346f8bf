"""The assistance API under /api/v1/assistance/. Thin: permission → visible queryset → service → serializer.

Readers: members of governments (their own pairs and commitments), regulators (their jurisdiction) and the
exchange operator (everything); commitments also to the enterprise that is a party. Writers: see each
view; the services check the details (party, role, four eyes, maker–checker) and audit.
"""
from __future__ import annotations

from datetime import date

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import GOVERNMENT_KINDS, TRADING_KINDS, Organization
from accounts.permissions import acting_membership, member_with
from core.api import DefaultPagination, IdCursorPagination, error_responses
from core.errors import ApiError
from core.tabular import XLSX_TYPE, CsvRenderer, JsonLinesRenderer, XlsxRenderer, language
from ledger.views import idempotency_key
from trading.models import Trade

from . import selectors, services
from .exports import COMMITMENT_COLUMNS, PROGRESS_COLUMNS, commitment_rows, progress_rows, streaming
from .serializers import (
    AgreementProposeInput,
    AgreementSerializer,
    CommitmentCreateInput,
    CommitmentSerializer,
    FulfilmentInput,
    FulfilmentSerializer,
    PairProposeInput,
    PairSerializer,
    PaymentProposeInput,
    PaymentSerializer,
    ReasonInput,
    money_row,
)

OVERSIGHT_KINDS = ("regulator", "exchange_operator")
READER_KINDS = tuple(sorted(GOVERNMENT_KINDS)) + OVERSIGHT_KINDS
TAG = ["assistance"]
# reads: governments, regulators, the operator; writes: as named
Reader = member_with(roles=(), kinds=(), safe_kinds=READER_KINDS)
AgreementProposer = member_with(roles=("admin", "approver"), kinds=("county_government", "city_government",
                                                                    "regulator"), safe_kinds=READER_KINDS)
AgreementDecider = member_with(roles=("admin", "approver"), kinds=("regulator",))
# payments: a paying government's, or a buyer's cash for a support commitment (any trading organization)
PaymentWriter = member_with(roles=("admin", "trader", "approver"), kinds=TRADING_KINDS)
PaymentChecker = member_with(roles=("admin", "approver"), kinds=TRADING_KINDS)
CommitmentWriter = member_with(roles=("admin", "trader"))

PK = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
YEAR = OpenApiParameter("year", OpenApiTypes.INT, description="the obligation year (default: this year)")
FMT = OpenApiParameter("fmt", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["csv", "xlsx", "jsonl"])
LANG = OpenApiParameter("lang", OpenApiTypes.STR, enum=["zh", "en"])
STATE = OpenApiParameter("status", OpenApiTypes.STR, enum=["open", "overdue", "fulfilled"])
EXPORT_RESPONSES = {(200, "text/csv"): OpenApiTypes.STR, (200, XLSX_TYPE): OpenApiTypes.BINARY,
                    (200, "application/x-ndjson"): OpenApiTypes.STR}


def _m(request):
    return acting_membership(request)


def _rid(request) -> str:
    return getattr(request, "request_id", "")


def _today() -> date:
    return timezone.localdate()


def _year(request) -> int:
    raw = request.query_params.get("year")
    if not raw:
        return _today().year
    if not raw.isascii() or not raw.isdigit() or not 2000 <= int(raw) <= 2100:
        raise ApiError("validation_error", fields={"year": gettext("a year between 2000 and 2100")})
    return int(raw)


def _state(request) -> str | None:
    value = request.query_params.get("status") or None
    if value not in (None, "open", "overdue", "fulfilled"):
        raise ApiError("validation_error",
                       fields={"status": gettext("one of {choices}").format(choices="open, overdue, fulfilled")})
    return value


def _valid(serializer_class, request):
    s = serializer_class(data=request.data)
    s.is_valid(raise_exception=True)
    return s.validated_data


def _org(pk: int, field: str) -> Organization:
    org = Organization.objects.select_related("region").filter(pk=pk).first()
    if org is None:
        raise ApiError("unknown_organization", fields={field: str(pk)})
    return org


def _pair_detail(pair, today: date) -> dict:
    data = PairSerializer(pair).data
    data["agreements"] = AgreementSerializer(pair.agreements.order_by("version"), many=True).data
    data["progress"] = [money_row(selectors.pair_progress(pair, y, today))
                        for y in selectors.years_of(pair, today)]
    return data


# --- pairs and agreements ----------------------------------------------------------------------------------

class PairListView(generics.ListAPIView):
    """Pairs the caller may see, with the current year's progress."""

    permission_classes = (AgreementProposer,)
    serializer_class = PairSerializer
    pagination_class = DefaultPagination
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.AssistancePair.objects.none()
        return selectors.pairs_visible(_m(self.request)).order_by("id")

    @extend_schema(tags=TAG, operation_id="assistance_pairs_list", summary="Paired-assistance pairs")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(tags=TAG, operation_id="assistance_pairs_create", request=PairProposeInput,
                   summary="Propose a pair and its first agreement (a party's admin, or the provincial regulator)",
                   responses={201: AgreementSerializer, **error_responses(400, 401, 403, 409)})
    def post(self, request):
        v = _valid(PairProposeInput, request)
        agreement = services.pair_propose(membership=_m(request), payer=_org(v["payer"], "payer"),
                                          payee=_org(v["payee"], "payee"), annual_minimum=v["annual_minimum"],
                                          effective_year=v["effective_year"], description=v["description"],
                                          request_id=_rid(request))
        return Response(AgreementSerializer(agreement).data, status=status.HTTP_201_CREATED)


class PairDetailView(APIView):
    permission_classes = (Reader,)

    @extend_schema(tags=TAG, operation_id="assistance_pairs_retrieve", parameters=[PK],
                   summary="A pair: its agreement versions and progress per year",
                   responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403, 404)})
    def get(self, request, pk: int):
        pair = get_object_or_404(selectors.pairs_visible(_m(request)), pk=pk)
        return Response(_pair_detail(pair, _today()))


class AgreementProposeView(APIView):
    permission_classes = (AgreementProposer,)

    @extend_schema(tags=TAG, operation_id="assistance_agreements_create", parameters=[PK],
                   request=AgreementProposeInput, summary="Propose a new version of a pair's agreement",
                   responses={201: AgreementSerializer, **error_responses(400, 401, 403, 404)})
    def post(self, request, pk: int):
        pair = get_object_or_404(selectors.pairs_visible(_m(request)), pk=pk)
        v = _valid(AgreementProposeInput, request)
        agreement = services.agreement_propose(membership=_m(request), pair=pair, annual_minimum=v["annual_minimum"],
                                               effective_year=v["effective_year"], description=v["description"],
                                               request_id=_rid(request))
        return Response(AgreementSerializer(agreement).data, status=status.HTTP_201_CREATED)


class AgreementApproveView(APIView):
    permission_classes = (AgreementDecider,)

    @extend_schema(tags=TAG, operation_id="assistance_agreements_approve", parameters=[PK], request=None,
                   summary="Approve an agreement version (the provincial regulator; another person; not a party)",
                   responses={200: AgreementSerializer, **error_responses(401, 403, 404, 409)})
    def post(self, request, pk: int):
        get_object_or_404(selectors.agreements_visible(_m(request)), pk=pk)
        agreement = services.agreement_approve(membership=_m(request), agreement_id=pk, request_id=_rid(request))
        return Response(AgreementSerializer(agreement).data)


class AgreementRejectView(APIView):
    permission_classes = (AgreementDecider,)

    @extend_schema(tags=TAG, operation_id="assistance_agreements_reject", parameters=[PK], request=ReasonInput,
                   responses={200: AgreementSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        get_object_or_404(selectors.agreements_visible(_m(request)), pk=pk)
        v = _valid(ReasonInput, request)
        agreement = services.agreement_reject(membership=_m(request), agreement_id=pk, reason=v["reason"],
                                              request_id=_rid(request))
        return Response(AgreementSerializer(agreement).data)


# --- payments -------------------------------------------------------------------------------------------------

class PaymentListView(generics.ListAPIView):
    permission_classes = (PaymentWriter,)
    serializer_class = PaymentSerializer
    pagination_class = IdCursorPagination
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.AssistancePayment.objects.none()
        qs = selectors.payments_visible(_m(self.request))
        wanted = self.request.query_params.get("status")
        return (qs.filter(status=wanted) if wanted else qs).order_by("-id")

    @extend_schema(tags=TAG, operation_id="assistance_payments_list", summary="Payments (pending and decided)",
                   parameters=[OpenApiParameter("status", OpenApiTypes.STR,
                                                enum=["pending", "confirmed", "rejected"])])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(tags=TAG, operation_id="assistance_payments_create", request=PaymentProposeInput,
                   parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER,
                                                required=True)],
                   summary="Propose a payment of the acting government (a second person confirms it)",
                   responses={202: PaymentSerializer, 200: PaymentSerializer,
                              **error_responses(400, 401, 403, 404, 409, 422)})
    def post(self, request):
        key = idempotency_key(request)
        v = _valid(PaymentProposeInput, request)
        m = _m(request)
        pair = commitment = None
        if "pair" in v:
            pair = get_object_or_404(selectors.pairs_visible(m), pk=v["pair"])
        else:
            commitment = get_object_or_404(selectors.commitments_visible(m).select_related(
                "supporter", "beneficiary"), pk=v["commitment"])
        payment, replayed = services.payment_propose(
            membership=m, idempotency_key=key, pair=pair, commitment=commitment, year=v.get("year"),
            amount=v["amount"], purpose_code=v["purpose_code"], description=v["description"],
            request_id=_rid(request))
        response = Response(PaymentSerializer(payment).data,
                            status=status.HTTP_200_OK if replayed else status.HTTP_202_ACCEPTED)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class PaymentConfirmView(APIView):
    permission_classes = (PaymentChecker,)

    @extend_schema(tags=TAG, operation_id="assistance_payments_confirm", parameters=[PK], request=None,
                   summary="Confirm a payment (another admin/approver of the paying government): posts it",
                   responses={201: PaymentSerializer, 200: PaymentSerializer,
                              **error_responses(401, 403, 404, 409, 422)})
    def post(self, request, pk: int):
        get_object_or_404(selectors.payments_visible(_m(request)), pk=pk)
        payment, replayed = services.payment_confirm(membership=_m(request), payment_id=pk, request_id=_rid(request))
        return Response(PaymentSerializer(payment).data,
                        status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED)


class PaymentRejectView(APIView):
    permission_classes = (PaymentChecker,)

    @extend_schema(tags=TAG, operation_id="assistance_payments_reject", parameters=[PK], request=ReasonInput,
                   responses={200: PaymentSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        get_object_or_404(selectors.payments_visible(_m(request)), pk=pk)
        v = _valid(ReasonInput, request)
        payment = services.payment_reject(membership=_m(request), payment_id=pk, reason=v["reason"],
                                          request_id=_rid(request))
        return Response(PaymentSerializer(payment).data)


# --- reports and exports -------------------------------------------------------------------------------------

class ProgressReportView(APIView):
    permission_classes = (Reader,)

    @extend_schema(tags=TAG, operation_id="assistance_reports_progress", parameters=[YEAR],
                   summary="Per pair: minimum, paid, shortfall, pro-rata expectation and status for a year",
                   responses={200: OpenApiTypes.OBJECT, **error_responses(400, 401, 403)})
    def get(self, request):
        year = _year(request)
        rows = selectors.progress_report(selectors.pairs_visible(_m(request)), year=year, on=_today())
        return Response({"year": year, "as_of": _today().isoformat(), "rows": [money_row(r) for r in rows]})


class RegionReportView(APIView):
    permission_classes = (Reader,)

    @extend_schema(tags=TAG, operation_id="assistance_reports_regions", parameters=[YEAR],
                   summary="Per region: obligation, paid, shortfall (as payer) and received (as payee) for a year",
                   responses={200: OpenApiTypes.OBJECT, **error_responses(400, 401, 403)})
    def get(self, request):
        year = _year(request)
        rows = selectors.region_report(selectors.pairs_visible(_m(request)), year=year, on=_today())
        return Response({"year": year, "rows": [money_row(r) for r in rows]})


class ExportView(APIView):
    permission_classes = (Reader,)
    renderer_classes = [JSONRenderer, CsvRenderer, XlsxRenderer, JsonLinesRenderer]


class ProgressExportView(ExportView):
    @extend_schema(tags=TAG, operation_id="assistance_exports_progress", parameters=[FMT, LANG, YEAR],
                   responses=EXPORT_RESPONSES, summary="Per pair and year (every year of every visible pair, "
                   "or one with ?year=): obligation, paid, shortfall")
    def get(self, request, fmt: str):
        lang = language(request)
        year = _year(request) if request.query_params.get("year") else None
        rows = progress_rows(selectors.pairs_visible(_m(request)), year=year, on=_today(), lang=lang)
        return streaming(rows, PROGRESS_COLUMNS, fmt, "assistance-progress", lang=lang)


class CommitmentExportView(ExportView):
    permission_classes = (member_with(roles=(), kinds=()),)

    @extend_schema(tags=TAG, operation_id="assistance_exports_commitments", parameters=[FMT, LANG, STATE],
                   responses=EXPORT_RESPONSES, summary="Support commitments by trade, with their status")
    def get(self, request, fmt: str):
        lang = language(request)
        qs = selectors.commitments_filtered(selectors.commitments_visible(_m(request)), _state(request), _today())
        return streaming(commitment_rows(qs, on=_today(), lang=lang), COMMITMENT_COLUMNS, fmt,
                         "support-commitments", lang=lang)


# --- commitments ---------------------------------------------------------------------------------------------

class CommitmentListView(generics.ListAPIView):
    permission_classes = (CommitmentWriter,)
    serializer_class = CommitmentSerializer
    pagination_class = IdCursorPagination
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.SupportCommitment.objects.none()
        qs = selectors.commitments_visible(_m(self.request))
        trade = self.request.query_params.get("trade")
        if trade:
            if not trade.isascii() or not trade.isdigit():
                raise ApiError("validation_error", fields={"trade": gettext("a trade id")})
            qs = qs.filter(trade_id=int(trade))
        return selectors.commitments_filtered(qs, _state(self.request), _today()).order_by("-id")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": _today()}

    @extend_schema(tags=TAG, operation_id="assistance_commitments_list", parameters=[
        STATE, OpenApiParameter("trade", OpenApiTypes.INT)], summary="Support commitments (by trade, by status)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(tags=TAG, operation_id="assistance_commitments_create", request=CommitmentCreateInput,
                   summary="Record a support commitment against a settled farmland trade (its buyer)",
                   responses={201: CommitmentSerializer, **error_responses(400, 401, 403, 404)})
    def post(self, request):
        v = _valid(CommitmentCreateInput, request)
        m = _m(request)
        trade = Trade.objects.select_related("buyer", "seller").filter(pk=v["trade"]).first()
        if trade is None or m.organization_id not in (trade.buyer_id, trade.seller_id):
            raise ApiError("not_found")
        commitment = services.commitment_create(membership=m, trade=trade, kind=v["kind"], amount=v["amount"],
                                                due_date=v["due_date"], description=v["description"],
                                                request_id=_rid(request))
        return Response(CommitmentSerializer(commitment, context={"today": _today()}).data,
                        status=status.HTTP_201_CREATED)


class CommitmentDetailView(APIView):
    permission_classes = (member_with(roles=(), kinds=()),)

    @extend_schema(tags=TAG, operation_id="assistance_commitments_retrieve", parameters=[PK],
                   summary="A support commitment with its fulfilments",
                   responses={200: OpenApiTypes.OBJECT, **error_responses(401, 404)})
    def get(self, request, pk: int):
        commitment = get_object_or_404(selectors.commitments_visible(_m(request)), pk=pk)
        data = CommitmentSerializer(commitment, context={"today": _today()}).data
        data["fulfilments"] = FulfilmentSerializer(commitment.fulfilments.all(), many=True).data
        return Response(data)


class FulfilmentView(APIView):
    permission_classes = (CommitmentWriter,)

    @extend_schema(tags=TAG, operation_id="assistance_fulfilments_create", parameters=[PK], request=FulfilmentInput,
                   summary="Record an in-kind fulfilment with evidence (the committing party)",
                   responses={201: FulfilmentSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        get_object_or_404(selectors.commitments_visible(_m(request)), pk=pk)
        v = _valid(FulfilmentInput, request)
        fulfilment = services.fulfilment_record(membership=_m(request), commitment_id=pk, amount=v["amount"],
                                                description=v["description"], evidence=v["evidence"],
                                                request_id=_rid(request))
        return Response(FulfilmentSerializer(fulfilment).data, status=status.HTTP_201_CREATED)
