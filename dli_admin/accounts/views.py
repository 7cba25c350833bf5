from __future__ import annotations

import logging
import math

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .ip import client_ip
from .services import login_throttle_locked_for

logger = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    """Django's login page, which also says when a username is locked out from this address (429).

    The throttle itself is in ThrottledModelBackend. The message is the same whether or not the user
    exists, and a locked-out attempt never reaches the password check.
    """

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
