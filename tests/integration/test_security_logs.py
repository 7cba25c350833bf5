"""Logs from a real request: one JSON object a line, with the request id and user, no secrets."""

from __future__ import annotations

import io
import json
import logging

import pytest

from dli_admin.accounts.logs import JsonFormatter, RedactSecretsFilter, RequestContextFilter

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_lines():
    """What the production handler would print for django.request and dli_admin loggers."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(RedactSecretsFilter())
    loggers = [logging.getLogger(name) for name in ("django.request", "dli_admin")]
    for logger in loggers:
        logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger in loggers:
        logger.removeHandler(handler)


def test_a_request_log_line_is_json_with_the_request_id_and_user(client, outsider, log_lines):
    client.force_login(outsider)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    [line] = log_lines()
    assert line["level"] == "WARNING"
    assert line["logger"] == "django.request"
    assert line["message"] == "Not Found: /no-such-page/"
    assert line["request_id"] == response["X-Request-Id"]
    assert line["user"] == "mallory"
    assert line["status_code"] == 404
    assert line["time"].endswith("+00:00")


def test_an_anonymous_request_logs_no_user(client, log_lines):
    client.get("/accounts/login/")  # no log line of its own
    response = client.post("/healthz")
    [line] = log_lines()
    assert line["request_id"] == response["X-Request-Id"]
    assert line["user"] is None


def test_the_request_context_is_cleared_after_the_response(client, log_lines):
    client.post("/healthz")
    logging.getLogger("dli_admin.test").warning("between requests")
    line = log_lines()[-1]
    assert line["request_id"] is None


def test_a_secret_in_a_logged_exception_is_redacted(settings, log_lines):
    settings.DLI_SK = "sk-very-secret-value-123"
    try:
        raise RuntimeError(f"signing failed with {settings.DLI_SK}")
    except RuntimeError:
        logging.getLogger("dli_admin.dli").exception("call failed", extra={"dli_request_id": "r-1"})
    [line] = log_lines()
    assert "sk-very-secret-value-123" not in json.dumps(line)
    assert "[redacted]" in line["exc"]
    assert line["dli_request_id"] == "r-1"


def test_a_dli_call_logs_dlis_request_id_as_a_field(
    simulator, project_a, operator, client, log_lines, caplog
):
    caplog.set_level(logging.DEBUG, logger="dli_admin")
    client.force_login(operator)
    client.get(f"/projects/{project_a.project_id}/jobs/")
    (listed,) = [line for line in log_lines() if line["message"].startswith("DLI GET")]
    assert len(listed["dli_request_id"]) == 32 and listed["project_id"] == project_a.project_id
    assert listed["user"] == operator.username and listed["request_id"]
