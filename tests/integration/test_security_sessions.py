"""Sessions: 30-minute idle timeout (htmx-aware), a fixed 8-hour lifetime, no caching, request ids."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dli_admin.accounts.middleware import LAST_ACTIVITY
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db

# A page every logged-in user may see, owned by Django, so these tests do not depend on the job pages.
PAGE = reverse("password_change")
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/projects/p1/jobs/?page=2"}


@pytest.fixture
def logged_in(client, outsider):
    client.force_login(outsider)
    return client


def idle_for(client, seconds: int) -> None:
    session = client.session
    session[LAST_ACTIVITY] = int(time.time()) - seconds
    session.save()


def test_a_session_active_within_thirty_minutes_stays_logged_in(logged_in):
    idle_for(logged_in, 29 * 60)
    assert logged_in.get(PAGE).status_code == 200
    assert time.time() - logged_in.session[LAST_ACTIVITY] < 5


def test_a_session_idle_for_over_thirty_minutes_is_logged_out(logged_in):
    idle_for(logged_in, 30 * 60 + 5)
    response = logged_in.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={PAGE}"
    assert "_auth_user_id" not in logged_in.session
    login_page = logged_in.get(response["Location"])
    assert "You were logged out after 30 minutes without activity." in login_page.text


def test_an_idle_htmx_request_sends_the_whole_page_to_the_login_page(logged_in):
    idle_for(logged_in, 31 * 60)
    response = logged_in.post(PAGE, **HTMX)
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/accounts/login/?next=/projects/p1/jobs/%3Fpage%3D2"
    assert response.content == b""  # nothing for htmx to swap into the table


def test_an_anonymous_htmx_request_gets_hx_redirect_too(client):
    response = client.get(PAGE, **HTMX)
    assert response.status_code == 401
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")


def test_an_htmx_request_from_another_origin_page_gets_no_next(client):
    response = client.get(PAGE, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://elsewhere.example/x")
    assert response["HX-Redirect"] == "/accounts/login/"


def test_an_anonymous_page_request_is_redirected_as_usual(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={PAGE}"


def test_the_session_lifetime_is_fixed_at_login_and_not_renewed_by_activity(client, outsider):
    before = timezone.now()
    client.post(reverse("login"), {"username": outsider.username, "password": PASSWORD})
    expiry = client.session.get_expiry_date()
    assert before + timedelta(hours=8) <= expiry <= timezone.now() + timedelta(hours=8)
    idle_for(client, 120)  # old enough that the next request saves the session
    assert client.get(PAGE).status_code == 200
    assert client.session.get_expiry_date() == expiry


def test_pages_for_a_logged_in_user_are_not_cached(logged_in):
    assert "no-store" in logged_in.get(PAGE)["Cache-Control"]


def test_each_response_carries_a_new_request_id(client):
    first = client.get(reverse("login"))["X-Request-Id"]
    second = client.get(reverse("login"))["X-Request-Id"]
    assert len(first) == 32
    assert first != second


def test_the_proxy_request_id_is_ignored_unless_trusted(client):
    response = client.get(reverse("login"), HTTP_X_REQUEST_ID="from-the-client")
    assert response["X-Request-Id"] != "from-the-client"


def test_a_trusted_proxy_request_id_is_used_when_it_looks_like_one(client, settings):
    settings.DLI_ADMIN_TRUST_REQUEST_ID = True
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234.abc")["X-Request-Id"] == "lb-1234.abc"
    forged = client.get("/healthz", HTTP_X_REQUEST_ID="x\nfake log line")["X-Request-Id"]
    assert "\n" not in forged
    assert len(forged) == 32
