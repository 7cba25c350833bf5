"""Single sign-on's settings, its checks of the ID token, the group mapping, and password login turned off.
The flow itself, against a real provider in a real browser: tests/browser/test_sso_browser.py."""

from __future__ import annotations

import time

import jwt
import pytest
from django.core.exceptions import SuspiciousOperation
from django.urls import reverse

from dli_admin.access.sso import GroupsOidcBackend, wanted_roles
from dli_admin.environment import group_role
from tests.helpers import PASSWORD, run

ISSUER = "https://idp.example.com/realms/lake"
SECRET = "oidc-client-secret-for-tests-0123456789"  # noqa: S105

SSO_ENV = {
    "DLI_ADMIN_OIDC_CLIENT_ID": "dli-admin",
    "DLI_ADMIN_OIDC_ISSUER": ISSUER,
    "DLI_ADMIN_OIDC_AUTHORIZATION_ENDPOINT": f"{ISSUER}/protocol/openid-connect/auth",
    "DLI_ADMIN_OIDC_TOKEN_ENDPOINT": f"{ISSUER}/protocol/openid-connect/token",
    "DLI_ADMIN_OIDC_USERINFO_ENDPOINT": f"{ISSUER}/protocol/openid-connect/userinfo",
    "DLI_ADMIN_OIDC_JWKS_ENDPOINT": f"{ISSUER}/protocol/openid-connect/certs",
    "DLI_ADMIN_OIDC_GROUP_ROLES": "lake-ops=operator@0123456789abcdef,compliance=auditor",
}
SHOW = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DLI_ADMIN_SSO, s.DLI_ADMIN_PASSWORD_LOGIN, s.AUTHENTICATION_BACKENDS,"
    " s.DLI_ADMIN_OIDC_GROUP_ROLES,"
    " s.OIDC_USE_PKCE, s.OIDC_TOKEN_USE_BASIC_AUTH, s.OIDC_STORE_ID_TOKEN,"
    " s.OIDC_RP_CLIENT_SECRET == open(__import__('os').environ['SECRET_PATH']).read().strip())"
)


def show_settings(env: dict[str, str]):
    return run(["-c", f"import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'dli_admin.settings'; {SHOW}"], env)


def test_single_sign_on_is_off_by_default_and_password_login_on(production_env):
    result = run(
        [
            "-c",
            "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'dli_admin.settings'; django.setup();"
            "from django.conf import settings as s;"
            "print(s.DLI_ADMIN_SSO, s.DLI_ADMIN_PASSWORD_LOGIN, s.AUTHENTICATION_BACKENDS)",
        ],
        production_env,
    )
    assert result.stdout.strip() == "False True ['dli_admin.accounts.backends.ThrottledModelBackend']", (
        result.stderr
    )


def test_single_sign_on_settings_come_from_the_environment_the_secret_from_a_file(production_env, tmp_path):
    secret = tmp_path / "oidc-secret"
    secret.write_text(SECRET + "\n")
    env = (
        production_env
        | SSO_ENV
        | {"DLI_ADMIN_OIDC_CLIENT_SECRET_FILE": str(secret), "SECRET_PATH": str(secret)}
    )
    env |= {"DLI_ADMIN_PASSWORD_LOGIN": "0"}
    result = show_settings(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "True False ['dli_admin.access.sso.GroupsOidcBackend'] "
        "[('lake-ops', 'operator', '0123456789abcdef'), ('compliance', 'auditor', '')] True True False True"
    )
    check = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert SECRET not in check.stdout + check.stderr


@pytest.mark.parametrize(
    "change, message",
    [
        ({"DLI_ADMIN_OIDC_TOKEN_ENDPOINT": ""}, "DLI_ADMIN_OIDC_TOKEN_ENDPOINT is not set"),
        ({"DLI_ADMIN_OIDC_CLIENT_SECRET": ""}, "DLI_ADMIN_OIDC_CLIENT_SECRET is not set"),
        (
            {"DLI_ADMIN_OIDC_GROUP_ROLES": "lake-ops=admin@abc"},
            "DLI_ADMIN_OIDC_GROUP_ROLES must be comma-separated",
        ),
        ({"DLI_ADMIN_OIDC_GROUP_ROLES": "lake-ops=operator"}, "GROUP=ROLE@PROJECT_ID"),
        ({"DLI_ADMIN_OIDC_SIGN_ALGO": "none"}, "DLI_ADMIN_OIDC_SIGN_ALGO must be"),
        (
            {"DLI_ADMIN_OIDC_JWKS_ENDPOINT": "ftp://idp"},
            "DLI_ADMIN_OIDC_JWKS_ENDPOINT must be an http(s) URL",
        ),
        ({"DLI_ADMIN_OIDC_CLIENT_ID": "", "DLI_ADMIN_PASSWORD_LOGIN": "0"}, "otherwise nobody could log in"),
    ],
)
def test_malformed_single_sign_on_settings_stop_the_start_with_a_clear_message(
    production_env, change, message
):
    env = production_env | SSO_ENV | {"DLI_ADMIN_OIDC_CLIENT_SECRET": SECRET} | change
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert message in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_a_group_mapping_entry_is_group_role_and_project():
    assert group_role("ops=owner@abc123") == ("ops", "owner", "abc123")
    assert group_role("audit=auditor") == ("audit", "auditor", "")
    for bad in ("ops", "ops=owner", "ops=auditor@abc", "ops=root@abc", "=viewer@abc", "ops=viewer@a-b"):
        with pytest.raises(ValueError):
            group_role(bad)


@pytest.mark.django_db
def test_the_strongest_role_of_a_users_groups_wins_and_unknown_projects_are_skipped(
    project_a, project_b, caplog
):
    mapping = [
        ("readers", "viewer", project_a.project_id),
        ("ops", "operator", project_a.project_id),
        ("readers", "viewer", project_b.project_id),
        ("readers", "viewer", "ffffffffffffffff"),
        ("compliance", "auditor", ""),
    ]
    assert wanted_roles(["ops", "readers"], mapping) == {project_a: "operator", project_b: "viewer"}
    assert wanted_roles(["readers", "ops"], mapping) == {project_a: "operator", project_b: "viewer"}
    assert wanted_roles(["compliance", "other"], mapping) == {None: "auditor"}
    assert wanted_roles([], mapping) == {}
    assert "ffffffffffffffff, which is not added" in caplog.text


@pytest.fixture
def hs256(settings):
    """The backend with an HMAC-signed ID token (signed with the client secret), to forge claims."""
    settings.OIDC_RP_CLIENT_ID = "dli-admin"
    settings.OIDC_RP_CLIENT_SECRET = SECRET
    settings.OIDC_RP_SIGN_ALGO = "HS256"
    settings.OIDC_OP_TOKEN_ENDPOINT = settings.OIDC_OP_USER_ENDPOINT = f"{ISSUER}/x"
    settings.DLI_ADMIN_OIDC_ISSUER = ISSUER
    return GroupsOidcBackend()


def id_token(**claims) -> str:
    now = int(time.time())
    return jwt.encode(
        {"iss": ISSUER, "aud": "dli-admin", "sub": "u1", "nonce": "n", "iat": now, "exp": now + 60} | claims,
        SECRET,
        algorithm="HS256",
    )


def test_an_id_token_for_another_client_or_from_another_issuer_is_refused(hs256):
    assert hs256.verify_token(id_token(), nonce="n")["sub"] == "u1"
    assert hs256.verify_token(id_token(aud=["other", "dli-admin"]), nonce="n")["sub"] == "u1"
    for forged, what in (
        (id_token(aud="other-client"), "aud"),
        (id_token(iss="https://evil.example"), "iss"),
    ):
        with pytest.raises(SuspiciousOperation, match=what):
            hs256.verify_token(forged, nonce="n")
    with pytest.raises(SuspiciousOperation, match="Nonce"):
        hs256.verify_token(id_token(), nonce="other")


# --- Password login turned off -----------------------------------------------------------------------


@pytest.fixture
def password_login_off(settings):
    settings.DLI_ADMIN_SSO = True
    settings.DLI_ADMIN_PASSWORD_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = ["dli_admin.access.sso.GroupsOidcBackend"]
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "dli-admin", SECRET
    settings.OIDC_OP_TOKEN_ENDPOINT = settings.OIDC_OP_USER_ENDPOINT = f"{ISSUER}/x"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{ISSUER}/auth"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{ISSUER}/certs"
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    settings.OIDC_AUTHENTICATION_CALLBACK_URL = "dli-sso-callback"
    settings.OIDC_USE_PKCE = True


@pytest.mark.django_db
def test_without_password_login_the_form_and_password_change_are_gone(client, password_login_off, superuser):
    page = client.get(reverse("login")).content.decode()
    assert 'id="sso-login"' in page and 'name="password"' not in page
    refused = client.post(reverse("login"), {"username": "root", "password": PASSWORD})
    assert refused.status_code == 403 and "_auth_user_id" not in client.session
    admin = client.post(reverse("admin:login"), {"username": "root", "password": PASSWORD})
    assert "_auth_user_id" not in client.session, admin.status_code  # no backend checks passwords
    client.force_login(superuser, backend="dli_admin.access.sso.GroupsOidcBackend")
    assert client.get(reverse("password_change")).status_code == 404


@pytest.mark.django_db
def test_the_start_sends_the_browser_to_the_provider_with_state_nonce_and_pkce(client, password_login_off):
    response = client.get(reverse("dli-sso-start"))
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{ISSUER}/auth?")
    for parameter in (
        "state=",
        "nonce=",
        "code_challenge=",
        "code_challenge_method=S256",
        "client_id=dli-admin",
    ):
        assert parameter in location
    assert SECRET not in location
    assert list(client.session["oidc_states"].values())[0]["nonce"] in location


@pytest.mark.django_db
def test_the_login_page_shows_the_button_only_when_single_sign_on_is_on(client, settings):
    assert 'id="sso-login"' not in client.get(reverse("login")).content.decode()
    settings.DLI_ADMIN_SSO = True
    page = client.get(reverse("login"), {"sso": "failed"}).content.decode()
    assert 'id="sso-login"' in page and 'name="password"' in page
    assert "Single sign-on did not sign you in" in page


def test_the_client_secret_never_reaches_a_log_line_or_an_error_report(settings, rf):
    import logging

    from dli_admin.accounts.logs import RedactSecretsFilter
    from dli_admin.accounts.reporting import NoSecretsExceptionReporter

    settings.OIDC_RP_CLIENT_SECRET = SECRET
    line = logging.LogRecord(
        "mozilla_django_oidc", logging.ERROR, __file__, 1, "token call with %s", (SECRET,), None
    )
    RedactSecretsFilter().filter(line)
    assert SECRET not in line.getMessage()

    try:
        client_secret = SECRET  # noqa: F841  a local variable, as in the library's token request
        raise RuntimeError(f"token endpoint said no to {SECRET}")
    except RuntimeError as error:
        report = NoSecretsExceptionReporter(rf.get("/"), type(error), error, error.__traceback__)
        assert SECRET not in report.get_traceback_html() + report.get_traceback_text()
