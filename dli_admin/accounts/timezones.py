"""Each user's time zone: their own setting, else their browser's (a cookie app.js sets), else TIME_ZONE.

The middleware activates it for the whole request, so every page, the no-JS pages and the admin show
times in it (the format is in accounts/formats). The CSV export stays in UTC whatever the zone.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, tzinfo
from html import escape
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .models import UserPreference

ZONE_COOKIE = "dli_admin_tz"  # set by app.js from the browser's Intl time zone; never trusted unchecked
SESSION_KEY = "accounts.time_zone"  # the user's setting ("" for none), so a page needs no extra query


@functools.cache
def known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True)
class PageZone:
    name: str  # an IANA name: "Europe/Berlin", "UTC"
    source: str  # "setting", "browser" or "server"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.name)


def time_zone_setting(user: Any) -> str:
    """The zone this user chose, "" when they left it automatic."""
    value = UserPreference.objects.filter(user=user).values_list("time_zone", flat=True).first()
    return value if value in known_zones() else ""


def time_zone_set(*, request: HttpRequest, time_zone: str) -> None:
    """Save the user's choice ("" for automatic) and use it from this request on."""
    if time_zone and time_zone not in known_zones():
        raise ValueError(f"unknown time zone {time_zone!r}")
    user: Any = request.user  # signed in: the view is behind LoginRequiredMiddleware
    UserPreference.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
    request.session[SESSION_KEY] = time_zone


def page_zone(request: HttpRequest) -> PageZone:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        if SESSION_KEY not in request.session:
            request.session[SESSION_KEY] = time_zone_setting(user)
        if (chosen := request.session[SESSION_KEY]) and chosen in known_zones():
            return PageZone(chosen, "setting")
    browser = request.COOKIES.get(ZONE_COOKIE, "")
    if browser in known_zones():
        return PageZone(browser, "browser")
    return PageZone(settings.TIME_ZONE, "server")


def time_html(when: datetime, zone: tzinfo) -> str:
    """A <time> element as the templates' date filters give it: ISO 8601 ('c') in the attribute and
    DATETIME_FORMAT ("Y-m-d H:i:s T", accounts/formats/en) as text, in `zone` (the page's: the current
    time zone). For tables built in Python, where the date filter costs far more per cell than strftime."""
    local = when.astimezone(zone)
    return f'<time datetime="{local.isoformat()}">{escape(local.strftime("%Y-%m-%d %H:%M:%S %Z"))}</time>'
