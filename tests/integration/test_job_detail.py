"""A job's own page and its JSON definition, read through the DLI client's show call from the simulator."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

SQL = "INSERT INTO sink SELECT id, amount\n  FROM orders WHERE amount > 100;"
CONFIG = {"checkpoint_enabled": True, "cu_number": 4, "parallel_number": 3, "obs_bucket": "logs-bucket"}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def detail_url(project, job_id) -> str:
    return reverse("dli-job-detail", args=[project.project_id, job_id])


@pytest.fixture
def job(simulator, project_a) -> int:
    return simulator.add_job(
        project_a.project_id,
        name="orders-enrich",
        status="job_running",
        queue_name="flink_orders",
        user_name="dana.ops",
        sql_body=SQL,
        run_mode="exclusive_cluster",
        job_config=CONFIG,
    )


def test_a_viewer_sees_the_job_as_dli_shows_it(viewer, project_a, job, simulator):
    response = login(viewer).get(detail_url(project_a, job))
    html = response.content.decode()
    assert response.status_code == 200
    assert "orders-enrich" in html and "flink_orders" in html and "dana.ops" in html
    assert "exclusive_cluster" in html and "4 / 3" in html and "logs-bucket" in html
    assert "INSERT INTO sink SELECT id, amount\n  FROM orders WHERE amount &gt; 100;" in html
    assert 'data-copy="#job-sql"' in html
    assert [r.op for r in simulator.requests()] == ["show"], "one show call, no list"


def test_the_definition_downloads_as_json(operator, project_a, job):
    response = login(operator).get(reverse("dli-job-definition", args=[project_a.project_id, job]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="dli-job-{job}.json"'
    definition = json.loads(response.content)
    assert definition["job_id"] == job and definition["sql_body"] == SQL
    assert definition["job_config"] == CONFIG


def test_each_job_name_in_the_list_links_to_its_page(viewer, project_a, job):
    html = login(viewer).get(reverse("dli-job-list", args=[project_a.project_id])).content.decode()
    assert f'href="{detail_url(project_a, job)}">orders-enrich</a>' in html


@pytest.mark.parametrize("job_id", ["999999999", "not-a-number", "-4"])
def test_a_job_dli_does_not_know_is_404(viewer, project_a, simulator, job_id):
    assert login(viewer).get(detail_url(project_a, job_id)).status_code == 404


def test_a_job_of_a_project_without_a_role_is_404_and_dli_is_not_asked(outsider, project_a, job, simulator):
    simulator.clear_requests()
    assert login(outsider).get(detail_url(project_a, job)).status_code == 404
    assert simulator.requests() == []


def test_dli_failing_is_shown_as_an_alert(viewer, project_a, job, simulator):
    simulator.set_fault(project_a.project_id, "auth_fail", True, ops={"show"})
    response = login(viewer).get(detail_url(project_a, job))
    assert response.status_code == 502
    assert 'role="alert">Could not read this job from DLI' in response.content.decode()


def test_times_are_in_the_users_zone_in_the_one_format(viewer, project_a, simulator):
    created = 1_780_000_000_000  # 2026-05-28 20:26:40 UTC
    job_id = simulator.add_job(project_a.project_id, name="tz-job", create_time=created, start_time=created)
    client = login(viewer)
    assert "2026-05-28 20:26:40 UTC" in client.get(detail_url(project_a, job_id)).content.decode()
    client.post(reverse("dli-account"), {"time_zone": "Europe/Berlin"})
    html = client.get(detail_url(project_a, job_id)).content.decode()
    assert "2026-05-28 22:26:40 CEST" in html and "times in Europe/Berlin</span> (your setting)" in html
