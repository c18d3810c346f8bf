"""The project's URLs plus views that fail, for the 500 tests (tests/platform/test_errors_and_limits.py)."""
from django.http import HttpResponse
from django.urls import path
from rest_framework.decorators import api_view, authentication_classes, permission_classes

from config.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401


@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def api_boom(request):
    raise RuntimeError("a bug in an API view")


def page_boom(request):
    raise RuntimeError("a bug in a page")


def page_ok(request):
    return HttpResponse("ok")


urlpatterns = [
    path("api/v1/boom", api_boom),
    path("boom", page_boom),
    *urlpatterns,
]
