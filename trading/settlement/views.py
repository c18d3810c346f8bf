"""Settlement reports (batches, earmarked funds) and the earmarked-fund payout.

  GET        /api/v1/settlement/batches?date=YYYY-MM-DD&market=<id>      operator
  GET        /api/v1/settlement/earmarked-report?since=&until=&fund=     operator, regulators, governments
  GET        /api/v1/settlement/exports/earmarked-funds?fmt=csv|xlsx|jsonl   the same rows as a file
  POST       /api/v1/settlement/earmarked-payouts  (Idempotency-Key)     government admins, operator

The report has a row per government body and earmarked fund (farmland, basin_compensation,
paired_assistance); a payout names its fund (default farmland) and a purpose of that fund
(`ledger.earmark`).
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actor import Actor
from accounts.models import GOVERNMENT_KINDS, Organization
from accounts.permissions import IsOperator, acting_membership, is_operator, member_with, oversight_region
from core.api import error_responses
from core.errors import ApiError
from core.money import from_minor
from core.tabular import XLSX_TYPE, Column, CsvRenderer, JsonLinesRenderer, XlsxRenderer, language, streaming
from ledger.earmark import FUNDS, KnownFund, earmarked_payout, earmarked_report
from trading.settlement.reports import settlement_batches
from trading.settlement.serializers import EarmarkedFundSerializer, EarmarkedPayoutInput, SettlementBatchSerializer

_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _field_error(field: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({field: [serializers.ErrorDetail(message, code="invalid")]})


def _date_param(request, name: str, default: date | None) -> date | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _field_error(name, gettext("a date, YYYY-MM-DD"))


class SettlementBatchesView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(responses=SettlementBatchSerializer(many=True), parameters=[
        OpenApiParameter("date", str, description="settlement day, YYYY-MM-DD (default today)"),
        OpenApiParameter("market", int)])
    def get(self, request):
        day = _date_param(request, "date", timezone.localdate())
        market = request.query_params.get("market")
        if market not in (None, "") and not (str(market).isascii() and str(market).isdigit()):
            raise _field_error("market", gettext("a market id"))
        rows = settlement_batches(day=day, market_id=int(market) if market else None)
        return Response(SettlementBatchSerializer(rows, many=True).data)


EarmarkReader = member_with(roles=(), kinds=(),
                            safe_kinds=("regulator", "exchange_operator", *sorted(GOVERNMENT_KINDS)))
EarmarkPayer = member_with(roles=("admin",), kinds=("exchange_operator", *sorted(GOVERNMENT_KINDS)))


REPORT_PARAMETERS = [
    OpenApiParameter("since", OpenApiTypes.DATE, description="YYYY-MM-DD, inclusive"),
    OpenApiParameter("until", OpenApiTypes.DATE, description="YYYY-MM-DD, inclusive"),
    OpenApiParameter("from", OpenApiTypes.DATE, deprecated=True, description="old name of since"),
    OpenApiParameter("to", OpenApiTypes.DATE, deprecated=True, description="old name of until"),
    OpenApiParameter("fund", OpenApiTypes.STR, enum=list(FUNDS), description="only this earmarked fund")]


def _report_rows(request) -> list[dict]:
    """The earmarked report's rows (amounts in yuan) the caller may see: the operator all, a regulator its
    jurisdiction, a government body its own funds."""
    membership = acting_membership(request)
    # since/until; from/to are the deprecated old names (one release)
    start = _date_param(request, "since", None) or _date_param(request, "from", None)
    end = _date_param(request, "until", None) or _date_param(request, "to", None)
    tz = timezone.get_current_timezone()
    fund = request.query_params.get("fund") or None
    if fund is not None:
        KnownFund.enforce(fund=fund)
    rows = earmarked_report(
        fund=fund, region=None if is_operator(membership) else oversight_region(membership),
        date_from=start and timezone.make_aware(datetime.combine(start, time.min), tz),
        date_to=end and timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz))
    if not is_operator(membership) and membership.organization.kind in GOVERNMENT_KINDS:
        rows = [r for r in rows if r["organization"] == membership.organization_id]  # its own funds only
    for r in rows:
        for key in ("received", "paid_out", "balance"):
            r[key] = from_minor(r[key], 2)
        r["by_purpose"] = {k: from_minor(v, 2) for k, v in r["by_purpose"].items()}
    return rows


class EarmarkedReportView(APIView):
    permission_classes = [EarmarkReader]

    @extend_schema(responses=EarmarkedFundSerializer(many=True), parameters=REPORT_PARAMETERS)
    def get(self, request):
        return Response(EarmarkedFundSerializer(_report_rows(request), many=True).data)


FUND_COLUMNS = [
    Column("organization", "机构编号", "int"), Column("name", "机构"), Column("region", "地区代码"),
    Column("fund", "专项资金"), Column("fund_name", "资金名称"), Column("received", "收入（元）", "amount"),
    Column("sales", "指标出让笔数", "int"), Column("receipts", "拨入笔数", "int"),
    Column("paid_out", "支出（元）", "amount"), Column("payouts", "支出笔数", "int"),
    Column("by_purpose", "按用途支出", "json"), Column("balance", "余额（元）", "amount"),
]


class EarmarkedExportView(APIView):
    """The earmarked report as a file, a row per government body and fund (same scope and filters)."""

    permission_classes = [EarmarkReader]
    renderer_classes = [JSONRenderer, CsvRenderer, XlsxRenderer, JsonLinesRenderer]

    @extend_schema(parameters=[*REPORT_PARAMETERS,
                               OpenApiParameter("fmt", OpenApiTypes.STR, enum=["csv", "xlsx", "jsonl"],
                                                description="file format (default csv)")],
                   responses={(200, "text/csv"): OpenApiTypes.STR, (200, XLSX_TYPE): OpenApiTypes.BINARY,
                              (200, "application/x-ndjson"): OpenApiTypes.STR})
    def get(self, request):
        fmt = request.query_params.get("fmt") or "csv"
        if fmt not in ("csv", "xlsx", "jsonl"):
            raise ApiError("validation_error",
                           fields={"fmt": gettext("one of {choices}").format(choices="csv, xlsx, jsonl")})
        lang = language(request)
        rows = _report_rows(request)
        for r in rows:
            f = FUNDS[r["fund"]]
            r["fund_name"] = f.name_zh if lang == "zh" else f.name_en
        return streaming(rows, FUND_COLUMNS, fmt, "earmarked-funds", lang=lang)


class EarmarkedPayoutView(APIView):
    permission_classes = [EarmarkPayer]

    @extend_schema(request=EarmarkedPayoutInput, responses={201: None, **error_responses(400, 403, 409)},
                   parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)])
    def post(self, request):
        key = request.headers.get("Idempotency-Key", "")
        if not _KEY.match(key):
            raise ApiError("validation_error", fields={"Idempotency-Key": "1–128 characters of A-Z a-z 0-9 . _ : -"})
        data = EarmarkedPayoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        membership = acting_membership(request)
        if is_operator(membership):
            org = Organization.objects.filter(pk=v.get("organization")).first()
            if org is None:
                raise ApiError("unknown_organization")
        else:
            org = membership.organization
            if v.get("organization") not in (None, org.id):
                raise ApiError("permission_denied")
        posted = earmarked_payout(actor=Actor.from_request(request), organization=org, amount=v["amount"],
                                  purpose_code=v["purpose_code"], idempotency_key=key, description=v["description"],
                                  bank_reference=v["bank_reference"], fund=v["fund"])
        body = {"transaction_id": posted.transaction_id, "organization": org.id, "amount": from_minor(v["amount"], 2),
                "fund": v["fund"], "purpose_code": v["purpose_code"]}
        response = Response(body, status=status.HTTP_200_OK if posted.replayed else status.HTTP_201_CREATED)
        if posted.replayed:
            response["Idempotent-Replayed"] = "true"
        return response
