"""Reserve API (`/api/v1/reserve/...`). Thin views: input serializer → service → output serializer.

  designations        GET any member (who holds which reserve is public) · POST the operator's admins propose
  designations/decide POST another person of the operator (admin/approver) confirms or rejects
  buybacks            GET any member (public notices) · POST the designated body opens one
  buybacks/close      POST the body (or the operator) closes one, releasing the rest of the escrow
  tenders             POST a holder (trading organizations) tenders rights into an open notice
  releases            GET any member · POST the designated body releases rights (listing or auction)
  overview            GET the operator, regulators (jurisdiction) and reserve bodies (their own)
  export              GET the same readers: every reserve operation as CSV (UTF-8 with BOM)
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actor import Actor
from accounts.models import GOVERNMENT_KINDS, TRADING_KINDS
from accounts.permissions import OPERATOR_KIND, acting_membership, member_with
from core.api import IdCursorPagination, error_responses
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from core.money import from_minor
from core.tabular import Column, CsvRenderer, language, streaming

from . import selectors, services
from .models import BuybackNotice, Designation, Release
from .serializers import (
    ReserveBuybackCreateSerializer,
    ReserveBuybackRefSerializer,
    ReserveBuybackSerializer,
    ReserveDesignationCreateSerializer,
    ReserveDesignationDecideSerializer,
    ReserveDesignationSerializer,
    ReserveReleaseCreateSerializer,
    ReserveReleaseSerializer,
    ReserveTenderCreateSerializer,
    ReserveTenderSerializer,
)

IdemHeader = OpenApiParameter(IDEMPOTENCY_PARAMETER["name"], str, OpenApiParameter.HEADER, required=False,
                              description=IDEMPOTENCY_PARAMETER["description"])
GOVERNMENT = tuple(sorted(GOVERNMENT_KINDS))
READERS = (OPERATOR_KIND, "regulator", *GOVERNMENT)
ERRORS = error_responses(400, 403, 404, 409, 422)


def _org(request):
    return acting_membership(request).organization


def _created(request, handler):
    return idempotent(request, _org(request).id, handler)


class DesignationListView(generics.ListAPIView):
    serializer_class = ReserveDesignationSerializer
    queryset = Designation.objects.none()

    def get_permissions(self):
        return [member_with(roles=("admin",), kinds=(OPERATOR_KIND,))()]

    def get_queryset(self):
        return Designation.objects.select_related("organization").order_by("-id")

    @extend_schema(operation_id="reserve_designations_list", tags=["reserve"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(operation_id="reserve_designations_create", tags=["reserve"],
                   request=ReserveDesignationCreateSerializer, parameters=[IdemHeader],
                   responses={201: ReserveDesignationSerializer, **ERRORS})
    def post(self, request):
        def handler():
            data = ReserveDesignationCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            d = services.designation_propose(actor=Actor.from_request(request), right_type_id=v["right_type"],
                                             organization_id=v["organization"], floor_price=v["floor_price"],
                                             note=v["note"])
            return Response(ReserveDesignationSerializer(d).data, status=status.HTTP_201_CREATED)
        return _created(request, handler)


class DesignationDecideView(APIView):
    def get_permissions(self):
        return [member_with(roles=("admin", "approver"), kinds=(OPERATOR_KIND,))()]

    @extend_schema(operation_id="reserve_designations_decide", tags=["reserve"],
                   request=ReserveDesignationDecideSerializer, responses={200: ReserveDesignationSerializer, **ERRORS})
    def post(self, request):
        data = ReserveDesignationDecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        d = services.designation_decide(actor=Actor.from_request(request), designation_id=v["designation"],
                                        confirm=v["decision"] == "confirm", reason=v["reason"])
        return Response(ReserveDesignationSerializer(d).data)


class BuybackListView(generics.ListAPIView):
    pagination_class = IdCursorPagination  # grows with activity: cursor (README "API conventions")
    serializer_class = ReserveBuybackSerializer
    queryset = BuybackNotice.objects.none()

    def get_permissions(self):
        return [member_with(roles=("admin", "trader"), kinds=GOVERNMENT)()]

    def get_queryset(self):
        return BuybackNotice.objects.select_related("asset").order_by("-id")

    @extend_schema(operation_id="reserve_buybacks_list", tags=["reserve"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
                   operation_id="reserve_buybacks_create", tags=["reserve"], request=ReserveBuybackCreateSerializer,
                   parameters=[IdemHeader], responses={201: ReserveBuybackSerializer, **ERRORS})
    def post(self, request):
        def handler():
            data = ReserveBuybackCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            n = services.notice_open(actor=Actor.from_request(request), body=_org(request), asset_id=v["asset"],
                                     price=v["price"], quantity=v["quantity"], title=v["title"])
            return Response(ReserveBuybackSerializer(n).data, status=status.HTTP_201_CREATED)
        return _created(request, handler)


class BuybackCloseView(APIView):
    def get_permissions(self):
        return [member_with(roles=("admin", "trader"), kinds=(OPERATOR_KIND, *GOVERNMENT))()]

    @extend_schema(
                   operation_id="reserve_buybacks_close", tags=["reserve"], request=ReserveBuybackRefSerializer,
                   responses={200: ReserveBuybackSerializer, **ERRORS})
    def post(self, request):
        data = ReserveBuybackRefSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        n = services.notice_close(actor=Actor.from_request(request), organization=_org(request),
                                  notice_id=data.validated_data["notice"])
        return Response(ReserveBuybackSerializer(n).data)


class TenderView(APIView):
    def get_permissions(self):
        return [member_with(roles=("admin", "trader"), kinds=TRADING_KINDS)()]

    @extend_schema(
                   operation_id="reserve_tenders_create", tags=["reserve"], request=ReserveTenderCreateSerializer,
                   parameters=[IdemHeader], responses={201: ReserveTenderSerializer, **ERRORS})
    def post(self, request):
        def handler():
            data = ReserveTenderCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            t = services.tender(actor=Actor.from_request(request), holder=_org(request), notice_id=v["notice"],
                                quantity=v["quantity"])
            return Response(ReserveTenderSerializer(t).data, status=status.HTTP_201_CREATED)
        return _created(request, handler)


class ReleaseListView(generics.ListAPIView):
    pagination_class = IdCursorPagination  # grows with activity: cursor (README "API conventions")
    serializer_class = ReserveReleaseSerializer
    queryset = Release.objects.none()

    def get_permissions(self):
        return [member_with(roles=("admin", "trader"), kinds=GOVERNMENT)()]

    def get_queryset(self):
        return Release.objects.select_related("asset").order_by("-id")

    @extend_schema(operation_id="reserve_releases_list", tags=["reserve"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
                   operation_id="reserve_releases_create", tags=["reserve"], request=ReserveReleaseCreateSerializer,
                   parameters=[IdemHeader], responses={201: ReserveReleaseSerializer, **ERRORS})
    def post(self, request):
        def handler():
            data = ReserveReleaseCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = dict(data.validated_data)
            r = services.release(actor=Actor.from_request(request), body=_org(request), asset_id=v.pop("asset"), **v)
            return Response(ReserveReleaseSerializer(r).data, status=status.HTTP_201_CREATED)
        return _created(request, handler)


def _overview(designation: Designation) -> dict:
    return {
        "designation": ReserveDesignationSerializer(designation).data,
        "holdings": [{"asset": h["asset"], "unit": h["unit"], "available": from_minor(h["available"], h["scale"]),
                      "held": from_minor(h["held"], h["scale"])} for h in selectors.holdings(designation)],
        "buybacks": ReserveBuybackSerializer(selectors.notices(designation)[:100], many=True).data,
        "tenders": ReserveTenderSerializer(selectors.tenders(designation)[:100], many=True).data,
        "listing_purchases": [{"trade": t.id, "asset_id": t.asset_id, "seller": t.seller_id, "price": from_minor(
            t.price, 2), "value": from_minor(t.value, 2), "status": t.status, "created_at": t.created_at}
            for t in selectors.listing_purchases(designation)[:100]],
        "releases": [{**ReserveReleaseSerializer(r).data, "listing_status": listing.status if listing else None,
                      "listing_remaining": from_minor(listing.remaining, r.asset.scale) if listing else None}
                     for r, listing in selectors.releases(designation)],
    }


class OverviewView(APIView):
    def get_permissions(self):
        return [member_with(safe_kinds=READERS)()]

    @extend_schema(operation_id="reserve_overview", tags=["reserve"],
                   responses={200: OpenApiResponse(description="{reserves: [{designation, holdings, buybacks, "
                                                               "tenders, listing_purchases, releases}]}")})
    def get(self, request):
        """Every visible reserve: designation, holdings, buy-backs, tenders, purchases on listings and the
        order book, releases (the newest 100 of each list; the export has them all)."""
        visible = selectors.active(selectors.visible_designations(acting_membership(request)))
        return Response({"reserves": [_overview(d) for d in visible]})


EXPORT_COLUMNS = [Column("operation", "业务"), Column("right_type", "权利类型"), Column("reserve_body", "收储主体"),
                  Column("counterparty", "对方"), Column("asset", "标的"), Column("quantity", "数量", "amount"),
                  Column("price", "单价（元）", "amount"), Column("value", "金额（元）", "amount"),
                  Column("reference", "关联编号"), Column("time", "时间", "time")]


def _export_rows(designations):
    for d in designations:
        base = {"right_type": d.right_type_id, "reserve_body": d.organization.name_zh}
        for t in selectors.tenders(d).iterator(chunk_size=500):
            yield {**base, "operation": "buyback_tender", "counterparty": t.holder.name_zh,
                   "asset": t.notice.asset.code,
                   "quantity": from_minor(t.quantity, t.notice.asset.scale), "price": from_minor(t.notice.price, 2),
                   "value": from_minor(t.value, 2), "reference": f"buyback:{t.notice_id}", "time": t.created_at}
        for t in selectors.listing_purchases(d).iterator(chunk_size=500):
            yield {**base, "operation": "purchase", "counterparty": t.seller.name_zh, "asset": t.asset_id,
                   "quantity": str(t.quantity), "price": from_minor(t.price, 2), "value": from_minor(t.value, 2),
                   "reference": f"trade:{t.id}", "time": t.created_at}
        for r, _listing in selectors.releases(d):
            yield {**base, "operation": "release", "counterparty": "", "asset": r.asset.code,
                   "quantity": from_minor(r.quantity, r.asset.scale), "price": from_minor(r.price, 2), "value": "",
                   "reference": f"listing:{r.listing_id}", "time": r.created_at}


class ExportView(APIView):
    renderer_classes = [JSONRenderer, CsvRenderer]

    def get_permissions(self):
        return [member_with(safe_kinds=(OPERATOR_KIND, "regulator"))()]

    @extend_schema(operation_id="reserve_export_csv", tags=["reserve"],
                   responses={200: OpenApiResponse(description="CSV (UTF-8 with BOM)")})
    def get(self, request):
        """Every reserve operation in the caller's jurisdiction (tenders, purchases, releases), as CSV."""
        lang = language(request)
        designations = list(selectors.visible_designations(acting_membership(request)))
        return streaming(_export_rows(designations), EXPORT_COLUMNS, "csv", "reserve", lang=lang)
