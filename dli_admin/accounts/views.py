from __future__ import annotations

import logging
import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template import loader
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from .forms import ThrottledPasswordChangeForm, TimeZoneForm
from .ip import client_ip
from .services import login_throttle_locked_for
from .timezones import time_zone_set, time_zone_setting

logger = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    """Django's login page, which also says when a username is locked out from this address (429).

    The throttle itself is in ThrottledModelBackend. The message is the same whether or not the user
    exists, and a locked-out attempt never reaches the password check.
    """

    def get_context_data(self, **kwargs) -> dict:
        return {
            **super().get_context_data(**kwargs),
            "sso": settings.DLI_ADMIN_SSO,
            "password_login": settings.DLI_ADMIN_PASSWORD_LOGIN,
            "sso_failed": "sso" in self.request.GET,
        }

    def post(self, request, *args, **kwargs) -> HttpResponse:
        if not settings.DLI_ADMIN_PASSWORD_LOGIN:
            raise PermissionDenied("Password login is turned off: sign in with single sign-on.")
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        username = form.data.get("username", "")
        locked_for = username and login_throttle_locked_for(
            username=username, client_ip=client_ip(self.request)
        )
        if not locked_for:
            return super().form_invalid(form)
        context = self.get_context_data(form=form, lockout_minutes=math.ceil(locked_for / 60))
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(locked_for)
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, behind the login throttle (429 while this user is locked out here)."""

    form_class = ThrottledPasswordChangeForm

    def dispatch(self, request, *args, **kwargs) -> HttpResponseBase:
        if not settings.DLI_ADMIN_PASSWORD_LOGIN:
            raise Http404("Password login is turned off: passwords are kept by the identity provider.")
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "client_ip": client_ip(self.request)}

    def form_invalid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_invalid(form)
        if isinstance(form, ThrottledPasswordChangeForm) and form.locked_for:
            response.status_code = 429
            response["Retry-After"] = str(form.locked_for)
        return response


@require_http_methods(["GET", "POST"])
def account_settings(request: HttpRequest) -> HttpResponse:
    """The user's own settings: their time zone, and the way to change their password."""
    if request.method == "POST":
        form = TimeZoneForm(request.POST)
        if form.is_valid():
            zone = form.cleaned_data["time_zone"]
            time_zone_set(request=request, time_zone=zone)
            messages.success(request, f"Times are now shown in {zone or 'your browser’s time zone'}.")
            return redirect("dli-account")  # POST, redirect, GET
        status = 400
    else:
        form = TimeZoneForm(initial={"time_zone": time_zone_setting(request.user)})
        status = 200
    return render(request, "registration/account.html", {"form": form}, status=status)


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers and deploy scripts: is the database reachable, and which dli-admin answers?

    dli-admin's own version only (as in the page footer), never Django's, Python's or the database's.
    """
    version = settings.DLI_ADMIN_VERSION
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.exception("health check: database unreachable")
        return JsonResponse({"status": "error", "database": "unreachable", "version": version}, status=503)
    return JsonResponse({"status": "ok", "version": version})


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: says why when a form was too big to read (a selection of thousands of jobs).

    Django's own view renders 400.html without the exception. The page may come before any middleware
    has run (a foreign Host header), so it needs no user and no htmx attribute on the request.
    """
    if isinstance(exception, TooManyFieldsSent):
        cause = "fields"
    elif isinstance(exception, RequestDataTooBig):
        cause = "size"
    else:
        cause = ""
    template = "400.html#message" if getattr(request, "htmx", False) else "400.html"
    response = render(request, template, {"cause": cause}, status=400)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _error_response(request: HttpRequest, template: str, context: dict, status: int) -> HttpResponse:
    """The error as a page, or for htmx as an alert in the action panel (where the operator acted)."""
    if _is_htmx(request):
        response = render(request, f"{template}#message", context, status=status)
        response["HX-Retarget"] = "#action-panel"
        response["HX-Reswap"] = "innerHTML"
    else:
        response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403: our PermissionDenied messages say what the role does not allow; others are generic."""
    message = str(exception) if isinstance(exception, PermissionDenied) and str(exception) else ""
    return _error_response(request, "403.html", {"message": message}, 403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: the same answer for "no such thing" and "no role here", so nothing leaks."""
    return _error_response(request, "404.html", {}, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: no database, no user, no context processors: whatever broke may be one of them."""
    template = "500.html#message" if _is_htmx(request) else "500.html"
    response = HttpResponse(loader.get_template(template).render({}), status=500)
    if _is_htmx(request):
        response["HX-Retarget"] = "#action-panel"
        response["HX-Reswap"] = "innerHTML"
    patch_vary_headers(response, ["HX-Request"])
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a stale form (say, after a new login elsewhere) is refused where it was sent."""
    message = "This form is out of date. Reload the page and try again."
    return _error_response(request, "403.html", {"message": message}, 403)
