"""Production settings, run as production runs them: a fresh process with only the documented variables."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run


def django_code(code: str) -> list[str]:
    return ["-c", f"import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'dli_admin.settings'; {code}"]


def test_the_deployment_checks_pass_with_only_the_four_variables(production_env):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_is_secure_by_default(production_env):
    code = django_code(
        "django.setup(); from django.conf import settings as s; import json; print(json.dumps({"
        "'debug': s.DEBUG, 'ssl_redirect': s.SECURE_SSL_REDIRECT, 'hsts': s.SECURE_HSTS_SECONDS,"
        "'session_secure': s.SESSION_COOKIE_SECURE, 'session_httponly': s.SESSION_COOKIE_HTTPONLY,"
        "'csrf_secure': s.CSRF_COOKIE_SECURE, 'proxy_ssl': s.SECURE_PROXY_SSL_HEADER,"
        "'ip_header': s.DLI_ADMIN_CLIENT_IP_HEADER, 'trust_request_id': s.DLI_ADMIN_TRUST_REQUEST_ID,"
        "'log_format': s.LOG_FORMAT}))"
    )
    result = run(code, production_env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "debug": False,
        "ssl_redirect": True,
        "hsts": 31536000,
        "session_secure": True,
        "session_httponly": True,
        "csrf_secure": True,
        "proxy_ssl": None,
        "ip_header": "",
        "trust_request_id": False,
        "log_format": "json",
    }


@pytest.mark.parametrize(
    "weak_key",
    ["short", "django-insecure-" + "x" * 60, "ab" * 40],
    ids=["too-short", "django-insecure", "too-few-characters"],
)
def test_the_deployment_checks_fail_with_a_weak_secret_key(production_env, weak_key):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        production_env | {"DJANGO_SECRET_KEY": weak_key},
    )
    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_production_refuses_to_start_without_a_secret_key(production_env):
    env = {k: v for k, v in production_env.items() if k != "DJANGO_SECRET_KEY"}
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is not set" in result.stderr


def test_the_secret_key_can_come_from_a_file(production_env, tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(production_env.pop("DJANGO_SECRET_KEY") + "\n")
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        production_env | {"DJANGO_SECRET_KEY_FILE": str(key_file)},
    )
    assert result.returncode == 0, result.stderr


def test_production_logs_are_json_lines_on_stdout_without_secrets(production_env):
    env = production_env | {"DLI_SK": "sk-production-secret-0123456789"}
    code = django_code(
        "django.setup(); import logging; from django.conf import settings;"
        "logging.getLogger('dli_admin.dli').warning('signed with %s', settings.DLI_SK,"
        " extra={'dli_request_id': 'req-9', 'project_id': 'p1', 'batch_id': 'b7'})"
    )
    result = run(code, env)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["level"] == "WARNING"
    assert line["logger"] == "dli_admin.dli"
    assert line["message"] == "signed with [redacted]"
    assert (line["dli_request_id"], line["project_id"], line["batch_id"]) == ("req-9", "p1", "b7")
    assert {"time", "request_id", "user"} <= line.keys()
    assert "sk-production-secret" not in result.stdout + result.stderr


def test_a_cool_off_too_short_to_matter_is_refused(production_env):
    result = run(["manage.py", "check"], production_env | {"DLI_ADMIN_LOGIN_COOLOFF": "5"})
    assert result.returncode != 0
    assert "DLI_ADMIN_LOGIN_COOLOFF must be at least 60 seconds" in result.stderr


def test_a_bad_log_format_is_refused(production_env):
    result = run(["manage.py", "check"], production_env | {"DJANGO_LOG_FORMAT": "xml"})
    assert result.returncode != 0
    assert "DJANGO_LOG_FORMAT must be json or text" in result.stderr
