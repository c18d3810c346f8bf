"""Webhook endpoints of the acting organization (its admins register, list, rotate and delete them).
Thin: the use cases are in `trading.notifications.services`.

  GET/POST   /api/v1/webhooks                      list / register (the secret is shown once)
  DELETE     /api/v1/webhooks/<id>
  POST       /api/v1/webhooks/<id>/rotate-secret   a new secret, shown once
  GET        /api/v1/webhooks/<id>/deliveries      the latest deliveries and their outcome (generic error)
  GET        /api/v1/webhook-deliveries?organization=&status=   operator: every delivery, error detail
"""
from __future__ import annotations

from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.actor import Actor
from accounts.permissions import IsOperator, IsOrgAdmin, acting_membership
from core.api import IdCursorPagination, error_responses
from core.errors import ApiError
from trading.models import WebhookEndpoint
from trading.notifications.selectors import all_deliveries, endpoint_deliveries, organization_endpoints
from trading.notifications.serializers import (
    OperatorWebhookDeliverySerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookRotateSerializer,
)
from trading.notifications.services import webhook_delete, webhook_register, webhook_rotate_secret


class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                             viewsets.GenericViewSet):
    permission_classes = [IsOrgAdmin]
    serializer_class = WebhookEndpointSerializer
    pagination_class = None
    queryset = WebhookEndpoint.objects.none()

    def get_queryset(self):
        return organization_endpoints(acting_membership(self.request).organization)

    @extend_schema(request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointCreatedSerializer,
                                                                       **error_responses(400, 409)})
    def create(self, request):
        data = WebhookEndpointCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhook_register(actor=Actor.from_request(request),
                                    organization=acting_membership(request).organization,
                                    url=data.validated_data["url"], events=data.validated_data["events"])
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        webhook_delete(actor=Actor.from_request(self.request), endpoint=instance)

    @extend_schema(request=WebhookRotateSerializer, responses=WebhookEndpointCreatedSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        data = WebhookRotateSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        endpoint = webhook_rotate_secret(actor=Actor.from_request(request), endpoint=self.get_object(),
                                         overlap=data.validated_data.get("overlap_seconds"))
        return Response(WebhookEndpointCreatedSerializer(endpoint).data)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        return Response(WebhookDeliverySerializer(endpoint_deliveries(self.get_object()), many=True).data)


STATUSES = ("pending", "delivered", "gave_up")


class OperatorWebhookDeliveriesView(generics.ListAPIView):
    """Every organization's deliveries with the error's detail, newest first (the operator only)."""

    permission_classes = [IsOperator]
    serializer_class = OperatorWebhookDeliverySerializer
    pagination_class = IdCursorPagination

    @extend_schema(parameters=[OpenApiParameter("organization", int),
                               OpenApiParameter("status", str, enum=list(STATUSES))],
                   responses={200: OperatorWebhookDeliverySerializer(many=True), **error_responses(400, 401, 403)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        organization, state = self.request.query_params.get("organization"), self.request.query_params.get("status")
        if organization not in (None, "") and not (organization.isascii() and organization.isdigit()
                                                   and len(organization) < 19):
            raise ApiError("validation_error", fields={"organization": gettext("an organization id")})
        if state not in (None, "") and state not in STATUSES:
            raise ApiError("validation_error", fields={
                "status": gettext("one of {choices}").format(choices="pending, delivered, gave_up")})
        return all_deliveries(organization_id=int(organization) if organization else None, status=state or None)
