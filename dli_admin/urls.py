from django.contrib import admin
from django.urls import include, path

from dli_admin.accounts.views import healthz

urlpatterns = [
    path("healthz", healthz, name="dli-healthz"),
    path("accounts/", include("dli_admin.accounts.urls")),  # our login view first
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("audit/", include("dli_admin.audit.urls")),
    path("", include("dli_admin.dashboard.urls")),
]
