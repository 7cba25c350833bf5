"""The jobs table's cells, computed once per row in Python: a page of 100 jobs would otherwise run a
dozen template filters per row (time formats, timesince, status labels), most of the page's time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.html import avoid_wrapping
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext

from dli_admin.accounts.templatetags.visible import visible
from dli_admin.dli.types import Job
from dli_admin.projects import statuses

from .templatetags.dli_tags import duration

_MINUTE, _HOUR, _DAY, _WEEK = 60, 3600, 86400, 604800


def _ago(when: datetime, now: datetime) -> str:
    """Django's timesince(when, now) without its calendar work for the common case under four weeks
    (weeks, days, hours and minutes have fixed lengths there); anything longer goes to timesince."""
    seconds = int((now - when).total_seconds())
    if seconds < 0 or seconds >= 4 * _WEEK:
        return timesince(when, now)
    units = [
        (seconds // _WEEK, "%(num)d week", "%(num)d weeks"),
        (seconds % _WEEK // _DAY, "%(num)d day", "%(num)d days"),
        (seconds % _DAY // _HOUR, "%(num)d hour", "%(num)d hours"),
        (seconds % _HOUR // _MINUTE, "%(num)d minute", "%(num)d minutes"),
    ]
    first = next((i for i, (count, _one, _many) in enumerate(units) if count), None)
    if first is None:
        return avoid_wrapping(ngettext("%(num)d minute", "%(num)d minutes", 0) % {"num": 0})
    parts = []
    for count, one, many in units[first : first + 2]:  # two adjacent units at most, as timesince
        if not count:
            break
        parts.append(avoid_wrapping(ngettext(one, many, count) % {"num": count}))
    return gettext(", ").join(parts)


@dataclass(frozen=True, slots=True)
class JobRow:
    job: Job
    name: SafeString  # escaped, invisible characters shown (the visible filter)
    status_tone: str
    status_label: str
    created_iso: str  # "" when DLI gave no time
    created: str
    created_ago: str
    started_iso: str  # "": never started
    started: str
    duration: str


def _local(when: datetime | None) -> tuple[str, str]:
    """As the template's date filters show it: ISO 8601 ('c') and DATETIME_FORMAT ("Y-m-d H:i:s T",
    accounts/formats/en) in the current time zone, by strftime: the date filter costs far more per cell."""
    if when is None:
        return "", ""
    local = timezone.localtime(when)
    return local.isoformat(), local.strftime("%Y-%m-%d %H:%M:%S %Z")


def job_rows(jobs: tuple[Job, ...] | list[Job], now: datetime | None = None) -> list[JobRow]:
    now = now or timezone.now()
    rows = []
    for job in jobs:
        created_iso, created = _local(job.create_time)
        started_iso, started = _local(job.start_time)
        rows.append(
            JobRow(
                job=job,
                name=visible(job.name),
                status_tone=statuses.status_tone(job.status),
                status_label=statuses.status_label(job.status),
                created_iso=created_iso,
                created=created,
                created_ago=_ago(job.create_time, now) if job.create_time else "",
                started_iso=started_iso,
                started=started,
                duration=duration(job.duration),
            )
        )
    return rows
