"""Webhook endpoints of the acting organization (its admins register, list, rotate and delete them)
and the settlement reports (batches, earmarked funds) with the earmarked-fund payout.

  GET/POST   /api/v1/webhooks                      list / register (the secret is shown once)
  DELETE     /api/v1/webhooks/<id>
  POST       /api/v1/webhooks/<id>/rotate-secret   a new secret, shown once
  GET        /api/v1/webhooks/<id>/deliveries      the latest deliveries and their outcome (generic error)
  GET        /api/v1/webhook-deliveries?organization=&status=   operator: every delivery, error detail
  GET        /api/v1/settlement/batches?date=YYYY-MM-DD&market=<id>      operator
  GET        /api/v1/settlement/earmarked-report?from=&to=               operator, regulators, governments
  POST       /api/v1/settlement/earmarked-payouts  (Idempotency-Key)     government admins, operator
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actor import Actor
from accounts.api_common import IdCursorPagination, error_responses, from_minor
from accounts.audit import audit_record
from accounts.errors import ApiError
from accounts.models import GOVERNMENT_KINDS, Organization
from accounts.permissions import IsOperator, IsOrgAdmin, acting_membership, is_operator, member_with, oversight_region
from ledger.earmark import earmarked_payout, earmarked_report

from .models import WebhookDelivery, WebhookEndpoint
from .settlement_reports import settlement_batches
from .webhook_serializers import (
    EarmarkedFundSerializer,
    EarmarkedPayoutInput,
    OperatorWebhookDeliverySerializer,
    SettlementBatchSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookRotateSerializer,
)
from .webhooks import UrlRefused, check_url, new_secret, rotate_secret

MAX_ENDPOINTS = 10
_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _field_error(field: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({field: [serializers.ErrorDetail(message, code="invalid")]})


class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                             viewsets.GenericViewSet):
    permission_classes = [IsOrgAdmin]
    serializer_class = WebhookEndpointSerializer
    pagination_class = None
    queryset = WebhookEndpoint.objects.none()

    def get_queryset(self):
        return WebhookEndpoint.objects.filter(organization=acting_membership(self.request).organization).order_by("id")

    @extend_schema(request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointCreatedSerializer,
                                                                       **error_responses(400, 409)})
    def create(self, request):
        data = WebhookEndpointCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        url = data.validated_data["url"]
        try:
            check_url(url)
        except UrlRefused as exc:
            raise _field_error("url", str(exc))
        org = acting_membership(request).organization
        with transaction.atomic():
            Organization.objects.select_for_update().filter(pk=org.pk).first()  # serialize the count check
            if WebhookEndpoint.objects.filter(organization=org).count() >= MAX_ENDPOINTS:
                raise ApiError("conflict")
            endpoint = WebhookEndpoint.objects.create(organization=org, url=url, secret=new_secret(),
                                                      events=sorted(set(data.validated_data["events"])))
            audit_record(actor=Actor.from_request(request), action="webhook.register", object_type="webhook_endpoint",
                         object_id=endpoint.id, after={"url": url, "events": endpoint.events},
                         region_codes=[org.region_id])
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        with transaction.atomic():
            audit_record(actor=Actor.from_request(self.request), action="webhook.delete",
                         object_type="webhook_endpoint", object_id=instance.id, before={"url": instance.url},
                         region_codes=[instance.organization.region_id])
            instance.delete()

    @extend_schema(request=WebhookRotateSerializer, responses=WebhookEndpointCreatedSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint = self.get_object()
        data = WebhookRotateSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        rotate_secret(endpoint, overlap=data.validated_data.get("overlap_seconds"))
        with transaction.atomic():
            endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
            audit_record(actor=Actor.from_request(request), action="webhook.rotate_secret",
                         object_type="webhook_endpoint", object_id=endpoint.id,
                         after={"previous_secret_until": endpoint.previous_secret_until and
                                endpoint.previous_secret_until.isoformat()},
                         region_codes=[endpoint.organization.region_id])
        return Response(WebhookEndpointCreatedSerializer(endpoint).data)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        rows = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id")[:100]
        return Response(WebhookDeliverySerializer(rows, many=True).data)


class OperatorWebhookDeliveriesView(generics.ListAPIView):
    """Every organization's deliveries with the error's detail, newest first (the operator only)."""

    permission_classes = [IsOperator]
    serializer_class = OperatorWebhookDeliverySerializer
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[OpenApiParameter("organization", int), OpenApiParameter("status", str,
                                                                                    enum=["pending", "delivered",
                                                                                          "gave_up"])],
                   responses={200: OperatorWebhookDeliverySerializer(many=True), **error_responses(400, 401, 403)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = WebhookDelivery.objects.select_related("endpoint")
        organization, state = self.request.query_params.get("organization"), self.request.query_params.get("status")
        if organization not in (None, ""):
            if not (organization.isascii() and organization.isdigit() and len(organization) < 19):
                raise _field_error("organization", "an organization id")
            qs = qs.filter(endpoint__organization_id=int(organization))
        if state not in (None, ""):
            if state not in ("pending", "delivered", "gave_up"):
                raise _field_error("status", "pending, delivered or gave_up")
            qs = qs.filter(status=state)
        return qs


# --- settlement reports --------------------------------------------------------------------------------

def _date_param(request, name: str, default: date | None) -> date | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _field_error(name, "a date as YYYY-MM-DD")


class SettlementBatchesView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(responses=SettlementBatchSerializer(many=True), parameters=[
        OpenApiParameter("date", str, description="settlement day, YYYY-MM-DD (default today)"),
        OpenApiParameter("market", int)])
    def get(self, request):
        day = _date_param(request, "date", timezone.localdate())
        market = request.query_params.get("market")
        if market not in (None, "") and not (str(market).isascii() and str(market).isdigit()):
            raise _field_error("market", "a market id")
        rows = settlement_batches(day=day, market_id=int(market) if market else None)
        return Response(SettlementBatchSerializer(rows, many=True).data)


EarmarkReader = member_with(roles=(), kinds=(),
                            safe_kinds=("regulator", "exchange_operator", *sorted(GOVERNMENT_KINDS)))
EarmarkPayer = member_with(roles=("admin",), kinds=("exchange_operator", *sorted(GOVERNMENT_KINDS)))


class EarmarkedReportView(APIView):
    permission_classes = [EarmarkReader]

    @extend_schema(responses=EarmarkedFundSerializer(many=True), parameters=[
        OpenApiParameter("from", str, description="YYYY-MM-DD, inclusive"),
        OpenApiParameter("to", str, description="YYYY-MM-DD, inclusive")])
    def get(self, request):
        membership = acting_membership(request)
        start, end = _date_param(request, "from", None), _date_param(request, "to", None)
        tz = timezone.get_current_timezone()
        rows = earmarked_report(
            region=None if is_operator(membership) else oversight_region(membership),
            date_from=start and timezone.make_aware(datetime.combine(start, time.min), tz),
            date_to=end and timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), tz))
        if not is_operator(membership) and membership.organization.kind in GOVERNMENT_KINDS:
            rows = [r for r in rows if r["organization"] == membership.organization_id]  # its own fund only
        for r in rows:
            for key in ("received", "paid_out", "balance"):
                r[key] = from_minor(r[key], 2)
            r["by_purpose"] = {k: from_minor(v, 2) for k, v in r["by_purpose"].items()}
        return Response(EarmarkedFundSerializer(rows, many=True).data)


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
                                  bank_reference=v["bank_reference"])
        body = {"transaction_id": posted.transaction_id, "organization": org.id, "amount": from_minor(v["amount"], 2),
                "purpose_code": v["purpose_code"]}
        response = Response(body, status=status.HTTP_200_OK if posted.replayed else status.HTTP_201_CREATED)
        if posted.replayed:
            response["Idempotent-Replayed"] = "true"
        return response
