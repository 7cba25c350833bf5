"""The JSON log formatter, the secret-redacting filter, and the client address rule."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import RequestFactory

from dli_admin.accounts.ip import client_ip
from dli_admin.accounts.logs import (
    JsonFormatter,
    RedactSecretsFilter,
    RequestContextFilter,
    request_id_var,
    user_var,
)

SECRETS = {
    "DLI_SK": "sk-0123456789abcdef",
    "DLI_AUTH_TOKEN": "MIIToken-abcdef-0123",
    "DLI_IAM_PASSWORD": "iam pass phrase!",
    "SECRET_KEY": "django-secret-key-that-is-long",
}


@pytest.fixture
def secrets(settings):
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    return SECRETS


def record(msg: object, *args: object, exc_info=None, **extra: object) -> logging.LogRecord:
    rec = logging.getLogger("dli_admin.dli").makeRecord(
        "dli_admin.dli", logging.INFO, __file__, 1, msg, args, exc_info, extra=extra or None
    )
    return rec


def emit(rec: logging.LogRecord) -> dict:
    for log_filter in (RequestContextFilter(), RedactSecretsFilter()):
        assert log_filter.filter(rec)
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    return json.loads(line)


def test_a_line_has_the_fields_operators_search_by():
    request_id_var.set("req-1")
    user_var.set("alice")
    try:
        line = emit(record("deleted %d jobs", 3, dli_request_id="dli-9", project_id="p1", batch_id="b2"))
    finally:
        request_id_var.set("")
        user_var.set("")
    assert line.pop("time").endswith("+00:00")
    assert line == {
        "level": "INFO",
        "logger": "dli_admin.dli",
        "message": "deleted 3 jobs",
        "request_id": "req-1",
        "user": "alice",
        "dli_request_id": "dli-9",
        "project_id": "p1",
        "batch_id": "b2",
    }


def test_outside_a_request_the_context_fields_are_null():
    line = emit(record("starting"))
    assert line["request_id"] is None
    assert line["user"] is None


def test_an_extra_json_cannot_hold_is_logged_as_text():
    line = emit(record("odd", when=object()))
    assert line["when"].startswith("<object object")


def test_neither_an_extra_nor_a_logged_dict_can_forge_the_fields_operators_search_by():
    request_id_var.set("req-1")
    try:
        forged_extra = emit(record("hello", level="CRITICAL", logger="audit"))
        forged_dict = emit(record({"level": "CRITICAL", "logger": "audit", "request_id": "req-forged"}))
    finally:
        request_id_var.set("")
    for line in (forged_extra, forged_dict):
        assert (line["level"], line["logger"], line["request_id"]) == ("INFO", "dli_admin.dli", "req-1")


def test_a_newline_in_a_message_cannot_forge_a_second_line():
    line = emit(record("user typed %s", 'x"}\n{"level": "CRITICAL"'))
    assert line["level"] == "INFO"


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_each_configured_secret_is_redacted_from_arguments(secrets, name):
    line = emit(record("value: %s", secrets[name]))
    assert line["message"] == "value: [redacted]"


def test_secrets_are_redacted_from_the_message_itself(secrets):
    assert emit(record(f"token={secrets['DLI_AUTH_TOKEN']}"))["message"] == "token=[redacted]"


def test_secrets_are_redacted_from_dict_arguments_and_objects(secrets):
    line = emit(record("%(headers)s", {"headers": {"X-Auth-Token": secrets["DLI_AUTH_TOKEN"]}}))
    assert secrets["DLI_AUTH_TOKEN"] not in line["message"]
    assert "[redacted]" in line["message"]


def test_secrets_are_redacted_from_extras(secrets):
    line = emit(record("call", dli_request_id="r", headers={"X-Auth-Token": secrets["DLI_AUTH_TOKEN"]}))
    assert secrets["DLI_AUTH_TOKEN"] not in json.dumps(line)
    assert line["dli_request_id"] == "r"


def test_secrets_are_redacted_from_tracebacks(secrets):
    try:
        raise ValueError(f"bad signature with {secrets['DLI_SK']}")
    except ValueError as exc:
        line = emit(record("failed", exc_info=(type(exc), exc, exc.__traceback__)))
    assert secrets["DLI_SK"] not in json.dumps(line)
    assert "ValueError: bad signature with [redacted]" in line["exc"]


def test_a_database_password_is_redacted(settings, monkeypatch):
    monkeypatch.setitem(settings.DATABASES["default"], "PASSWORD", "pg-password-42")
    assert (
        emit(record("dsn %s", "postgresql://u:pg-password-42@db/x"))["message"]
        == "dsn postgresql://u:[redacted]@db/x"
    )


def test_empty_secrets_redact_nothing(settings):
    for name in ("DLI_SK", "DLI_AUTH_TOKEN", "DLI_IAM_PASSWORD"):
        setattr(settings, name, "")
    assert emit(record("all %s", "clear"))["message"] == "all clear"


def test_the_text_format_works_with_the_context_filter(settings):
    rec = record("hello")
    RequestContextFilter().filter(rec)
    formatter = logging.Formatter(settings.LOGGING["formatters"]["text"]["format"])
    assert formatter.format(rec).endswith("dli_admin.dli [ ] hello")


class TestClientIp:
    factory = RequestFactory()

    def test_it_is_remote_addr_by_default(self, settings):
        settings.DLI_ADMIN_CLIENT_IP_HEADER = ""
        request = self.factory.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
        assert client_ip(request) == "192.0.2.1"

    def test_it_is_the_first_address_of_the_configured_header(self, settings):
        settings.DLI_ADMIN_CLIENT_IP_HEADER = "X-Forwarded-For"
        request = self.factory.get(
            "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=" 203.0.113.9 , 10.0.0.2"
        )
        assert client_ip(request) == "203.0.113.9"

    def test_ipv6_is_normalised(self, settings):
        settings.DLI_ADMIN_CLIENT_IP_HEADER = "X-Real-IP"
        request = self.factory.get("/", HTTP_X_REAL_IP="2001:DB8:0:0::1")
        assert client_ip(request) == "2001:db8::1"

    @pytest.mark.parametrize("value", ["", "not-an-ip", "203.0.113.9:443", "unknown, 1.2.3.4"])
    def test_a_missing_or_malformed_header_falls_back_to_remote_addr(self, settings, value):
        settings.DLI_ADMIN_CLIENT_IP_HEADER = "X-Forwarded-For"
        request = self.factory.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=value)
        assert client_ip(request) == "10.0.0.1"
