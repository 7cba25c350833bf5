"""Single sign-on's two pages: the start (a redirect to the identity provider) and its callback.

mozilla-django-oidc's views, answering 404 while single sign-on is off (DLI_ADMIN_OIDC_CLIENT_ID unset).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView


def _sso_on() -> None:
    if not settings.DLI_ADMIN_SSO:
        raise Http404("Single sign-on is not configured.")


@login_not_required
@never_cache
def sso_start(request: HttpRequest) -> HttpResponse:
    _sso_on()
    return OIDCAuthenticationRequestView.as_view()(request)


@login_not_required
@never_cache
def sso_callback(request: HttpRequest) -> HttpResponse:
    """A tampered or replayed state, or an ID token that fails its checks, is refused (400); a login the
    provider refused, or one of an inactive user, goes back to the login page, which says so."""
    _sso_on()
    return OIDCAuthenticationCallbackView.as_view()(request)
