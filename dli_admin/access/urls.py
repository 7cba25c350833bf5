from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("start/", views.sso_start, name="dli-sso-start"),
    path("callback/", views.sso_callback, name="dli-sso-callback"),
]
