"""The request as this project's middleware leaves it, for type annotations only.

Django always builds a plain HttpRequest; middleware adds attributes to it. These subclasses only tell
the type checker about them (django-htmx's and django-stubs' documented pattern) and are never
instantiated. Here, in the lowest app, so that every app's views can import them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:  # annotations only: nothing more is imported at run time
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails


class RequestIdHttpRequest(HttpRequest):
    """From RequestIdMiddleware (first in MIDDLEWARE) on."""

    request_id: str


class HtmxHttpRequest(RequestIdHttpRequest):
    """What a view receives: also django-htmx's details, from HtmxMiddleware (last in MIDDLEWARE)."""

    htmx: HtmxDetails


class AuthenticatedHttpRequest(HtmxHttpRequest):
    """What a view behind LoginRequiredMiddleware receives (every view not marked login_not_required)."""

    user: User
