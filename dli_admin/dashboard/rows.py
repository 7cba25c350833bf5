"""The jobs table's rows, built in Python: a page of 100 jobs through the template language costs a dozen
filters and lookups per cell (time formats, timesince, status labels, escaping), most of the page's time.

The markup is the table's own (templates/dashboard/jobs.html holds its head); every value from DLI is
escaped here exactly as the template's autoescaping would (html.escape), and the name goes through the
visible filter. tests/unit/test_job_rows.py pins the markup against the template it replaced."""

from __future__ import annotations

from datetime import datetime
from html import escape

from django.urls import reverse
from django.utils import timezone
from django.utils.html import avoid_wrapping
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext

from dli_admin.accounts.templatetags.visible import visible
from dli_admin.accounts.timezones import time_html
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


# One row; {check} is the selection cell or nothing (a role that may not delete sees no checkboxes).
_ROW = (
    '<tr id="job-{job_id}">{check}<td class="name"><a href="{detail}">{name}</a></td>'
    '<td class="mono">{job_id}</td>'
    '<td><span class="status status-{tone}" title="{status}">{label}</span></td>'
    "<td>{job_type}</td><td>{queue}</td><td>{owner}</td>"
    "<td>{created}</td><td>{started}</td><td>{duration}</td></tr>\n"
)
_CHECK = '<td class="check"><input type="checkbox" name="job_ids" value="{job_id}" {label}></td>'
_CHECK_LABEL = 'aria-label="Select {name}"'
_NEVER = '<span class="muted">never</span>'


def job_rows_html(
    jobs: tuple[Job, ...] | list[Job], *, project_id: str, selectable: bool, now: datetime | None = None
) -> SafeString:
    """The <tr> of every job, in order."""
    now = now or timezone.now()
    zone = timezone.get_current_timezone()
    # The detail address of job 0, its id then replaced per row: one reverse() per page, not per row.
    detail = reverse("dli-job-detail", args=[project_id, 0])
    assert detail.endswith("/0/"), detail
    detail_prefix = detail[:-2]
    parts = []
    for job in jobs:
        name = escape(job.name)
        created = ""
        if job.create_time:
            ago = _ago(job.create_time, now)
            created = f'{time_html(job.create_time, zone)} <span class="muted">{ago} ago</span>'
        parts.append(
            _ROW.format(
                job_id=job.job_id,
                check=_CHECK.format(job_id=job.job_id, label=_CHECK_LABEL.format(name=name))
                if selectable
                else "",
                detail=f"{detail_prefix}{job.job_id}/",
                name=visible(job.name),
                tone=statuses.status_tone(job.status),
                status=escape(job.status),
                label=escape(statuses.status_label(job.status)),
                job_type=escape(job.job_type),
                queue=escape(job.queue_name) or "—",
                owner=escape(job.user_name) or "—",
                created=created,
                started=time_html(job.start_time, zone) if job.start_time else _NEVER,
                duration=duration(job.duration),
            )
        )
    return mark_safe("".join(parts))  # noqa: S308  every value escaped above; the markup is ours


def page_ids_html(jobs: tuple[Job, ...] | list[Job]) -> SafeString:
    """The page's job ids as hidden inputs (what "select all on this page" posts), one per job."""
    inputs = (f'<input type="hidden" name="page_ids" value="{int(job.job_id)}">' for job in jobs)
    return mark_safe("".join(inputs))  # noqa: S308  integers only
