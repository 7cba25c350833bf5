"""The /audit/ list's entries, built in Python: through the template language a page of 50 records costs
dozens of tag and filter calls per entry (times, URLs, defaults, escaping), most of the page's time.

The markup is the list's own (templates/audit/list.html holds the table around it); every stored value
is escaped here as the template's autoescaping would (html.escape), free text goes through the visible
filter. tests/unit/test_audit_rows.py pins the markup against the template it replaced.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from html import escape

from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from dli_admin.accounts.templatetags.visible import visible
from dli_admin.accounts.timezones import time_html

from .models import AuditKind, AuditRecord, AuditSource
from .selectors import BatchRow

_ENTRY = (
    '<tbody class="audit-entry audit-{kind}"><tr><td>{when}</td><td>{who}</td><td>{project}</td>{what}</tr>'
    "{jobs}</tbody>\n"
)
_INTENT = (
    "<td>{verb} {count} job{plural}</td><td>{outcomes}</td>"
    '<td><a href="{batch}" hx-get="{rows}" hx-target="#jobs-{seq}" hx-swap="innerHTML" hx-push-url="false"'
    ' aria-controls="jobs-{seq}">Jobs</a></td>'
)
_JOBS = '<tr class="audit-jobs"><td colspan="6" id="jobs-{seq}"></td></tr>'
_REFUSED_IDS_SHOWN = 10
_SOURCES = dict(AuditSource.choices)


class _BatchUrls:
    """A batch's two addresses by one reverse() each per page, the batch id put in per row."""

    def __init__(self) -> None:
        placeholder = str(uuid.UUID(int=0))
        self.page = reverse("dli-audit-batch", args=[placeholder]).split(placeholder)
        self.rows = reverse("dli-audit-batch-rows", args=[placeholder]).split(placeholder)

    def of(self, batch_id: uuid.UUID) -> tuple[str, str]:
        return str(batch_id).join(self.page), str(batch_id).join(self.rows)


def _project(head: AuditRecord) -> str:
    if not head.project_name:
        return escape(head.project_id) or "all projects"
    short = escape(Truncator(head.project_id).chars(12))
    return f'{escape(head.project_name)} <span class="muted mono">{short}</span>'


def _who(head: AuditRecord) -> str:
    if head.actor_username:
        return escape(head.actor_username)
    return "command line" if head.kind == AuditKind.ACCESS else "anonymous"


def _intent(row: BatchRow, urls: _BatchUrls) -> str:
    head = row.head
    outcomes = "".join(
        f'<span class="outcome outcome-{escape(outcome)}">{n} {escape(outcome)}</span> '
        for outcome, n in row.outcome_counts
    )
    if row.no_result:
        outcomes += f'<span class="outcome outcome-none">{row.no_result} no result</span>'
    assert head.batch_id is not None, head.seq  # audit.services writes every intent with its batch id
    batch, rows = urls.of(head.batch_id)
    return _INTENT.format(
        verb="restore" if head.source == AuditSource.RESTORE else "delete",
        count=row.job_count,
        plural="" if row.job_count == 1 else "s",
        outcomes=outcomes,
        batch=batch,
        rows=rows,
        seq=head.seq,
    )


def _refusal(row: BatchRow) -> str:
    head = row.head
    ids = head.refused_job_ids
    refused = "refused"
    if ids:
        refused += ": " + ", ".join(escape(str(job_id)) for job_id in ids[:_REFUSED_IDS_SHOWN])
        if len(ids) > _REFUSED_IDS_SHOWN:
            refused += f" … ({len(ids)} ids)"
    repeats = ""
    if row.repeats:
        repeats = (
            f' <span class="refusal-repeats" title="repeated {row.repeats} more times within a minute">'
            f"×{row.repeats + 1}</span>"
        )
    return (
        f'<td>{refused}</td><td><span class="outcome outcome-refused">refused</span> '
        f"{visible(head.reason)}{repeats}</td><td></td>"
    )


def _what(row: BatchRow, urls: _BatchUrls) -> str:
    head = row.head
    if head.kind == AuditKind.INTENT:
        return _intent(row, urls)
    if head.kind == AuditKind.ACCESS:
        by = f" ({visible(head.access_by)})" if head.access_by else ""
        source = escape(_SOURCES.get(head.source, head.source))
        return (
            f'<td>{visible(head.reason)}</td><td><span class="outcome outcome-access">access change</span> '
            f'<span class="muted">by {source}{by}</span></td><td></td>'
        )
    if head.kind == AuditKind.CANCEL:
        link = f'<a href="{urls.of(head.batch_id)[0]}">Batch</a>' if head.batch_id else ""
        return (
            f'<td>{visible(head.reason)}</td><td><span class="outcome outcome-cancel">cancel</span></td>'
            f"<td>{link}</td>"
        )
    if head.kind == AuditKind.POLICY:
        return (
            f"<td>{visible(head.reason)}</td>"
            '<td><span class="outcome outcome-access">cleanup policy or webhook</span></td><td></td>'
        )
    return _refusal(row)


def audit_rows_html(rows: Iterable[BatchRow]) -> SafeString:
    """One <tbody> per batch or refusal, newest first as given; the times in the current time zone."""
    zone = timezone.get_current_timezone()
    urls = _BatchUrls()
    entries = []
    projects: dict[tuple[str, str], str] = {}  # a page names a few projects: Truncator once for each
    for row in rows:
        head = row.head
        key = (head.project_id, head.project_name)
        if (project := projects.get(key)) is None:
            project = projects[key] = _project(head)
        entries.append(
            _ENTRY.format(
                kind=escape(head.kind),
                when=time_html(head.created_at, zone),
                who=_who(head),
                project=project,
                what=_what(row, urls),
                jobs=_JOBS.format(seq=head.seq) if head.kind == AuditKind.INTENT else "",
            )
        )
    return mark_safe("".join(entries))  # noqa: S308  every stored value escaped above; the markup is ours
