from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from .http import RequestIdHttpRequest
from .logs import request_id_var, user_var
from .timezones import page_zone

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

LAST_ACTIVITY = "accounts.last_activity"  # session key: Unix time of the last request
# A request id from the proxy is used only if it looks like one: it goes into every log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

Middleware = Callable[[HttpRequest], HttpResponseBase]


class RequestIdMiddleware:
    """Gives each request an id, for the logs and the X-Request-Id response header.

    First in MIDDLEWARE so that every log line of the request carries it. The proxy's X-Request-Id is
    used only with DLI_ADMIN_TRUST_REQUEST_ID, since a client can send the header too.
    """

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: RequestIdHttpRequest) -> HttpResponseBase:
        incoming = request.headers.get("X-Request-Id", "")
        if settings.DLI_ADMIN_TRUST_REQUEST_ID and _REQUEST_ID.fullmatch(incoming):
            request_id = incoming
        else:
            request_id = uuid.uuid4().hex
        request.request_id = request_id
        request_id_var.set(request_id)
        user_var.set("")
        response = self.get_response(request)
        response["X-Request-Id"] = request_id
        return response


def start_session_clocks(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """On login: a fixed expiry (Django's SESSION_COOKIE_AGE slides whenever the session is saved,
    which would make the 8 hours renewable) and the first activity time for the idle timeout."""
    request.session.set_expiry(timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE))
    request.session[LAST_ACTIVITY] = int(time.time())


class SessionIdleTimeoutMiddleware:
    """Logs out a session unused for SESSION_IDLE_TIMEOUT seconds; Django only knows an absolute age.

    After AuthenticationMiddleware and MessageMiddleware. The login redirect itself (or HX-Redirect for
    htmx) comes from LoginRequiredMiddleware below, as for any anonymous request.
    """

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        authenticated = request.user.is_authenticated
        if authenticated:
            now = int(time.time())
            last = request.session.get(LAST_ACTIVITY)
            if last is not None and now - last > settings.SESSION_IDLE_TIMEOUT:
                logout(request)
                authenticated = False
                minutes = settings.SESSION_IDLE_TIMEOUT // 60
                messages.warning(request, f"You were logged out after {minutes} minutes without activity.")
            else:
                user_var.set(request.user.get_username())
                # Saving the session costs a write: once a minute is precise enough.
                if last is None or now - last >= 60:
                    request.session[LAST_ACTIVITY] = now
        response = self.get_response(request)
        if authenticated and not response.has_header("Cache-Control"):
            # Pages for a logged-in user stay out of caches, so Back after logout shows no job list.
            add_never_cache_headers(response)
        return response


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, but an htmx request gets 401 with HX-Redirect.

    Otherwise the XHR would follow the redirect and htmx would swap a login form into a table. The
    login page's `next` is the page the browser shows, not the fragment URL (which may be POST-only).
    Django decides whether the login is required; only its answer to an htmx request is replaced
    (here rather than in handle_no_permission, which is declared to return a redirect).
    """

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[Any, Any],
    ) -> HttpResponseBase | None:
        response = super().process_view(request, view_func, view_args, view_kwargs)
        # Set by HtmxMiddleware: later in MIDDLEWARE, but every __call__ runs before any process_view.
        htmx: HtmxDetails | None = getattr(request, "htmx", None)
        if response is None or not htmx:
            return response
        login_url = resolve_url(self.get_login_url(view_func))
        if page := htmx.current_url_abs_path:
            login_url = redirect_to_login(page, login_url, self.get_redirect_field_name(view_func))[
                "Location"
            ]
        unauthorized = HttpResponse(status=401)
        unauthorized["HX-Redirect"] = login_url
        return unauthorized


class TimeZoneMiddleware:
    """Activates the user's time zone (accounts.timezones) for the request; after AuthenticationMiddleware."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.page_zone = zone = page_zone(request)  # type: ignore[attr-defined]
        with timezone.override(zone.zone):
            return self.get_response(request)
