# ruff: noqa: E501  (the rows below are the template markup, kept as one line per cell as in jobs.html)
"""Time the jobs page's server side beyond its one DLI list call, for 10 and 100 rows, and count queries.

    .venv/bin/python benchmarks/jobs_page.py [--repeat 20] [--database-url URL]

The DLI list call is replaced by a page of jobs built in advance, so the figure is routing, the
session, permissions, queries and rendering alone (through Django's test client, as an operator of a
project in a throwaway SQLite file in var/, or in the database --database-url names). The peer is the table's rows rendered through the template language
as they were before (a dozen template filters per row, timesince among them), measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from unittest import mock

from throwaway import throwaway_django

OLD_ROW = """{% load dli_tags visible %}{% for job in jobs %}<tr id="job-{{ job.job_id }}">
<td class="check"><input type="checkbox" name="job_ids" value="{{ job.job_id }}" aria-label="Select {{ job.name }}"></td>
<td class="name">{{ job.name|visible }}</td><td class="mono">{{ job.job_id }}</td>
<td><span class="status status-{{ job.status|status_tone }}" title="{{ job.status }}">{{ job.status|status_label }}</span></td>
<td>{{ job.job_type }}</td><td>{{ job.queue_name|default:"—" }}</td><td>{{ job.user_name|default:"—" }}</td>
<td>{% if job.create_time %}<time datetime="{{ job.create_time|date:'c' }}">{{ job.create_time|date:"Y-m-d H:i" }}</time> <span class="muted">{{ job.create_time|timesince }} ago</span>{% endif %}</td>
<td>{% if job.start_time %}<time datetime="{{ job.start_time|date:'c' }}">{{ job.start_time|date:"Y-m-d H:i" }}</time>{% else %}<span class="muted">never</span>{% endif %}</td>
<td>{{ job.duration|duration }}</td></tr>{% endfor %}"""


def median_ms(action, repeat: int) -> float:
    action()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--database-url", help="a database to set up and use (PostgreSQL: createdb it first); default: SQLite"
    )
    args = parser.parse_args()
    throwaway_django("jobs", database_url=args.database_url)
    import django
    from django.conf import settings
    from django.db import connection
    from django.template import Context, Template
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from dli_admin.dashboard import views
    from dli_admin.dashboard.rows import job_rows_html
    from dli_admin.dli.types import Job
    from dli_admin.projects.models import DliProject, Grant, recorded_change
    from dli_admin.projects.selectors import JobsPage

    # The test client's host let in by the setting, not by setup_test_environment(), whose template
    # instrumentation (a signal per template rendered) production does not run.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user, _ = django.contrib.auth.get_user_model().objects.get_or_create(username="bench-operator")
    with recorded_change():  # set-up, not a change anyone made (kept for the next run on the same database)
        project, _ = DliProject.objects.get_or_create(project_id="f" * 32, defaults={"name": "bench"})
        Grant.objects.get_or_create(user=user, project=project, defaults={"role": "operator"})
    now = datetime.now(UTC)
    jobs = tuple(
        Job(
            job_id=10_000 + i,
            name=f"etl-nightly-{i}",
            status=["job_running", "job_finish", "job_failed"][i % 3],
            job_type="flink_sql_job",
            queue_name="q-general",
            user_name="anna.schmidt",
            create_time=now - timedelta(days=i % 30, hours=i % 24, minutes=i),
            start_time=None if i % 7 == 0 else now - timedelta(hours=i),
            duration=timedelta(seconds=37 * i),
        )
        for i in range(100)
    )
    client = Client()
    client.force_login(user)
    url = reverse("dli-job-list", args=[project.project_id])
    # The first page after login reads the user's time zone into the session; the figures are the pages after.
    ready = JobsPage(jobs=jobs[:10], total_count=1000, page=1, page_size=10)
    with (
        mock.patch.object(views, "flink_jobs_page", return_value=ready),
        mock.patch.object(views, "dli_client_for", return_value=None),
    ):
        client.get(url)
    print(
        f"jobs page on {connection.vendor}, server time beyond the DLI list call (the DLI call replaced by a ready page):"
    )
    for size in (10, 100):
        page = JobsPage(jobs=jobs[:size], total_count=1000, page=1, page_size=size)
        with (
            mock.patch.object(views, "flink_jobs_page", return_value=page),
            mock.patch.object(views, "dli_client_for", return_value=None),
        ):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url, {"page_size": size}).status_code == 200
            count = len(queries.captured_queries)
            ms = median_ms(lambda size=size: client.get(url, {"page_size": size}), args.repeat)
        print(f"  {size:>3} rows: {ms:6.1f} ms (goal <= 15 for 100), {count} queries (goal <= 3, constant)")
    old = Template(OLD_ROW)
    old_ms = median_ms(lambda: old.render(Context({"jobs": jobs})), args.repeat)
    new_ms = median_ms(
        lambda: job_rows_html(jobs, project_id=project.project_id, selectable=True), args.repeat
    )
    print(f"  100 rows alone: {new_ms:.1f} ms now (built in Python), {old_ms:.1f} ms before", end="")
    print(f" (template filters per cell); ratio {old_ms / new_ms:.1f}x")


if __name__ == "__main__":
    main()
