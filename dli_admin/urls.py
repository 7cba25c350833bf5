from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dli_admin.accounts.views import healthz
from dli_admin.metrics.views import metrics

handler400 = "dli_admin.accounts.views.bad_request"
handler403 = "dli_admin.accounts.views.permission_denied"
handler404 = "dli_admin.accounts.views.page_not_found"
handler500 = "dli_admin.accounts.views.server_error"

urlpatterns = [
    path("healthz", healthz, name="dli-healthz"),
    path("metrics", metrics, name="dli-metrics"),  # for Prometheus, with a bearer token, not a session
    path("accounts/", include("dli_admin.accounts.urls")),  # our login and password change views first
    path("accounts/sso/", include("dli_admin.access.urls")),  # single sign-on (404 while it is off)
    # Only what dli-admin uses: no password reset pages (they would send mail, unthrottled).
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    path("audit/", include("dli_admin.audit.urls")),
    path("", include("dli_admin.policies.urls")),
    path("", include("dli_admin.dashboard.urls")),
]
