# ruff: noqa: E501  (the template below keeps one line per cell, as jobs.html had it)
"""The jobs table's rows built in Python (dashboard/rows.py) are the markup the template gave, value for
value: the same escaping, the same times in the reader's zone, the same "ago", the same links."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from dli_admin.dashboard.rows import job_rows_html
from dli_admin.dli.types import Job

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PROJECT = "a" * 32

# The rows as templates/dashboard/jobs.html rendered them before, with the filters the cells used.
TEMPLATE = Template(
    """{% load dli_tags visible %}{% for job in jobs %}<tr id="job-{{ job.job_id }}">
{% if may_delete %}<td class="check"><input type="checkbox" name="job_ids" value="{{ job.job_id }}" aria-label="Select {{ job.name }}"></td>{% endif %}
<td class="name"><a href="{% url 'dli-job-detail' project_id job.job_id %}">{{ job.name|visible }}</a></td>
<td class="mono">{{ job.job_id }}</td>
<td><span class="status status-{{ job.status|status_tone }}" title="{{ job.status }}">{{ job.status|status_label }}</span></td>
<td>{{ job.job_type }}</td>
<td>{{ job.queue_name|default:"—" }}</td>
<td>{{ job.user_name|default:"—" }}</td>
<td>{% if job.create_time %}<time datetime="{{ job.create_time|date:'c' }}">{{ job.create_time|date:"DATETIME_FORMAT" }}</time> <span class="muted">{{ job.create_time|timesince:now }} ago</span>{% endif %}</td>
<td>{% if job.start_time %}<time datetime="{{ job.start_time|date:'c' }}">{{ job.start_time|date:"DATETIME_FORMAT" }}</time>{% else %}<span class="muted">never</span>{% endif %}</td>
<td>{{ job.duration|duration }}</td>
</tr>{% endfor %}"""
)


def by_template(jobs: list[Job], *, may_delete: bool) -> str:
    html = TEMPLATE.render(
        Context({"jobs": jobs, "may_delete": may_delete, "project_id": PROJECT, "now": NOW})
    )
    return re.sub(r">\s+<", "><", html).strip()


def by_python(jobs: list[Job], *, may_delete: bool) -> str:
    return re.sub(
        r">\s+<", "><", job_rows_html(jobs, project_id=PROJECT, selectable=may_delete, now=NOW)
    ).strip()


JOBS = [
    Job(
        job_id=101,
        name="nightly-etl",
        status="job_running",
        job_type="flink_sql_job",
        queue_name="q-general",
        user_name="anna.schmidt",
        create_time=NOW - timedelta(days=3, hours=2, minutes=5, microseconds=1234),
        start_time=NOW - timedelta(hours=7),
        duration=timedelta(hours=3, minutes=5),
    ),
    # Everything a DLI reply may leave out, and text that must be escaped or shown as escapes.
    Job(job_id=102, name="<b>x</b> & \"q\" 'a' report\u202egnp.exe", status="no_such_status"),
    Job(job_id=103, name="", status="", create_time=NOW - timedelta(days=400), start_time=None),
    Job(job_id=104, name="old", status="job_finish", create_time=NOW + timedelta(minutes=3)),
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kolkata"])
@pytest.mark.parametrize("may_delete", [True, False])
def test_the_rows_are_the_markup_the_template_gave(zone, may_delete):
    with timezone.override(zone):
        assert by_python(JOBS, may_delete=may_delete) == by_template(JOBS, may_delete=may_delete)


def test_a_reader_without_delete_rights_gets_no_checkboxes():
    assert 'type="checkbox"' not in job_rows_html(JOBS, project_id=PROJECT, selectable=False, now=NOW)


text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
instants = (
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))
    | st.none()
)


@settings(max_examples=200, deadline=None)
@given(
    name=text,
    status=text,
    job_type=text,
    queue=text,
    owner=text,
    created=instants,
    started=instants,
    seconds=st.integers(min_value=0, max_value=10**7) | st.none(),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Chatham"]),
)
def test_any_job_is_shown_as_the_template_showed_it(
    name, status, job_type, queue, owner, created, started, seconds, zone
):
    job = Job(
        job_id=7,
        name=name,
        status=status,
        job_type=job_type,
        queue_name=queue,
        user_name=owner,
        create_time=created,
        start_time=started,
        duration=None if seconds is None else timedelta(seconds=seconds),
    )
    with timezone.override(zone):
        assert by_python([job], may_delete=True) == by_template([job], may_delete=True)
