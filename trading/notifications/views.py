"""Webhook endpoints of the acting organization (its admins register, list, rotate and delete them).
Thin: the use cases are in `trading.notifications.services`.

  GET/POST   /api/v1/webhooks                      list / register (the secret is shown once)
  DELETE     /api/v1/webhooks/<id>
  POST       /api/v1/webhooks/<id>/rotate-secret   a new secret, shown once
  GET        /api/v1/webhooks/<id>/deliveries      the latest deliveries and their outcome
"""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.actor import Actor
from accounts.permissions import IsOrgAdmin, acting_membership
from core.api import error_responses
from trading.models import WebhookEndpoint
from trading.notifications.selectors import endpoint_deliveries, organization_endpoints
from trading.notifications.serializers import (
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
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

    @extend_schema(request=None, responses=WebhookEndpointCreatedSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint = webhook_rotate_secret(actor=Actor.from_request(request), endpoint=self.get_object())
        return Response(WebhookEndpointCreatedSerializer(endpoint).data)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        return Response(WebhookDeliverySerializer(endpoint_deliveries(self.get_object()), many=True).data)



