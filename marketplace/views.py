"""Market directory (every member) and market administration by the exchange operator: creating
(`POST markets`) and configuring (`PATCH markets/{id}`) markets, four-eyes — each answers 202 with a
proposal that another person of the operator confirms (`POST market-proposals/{id}/confirm`) or rejects;
halt, resume (closing, which cancels the book, is `trading`'s `markets/{id}/close`). Regulators halt and resume the
markets of their jurisdiction through oversight."""
from django.utils.translation import gettext
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.actor import Actor
from accounts.permissions import acting_membership, member_with
from core.api import ORDERED_LIST_BACKENDS, GrowingPagination, local_times
from core.errors import ApiError
from ledger.models import Asset

from .errors import MARKET_CLOSED
from .models import Market, MarketProposal
from .participant_rules import market_eligibility, market_rules
from .proposals import market_proposal_confirm, market_proposal_reject, market_propose
from .serializers import (
    MarketConfigInputSerializer,
    MarketEligibilitySerializer,
    MarketProposalSerializer,
    MarketRulesSerializer,
    MarketSerializer,
    MarketStatusInputSerializer,
    ProposalRejectInputSerializer,
)
from .services import market_set_status

OPERATOR_ADMIN = member_with(roles=("admin",), kinds=("exchange_operator",))
OPERATOR_CHECKER = member_with(roles=("admin", "approver"), kinds=("exchange_operator",),
                               safe_kinds=("exchange_operator",))


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
        if self.action in ("create", "partial_update"):
            return [OPERATOR_ADMIN()]
        return super().get_permissions()

    @extend_schema(request=MarketConfigInputSerializer, responses={202: MarketProposalSerializer},
                   description="Propose a new market (four-eyes: another person of the operator confirms it "
                               "through market-proposals/{id}/confirm). A band needs a reference price.")
    def create(self, request):
        data = MarketConfigInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        code = data.validated_data.get("asset")
        asset = Asset.objects.filter(code=code).first() if code else None
        if asset is None:
            return _field_error("asset", gettext("an existing instrument code"))
        proposal = market_propose(actor=Actor.from_request(request), asset=asset,
                                  config=data.to_config(asset.scale), reason=data.validated_data["reason"])
        return Response(MarketProposalSerializer(proposal).data, status=202)

    @extend_schema(request=MarketConfigInputSerializer, responses={202: MarketProposalSerializer},
                   description="Propose a new configuration of this market (four-eyes, as creation).")
    def partial_update(self, request, pk=None):
        market = self.get_object()
        data = MarketConfigInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        config = data.to_config(market.asset.scale)
        config.pop("code", None)
        proposal = market_propose(actor=Actor.from_request(request), market=market, config=config,
                                  reason=data.validated_data["reason"])
        return Response(MarketProposalSerializer(proposal).data, status=202)

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
        return Response(local_times(market_rules(self.get_object())))

    @extend_schema(responses=MarketEligibilitySerializer, description="The acting organization's own standing "
                   "under those rules, as buyer and as seller, before any price or quantity is known.")
    @action(detail=True, methods=["get"])
    def eligibility(self, request, pk=None):
        return Response(local_times(market_eligibility(self.get_object(), acting_membership(request).organization)))

def _field_error(field: str, message: str):
    from core.errors import DomainError

    raise DomainError("validation_error", fields={field: message})


class MarketProposalViewSet(viewsets.ReadOnlyModelViewSet):
    """Market proposals, for the operator: pending ones wait for a second person."""

    queryset = MarketProposal.objects.select_related("asset", "proposed_by", "decided_by").order_by("-id")
    serializer_class = MarketProposalSerializer
    permission_classes = (OPERATOR_CHECKER,)
    filterset_fields = ["status", "kind"]
    pagination_class = GrowingPagination
    filter_backends = ORDERED_LIST_BACKENDS
    ordering_fields = ["id", "created_at", "status"]
    ordering = "-id"

    @extend_schema(request=None, responses=MarketProposalSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        proposal = self.get_object()
        proposal = market_proposal_confirm(actor=Actor.from_request(request), proposal_id=proposal.id)
        return Response(MarketProposalSerializer(proposal).data)

    @extend_schema(request=ProposalRejectInputSerializer, responses=MarketProposalSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        proposal = self.get_object()
        data = ProposalRejectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = market_proposal_reject(actor=Actor.from_request(request), proposal_id=proposal.id,
                                          reason=data.validated_data["reason"])
        return Response(MarketProposalSerializer(proposal).data)
