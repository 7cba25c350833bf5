"""No credential on any error page: the real development server with DEBUG on and credentials in its
environment (which it copies into request.META), asked for every kind of error page by an anonymous
client. Not one byte of any response may hold a credential."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from dli_admin.simulator.seed import DEMO_PROJECTS
from tests.helpers import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
IAM_PASSWORD_IN_FILE = "IamPasswordReadFromAFile-7Gq2Lm9Xv4"
PROXY_PASSWORD = "Pr0xyPassw0rd-Zk81Qe"
ENVIRONMENT = {
    "DLI_AK": "QTWAOYTTINDUT2QVKYUC",
    "DLI_SK": "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
    "DLI_AUTH_TOKEN": "MIIEhwYJKoZIhvcNAQcCoIIEeDCCBHQCAQExDTALBglghkgBZQMEAgEwggKYBgkqhkiG9w0BBwGg",
    "DLI_IAM_PASSWORD": "IamPasswordFromTheEnvironment-3Rt6",
    "DJANGO_SECRET_KEY": "Yx3kP9vR2mQ7tW5nL8bJ4cF6hD1sG0aZeUoIiKyTrEwQpMnBvC",
    "DLI_ADMIN_AUDIT_KEY": "AuditKeyHmacSha256-0f9e8d7c6b5a49382716",
    "DLI_ADMIN_METRICS_TOKEN": "MetricsToken-5b1d9c7e3a2f4680",
    "OIDC_RP_CLIENT_SECRET": "OidcClientSecret-8e2a6c4b0d9f1357",
    # A URL with a password under a name that says nothing about it.
    "HTTPS_PROXY": f"http://proxy-user:{PROXY_PASSWORD}@proxy.internal:3128",
}
CREDENTIALS = {
    **{name: ENVIRONMENT[name] for name in ENVIRONMENT if name != "HTTPS_PROXY"},
    "DLI_IAM_PASSWORD_FILE's content": IAM_PASSWORD_IN_FILE,
    "the proxy password": PROXY_PASSWORD,
    "the user's password": PASSWORD,
}
JOBS_REVIEW = f"/projects/{DEMO_PROJECTS[0].id}/jobs/delete/review/"
CSRF_COOKIE = {"csrftoken": "a" * 32}  # a well-formed secret: the CSRF check then reads the form


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory):
    """`manage.py runserver`, DEBUG on, the credentials in its environment, a database never migrated."""
    tmp = tmp_path_factory.mktemp("error-pages")
    (tmp / "iam-password").write_text(IAM_PASSWORD_IN_FILE)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DLI_", "DATABASE_URL", "HTTP"))
    }
    env |= ENVIRONMENT | {
        "DLI_IAM_PASSWORD_FILE": str(tmp / "iam-password"),
        "DJANGO_DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "tests.integration.error_pages_settings",
        "ERROR_PAGES_SQLITE": str(tmp / "db.sqlite3"),
    }
    port = free_port()
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp / "server.log").read_text()
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (tmp / "server.log").read_text()
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def every_byte(response: requests.Response) -> bytes:
    head = f"{response.status_code} {response.reason}\n" + "".join(
        f"{name}: {value}\n" for name, value in response.headers.items()
    )
    return head.encode() + b"\n" + response.content


def login_on_a_database_without_tables(url: str) -> requests.Response:
    """A real 500: the login throttle's table does not exist, so the failing frame holds the password."""
    session = requests.Session()
    page = session.get(f"{url}/accounts/login/", timeout=10)
    token = page.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    return session.post(
        f"{url}/accounts/login/",
        {"csrfmiddlewaretoken": token, "username": "olivia", "password": PASSWORD},
        timeout=30,
    )


# Each kind of error page: how to ask for it, its status, and words that show it is the DEBUG page.
ERROR_PAGES = {
    "disallowed host": (
        lambda url: requests.get(
            f"{url}/healthz", headers={"Host": "rebind.attacker.example:8000"}, timeout=30
        ),
        400,
        b"DisallowedHost",
    ),
    "disallowed host, as text": (
        lambda url: requests.get(
            f"{url}/healthz",
            headers={"Host": "rebind.attacker.example:8000", "Accept": "text/plain"},
            timeout=30,
        ),
        400,
        b"DisallowedHost",
    ),
    "too many fields": (
        lambda url: requests.post(
            f"{url}{JOBS_REVIEW}",
            [("job_ids", str(n)) for n in range(25_000)],  # DATA_UPLOAD_MAX_NUMBER_FIELDS is 20,100
            cookies=CSRF_COOKIE,
            timeout=30,
        ),
        400,
        b"TooManyFieldsSent",
    ),
    "request body too big": (
        lambda url: requests.post(
            f"{url}{JOBS_REVIEW}", {"job_ids": "1" * 3_000_000}, cookies=CSRF_COOKIE, timeout=30
        ),
        400,
        b"RequestDataTooBig",
    ),
    "500 from a view holding secrets": (
        lambda url: requests.get(f"{url}/test-only/fail/", timeout=30),
        500,
        b"RuntimeError",
    ),
    "500 from a database without tables": (login_on_a_database_without_tables, 500, b"OperationalError"),
    "404": (lambda url: requests.get(f"{url}/no-such-page/", timeout=30), 404, b"DEBUG = True"),
    "403 from the CSRF check": (
        lambda url: requests.post(f"{url}/accounts/login/", {"username": "olivia"}, timeout=30),
        403,
        b"This form is out of date",  # dli-admin's own CSRF page, in debug too
    ),
}


@pytest.mark.parametrize("kind", ERROR_PAGES)
def test_it_shows_no_credential_on_the_debug_error_page(debug_server, kind):
    ask, status, marker = ERROR_PAGES[kind]
    response = ask(debug_server)
    assert response.status_code == status
    assert marker in response.content, "this must be the page for this error (Django's DEBUG page mostly)"
    sent = every_byte(response)
    leaked = [name for name, secret in CREDENTIALS.items() if secret.encode() in sent]
    assert leaked == []


def test_the_debug_page_still_lists_the_settings_and_the_environment_with_values_hidden(debug_server):
    page = requests.get(f"{debug_server}/test-only/fail/", timeout=30).text
    assert "DLI_SK" in page and "HTTPS_PROXY" in page and "REMOTE_ADDR" in page
    assert "http://proxy-user:********************@proxy.internal:3128" in page
    assert "DLI refused the request signed with ********************" in page
