"""Trading API: orders (place, list, cancel, reduce), the acting organization's trades and trade
events, and public market data. Views are thin: input serializer → service → output serializer."""
from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actor import Actor
from accounts.models import TRADING_KINDS
from accounts.permissions import acting_membership, member_with
from core.api import ORDERED_LIST_BACKENDS, GrowingPagination
from core.errors import ApiError
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent, idempotent_in_statement
from core.throttles import OrganizationOrderThrottle
from ledger.models import Asset
from marketplace.errors import NOT_A_TRADER, UNKNOWN_MARKET
from marketplace.models import Market
from marketplace.serializers import MarketSerializer, MarketStatusInputSerializer
from trading.common.serializers import FillSerializer
from trading.models import Order
from trading.orderbook import selectors
from trading.orderbook.engine import (
    engine_for_order,
    engine_matched,
    order_accept,
    order_cancel_request,
    order_reduce_request,
)
from trading.orderbook.serializers import (
    CandleSerializer,
    DepthSerializer,
    OrderCreateSerializer,
    OrderReduceSerializer,
    OrderSerializer,
    PlaceResultSerializer,
    PublicTradeSerializer,
    TradeEventSerializer,
    fill_data,
    order_data,
)
from trading.orderbook.services import market_close, order_cancel, order_place, order_reduce
from trading.orderbook.waiting import wait_for

IdemHeader = OpenApiParameter(IDEMPOTENCY_PARAMETER["name"], str, OpenApiParameter.HEADER, required=False,
                              description=IDEMPOTENCY_PARAMETER["description"])
PreferHeader = OpenApiParameter(
    "Prefer", str, OpenApiParameter.HEADER, required=False,
    description="RFC 7240 `wait=N` (seconds, decimals allowed, at most PREFER_WAIT_MAX): on a market matched by the "
                "engine, wait up to N s for the engine and answer as before (201 with the order and its fills; 200 "
                "for cancel and reduce) when it has taken the request; else 202 with the order as accepted. A "
                "replay (Idempotent-Replayed) answers 200 with the order as it is then, never 201.")


def _prefer_wait(request) -> float | None:
    """The `wait` preference of RFC 7240 (`Prefer: wait=5`, in seconds; we also take decimals), capped."""
    for header in request.headers.get("Prefer", "").split(","):
        for token in header.split(";"):
            name, _, value = token.strip().partition("=")
            if name.strip().lower() == "wait":
                try:
                    seconds = float(value.strip().strip('"'))
                except ValueError:
                    return None
                if seconds != seconds or seconds < 0:  # NaN or negative: ignored, as RFC 7240 asks
                    return None
                return min(seconds, settings.PREFER_WAIT_MAX)
    return None


def _waited(request, response, order_id: int, done):
    """After commit: honour `Prefer: wait` on a 202 (the engine's acceptance) by waiting for the engine
    (listening for its batches' NOTIFY, `trading.orderbook.waiting`); `done(order)` builds the old answer
    once the engine has taken the request."""
    seconds = _prefer_wait(request)
    if response.status_code != status.HTTP_202_ACCEPTED or seconds is None:
        return response
    order = wait_for(order_id, seconds)
    if order is None:
        response["Preference-Applied"] = f"wait={seconds:g}"
        return response
    answer = done(order)
    answer["Preference-Applied"] = f"wait={seconds:g}"
    if response.get("Idempotent-Replayed") == "true":
        # a replay of an acceptance answers with the order as it is now, but created nothing: never a 201
        answer.status_code = status.HTTP_200_OK
        answer["Idempotent-Replayed"] = "true"
    return answer


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
    pagination_class = GrowingPagination
    filter_backends = ORDERED_LIST_BACKENDS
    ordering_fields = ["id", "created_at", "updated_at", "price", "quantity", "remaining", "status"]
    ordering = "-id"

    def get_permissions(self):
        if self.action in ("create", "cancel", "reduce"):
            return [member_with(roles=("admin", "trader"), kinds=TRADING_KINDS)()]
        return super().get_permissions()

    def get_throttles(self):
        if self.action in ("create", "cancel", "reduce"):
            return [OrganizationOrderThrottle()]  # per organization (#14 item 12)
        return super().get_throttles()

    def permission_denied(self, request, message=None, code=None):
        if request.auth is not None and self.action in ("create", "cancel", "reduce"):
            raise ApiError(NOT_A_TRADER)
        super().permission_denied(request, message, code)

    def get_queryset(self):
        return selectors.orders_of(_organization(self.request).id)

    def _place_response(self, result, organization_id):
        scale = result.order.market.asset.scale
        # a new order's trades are exactly its fills (no query)
        return {"order": order_data(result.order, trade_ids=[t.id for t in result.trades]),
                "fills": [fill_data(t, scale=scale, organization_id=organization_id) for t in result.trades]}

    @extend_schema(request=OrderCreateSerializer, parameters=[IdemHeader, PreferHeader], responses={
        201: PlaceResultSerializer,
        202: OpenApiResponse(PlaceResultSerializer, description="accepted for the market's matching engine (no fills "
                                                                "yet); see Prefer"),
        200: OpenApiResponse(PlaceResultSerializer, description="an idempotent replay (Idempotent-Replayed: true)")})
    def create(self, request):
        organization = _organization(request)
        data = OrderCreateSerializer(data=request.data)
        if data.is_valid() and engine_matched(data.validated_data["market"]):
            response = self._accept(request, organization, data.validated_data)
        else:
            def handler():
                data.is_valid(raise_exception=True)
                v = data.validated_data
                result = order_place(actor=Actor.from_request(request), organization=organization,
                                     market_id=v["market"], side=v["side"], price=v["price"], quantity=v["quantity"],
                                     time_in_force=v["time_in_force"], client_order_id=v["client_order_id"])
                return Response(self._place_response(result, organization.id), status=status.HTTP_201_CREATED)

            return idempotent(request, organization.id, handler)
        if response.status_code != status.HTTP_202_ACCEPTED:
            return response

        def done(order):
            trades = list(selectors.Trade.objects.filter(Q(buy_order=order) | Q(sell_order=order))
                          .select_related("market").order_by("id"))
            scale = order.market.asset.scale
            return Response({"order": order_data(order, trade_ids=[t.id for t in trades]),
                             "fills": [fill_data(t, scale=scale, organization_id=organization.id) for t in trades]},
                            status=status.HTTP_201_CREATED)

        return _waited(request, response, response.data["order"]["id"], done)

    @staticmethod
    def _accept(request, organization, v):
        """A market matched by the engine: the acceptance writes the order, its hold, its request, its
        audit event and the idempotency record in one statement (`engine.order_accept`); 202."""
        def respond(order):
            return {"order": order_data(order, trade_ids=[]), "fills": []}

        def handler(claim):
            order = order_accept(actor=Actor.from_request(request), organization=organization, market_id=v["market"],
                                 side=v["side"], price=v["price"], quantity=v["quantity"],
                                 time_in_force=v["time_in_force"], client_order_id=v["client_order_id"], claim=claim,
                                 respond=respond)
            return None if order is None else Response(respond(order), status=status.HTTP_202_ACCEPTED)

        return idempotent_in_statement(request, organization.id, handler)

    @extend_schema(request=None, responses={200: OrderSerializer, 202: OrderSerializer},
                   parameters=[IdemHeader, PreferHeader])
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        organization = _organization(request)
        order_id = _order_id(pk)
        queued = engine_for_order(order_id)

        def handler():
            if queued:
                order = order_cancel_request(actor=Actor.from_request(request), organization=organization,
                                             order_id=order_id)
                return Response(OrderSerializer(order).data, status=status.HTTP_202_ACCEPTED)
            order = order_cancel(actor=Actor.from_request(request), organization=organization, order_id=order_id)
            return Response(OrderSerializer(order).data)

        response = idempotent(request, organization.id, handler)
        return _waited(request, response, order_id, lambda order: Response(OrderSerializer(order).data))

    @extend_schema(request=OrderReduceSerializer, responses={200: OrderSerializer, 202: OrderSerializer},
                   parameters=[IdemHeader, PreferHeader])
    @action(detail=True, methods=["post"])
    def reduce(self, request, pk=None):
        organization = _organization(request)
        order = get_object_or_404(self.get_queryset(), pk=_order_id(pk))
        queued = engine_matched(order.market_id)

        def handler():
            data = OrderReduceSerializer(data=request.data, context={"scale": order.market.asset.scale})
            data.is_valid(raise_exception=True)
            args = dict(actor=Actor.from_request(request), organization=organization, order_id=order.id,
                        new_remaining=data.validated_data["remaining"])
            if queued:
                return Response(OrderSerializer(order_reduce_request(**args)).data, status=status.HTTP_202_ACCEPTED)
            return Response(OrderSerializer(order_reduce(**args)).data)

        response = idempotent(request, organization.id, handler)
        return _waited(request, response, order.id, lambda updated: Response(OrderSerializer(updated).data))


def _order_id(pk) -> int:
    try:
        return int(pk)
    except (TypeError, ValueError):
        raise ApiError("not_found")


def _int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise ApiError("validation_error", fields={
            name: gettext("an integer from {low} to {high}").format(low=low, high=high)})
    return min(max(int(raw), low), high)


class TradeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The acting organization's trades (as buyer or seller)."""

    serializer_class = FillSerializer
    queryset = selectors.Trade.objects.none()
    filterset_fields = ["status", "source"]
    pagination_class = GrowingPagination
    filter_backends = ORDERED_LIST_BACKENDS
    ordering_fields = ["id", "created_at", "price", "quantity", "value", "status"]
    ordering = "-id"

    def get_queryset(self):
        return selectors.trades_of(_organization(self.request).id)

    def get_serializer_context(self):
        ctx = super().get_serializer_context()
        ctx["organization_id"] = _organization(self.request).id if acting_membership(self.request) else None
        ctx["scales"] = _AllScales()
        return ctx

    @extend_schema(responses=TradeEventSerializer(many=True))
    @action(detail=False, methods=["get"], filter_backends=[])  # newest first; the trade filters do not apply
    def events(self, request):
        page = self.paginate_queryset(selectors.trade_events_of(_organization(request).id))
        return self.get_paginated_response(TradeEventSerializer(page, many=True).data)


class _AllScales(dict):
    def __missing__(self, asset_id):
        self[asset_id] = Asset.objects.values_list("scale", flat=True).get(pk=asset_id)
        return self[asset_id]


def _market(pk) -> Market:
    market = Market.objects.select_related("asset").filter(pk=pk).first()
    if market is None:
        raise ApiError(UNKNOWN_MARKET)
    return market


class MarketDepthView(APIView):
    """Order-book depth by price level (quantity and number of orders per level), best first."""

    @extend_schema(responses=DepthSerializer, parameters=[OpenApiParameter("levels", int)])
    def get(self, request, pk):
        return Response(selectors.book_depth(_market(pk), _int_param(request, "levels", 10, 1, 100)))


class MarketTradesView(APIView):
    """A market's recent trades, newest first, without the parties."""

    @extend_schema(responses=PublicTradeSerializer(many=True), parameters=[OpenApiParameter("limit", int)])
    def get(self, request, pk):
        trades = selectors.recent_trades(_market(pk), _int_param(request, "limit", 50, 1, 500))
        return Response(PublicTradeSerializer(trades, many=True).data)


class MarketCandlesView(APIView):
    """OHLCV candles per interval (buckets aligned to Asia/Shanghai midnight), oldest first."""

    @extend_schema(responses=CandleSerializer(many=True),
                   parameters=[OpenApiParameter("interval", str, enum=list(selectors.CANDLE_INTERVALS)),
                               OpenApiParameter("limit", int)])
    def get(self, request, pk):
        market = _market(pk)
        interval = request.query_params.get("interval", "1h")
        if interval not in selectors.CANDLE_INTERVALS:
            raise ApiError("validation_error", fields={"interval": gettext("one of {choices}").format(
                choices=", ".join(selectors.CANDLE_INTERVALS))})
        rows = selectors.candles(market, interval, _int_param(request, "limit", 200, 1, 1000))
        return Response(CandleSerializer(rows, many=True).data)


class MarketCloseView(APIView):
    """The operator closes a market for good: open orders are cancelled and their escrow released."""

    permission_classes = (member_with(roles=("admin",), kinds=("exchange_operator",)),)

    @extend_schema(request=MarketStatusInputSerializer, responses=MarketSerializer, parameters=[IdemHeader])
    def post(self, request, pk):
        market = _market(pk)
        membership = acting_membership(request)

        def handler():
            data = MarketStatusInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            closed = market_close(actor=Actor.from_request(request), market_id=market.id,
                                  reason=data.validated_data["reason"])
            return Response(MarketSerializer(closed).data)

        return idempotent(request, membership.organization_id, handler)


class PublicTradeFeedView(APIView):
    """Recent trades across all markets and listings, without the parties: public (no login), for
    price transparency."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(responses=PublicTradeSerializer(many=True), parameters=[OpenApiParameter("limit", int)],
                   auth=[])
    def get(self, request):
        trades = selectors.recent_trades(None, _int_param(request, "limit", 100, 1, 500))
        return Response(PublicTradeSerializer(trades, many=True).data)
