"""Listings API (挂牌): list/read listings, create and cancel (seller), buy (fixed price), bid and read bids
(auctions), accept and reject (named buyer of a negotiated transfer). Views are thin: input serializer →
service (`trading.listings.services`) → output serializer. Every endpoint that creates or cancels something takes
an `Idempotency-Key`.

Visibility: every member reads every listing except negotiated offers, which only their two parties
(and the exchange operator) see; another organization's offer is a 404. Sealed bids: only one's own
until the auction has closed — the operator included.
"""
from django.db.models import Count, Max, Q
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.actor import Actor
from accounts.models import TRADING_KINDS
from accounts.permissions import TRADING_ROLES, acting_membership, is_operator, member_with
from core.api import ORDERED_LIST_BACKENDS, GrowingPagination, decimal_to_minor_or_error, error_responses
from core.errors import ApiError
from core.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from ledger.models import Asset
from marketplace.errors import NOT_A_TRADER
from trading.common.serializers import FillSerializer
from trading.listings import mechanisms
from trading.listings.serializers import (
    AssetScales,
    BidResultSerializer,
    BidSerializer,
    ListingBidSerializer,
    ListingBuySerializer,
    ListingCreateSerializer,
    ListingRejectSerializer,
    ListingSerializer,
    PurchaseResultSerializer,
)
from trading.listings.services import (
    listing_accept,
    listing_bid,
    listing_buy,
    listing_cancel,
    listing_create,
    listing_reject,
)
from trading.models import Listing, ListingKind, ListingStatus

IdemHeader = OpenApiParameter(IDEMPOTENCY_PARAMETER["name"], str, OpenApiParameter.HEADER, required=False,
                              description=IDEMPOTENCY_PARAMETER["description"])
WRITE_ACTIONS = ("create", "cancel", "buy", "accept", "reject")
ERRORS = error_responses(400, 403, 404, 409)


def created_or_replayed(serializer) -> dict:
    """201 when created; 200 for an idempotent replay (the stored response, Idempotent-Replayed: true)."""
    return {201: serializer, 200: OpenApiResponse(serializer, description="an idempotent replay"), **ERRORS}


class ListingFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=ListingKind.choices)
    status = filters.ChoiceFilter(choices=ListingStatus.choices)
    right_type = filters.CharFilter(method="filter_right_type", label="right type (emission, water, farmland, …)")
    seller = filters.NumberFilter(field_name="seller_id")
    asset = filters.NumberFilter(field_name="asset_id")

    class Meta:
        model = Listing
        fields = ["kind", "status", "right_type", "seller", "asset"]

    def filter_right_type(self, queryset, name, value):
        return queryset.filter(asset_id__in=Asset.objects.filter(right_type_id=value).values("id"))


def visible_listings(membership):
    qs = Listing.objects.select_related("seller")
    if not is_operator(membership):
        org_id = membership.organization_id
        # a private mechanism's listings (negotiated transfers): only their two parties see them
        qs = qs.filter(~Q(kind__in=mechanisms.private_kinds()) | Q(seller_id=org_id) | Q(named_buyer_id=org_id))
    return qs.annotate(best_bid_amount=Max("bids__amount"), bid_count_value=Count("bids")).order_by("-id")


class ListingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ListingSerializer
    filterset_class = ListingFilter
    queryset = Listing.objects.none()
    pagination_class = GrowingPagination
    filter_backends = ORDERED_LIST_BACKENDS
    ordering_fields = ["id", "created_at", "quantity", "remaining", "status"]
    ordering = "-id"

    def _writes(self) -> bool:
        return self.action in WRITE_ACTIONS or (self.action == "bids" and self.request.method == "POST")

    def get_permissions(self):
        if self._writes():
            return [member_with(roles=TRADING_ROLES, kinds=TRADING_KINDS)()]
        return super().get_permissions()

    def permission_denied(self, request, message=None, code=None):
        if request.auth is not None and self._writes():
            raise ApiError(NOT_A_TRADER)
        super().permission_denied(request, message, code)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Listing.objects.none()
        return visible_listings(acting_membership(self.request))

    def get_serializer_context(self):
        ctx = super().get_serializer_context()
        membership = acting_membership(self.request)
        ctx["organization_id"] = membership.organization_id if membership else None
        ctx["assets"] = AssetScales()
        return ctx

    def _org(self):
        return acting_membership(self.request).organization

    def _listing(self, listing):
        return ListingSerializer(listing, context=self.get_serializer_context()).data

    def _purchase(self, result, organization_id):
        ctx = {"scales": {result.trade.asset_id: Asset.objects.get(pk=result.trade.asset_id).scale},
               "organization_id": organization_id}
        return {"listing": self._listing(result.listing), "trade": FillSerializer(result.trade, context=ctx).data}

    @extend_schema(request=ListingCreateSerializer, responses=created_or_replayed(ListingSerializer),
                   parameters=[IdemHeader])
    def create(self, request):
        organization = self._org()

        def handler():
            data = ListingCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            listing = listing_create(
                actor=Actor.from_request(request), seller=organization, kind=v["kind"], asset_id=v["asset"],
                quantity=v["quantity"], price=v["price"], reserve_price=v["reserve_price"],
                min_increment=v["min_increment"], second_price=v["second_price"], divisible=v["divisible"],
                min_purchase=v["min_purchase"], start_at=v["start_at"], end_at=v["end_at"],
                anti_snipe_minutes=v["anti_snipe_minutes"], named_buyer_id=v["named_buyer"],
                provenance=v["provenance"], title=v["title"])
            return Response(self._listing(listing), status=status.HTTP_201_CREATED)

        return idempotent(request, organization.id, handler)

    @extend_schema(request=None, responses={200: ListingSerializer, **ERRORS}, parameters=[IdemHeader])
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        organization = self._org()
        listing = self.get_object()

        def handler():
            updated = listing_cancel(actor=Actor.from_request(request), organization=organization,
                                     listing_id=listing.id)
            return Response(self._listing(updated))

        return idempotent(request, organization.id, handler)

    @extend_schema(request=ListingBuySerializer, responses=created_or_replayed(PurchaseResultSerializer),
                   parameters=[IdemHeader])
    @action(detail=True, methods=["post"])
    def buy(self, request, pk=None):
        organization = self._org()
        listing = self.get_object()

        def handler():
            data = ListingBuySerializer(data=request.data)
            data.is_valid(raise_exception=True)
            scale, unit = Asset.objects.values_list("scale", "unit").get(pk=listing.asset_id)
            quantity = decimal_to_minor_or_error(data.validated_data["quantity"], scale, "quantity", unit=unit)
            result = listing_buy(actor=Actor.from_request(request), buyer=organization, listing_id=listing.id,
                                 quantity=quantity)
            return Response(self._purchase(result, organization.id), status=status.HTTP_201_CREATED)

        return idempotent(request, organization.id, handler)

    @extend_schema(methods=["GET"], request=None, responses={200: BidSerializer(many=True), **ERRORS})
    @extend_schema(methods=["POST"], request=ListingBidSerializer, responses=created_or_replayed(BidResultSerializer),
                   parameters=[IdemHeader])
    # the listing filters mean nothing for one listing's bids: none are advertised or applied
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def bids(self, request, pk=None):
        organization = self._org()
        listing = self.get_object()
        scale = Asset.objects.values_list("scale", flat=True).get(pk=listing.asset_id)
        ctx = {"scale": scale, "organization_id": organization.id}
        if request.method == "GET":
            return Response(BidSerializer(self._visible_bids(listing, organization.id), many=True, context=ctx).data)

        def handler():
            data = ListingBidSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            result = listing_bid(actor=Actor.from_request(request), bidder=organization, listing_id=listing.id,
                                 amount=data.validated_data["price"])
            return Response({"bid": BidSerializer(result.bid, context=ctx).data,
                             "listing": self._listing(result.listing), "extended": result.extended},
                            status=status.HTTP_201_CREATED)

        return idempotent(request, organization.id, handler)

    @staticmethod
    def _visible_bids(listing, organization_id):
        return mechanisms.of(listing).visible_bids(listing, organization_id)

    @extend_schema(request=None, responses=created_or_replayed(PurchaseResultSerializer), parameters=[IdemHeader])
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        organization = self._org()
        listing = self.get_object()

        def handler():
            result = listing_accept(actor=Actor.from_request(request), buyer=organization, listing_id=listing.id)
            return Response(self._purchase(result, organization.id), status=status.HTTP_201_CREATED)

        return idempotent(request, organization.id, handler)

    @extend_schema(request=ListingRejectSerializer, responses={200: ListingSerializer, **ERRORS},
                   parameters=[IdemHeader])
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        organization = self._org()
        listing = self.get_object()

        def handler():
            data = ListingRejectSerializer(data=request.data or {})
            data.is_valid(raise_exception=True)
            updated = listing_reject(actor=Actor.from_request(request), buyer=organization, listing_id=listing.id,
                                     reason=data.validated_data["reason"])
            return Response(self._listing(updated))

        return idempotent(request, organization.id, handler)
