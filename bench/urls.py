from django.urls import path

from .views import BareInsertView

urlpatterns = [path("rows", BareInsertView.as_view(), name="bench-rows")]
