"""Filters never widen a selection: an invalid filter lists and selects nothing; values go as typed."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def jobs_url(project) -> str:
    return reverse("dli-job-list", args=[project.project_id])


def review_url(project) -> str:
    return reverse("dli-job-delete-review", args=[project.project_id])


def list_queries(simulator) -> list[dict[str, str]]:
    return [request.query for request in simulator.requests(op="list")]


def test_an_invalid_filter_lists_nothing_and_says_so(operator, project_a, simulator):
    simulator.add_job(project_a.project_id, name="orders-enrich", status="job_cancel_success")
    response = login(operator).get(jobs_url(project_a), {"name": "orders-enrich", "status": "nonsense"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "No jobs are listed until the filters are fixed." in html
    assert "Select a valid choice" in html  # on the form, by the status field
    assert 'name="job_ids"' not in html and "select_across" not in html
    assert list_queries(simulator) == [], "nothing is asked of DLI while a filter is invalid"


def test_an_invalid_filter_in_an_htmx_request_shows_the_message_in_the_region(operator, project_a, simulator):
    response = login(operator).get(
        jobs_url(project_a), {"tags": "no equals sign"}, headers={**HX, "HX-Target": "jobs-region"}
    )
    html = response.content.decode()
    assert 'role="alert"' in html and "Write tags as key=value" in html
    assert list_queries(simulator) == []


def test_an_invalid_page_falls_back_to_page_one_and_keeps_the_filter(operator, project_a, simulator):
    simulator.add_job(project_a.project_id, name="orders-enrich", status="job_cancel_success")
    html = login(operator).get(jobs_url(project_a), {"name": "orders-enrich", "page": "0"}).content.decode()
    assert "Page “0” does not exist: showing page 1." in html
    [query] = list_queries(simulator)
    assert query["name"] == "orders-enrich", "the filter still applies"
    assert query.get("offset", "0") == "0"


def test_the_page_size_control_shows_the_size_used(operator, project_a, simulator):
    client = login(operator)
    html = client.get(jobs_url(project_a)).content.decode()
    assert '<option value="50" selected>50 per page</option>' in html
    html = client.get(jobs_url(project_a), {"page_size": "7"}).content.decode()
    assert '<option value="50" selected>50 per page</option>' in html
    assert "Page size “7” is not offered: showing 50 per page." in html
    assert list_queries(simulator)[-1]["limit"] == "50"


def test_select_all_with_an_invalid_filter_is_refused_and_sends_nothing(operator, project_a, simulator):
    simulator.add_job(project_a.project_id, name="orders-enrich", status="job_cancel_success")
    response = login(operator).post(
        review_url(project_a),
        {"select_across": "1", "name": "orders-enrich", "status": "nonsense"},
        headers=HX,
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html and "The filter of this selection is not valid" in html
    assert simulator.requests(op="list") == [] and simulator.requests(op="batch_delete") == []


def test_tags_are_sent_as_typed_with_inner_spaces(operator, project_a, simulator):
    login(operator).get(jobs_url(project_a), {"tags": " team=data eng "})
    assert list_queries(simulator)[-1]["tags"] == "team=data eng"


def test_the_job_type_filter_goes_to_dli_and_into_select_all(operator, project_a, simulator):
    pid = project_a.project_id
    for n in range(3):
        simulator.add_job(pid, name=f"jt-{n}", status="job_cancel_success", job_type="flink_jar_job")
    html = (
        login(operator)
        .get(jobs_url(project_a), {"name": "jt-", "job_type": "flink_jar_job", "page_size": "10"})
        .content.decode()
    )
    assert list_queries(simulator)[-1]["job_type"] == "flink_jar_job"
    assert '<input type="hidden" name="job_type" value="flink_jar_job">' in html


def test_an_unknown_job_type_is_an_invalid_filter(operator, project_a, simulator):
    html = login(operator).get(jobs_url(project_a), {"job_type": "spark_job"}).content.decode()
    assert "No jobs are listed until the filters are fixed." in html
    assert list_queries(simulator) == []
