"""Trading API: orders (place, list, cancel, reduce), the acting organization's trades and trade
events, and public market data. Views are thin: input serializer → service → output serializer."""
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actor import Actor
from accounts.errors import ApiError
from accounts.permissions import acting_membership, member_with
from marketplace.errors import NOT_A_TRADER
from marketplace.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from marketplace.models import Market

from . import selectors
from .models import Order
from .serializers import (CandleSerializer, DepthSerializer, FillSerializer, OrderCreateSerializer,
                          OrderReduceSerializer, OrderSerializer, PlaceResultSerializer, PublicTradeSerializer,
                          TradeEventSerializer)
from .services import order_cancel, order_place, order_reduce

TRADING_KINDS = ("enterprise", "county_government", "city_government", "provincial_authority")
IdemHeader = OpenApiParameter(IDEMPOTENCY_PARAMETER["name"], str, OpenApiParameter.HEADER, required=False,
                              description=IDEMPOTENCY_PARAMETER["description"])


def _organization(request):
    return acting_membership(request).organization


class OrderFilter(filters.FilterSet):
    market = filters.NumberFilter(field_name="market_id")

    class Meta:
        model = Order
        fields = ["market", "status", "side"]


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    queryset = Order.objects.none()

    def get_permissions(self):
        if self.action in ("create", "cancel", "reduce"):
            return [member_with(roles=("admin", "trader"), kinds=TRADING_KINDS)()]
        return super().get_permissions()

    def permission_denied(self, request, message=None, code=None):
        if request.auth is not None and self.action in ("create", "cancel", "reduce"):
            raise ApiError(NOT_A_TRADER)
        super().permission_denied(request, message, code)

    def get_queryset(self):
        return selectors.orders_of(_organization(self.request).id)

    def _place_response(self, result, organization_id):
        fills = result.trades
        ctx = {"scales": {result.order.market.asset_id: result.order.market.asset.scale},
               "organization_id": organization_id}
        return {"order": OrderSerializer(result.order).data, "fills": FillSerializer(fills, many=True, context=ctx).data}

    @extend_schema(request=OrderCreateSerializer, responses={201: PlaceResultSerializer}, parameters=[IdemHeader])
    def create(self, request):
        organization = _organization(request)

        def handler():
            data = OrderCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            result = order_place(actor=Actor.from_request(request), organization=organization, market_id=v["market"],
                                 side=v["side"], price=v["price"], quantity=v["quantity"],
                                 time_in_force=v["time_in_force"], client_order_id=v["client_order_id"])
            return Response(self._place_response(result, organization.id), status=status.HTTP_201_CREATED)

        return idempotent(request, organization.id, handler)

    @extend_schema(request=None, responses=OrderSerializer, parameters=[IdemHeader])
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        organization = _organization(request)
        get_object_or_404(self.get_queryset(), pk=pk)

        def handler():
            order = order_cancel(actor=Actor.from_request(request), organization=organization, order_id=int(pk))
            return Response(OrderSerializer(order).data)

        return idempotent(request, organization.id, handler)

    @extend_schema(request=OrderReduceSerializer, responses=OrderSerializer, parameters=[IdemHeader])
    @action(detail=True, methods=["post"])
    def reduce(self, request, pk=None):
        organization = _organization(request)
        order = get_object_or_404(self.get_queryset(), pk=pk)

        def handler():
            data = OrderReduceSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            from accounts.api_common import decimal_to_minor_or_error

            remaining = decimal_to_minor_or_error(data.validated_data["remaining"], order.market.asset.scale,
                                                  "remaining")
            updated = order_reduce(actor=Actor.from_request(request), organization=organization, order_id=order.id,
                                   new_remaining=remaining)
            return Response(OrderSerializer(updated).data)

        return idempotent(request, organization.id, handler)


class TradeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The acting organization's trades (as buyer or seller)."""

    serializer_class = FillSerializer
    queryset = selectors.Trade.objects.none()
    filterset_fields = ["status", "source"]

    def get_queryset(self):
        return selectors.trades_of(_organization(self.request).id)

    def get_serializer_context(self):
        ctx = super().get_serializer_context()
        ctx["organization_id"] = _organization(self.request).id if acting_membership(self.request) else None
        ctx["scales"] = _AllScales()
        return ctx

    @extend_schema(responses=TradeEventSerializer(many=True))
    @action(detail=False, methods=["get"])
    def events(self, request):
        page = self.paginate_queryset(selectors.trade_events_of(_organization(request).id))
        return self.get_paginated_response(TradeEventSerializer(page, many=True).data)


class _AllScales(dict):
    def __missing__(self, asset_id):
        from ledger.models import Asset

        self[asset_id] = Asset.objects.values_list("scale", flat=True).get(pk=asset_id)
        return self[asset_id]


class MarketDepthView(APIView):
    @extend_schema(responses=DepthSerializer, parameters=[OpenApiParameter("levels", int)])
    def get(self, request, pk):
        market = get_object_or_404(Market.objects.select_related("asset"), pk=pk)
        levels = min(max(int(request.query_params.get("levels", 10) or 10), 1), 100) \
            if str(request.query_params.get("levels", "10")).isdigit() else 10
        return Response(selectors.book_depth(market, levels))


class MarketTradesView(APIView):
    @extend_schema(responses=PublicTradeSerializer(many=True))
    def get(self, request, pk):
        market = get_object_or_404(Market.objects.select_related("asset"), pk=pk)
        return Response(PublicTradeSerializer(selectors.recent_trades(market), many=True).data)


class MarketCandlesView(APIView):
    @extend_schema(responses=CandleSerializer(many=True),
                   parameters=[OpenApiParameter("interval", str, enum=list(selectors.CANDLE_INTERVALS))])
    def get(self, request, pk):
        market = get_object_or_404(Market.objects.select_related("asset"), pk=pk)
        interval = request.query_params.get("interval", "1h")
        if interval not in selectors.CANDLE_INTERVALS:
            raise ApiError("validation_error", fields={"interval": f"one of {', '.join(selectors.CANDLE_INTERVALS)}"})
        return Response(CandleSerializer(selectors.candles(market, interval), many=True).data)


class PublicTradeFeedView(APIView):
    """Recent trades across all markets, without the parties."""

    @extend_schema(responses=PublicTradeSerializer(many=True))
    def get(self, request):
        return Response(PublicTradeSerializer(selectors.recent_trades(None, 100), many=True).data)
