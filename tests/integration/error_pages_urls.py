"""The site's URLs plus one view that fails while its local variables and its message hold secrets,
as code calling DLI might. Only the development server of test_security_error_pages.py loads this."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.urls import path

from dli_admin.urls import urlpatterns as site_urlpatterns


@login_not_required
def fail_holding_secrets(request):
    held = settings.DLI_SK  # names that say nothing: only the values give them away
    pair = (settings.DLI_AK, settings.DLI_SK)
    headers = {"X-Auth-Token": settings.DLI_AUTH_TOKEN}
    line = f"iam user dli-admin password {settings.DLI_IAM_PASSWORD}"
    raise RuntimeError(f"DLI refused the request signed with {held} ({len(pair)}, {len(headers)}, {line})")


urlpatterns = [path("test-only/fail/", fail_holding_secrets), *site_urlpatterns]
