"""Template context every page gets, whoever is logged in."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def version(request: HttpRequest) -> dict[str, str]:
    """The footer's "dli-admin 0.2.0"."""
    return {"dli_admin_version": settings.DLI_ADMIN_VERSION}


def time_zone(request: HttpRequest) -> dict[str, object]:
    """The footer's "times in Europe/Berlin (your setting)": which zone, and where it came from."""
    return {"page_zone": getattr(request, "page_zone", None)}
