"""Settings from the environment, as a fresh process loads them: NAME_FILE for every variable, .env, and an
error naming the variable for each kind of malformed value."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest

from tests.helpers import production_environment, run
from tests.unit.test_security_env_docs import documented

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "dli_admin.settings"

# A valid value, other than the default, for every variable the settings read.
VALUES = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "a.example.com, .b.example.com",
    "DATABASE_URL": "postgresql://dli:pg-secret@db.example.internal:5432/dli_admin",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://a.example.com,https://*.b.example.com",
    "DJANGO_TIME_ZONE": "Europe/Berlin",
    "DJANGO_SECURE_SSL_REDIRECT": "off",
    "DJANGO_HSTS_SECONDS": "3600",
    "DJANGO_HSTS_PRELOAD": "yes",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "true",
    "DLI_ADMIN_CLIENT_IP_HEADER": "X-Real-IP",
    "DLI_ADMIN_TRUST_REQUEST_ID": "1",
    "DLI_ADMIN_LOGIN_COOLOFF": "120",
    "DLI_ADMIN_AUDIT_KEY": "settings-test-audit-key-0000000000000001",
    "DLI_ADMIN_AUDIT_CHECKPOINTS": "/srv/dli-admin/audit/checkpoints.jsonl",
    "DJANGO_LOG_FORMAT": "text",
    "DJANGO_LOG_LEVEL": "WARNING",
    "DLI_ENDPOINT": "https://dli.eu-de.otc.t-systems.com/",
    "DLI_EMBEDDED_SIMULATOR": "1",
    "DLI_AK": "AKSETTINGSTEST000001",
    "DLI_SK": "SkSettingsTest00000000000000000000000001",
    "DLI_AUTH_TOKEN": "MIIsettings-test-token",
    "DLI_IAM_ENDPOINT": "https://iam.eu-de.otc.t-systems.com",
    "DLI_IAM_USER": "dli-admin-robot",
    "DLI_IAM_PASSWORD": "$tarts with a dollar",  # django-environ alone would read it as a variable's name
    "DLI_IAM_DOMAIN": "example-domain",
    "DLI_CONNECT_TIMEOUT": "2.5",
    "DLI_TIMEOUT": "7.5",
    "DLI_BATCH_SIZE": "25",
    "DLI_MAX_BATCH": "500",
    "DLI_CONCURRENCY": "3",
    "DLI_BATCH_RETRY_DEADLINE": "120.5",
    "DLI_BATCH_LEASE": "45.0",
    "DLI_BATCH_SWEEP": "10.0",
    "DLI_BATCH_WAVE": "200",
    "DLI_CONFIRM_NAME_THRESHOLD": "5",
    "DLI_POLICY_TICK": "30.0",
    "DLI_POLICY_LIST_CEILING": "50000",
    "DLI_ADMIN_BASE_URL": "https://dli-admin.example.com",
    "DLI_WEBHOOK_TIMEOUT": "2.5",
    "DLI_WEBHOOK_ATTEMPTS": "3",
    "DLI_WEBHOOK_RETRY": "10.0",
    "DLI_ADMIN_METRICS_TOKEN": "metrics-settings-test-token-0000000000001",
    "DLI_CONNECTIONS": "prod-eu",
    "DLI_ADMIN_OIDC_CLIENT_ID": "dli-admin",
    "DLI_ADMIN_OIDC_CLIENT_SECRET": "oidc-settings-test-secret-0000000001",
    "DLI_ADMIN_OIDC_ISSUER": "https://sso.example.com/realms/platform",
    "DLI_ADMIN_OIDC_AUTHORIZATION_ENDPOINT": "https://sso.example.com/realms/platform/auth",
    "DLI_ADMIN_OIDC_TOKEN_ENDPOINT": "https://sso.example.com/realms/platform/token",
    "DLI_ADMIN_OIDC_USERINFO_ENDPOINT": "https://sso.example.com/realms/platform/userinfo",
    "DLI_ADMIN_OIDC_JWKS_ENDPOINT": "https://sso.example.com/realms/platform/certs",
    "DLI_ADMIN_OIDC_SIGN_ALGO": "ES256",
    "DLI_ADMIN_OIDC_SCOPES": "openid profile groups",
    "DLI_ADMIN_OIDC_USERNAME_CLAIM": "email",
    "DLI_ADMIN_OIDC_GROUPS_CLAIM": "roles",
    "DLI_ADMIN_OIDC_GROUP_ROLES": "ops=operator@abc123, auditors=auditor",
    "DLI_ADMIN_PASSWORD_LOGIN": "off",
}
# The variables of the connection DLI_CONNECTIONS names (.env.example describes them in comments).
CONNECTION = {
    "DLI_CONNECTION_PROD_EU_ENDPOINT": "https://dli.eu-nl.otc.t-systems.com",
    "DLI_CONNECTION_PROD_EU_AUTH": "aksk",
    "DLI_CONNECTION_PROD_EU_AK": "AKSETTINGSTEST000002",
    "DLI_CONNECTION_PROD_EU_SK": "SkSettingsTest00000000000000000000000002",
}
NOT_SETTINGS = {
    "DLI_ADMIN_ENV_FILE": "names the .env file itself",
    "DLI_SIMULATOR_PORT": "read by the embedded simulator when it starts, not by the settings",
    "PROMETHEUS_MULTIPROC_DIR": "read by prometheus-client and dli_admin.metrics, not by the settings",
}


def settings_json(env: dict[str, str], module: str = SETTINGS) -> dict:
    """Every setting (UPPERCASE name) of `module` as a fresh process loads it from `env`."""
    code = (
        f"import importlib, json; s = importlib.import_module({module!r}); "
        "print(json.dumps({k: getattr(s, k) for k in dir(s) if k.isupper()}, default=str, sort_keys=True))"
    )
    result = run(["-c", code], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def as_files(tmp_path: Path, variables: dict[str, str]) -> dict[str, str]:
    """NAME_FILE=path for each NAME=value, the file ending in a newline as editors write it."""
    files = {}
    for name, value in variables.items():
        path = tmp_path / "secrets" / name.lower()
        path.parent.mkdir(exist_ok=True)
        path.write_text(value + "\n")
        files[f"{name}_FILE"] = str(path)
    return files


@pytest.fixture
def base(tmp_path) -> dict[str, str]:
    return production_environment(tmp_path)


def test_every_documented_variable_is_covered_here():
    assert VALUES.keys() | NOT_SETTINGS.keys() == documented().keys()


def test_every_variable_reads_the_same_from_a_file_as_from_the_environment(base, tmp_path):
    env = {"DLI_ADMIN_ENV_FILE": ""}
    from_values = settings_json(env | VALUES | CONNECTION)
    from_files = settings_json(env | as_files(tmp_path, VALUES | CONNECTION))
    assert from_files == from_values
    assert from_values != settings_json(base), "the values must change the settings"
    assert from_values["DLI_IAM_PASSWORD"] == "$tarts with a dollar"
    assert from_values["DLI_ENDPOINT"] == "https://dli.eu-de.otc.t-systems.com"
    assert from_values["DATABASES"]["default"]["HOST"] == "db.example.internal"
    assert (
        from_values["DLI_CONNECTIONS"]["prod-eu"]["CREDENTIALS"]["DLI_CONNECTION_PROD_EU_SK"]
        == CONNECTION["DLI_CONNECTION_PROD_EU_SK"]
    )


def test_allowed_hosts_a_timeout_and_debug_come_from_files(base, tmp_path):
    files = as_files(
        tmp_path,
        {"DJANGO_ALLOWED_HOSTS": "a.example.com,b.example.com", "DLI_TIMEOUT": "2.5", "DJANGO_DEBUG": "1"},
    )
    loaded = settings_json(base | files)  # base still sets DJANGO_ALLOWED_HOSTS: the file wins
    assert loaded["ALLOWED_HOSTS"] == ["a.example.com", "b.example.com"]
    assert loaded["DLI_TIMEOUT"] == 2.5
    assert loaded["DEBUG"] is True


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG must be 1/0, true/false, yes/no or on/off, not 'maybe'"),
        ("DLI_BATCH_SIZE", "fifty", "DLI_BATCH_SIZE must be a whole number, not 'fifty'"),
        ("DLI_TIMEOUT", "abc", "DLI_TIMEOUT must be a number, e.g. 15 or 2.5, not 'abc'"),
        (
            "DJANGO_ALLOWED_HOSTS",
            "ok.example.com,https://dli-admin.example.com",
            "DJANGO_ALLOWED_HOSTS must be comma-separated host names (not URLs)",
        ),
        (
            "DJANGO_CSRF_TRUSTED_ORIGINS",
            "dli-admin.example.com",
            "DJANGO_CSRF_TRUSTED_ORIGINS must be comma-separated origins (scheme://host[:port])",
        ),
        ("DLI_ENDPOINT", "dli.eu-de.otc.t-systems.com", "DLI_ENDPOINT must be an http(s) URL"),
        (
            "DATABASE_URL",
            "mysql://u:db-secret@h/x",
            "DATABASE_URL must be sqlite:///path/to/db.sqlite3 or postgresql",
        ),
        (
            "DJANGO_LOG_LEVEL",
            "LOUD",
            "DJANGO_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not 'LOUD'",
        ),
        ("DLI_SK_FILE", "/nonexistent/dli_sk", "DLI_SK_FILE=/nonexistent/dli_sk: cannot read it"),
    ],
    ids=["bool", "int", "float", "host-list", "origin-list", "url", "database-url", "choice", "file"],
)
def test_a_malformed_value_is_refused_with_its_name_and_type(base, variable, value, message):
    result = run(["-c", f"import {SETTINGS}"], base | {variable: value})
    assert result.returncode != 0
    assert f"django.core.exceptions.ImproperlyConfigured: {message}" in result.stderr
    assert "ValueError" not in result.stderr and "Traceback" in result.stderr
    assert "db-secret" not in result.stderr, "a URL that may carry a password is not repeated"


def test_a_dot_env_file_fills_in_what_the_environment_does_not_set(base, tmp_path):
    dot_env = tmp_path / ".env"
    dot_env.write_text("# comment\nDJANGO_TIME_ZONE=Europe/Berlin\nDLI_TIMEOUT=7\nDLI_BATCH_SIZE=\n")
    loaded = settings_json(base | {"DLI_ADMIN_ENV_FILE": str(dot_env), "DLI_TIMEOUT": "9"})
    assert loaded["TIME_ZONE"] == "Europe/Berlin"
    assert loaded["DLI_TIMEOUT"] == 9.0, "the environment wins over .env"
    assert loaded["DLI_BATCH_SIZE"] == 50, "an empty value is the default"


def test_the_example_env_file_loads_as_it_is(base):
    env = {"DLI_ADMIN_ENV_FILE": str(ROOT / ".env.example"), "DJANGO_SECRET_KEY": base["DJANGO_SECRET_KEY"]}
    loaded = settings_json(env)
    assert loaded["ALLOWED_HOSTS"] == ["dli-admin.example.com"]
    assert loaded["DEBUG"] is False and loaded["SECURE_SSL_REDIRECT"] is True


def test_a_named_env_file_that_does_not_exist_is_refused(base, tmp_path):
    result = run(["-c", f"import {SETTINGS}"], base | {"DLI_ADMIN_ENV_FILE": str(tmp_path / "missing.env")})
    assert result.returncode != 0
    assert "ImproperlyConfigured: DLI_ADMIN_ENV_FILE=" in result.stderr


def test_the_test_settings_never_read_a_dot_env(base, tmp_path):
    dot_env = tmp_path / ".env"
    dot_env.write_text("DJANGO_TIME_ZONE=Europe/Berlin\nDLI_SK=from-a-developers-dot-env\n")
    env = {k: v for k, v in base.items() if k != "DJANGO_DEBUG"} | {"DLI_ADMIN_ENV_FILE": str(dot_env)}
    loaded = settings_json(env, module="dli_admin.settings_test")
    assert (loaded["TIME_ZONE"], loaded["DLI_SK"]) == ("UTC", "")


def test_this_test_run_reads_no_dot_env():
    assert os.environ["DLI_ADMIN_ENV_FILE"] == ""
