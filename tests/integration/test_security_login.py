"""Login: throttling per username and client address, a new session id at login, cookie flags."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dli_admin.accounts.models import LoginThrottle
from dli_admin.accounts.services import login_throttle_attempt
from tests.helpers import PASSWORD

LOCKED_MESSAGE = "Too many failed attempts for this username from your address; try again in 15 minutes."


def log_in(client: Client, username: str, password: str, ip: str = "192.0.2.10"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(client: Client, username: str, times: int, ip: str = "192.0.2.10"):
    for _ in range(times):
        response = log_in(client, username, "wrong password", ip)
    return response


def alert(response) -> str:
    return re.search(r'<p class="error" role="alert">(.*?)</p>', response.text, re.S).group(1).strip()


def test_our_login_view_answers_the_login_url():
    from dli_admin.accounts.views import LoginView

    assert reverse("login") == "/accounts/login/"
    assert Client().get(reverse("login")).resolver_match.func.view_class is LoginView


def test_nine_failures_still_allow_a_login(client, outsider):
    response = fail(client, "mallory", 9)
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text
    assert log_in(client, "mallory", PASSWORD).status_code == 302


def test_the_tenth_failure_locks_the_username_out_from_that_address(client, outsider):
    response = fail(client, "mallory", 10)
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.text
    assert int(response["Retry-After"]) == 15 * 60


def test_a_locked_out_username_is_refused_even_with_the_right_password(client, outsider):
    fail(client, "mallory", 10)
    response = log_in(client, "mallory", PASSWORD)
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.text
    assert "_auth_user_id" not in client.session


def test_the_lockout_does_not_reveal_whether_the_user_exists(client, outsider):
    existing = fail(client, "mallory", 10)
    missing = fail(client, "nobody", 10)
    assert existing.status_code == missing.status_code == 429
    assert alert(existing) == alert(missing) == LOCKED_MESSAGE


def test_other_usernames_from_the_same_address_are_unaffected(client, outsider, owner_b):
    fail(client, "mallory", 10)
    assert log_in(client, "bob", PASSWORD).status_code == 302


def test_the_same_username_from_another_address_is_unaffected(client, outsider):
    fail(client, "mallory", 10, ip="192.0.2.10")
    assert log_in(client, "mallory", PASSWORD, ip="198.51.100.7").status_code == 302


def test_the_lockout_ignores_the_case_of_the_username(client, outsider):
    fail(client, "mallory", 5)
    fail(client, "MALLORY", 5)
    assert log_in(client, "mallory", PASSWORD).status_code == 429


def test_a_success_resets_the_count(client, outsider):
    fail(client, "mallory", 9)
    assert log_in(client, "mallory", PASSWORD).status_code == 302
    client.logout()
    assert fail(client, "mallory", 9).status_code == 200
    assert log_in(client, "mallory", PASSWORD).status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, outsider):
    fail(client, "mallory", 10)
    LoginThrottle.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    assert log_in(client, "mallory", PASSWORD).status_code == 302
    assert not LoginThrottle.objects.exists()


def test_after_the_cool_off_a_username_gets_a_fresh_count(client, outsider):
    fail(client, "mallory", 10)
    LoginThrottle.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    assert fail(client, "mallory", 9).status_code == 200
    assert fail(client, "mallory", 1).status_code == 429


def test_old_failures_stop_counting_after_the_cool_off(client, outsider):
    fail(client, "mallory", 9)
    LoginThrottle.objects.update(last_failure_at=timezone.now() - timedelta(minutes=16))
    assert fail(client, "mallory", 1).status_code == 200
    assert LoginThrottle.objects.get().failures == 1


def test_the_cool_off_is_configurable(client, outsider, settings):
    settings.DLI_ADMIN_LOGIN_COOLOFF = 120
    response = fail(client, "mallory", 10)
    assert "try again in 2 minutes." in response.text
    assert int(response["Retry-After"]) == 120


def test_the_message_rounds_up_to_a_whole_minute(client, outsider):
    fail(client, "mallory", 10)
    LoginThrottle.objects.update(locked_until=timezone.now() + timedelta(seconds=30))
    assert "try again in 1 minute." in log_in(client, "mallory", PASSWORD).text


def test_the_admin_login_is_throttled_too(client, superuser):
    for _ in range(10):
        client.post(reverse("admin:login"), {"username": "root", "password": "nope"}, REMOTE_ADDR="192.0.2.1")
    response = client.post(
        reverse("admin:login"), {"username": "root", "password": PASSWORD}, REMOTE_ADDR="192.0.2.1"
    )
    assert response.status_code == 200  # the admin shows its usual error
    assert "_auth_user_id" not in client.session


def test_a_superuser_lifts_a_lockout_by_deleting_its_row_in_the_admin(client, outsider, superuser):
    fail(client, "mallory", 10)
    row = LoginThrottle.objects.get()
    admin_client = Client()
    admin_client.force_login(superuser)
    changelist = admin_client.get(reverse("admin:accounts_loginthrottle_changelist"))
    assert changelist.status_code == 200
    assert "mallory" in changelist.text
    delete = reverse("admin:accounts_loginthrottle_delete", args=[row.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert log_in(client, "mallory", PASSWORD).status_code == 302


def test_the_client_address_comes_from_the_configured_proxy_header(client, outsider, settings):
    settings.DLI_ADMIN_CLIENT_IP_HEADER = "X-Forwarded-For"
    fail(client, "mallory", 10, ip="10.0.0.1")  # the proxy; no header: its address counts
    assert LoginThrottle.objects.get().client_ip == "10.0.0.1"
    response = client.post(
        reverse("login"),
        {"username": "mallory", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.5, 10.0.0.1",
    )
    assert response.status_code == 302


def test_the_proxy_header_is_ignored_unless_configured(client, outsider):
    for n in range(10):
        response = client.post(
            reverse("login"),
            {"username": "mallory", "password": "wrong"},
            REMOTE_ADDR="192.0.2.10",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    assert response.status_code == 429


def test_login_gives_the_session_a_new_id(client, outsider):
    session = client.session
    session["before_login"] = True
    session.save()
    old_key = client.cookies["sessionid"].value
    assert log_in(client, "mallory", PASSWORD).status_code == 302
    new_key = client.cookies["sessionid"].value
    assert new_key != old_key
    assert not Session.objects.filter(session_key=old_key).exists()
    assert Session.objects.filter(session_key=new_key).exists()


def test_session_and_csrf_cookies_are_secure_and_http_only_in_production(client, outsider, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True  # what DJANGO_DEBUG=0 sets
    client.get(reverse("login"), secure=True)
    response = client.post(
        reverse("login"), {"username": "mallory", "password": PASSWORD}, REMOTE_ADDR="192.0.2.10", secure=True
    )
    for name in ("sessionid", "csrftoken"):
        cookie = response.cookies[name]
        assert cookie["secure"] is True
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"


def test_login_is_protected_against_csrf(outsider):
    client = Client(enforce_csrf_checks=True)
    assert log_in(client, "mallory", PASSWORD).status_code == 403


@pytest.mark.django_db
def test_parallel_attempts_from_several_workers_get_at_most_ten_guesses():
    """Twenty workers at once: each thread has its own connection and commits, like a web worker."""
    if connection.vendor != "postgresql":
        # SQLite has one writer at a time, and this test's own open transaction would be it.
        pytest.skip("parallel writers need PostgreSQL")
    key = {"username": "parallel", "client_ip": "192.0.2.99"}

    def in_thread(work) -> None:
        def run() -> None:
            try:
                work()
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    allowed: list[bool] = []
    barrier = threading.Barrier(20)

    def attempt() -> None:
        barrier.wait()
        allowed.append(login_throttle_attempt(**key) == 0)

    for thread in [in_thread(attempt) for _ in range(20)]:
        thread.join()
    try:
        assert allowed.count(True) == 10
        assert LoginThrottle.objects.get(**key).failures == 10
    finally:
        # The threads committed outside this test's transaction: clean up the same way.
        in_thread(lambda: LoginThrottle.objects.filter(**key).delete()).join()
