"""The compensation API under /api/v1/compensation/. Thin views: visibility (selectors) → service →
response. Every member may call them; what they may see and do is decided by the selectors (agreements
outside one's view are a 404) and the services (party admins sign and object, stations submit data,
regulators decide). Amounts are decimal strings in yuan at the edge."""
from __future__ import annotations

import csv
import io

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import acting_membership
from core.api import StrictSerializer, error_responses, local_times
from core.errors import ApiError
from core.money import from_minor
from core.parsers import StrictJSONParser
from core.tabular import XLSX_TYPE, Column, CsvRenderer, JsonLinesRenderer, XlsxRenderer, language, streaming
from oversight.scope import Scope

from . import selectors, services
from .models import AgreementVersion, Assessment, CompensationApproval, Objection

PK = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _m(request):
    return acting_membership(request)


def _yuan(fen: int) -> str:
    return from_minor(int(fen), 2)


def _transfers(ts: list[dict]) -> list[dict]:
    return [{**t, "amount": _yuan(t["amount"])} for t in ts]


def _rule_yuan(rule: dict) -> dict:
    """An outcome rule's amounts (the compensation and the central reward) as yuan strings."""
    return {**rule, **{k: _yuan(rule[k]) for k in ("amount", "reward") if k in rule}}


def version_data(v: AgreementVersion) -> dict:
    terms = dict(v.terms)
    for key in ("good", "bad"):
        if key in terms:
            terms[key] = _rule_yuan(terms[key])
    if "tiers" in terms:
        terms["tiers"] = [_rule_yuan(t) for t in terms["tiers"]]
    if "fund" in terms:
        terms["fund"] = _yuan(terms["fund"])
    approval = getattr(v, "approval", None)
    # times as the API writes them (Asia/Shanghai, +08:00): these dicts are built by hand, not by a serializer
    return local_times({
        "id": v.pk, "version": v.version, "status": v.status, "formula_kind": v.formula_kind, "terms": terms,
        "periods": v.periods, "content_hash": v.content_hash, "description": v.description,
        "in_force_at": v.in_force_at,
        "sections": list(v.sections.values_list("code", flat=True)),
        "parties": [{"organization": p.organization_id, "name_zh": p.organization.name_zh,
                     "name_en": p.organization.name_en, "region": p.organization.region_id, "role": p.role,
                     "contribution": _yuan(p.contribution)} for p in v.parties.select_related("organization")],
        "indicators": [{"indicator": vi.indicator.code, "unit": vi.indicator.unit, "target_class": vi.target_class,
                        "limit": None if vi.limit is None else str(vi.limit.normalize()),
                        "baseline": None if vi.baseline is None else str(vi.baseline.normalize()),
                        "weight": None if vi.weight is None else str(vi.weight.normalize())}
                       for vi in v.indicators.select_related("indicator")],
        "signatures": [{"organization": s.organization_id, "user": s.user_id, "content_hash": s.content_hash,
                        "signed_at": s.signed_at} for s in v.signatures.all()],
        "approval": approval and {"id": approval.pk, "status": approval.status, "required": approval.required,
                                  "approvals": approval.decisions.filter(decision="approve").count()},
    })


def agreement_data(a, *, full: bool = False) -> dict:
    out = {"id": a.pk, "code": a.code, "name_zh": a.name_zh, "name_en": a.name_en, "basin": a.basin_id,
           "versions": [version_data(v) for v in a.versions.all()]}
    if full:
        report = selectors.agreement_report(a)
        for p in report["periods"]:
            for x in p["assessments"]:
                x["transfers"] = _transfers(x["transfers"])
        report["cumulative"] = [{**c, "amount": _yuan(c["amount"])} for c in report["cumulative"]]
        report["cumulative_total"] = _yuan(report["cumulative_total"])
        out.update(report)
    return local_times(out)


class CompensationVersionSpecSerializer(StrictSerializer):
    code = serializers.SlugField(max_length=60, required=False)
    name_zh = serializers.CharField(max_length=120, required=False)
    name_en = serializers.CharField(max_length=160, required=False, allow_blank=True)
    basin = serializers.CharField(max_length=40, required=False, allow_blank=True)
    formula_kind = serializers.CharField()
    terms = serializers.DictField()
    parties = serializers.ListField(child=serializers.DictField())
    sections = serializers.ListField(child=serializers.CharField())
    indicators = serializers.ListField(child=serializers.DictField())
    periods = serializers.ListField(child=serializers.DictField())
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)


class CompensationReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class CompensationCommentSerializer(StrictSerializer):
    comment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CompensationResolveSerializer(StrictSerializer):
    outcome = serializers.ChoiceField(choices=["dismiss", "uphold"])
    resolution = serializers.CharField(max_length=500)


class CompensationMeasurementRowSerializer(serializers.Serializer):
    section = serializers.CharField()
    indicator = serializers.CharField()
    month = serializers.CharField()
    value = serializers.CharField()
    unit = serializers.CharField()
    reason = serializers.CharField(required=False, allow_blank=True)


class CompensationMeasurementsSerializer(StrictSerializer):
    rows = CompensationMeasurementRowSerializer(many=True)


def _spec(data: dict) -> dict:
    return {"formula_kind": data["formula_kind"], "terms": data["terms"], "parties": data["parties"],
            "sections": data["sections"], "indicators": data["indicators"], "periods": data["periods"],
            "description": data.get("description", "")}


class AgreementListView(APIView):
    @extend_schema(operation_id="compensation_agreements_list",
                   responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403)},
                   description="The agreements the caller may see (party, regulator in jurisdiction, operator, "
                               "the station of a section), with their versions.")
    def get(self, request):
        qs = selectors.agreements_visible(_m(request)).prefetch_related("versions").order_by("id")
        return Response({"results": [agreement_data(a) for a in qs]})

    @extend_schema(request=CompensationVersionSpecSerializer, responses={201: OpenApiTypes.OBJECT,
                                                             **error_responses(400, 401, 403, 409)},
                   description="A new agreement and its version 1 (proposed by an admin of a party or of the exchange "
                               "operator). Amounts are decimal strings in yuan.")
    def post(self, request):
        s = CompensationVersionSpecSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        d = s.validated_data
        v = services.version_create(membership=_m(request), code=d.get("code", ""), name_zh=d.get("name_zh", ""),
                                    name_en=d.get("name_en", ""), basin_id=d.get("basin") or None, **_spec(d))
        return Response(agreement_data(v.agreement), status=201)


class AgreementDetailView(APIView):
    @extend_schema(parameters=[PK], responses={200: OpenApiTypes.OBJECT, **error_responses(401, 404)},
                   description="The agreement, its versions, the indicator series per section, each period's "
                               "result with the computation step by step, and cumulative transfers.")
    def get(self, request, pk: int):
        a = get_object_or_404(selectors.agreements_visible(_m(request)), pk=pk)
        return Response(agreement_data(a, full=True))


class AgreementVersionCreateView(APIView):
    @extend_schema(parameters=[PK], request=CompensationVersionSpecSerializer,
                   responses={201: OpenApiTypes.OBJECT, **error_responses(400, 401, 403, 404)},
                   description="A new version of the agreement (signed versions are never edited).")
    def post(self, request, pk: int):
        a = get_object_or_404(selectors.agreements_visible(_m(request)), pk=pk)
        s = CompensationVersionSpecSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        v = services.version_create(membership=_m(request), agreement=a, **_spec(s.validated_data))
        return Response(version_data(v), status=201)


class VersionSignView(APIView):
    @extend_schema(parameters=[PK], request=None, responses={200: OpenApiTypes.OBJECT,
                                                            **error_responses(401, 403, 404, 409)},
                   description="A party's admin accepts the version (its content hash).")
    def post(self, request, pk: int):
        visible = selectors.agreements_visible(_m(request))
        v = get_object_or_404(AgreementVersion.objects.filter(agreement__in=visible), pk=pk)
        v = services.version_sign(membership=_m(request), version_id=v.pk)
        return Response(version_data(AgreementVersion.objects.get(pk=v.pk)))


def _approvals_visible(request):
    scope = Scope(_m(request))
    if not (scope.is_operator or scope.is_regulator):
        return CompensationApproval.objects.none()
    qs = CompensationApproval.objects.all()
    if scope.prefix is None:
        return qs
    return scope.by_region_codes(qs)


def approval_data(a: CompensationApproval) -> dict:
    return local_times({"id": a.pk, "version": a.version_id, "assessment": a.assessment_id, "status": a.status,
            "required": a.required, "jurisdiction": a.jurisdiction, "party_ids": a.party_ids,
            "opened_at": a.opened_at, "decided_at": a.decided_at,
            "decisions": [{"user": d.user_id, "organization": d.organization_id, "decision": d.decision,
                           "reason": d.reason, "decided_at": d.decided_at} for d in a.decisions.all()]})


class ApprovalListView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403)},
                   description="Compensation approvals (agreement versions, assessments) in the regulator's "
                               "jurisdiction, newest first.")
    def get(self, request):
        scope = Scope(_m(request))
        if not (scope.is_operator or scope.is_regulator):
            raise ApiError("permission_denied")
        qs = _approvals_visible(request).prefetch_related("decisions").order_by("-id")[:200]
        return Response({"results": [approval_data(a) for a in qs]})


class ApprovalDecideView(APIView):
    decision = "approve"

    @extend_schema(parameters=[PK], request=CompensationCommentSerializer,
                   responses={200: OpenApiTypes.OBJECT, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        get_object_or_404(_approvals_visible(request), pk=pk)
        if self.decision == "approve":
            s = CompensationCommentSerializer(data=request.data)
            s.is_valid(raise_exception=True)
            reason = s.validated_data["comment"]
        else:
            s = CompensationReasonSerializer(data=request.data)
            s.is_valid(raise_exception=True)
            reason = s.validated_data["reason"]
        services.approval_decide(membership=_m(request), approval_id=pk, decision=self.decision, reason=reason)
        return Response(approval_data(CompensationApproval.objects.get(pk=pk)))


class ApprovalRejectView(ApprovalDecideView):
    decision = "reject"

    @extend_schema(parameters=[PK], request=CompensationReasonSerializer,
                   responses={200: OpenApiTypes.OBJECT, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        return super().post(request, pk)


class AssessmentObjectView(APIView):
    @extend_schema(parameters=[PK], request=CompensationReasonSerializer,
                   responses={201: OpenApiTypes.OBJECT, **error_responses(400, 401, 403, 404, 409)},
                   description="A party's admin objects to an assessment within its window: the settlement is held "
                               "until a regulator resolves the objection.")
    def post(self, request, pk: int):
        visible = selectors.agreements_visible(_m(request))
        get_object_or_404(Assessment.objects.filter(period__agreement__in=visible), pk=pk)
        s = CompensationReasonSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        o = services.objection_raise(membership=_m(request), assessment_id=pk, reason=s.validated_data["reason"])
        return Response({"id": o.pk, "assessment": pk, "status": o.status}, status=201)


class ObjectionResolveView(APIView):
    @extend_schema(parameters=[PK], request=CompensationResolveSerializer,
                   responses={200: OpenApiTypes.OBJECT, **error_responses(400, 401, 403, 404, 409)},
                   description="A regulator (not a party's member) dismisses or upholds an objection.")
    def post(self, request, pk: int):
        approvals = _approvals_visible(request)
        get_object_or_404(Objection.objects.filter(assessment__approval__in=approvals), pk=pk)
        s = CompensationResolveSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        o = services.objection_resolve(membership=_m(request), objection_id=pk,
                                       uphold=s.validated_data["outcome"] == "uphold",
                                       resolution=s.validated_data["resolution"])
        return Response({"id": o.pk, "status": o.status, "resolution": o.resolution})


def measurement_data(m) -> dict:
    return local_times({"id": m.pk, "section": m.section.code, "indicator": m.indicator.code, "unit": m.indicator.unit,
            "month": m.month.isoformat()[:7], "value": format(m.value.normalize(), "f"), "version": m.version,
            "reason": m.reason, "station": m.station_id,
            "source": m.source, "created_at": m.created_at})


class MeasurementListView(APIView):
    parser_classes = [StrictJSONParser]  # the project's size, depth and NUL limits

    @extend_schema(parameters=[OpenApiParameter("section", OpenApiTypes.STR)],
                   responses={200: OpenApiTypes.OBJECT, **error_responses(401)},
                   description="Measurements of the sections the caller may see, every version (newest 1000).")
    def get(self, request):
        qs = selectors.measurements_visible(_m(request))
        if request.query_params.get("section"):
            qs = qs.filter(section__code=request.query_params["section"])
        return Response({"results": [measurement_data(m) for m in qs.order_by("-id")[:1000]]})

    @extend_schema(request=CompensationMeasurementsSerializer, responses={201: OpenApiTypes.OBJECT,
                                                              **error_responses(400, 401, 403)},
                   description="A monitoring station submits measurements (all or nothing). A month that already has "
                               "a value needs a reason: the correction becomes the next version.")
    def post(self, request):
        s = CompensationMeasurementsSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        rows = services.measurements_submit(membership=_m(request), rows=[dict(r) for r in s.validated_data["rows"]])
        return Response({"results": [measurement_data(m) for m in rows]}, status=201)


CSV_FIELDS = ("section", "indicator", "month", "value", "unit", "reason")


class MeasurementUploadView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}}},
        responses={201: OpenApiTypes.OBJECT, **error_responses(400, 401, 403)},
        description="CSV upload (UTF-8, optional BOM) with the header section,indicator,month,value,unit[,reason].")
    def post(self, request):
        if _m(request).organization.kind != "monitoring_station":  # before reading the upload
            raise ApiError("not_a_station")
        f = request.FILES.get("file")
        if f is None:
            raise ApiError("validation_error", fields={"file": "a CSV file"})
        try:
            text = f.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ApiError("validation_error", fields={"file": "UTF-8 text"}) from None
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not set(CSV_FIELDS[:5]) <= set(reader.fieldnames):
            raise ApiError("validation_error", fields={"file": f"header: {','.join(CSV_FIELDS)}"})
        rows = [{k: (r.get(k) or "").strip() for k in CSV_FIELDS} for r in reader]
        out = services.measurements_submit(membership=_m(request), rows=rows, source="csv")
        return Response({"results": [measurement_data(m) for m in out]}, status=201)


class RegionReportView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, **error_responses(401, 403)},
                   description="Per region in the regulator's jurisdiction: compensation and assistance received and "
                               "paid by ledger kind, next to its trading proceeds, and the balance of each "
                               "earmarked fund (farmland, basin_compensation, paired_assistance) (from the ledger).")
    def get(self, request):
        scope = Scope(_m(request))
        if not (scope.is_operator or scope.is_regulator):
            raise ApiError("permission_denied")
        rows = selectors.region_report(scope)
        for r in rows:
            r["received"], r["paid"] = _yuan(r["received"]), _yuan(r["paid"])
            r["trading_proceeds"] = _yuan(r["trading_proceeds"])
            r["funds"] = {k: _yuan(v) for k, v in r["funds"].items()}
            r["by_kind"] = {k: {"received": _yuan(v["received"]), "paid": _yuan(v["paid"])}
                            for k, v in r["by_kind"].items()}
        return Response({"rows": rows})


RESULT_COLUMNS = [
    Column("agreement", "协议编号"), Column("agreement_name", "协议名称"), Column("period_start", "考核期起"),
    Column("period_end", "考核期止"), Column("attempt", "核算次数", "int"), Column("status", "状态"),
    Column("outcome", "结果"), Column("payer", "支付方编号", "int"), Column("payer_name", "支付方"),
    Column("payee", "受偿方编号", "int"), Column("payee_name", "受偿方"), Column("amount", "金额（元）", "amount"),
    Column("kind", "款项类别"),  # compensation | central_reward
    Column("settled_at", "结算时间", "time"), Column("ledger_transactions", "账务交易编号", "json"),
]


def result_rows(agreements, lang: str):
    from accounts.models import Organization

    names = {o.id: (o.name_zh if lang == "zh" or not o.name_en else o.name_en) for o in Organization.objects.filter(
        kind__in=("county_government", "city_government", "provincial_authority"))}
    for a in agreements:
        name = a.name_zh if lang == "zh" or not a.name_en else a.name_en
        for x in selectors.assessments_of(a):
            base = {"agreement": a.code, "agreement_name": name, "period_start": x.period.start.isoformat(),
                    "period_end": x.period.end.isoformat(), "attempt": x.attempt, "status": x.status,
                    "outcome": x.outcome, "settled_at": x.settled_at, "ledger_transactions": x.settlement_transactions}
            for t in x.transfers or [{"payer": None, "payee": None, "amount": 0}]:
                yield {**base, "payer": t["payer"], "payer_name": names.get(t["payer"], ""), "payee": t["payee"],
                       "payee_name": names.get(t["payee"], ""), "amount": _yuan(t["amount"]),
                       "kind": t.get("kind", "compensation")}


class ResultExportView(APIView):
    renderer_classes = [JSONRenderer, CsvRenderer, XlsxRenderer, JsonLinesRenderer]

    @extend_schema(parameters=[OpenApiParameter("fmt", OpenApiTypes.STR, OpenApiParameter.PATH,
                                                enum=["csv", "xlsx", "jsonl"])],
                   responses={(200, "text/csv"): OpenApiTypes.STR, (200, XLSX_TYPE): OpenApiTypes.BINARY,
                              (200, "application/x-ndjson"): OpenApiTypes.STR},
                   description="Every assessment of the agreements the caller may see, one row per transfer.")
    def get(self, request, fmt: str):
        lang = language(request)
        agreements = list(selectors.agreements_visible(_m(request)).order_by("id"))
        return streaming(result_rows(agreements, lang), RESULT_COLUMNS, fmt, "compensation-results", lang=lang)
