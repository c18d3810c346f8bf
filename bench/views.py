"""The bare DRF ceiling: authenticate the bearer token like every API view (the project's default
authentication and `IsMember` permission), insert one row, answer 201."""
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import BenchRow


class BenchRowIn(serializers.Serializer):
    note = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)


class BareInsertView(APIView):
    def post(self, request):
        data = BenchRowIn(data=request.data)
        data.is_valid(raise_exception=True)
        row = BenchRow.objects.create(source="http", note=data.validated_data["note"])
        return Response({"id": row.id}, status=status.HTTP_201_CREATED)
