"""Password change: a wrong old password counts as a failed login for that user and client address, so a
stolen session cannot guess the password faster than the login form allows."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from dli_admin.accounts.models import LoginThrottle
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 2026"
LOCKED_MESSAGE = "Too many wrong passwords for this user from your address; try again in 15 minutes."


@pytest.fixture
def session(operator) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def change(client: Client, old_password: str, ip: str = "192.0.2.10"):
    return client.post(
        reverse("password_change"),
        {"old_password": old_password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        REMOTE_ADDR=ip,
    )


def wrong(client: Client, times: int, ip: str = "192.0.2.10"):
    for n in range(times):
        response = change(client, f"guess {n}", ip)
    return response


def test_nine_wrong_old_passwords_still_allow_the_change(session, operator):
    response = wrong(session, 9)
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.text
    assert change(session, PASSWORD).status_code == 302
    operator.refresh_from_db()
    assert operator.check_password(NEW_PASSWORD)
    assert not LoginThrottle.objects.exists()


def test_the_tenth_wrong_old_password_refuses_further_attempts_even_the_right_one(session, operator):
    wrong(session, 10)
    response = change(session, PASSWORD)
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.text
    assert int(response["Retry-After"]) == 15 * 60
    operator.refresh_from_db()
    assert operator.check_password(PASSWORD), "the password must not have changed"


def test_thirty_wrong_old_passwords_from_one_session_are_not_all_checked(session):
    statuses = [change(session, f"guess {n}").status_code for n in range(30)]
    assert statuses == [200] * 10 + [429] * 20  # the tenth is checked, and locks
    assert LoginThrottle.objects.get().failures == 10


def test_a_locked_password_change_checks_no_password(session, operator, monkeypatch):
    wrong(session, 10)
    checked = []
    monkeypatch.setattr(type(operator), "check_password", lambda user, raw: checked.append(raw) or True)
    assert change(session, PASSWORD).status_code == 429
    assert checked == []


def test_wrong_passwords_at_login_and_at_password_change_share_one_count(session, operator):
    for _ in range(5):
        Client().post(reverse("login"), {"username": "olivia", "password": "wrong"}, REMOTE_ADDR="192.0.2.10")
    wrong(session, 5)
    assert change(session, PASSWORD).status_code == 429
    login = Client().post(
        reverse("login"), {"username": "olivia", "password": PASSWORD}, REMOTE_ADDR="192.0.2.10"
    )
    assert login.status_code == 429


def test_the_same_user_from_another_address_may_still_change_it(session, operator):
    wrong(session, 10, ip="192.0.2.10")
    assert change(session, PASSWORD, ip="198.51.100.7").status_code == 302
