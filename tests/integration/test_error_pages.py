"""The 403, 404 and 500 pages with DEBUG off: the app's layout, phone-ready, CSP-clean; htmx gets an alert."""

from __future__ import annotations

import re

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from dli_admin.accounts.views import server_error

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def production_debug(settings):
    settings.DEBUG = False


def login(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def assert_csp_clean_phone_page(html: str) -> None:
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "dli_admin/app.css" in html
    assert " style=" not in html and "<style" not in html, "no inline styles"
    for script in re.findall(r"<script[^>]*>", html):
        assert "nonce=" in script and "src=" in script, script
    assert re.search(r" on[a-z]+=", html) is None, "no inline handlers"


def test_the_404_page_is_in_the_apps_layout(operator, project_a, simulator):
    response = login(operator).get("/projects/no-such-project/jobs/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Not found" in html and 'role="alert"' in html
    assert 'class="skip-link"' in html and "olivia" in html, "base.html, with the user's top bar"
    assert_csp_clean_phone_page(html)


def test_the_403_page_says_what_the_role_does_not_allow(viewer, simulator):
    response = login(viewer).get(reverse("dli-audit-list"))
    html = response.content.decode()
    assert response.status_code == 403
    assert "Only auditors and project owners may read the audit log." in html
    assert 'class="skip-link"' in html
    assert_csp_clean_phone_page(html)


def test_the_500_page_needs_no_database_and_no_user(django_assert_num_queries):
    request = RequestFactory().get("/")  # no session, no user: the middleware may be what failed
    with django_assert_num_queries(0):
        response = server_error(request)
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong in dli-admin" in html and 'role="alert"' in html
    assert_csp_clean_phone_page(html)


def test_the_500_page_answers_htmx_with_an_alert_in_the_action_panel():
    response = server_error(RequestFactory().post("/", headers=HX))
    assert response["HX-Retarget"] == "#action-panel" and response["HX-Reswap"] == "innerHTML"
    assert "<html" not in response.content.decode() and 'role="alert"' in response.content.decode()


def test_a_refusal_for_htmx_lands_in_the_action_panel(viewer, project_a, simulator):
    job = simulator.add_job(project_a.project_id, name="ep-1", status="job_cancel_success")
    response = login(viewer).post(
        reverse("dli-job-delete-review", args=[project_a.project_id]), {"job_ids": [str(job)]}, headers=HX
    )
    assert response.status_code == 403
    assert response["HX-Retarget"] == "#action-panel"
    html = response.content.decode()
    assert 'role="alert"' in html and "<html" not in html


def test_a_stale_csrf_token_for_htmx_is_refused_in_the_action_panel(operator, project_a, simulator):
    client = login(operator, enforce_csrf_checks=True)
    response = client.post(reverse("dli-job-delete-review", args=[project_a.project_id]), headers=HX)
    assert response.status_code == 403
    assert response["HX-Retarget"] == "#action-panel"
    assert "This form is out of date" in response.content.decode()


def test_a_failed_check_again_is_retargeted_to_its_rows_cell(operator, project_a, simulator):
    job = simulator.add_job(project_a.project_id, name="ep-2", status="job_cancel_success")
    response = login(operator).post(reverse("dli-job-check", args=[project_a.project_id, job]), headers=HX)
    assert response.status_code == 404
    assert response["HX-Retarget"] == f"#check-error-{job}" and response["HX-Reswap"] == "innerHTML"
    assert 'role="alert"' in response.content.decode()


def test_a_progress_poll_that_cannot_be_read_answers_with_an_alert(operator, project_a, simulator):
    from dli_admin.deletes.models import DeleteBatch

    job = simulator.add_job(project_a.project_id, name="ep-3", status="job_cancel_success")
    client = login(operator)
    review = client.post(
        reverse("dli-job-delete-review", args=[project_a.project_id]), {"job_ids": [str(job)]}, headers=HX
    )
    token = re.search(r'name="token" value="([^"]+)"', review.content.decode()).group(1)
    client.post(reverse("dli-job-delete", args=[project_a.project_id]), {"token": token}, headers=HX)
    batch = DeleteBatch.objects.get()
    poll = client.get(
        reverse("dli-batch-progress", args=[project_a.project_id, batch.pk]), {"rows": "x"}, headers=HX
    )
    assert poll.status_code == 400
    html = poll.content.decode()
    assert 'role="alert"' in html and 'id="batch-progress"' in html, "replaces the panel: polling stops"
