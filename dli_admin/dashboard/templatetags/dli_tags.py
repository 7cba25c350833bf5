from __future__ import annotations

from datetime import timedelta

from django import template

from dli_admin.projects import statuses

register = template.Library()


@register.filter
def status_label(status: str) -> str:
    return statuses.status_label(status)


@register.filter
def status_tone(status: str) -> str:
    return statuses.status_tone(status)


@register.filter
def duration(value: timedelta | None) -> str:
    """A short human duration: 45s, 12m, 3h 05m, 4d 2h."""
    if not value:
        return ""
    seconds = int(value.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return f"{seconds}s"
