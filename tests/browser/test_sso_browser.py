"""Single sign-on end to end: Chromium logs in at a real OpenID Connect provider (tests/idp, the npm package
oidc-provider under node), comes back to dli-admin, and the user's grants follow their groups at each
login; a tampered state or nonce is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page, expect

from dli_admin.accounts.models import SsoIdentity
from dli_admin.audit.models import AuditKind, AuditRecord
from dli_admin.projects.models import Grant, GrantSource
from tests.helpers import make_user

pytestmark = pytest.mark.django_db(transaction=True)
IDP_DIR = Path(__file__).resolve().parents[1] / "idp"
CLIENT_ID, CLIENT_SECRET = "dli-admin-test", "test-idp-client-secret-not-a-real-one"


@pytest.fixture
def idp(live_server, tmp_path):
    """The provider on a free loopback port, its users in a file the test may rewrite between logins."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the single sign-on tests need it to run tests/idp")
    if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("tests/idp has no node_modules: run scripts/ensure-test-idp (make test does)")
    users = tmp_path / "users.json"
    env = {
        "PATH": "/usr/bin:/bin",
        "IDP_PORT": "0",
        "IDP_CLIENT_ID": CLIENT_ID,
        "IDP_CLIENT_SECRET": CLIENT_SECRET,
        "IDP_REDIRECT_URI": f"{live_server.url}{reverse('dli-sso-callback')}",
        "IDP_USERS": str(users),
    }
    log = (tmp_path / "idp.log").open("w")
    process = subprocess.Popen(
        [node, "server.js"], cwd=IDP_DIR, env=env, stdout=subprocess.PIPE, stderr=log, text=True
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("listening "):
            pytest.fail(f"the test IdP did not start: {line!r} {(tmp_path / 'idp.log').read_text()}")
        issuer = line.split()[1]

        def set_users(**groups: list[str]) -> None:
            users.write_text(
                json.dumps(
                    {name: {"email": f"{name}@example.com", "groups": g} for name, g in groups.items()}
                )
            )

        set_users()
        yield SimpleNamespace(issuer=issuer, set_users=set_users)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def sso(idp, settings, project_a, project_b):
    """dli-admin's single sign-on pointed at the test provider (what DLI_ADMIN_OIDC_* set in production)."""
    discovery = requests.get(f"{idp.issuer}/.well-known/openid-configuration", timeout=10).json()
    settings.DLI_ADMIN_SSO = True
    settings.AUTHENTICATION_BACKENDS = [
        "dli_admin.accounts.backends.ThrottledModelBackend",
        "dli_admin.access.sso.GroupsOidcBackend",
    ]
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.DLI_ADMIN_OIDC_ISSUER = idp.issuer
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = discovery["authorization_endpoint"]
    settings.OIDC_OP_TOKEN_ENDPOINT = discovery["token_endpoint"]
    settings.OIDC_OP_USER_ENDPOINT = discovery["userinfo_endpoint"]
    settings.OIDC_OP_JWKS_ENDPOINT = discovery["jwks_uri"]
    settings.OIDC_RP_SIGN_ALGO = "RS256"
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.OIDC_USE_PKCE = True
    settings.OIDC_TOKEN_USE_BASIC_AUTH = True
    settings.OIDC_TIMEOUT = 10
    settings.OIDC_AUTHENTICATION_CALLBACK_URL = "dli-sso-callback"
    settings.LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?sso=failed"
    settings.DLI_ADMIN_OIDC_USERNAME_CLAIM = "preferred_username"
    settings.DLI_ADMIN_OIDC_GROUPS_CLAIM = "groups"
    settings.DLI_ADMIN_OIDC_GROUP_ROLES = [
        ("lake-ops", "operator", project_a.project_id),
        ("lake-readers", "viewer", project_a.project_id),
        ("lake-readers", "viewer", project_b.project_id),
        ("lake-owners", "owner", project_a.project_id),
        ("compliance", "auditor", ""),
    ]
    return idp


def sso_login(page: Page, live_server, username: str) -> None:
    """From dli-admin's login page through the provider's login and consent, back to dli-admin."""
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("#sso-login").click()
    page.locator("input[name=login]").fill(username)
    page.locator("input[name=password]").fill("any")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # the provider's consent prompt


def grants(username: str) -> set[tuple[str | None, str, str]]:
    return {
        (g.project.name if g.project else None, g.role, g.source)
        for g in Grant.objects.filter(user__username=username).select_related("project")
    }


def test_a_login_creates_the_user_and_its_grants_follow_its_groups_at_each_login(
    page, live_server, sso, project_a, project_b, csp_violations
):
    sso.set_users(alice=["lake-ops", "lake-readers", "unrelated"])
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("#sso-login")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()  # password login is still on here

    sso_login(page, live_server, "alice")
    expect(page.locator(".who")).to_have_text("alice")
    expect(page.get_by_text(project_a.name).first).to_be_visible()
    alice = get_user_model().objects.get(username="alice")
    assert not alice.has_usable_password()
    assert SsoIdentity.objects.get(user=alice).issuer == sso.issuer
    assert grants("alice") == {
        (project_a.name, "operator", GrantSource.SSO),  # the stronger of lake-ops and lake-readers
        (project_b.name, "viewer", GrantSource.SSO),
    }

    # A manual grant is the operators' own: no login changes it.
    from dli_admin.access import services

    services.grant_set(services.command_origin(), user=alice, role="auditor", project=None)

    # The provider moves alice to the readers only: at the next login the role in project A drops.
    sso.set_users(alice=["lake-readers"])
    sso_login(page, live_server, "alice")
    expect(page.locator(".who")).to_have_text("alice")
    assert grants("alice") == {
        (project_a.name, "viewer", GrantSource.SSO),
        (project_b.name, "viewer", GrantSource.SSO),
        (None, "auditor", GrantSource.MANUAL),
    }

    # Out of every mapped group: every single sign-on grant is gone, the manual one stays.
    sso.set_users(alice=["unrelated"])
    sso_login(page, live_server, "alice")
    expect(page.locator(".who")).to_have_text("alice")
    assert grants("alice") == {(None, "auditor", GrantSource.MANUAL)}

    records = AuditRecord.objects.filter(kind=AuditKind.ACCESS, source="sso").order_by("seq")
    reasons = [record.reason for record in records]
    assert reasons[0] == "added user alice (active)"
    assert (
        f"changed alice's role in project {project_a.name} ({project_a.project_id}) from operator to viewer"
        " (single sign-on group)" in reasons
    )
    assert reasons[-2:] == [
        f"revoked viewer of project {project_a.name} ({project_a.project_id}) from alice",
        f"revoked viewer of project {project_b.name} ({project_b.project_id}) from alice",
    ]
    assert all(
        record.actor_username == "alice" and "[unrelated]" in json.loads(record.message)["by"]
        for record in records[len(records) - 2 :]
    )
    call_command("access_verify", stdout=StringIO())  # every grant a login made is in the audit log
    assert csp_violations == []


def test_a_provider_account_named_like_a_local_user_does_not_become_it(page, live_server, sso):
    make_user("root", superuser=True)
    sso.set_users(root=["lake-owners"])
    sso_login(page, live_server, "root")
    expect(page.get_by_role("alert")).to_contain_text("Single sign-on did not sign you in")
    assert not SsoIdentity.objects.exists()
    assert grants("root") == set()


def forge_authorization_request(page: Page, live_server, **forged: str) -> list[int]:
    """Rewrite parameters of dli-admin's redirect to the provider (as a man in the middle would), and
    return the statuses of dli-admin's callback pages that follow."""

    def rewrite(route):
        response = route.fetch(max_redirects=0)
        parts = urlsplit(response.headers["location"])
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        assert set(forged) <= set(query), "dli-admin sends state and nonce"
        location = urlunsplit(parts._replace(query=urlencode({**query, **forged})))
        route.fulfill(response=response, headers={**response.headers, "location": location})

    page.route(lambda url: url.startswith(f"{live_server.url}{reverse('dli-sso-start')}"), rewrite)
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if "/accounts/sso/callback/" in r.url else None)
    return statuses


@pytest.mark.parametrize("forged", [{"state": "forged-state"}, {"nonce": "forged-nonce"}])
def test_a_tampered_state_or_nonce_is_refused(page, live_server, sso, forged):
    sso.set_users(alice=["lake-ops"])
    statuses = forge_authorization_request(page, live_server, **forged)
    sso_login(page, live_server, "alice")
    page.wait_for_load_state()

    assert statuses == [400]
    expect(page.get_by_role("heading")).to_have_text("The request could not be read")
    assert not get_user_model().objects.filter(username="alice").exists()
    page.goto(f"{live_server.url}/")
    assert urlsplit(page.url).path == "/accounts/login/"  # not signed in
