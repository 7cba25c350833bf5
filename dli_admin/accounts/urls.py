from __future__ import annotations

from django.urls import path

from . import views

# Included before Django's auth views so that these answer accounts/login/ and accounts/password_change/.
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("password_change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("settings/", views.account_settings, name="dli-account"),
]
