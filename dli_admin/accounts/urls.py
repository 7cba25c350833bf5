from __future__ import annotations

from django.urls import path

from . import views

# Included before django.contrib.auth.urls so that this login view answers accounts/login/.
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
]
