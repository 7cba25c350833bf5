from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from .ip import client_ip
from .services import login_throttle_attempt, login_throttle_locked_for, login_throttle_reset

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


class ThrottledModelBackend(ModelBackend):
    """Django's ModelBackend behind the login throttle.

    In the backend rather than the login view so that every login form (ours and the admin's) is
    throttled. Without a request (a script calling authenticate()) there is no client to throttle.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None or not username:
            return super().authenticate(request, username, password, **kwargs)
        ip = client_ip(request)
        if locked_for := login_throttle_attempt(username=username, client_ip=ip):
            logger.warning(
                "login refused: too many failures, %d s of cool-off left",
                locked_for,
                extra={"login_username": username, "client_ip": ip},
            )
            raise PermissionDenied  # authenticate() stops here and reports a failed login
        user = super().authenticate(request, username, password, **kwargs)
        if user is not None:
            login_throttle_reset(username=username, client_ip=ip)
        elif login_throttle_locked_for(username=username, client_ip=ip):
            logger.warning(
                "login locked out after too many failures",
                extra={"login_username": username, "client_ip": ip},
            )
        return user
