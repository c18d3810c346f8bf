"""Market directory (every member) and market administration by the exchange operator (halt, resume;
closing, which cancels the book, is `trading`'s `markets/{id}/close`). Regulators halt and resume the
markets of their jurisdiction through oversight."""
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.actor import Actor
from accounts.permissions import acting_membership, member_with
from core.errors import ApiError

from .errors import MARKET_CLOSED
from .models import Market
from .participant_rules import market_eligibility, market_rules
from .serializers import (
    MarketEligibilitySerializer,
    MarketRulesSerializer,
    MarketSerializer,
    MarketStatusInputSerializer,
)
from .services import market_set_status


class MarketFilter(filters.FilterSet):
    right_type = filters.CharFilter(field_name="asset__right_type_id")
    subtype = filters.CharFilter(field_name="asset__subtype")
    vintage = filters.NumberFilter(field_name="asset__vintage")

    class Meta:
        model = Market
        fields = ["status", "right_type", "subtype", "vintage"]


class MarketViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Market.objects.select_related("asset").prefetch_related("session_windows").order_by("id")
    serializer_class = MarketSerializer
    filterset_class = MarketFilter

    def get_permissions(self):
        if self.action in ("halt", "resume"):
            return [member_with(roles=("admin", "approver"), kinds=("exchange_operator",))()]
        return super().get_permissions()

    def _set_status(self, request, status):
        market = self.get_object()
        data = MarketStatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if market.status == "closed":
            raise ApiError(MARKET_CLOSED)
        market = market_set_status(actor=Actor.from_request(request), market=market, status=status,
                                   reason=data.validated_data["reason"])
        return Response(MarketSerializer(market).data)

    @extend_schema(request=MarketStatusInputSerializer, responses=MarketSerializer)
    @action(detail=True, methods=["post"])
    def halt(self, request, pk=None):
        return self._set_status(request, "halted")

    @extend_schema(request=MarketStatusInputSerializer, responses=MarketSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._set_status(request, "open")

    @extend_schema(responses=MarketRulesSerializer, description="The rules in force for this market's instrument "
                   "(rulebook version in force now): what an order, listing or bid here is checked against.")
    @action(detail=True, methods=["get"])
    def rules(self, request, pk=None):
        return Response(market_rules(self.get_object()))

    @extend_schema(responses=MarketEligibilitySerializer, description="The acting organization's own standing "
                   "under those rules, as buyer and as seller, before any price or quantity is known.")
    @action(detail=True, methods=["get"])
    def eligibility(self, request, pk=None):
        return Response(market_eligibility(self.get_object(), acting_membership(request).organization))
