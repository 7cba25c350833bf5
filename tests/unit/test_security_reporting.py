"""The error-report filter's rules, one by one: by name, by value, URL passwords, in DEBUG too."""

from __future__ import annotations

import sys

import pytest
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject
from django.views.debug import get_default_exception_reporter_filter, get_exception_reporter_class

from dli_admin.accounts.reporting import NoSecretsReporterFilter

HIDDEN = NoSecretsReporterFilter.cleansed_substitute
SK = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
AUDIT_KEY = "AuditKeyHmacSha256-0f9e8d7c6b5a49382716"


@pytest.fixture
def report_filter(settings):
    settings.DEBUG = True  # the mode Django's own filter gives up in
    settings.DLI_SK = SK
    settings.DLI_ADMIN_AUDIT_KEY = AUDIT_KEY  # not a setting yet: hidden as soon as it is one
    return NoSecretsReporterFilter()


def test_it_is_the_filter_django_uses():
    get_default_exception_reporter_filter.cache_clear()
    assert isinstance(get_default_exception_reporter_filter(), NoSecretsReporterFilter)


@pytest.mark.parametrize(
    "name",
    ["DLI_AK", "DLI_SK", "DLI_SK_FILE", "DATABASE_URL", "HTTP_X_AUTH_TOKEN", "OIDC_RP_CLIENT_SECRET", "sk"],
)
def test_it_hides_a_credential_by_its_name(report_filter, name):
    meta = report_filter.get_safe_request_meta(RequestFactory().get("/", **{name: "value"}))
    assert meta[name] == HIDDEN


def test_it_keeps_what_is_no_credential(report_filter):
    meta = report_filter.get_safe_request_meta(RequestFactory().get("/", HTTP_X_TASK="ASK"))
    assert meta["REMOTE_ADDR"] == "127.0.0.1" and meta["HTTP_X_TASK"] == "ASK"
    assert meta["PATH_INFO"] == "/"


def test_it_hides_a_configured_secret_wherever_it_is_and_whatever_holds_it(report_filter):
    assert report_filter.cleanse_setting("NOTE", f"signed with {SK}.") == f"signed with {HIDDEN}."
    assert report_filter.cleanse_setting("pair", ("AK1", SK)) == ("AK1", HIDDEN)
    assert report_filter.cleanse_setting("blob", AUDIT_KEY.encode()) == HIDDEN.encode()

    class Signer:
        def __repr__(self) -> str:
            return f"Signer(sk={SK!r})"

    assert repr(report_filter.cleanse_setting("signer", Signer())) == f"Signer(sk='{HIDDEN}')"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://dli:pa55word@db:5432/dli", f"postgresql://dli:{HIDDEN}@db:5432/dli"),
        ("redis://:pa55word@cache/0", f"redis://:{HIDDEN}@cache/0"),
        ("see http://u:p@ss@proxy:3128 and more", f"see http://u:{HIDDEN}@proxy:3128 and more"),
        ("postgresql://dli@db/dli", "postgresql://dli@db/dli"),
        ("https://dli.example.com:443/v1.0", "https://dli.example.com:443/v1.0"),
    ],
)
def test_it_hides_the_password_of_any_url(report_filter, url, shown):
    assert report_filter.cleanse_setting("PROXY", url) == shown


def test_it_hides_posted_passwords_with_debug_on(report_filter):
    request = RequestFactory().post("/", {"username": "olivia", "new_password1": "hunter2", "note": SK})
    posted = report_filter.get_post_parameters(request)
    assert posted["username"] == "olivia"
    assert posted["new_password1"] == HIDDEN and posted["note"] == HIDDEN


def test_a_value_that_fails_to_load_is_shown_without_its_message(report_filter):
    def load():
        raise RuntimeError(f"could not connect with {SK}")

    shown = report_filter.cleanse_setting("user", SimpleLazyObject(load))
    assert repr(shown) == "<not shown: RuntimeError while reading it>"


def test_the_report_hides_the_secret_in_an_exception_message_and_its_cause(report_filter):
    try:
        try:
            raise ValueError(f"bad signature from {SK}")
        except ValueError:
            raise RuntimeError(f"DLI refused {SK}")  # noqa: B904  the cause is the point
    except RuntimeError:
        request = RequestFactory().get("/")
        text = get_exception_reporter_class(request)(request, *sys.exc_info()).get_traceback_text()
    assert SK not in text
    assert f"DLI refused {HIDDEN}" in text
    assert f"During handling of the above exception (bad signature from {HIDDEN})" in text
