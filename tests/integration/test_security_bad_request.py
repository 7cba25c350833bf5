"""A request Django refuses to read (too many fields, too large, a foreign host) gets a page that says why,
with DEBUG off as in production, under the same Content Security Policy as every page."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

TOO_MANY_FIELDS = 'This request carried too many fields: select fewer jobs, or use "Select all jobs matching'
TOO_LARGE = 'This request was too large to read: select fewer jobs, or use "Select all jobs matching'
GENERIC = "dli-admin could not read this request."


@pytest.fixture
def production(settings):
    settings.DEBUG = False


@pytest.fixture
def operator_client(operator) -> Client:
    """As a browser posts: the CSRF check reads the form first, so that is where Django gives up."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    client.cookies["csrftoken"] = "a" * 32
    return client


def review_url(project) -> str:
    return reverse("dli-job-delete-review", args=[project.project_id])


def assert_csp_clean(response) -> None:
    html = response.content.decode()
    assert "Content-Security-Policy" in response.headers
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    assert "<style" not in html and " style=" not in html, "no inline style"


def test_a_selection_with_too_many_fields_is_told_so(
    production, operator_client, project_a, simulator, settings
):
    fields = {"job_ids": [str(n) for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 100)]}
    response = operator_client.post(review_url(project_a), fields)
    html = response.content.decode()
    assert response.status_code == 400
    assert TOO_MANY_FIELDS in html and "<html" in html and 'role="alert"' in html
    assert "Traceback" not in html and "TooManyFieldsSent" not in html
    assert_csp_clean(response)
    assert simulator.requests() == []


def test_htmx_gets_the_message_as_a_fragment(production, operator_client, project_a, simulator, settings):
    fields = {"job_ids": [str(n) for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 100)]}
    response = operator_client.post(review_url(project_a), fields, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 400
    assert TOO_MANY_FIELDS in html and "<html" not in html and 'role="alert"' in html


def test_a_selection_too_large_to_read_is_told_so(
    production, operator_client, project_a, simulator, settings
):
    body = {"job_ids": "1" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    response = operator_client.post(review_url(project_a), body)
    assert response.status_code == 400
    assert TOO_LARGE in response.content.decode()
    assert_csp_clean(response)


def test_any_other_bad_request_gets_a_generic_clear_page(production, project_a):
    response = Client().get("/healthz", headers={"Host": "rebind.attacker.example:8000"})
    html = response.content.decode()
    assert response.status_code == 400
    assert GENERIC in html and "too many fields" not in html
    assert "DisallowedHost" not in html and "ALLOWED_HOSTS" not in html
