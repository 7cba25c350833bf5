"""Helpers the tests share: the users' password and maker, and a tiny signed client for the simulator.

The simulator helpers (Dli, sign, issue_token) are deliberately small and independent of the dashboard's DLI
client, which is tested against the simulator elsewhere. The cast of users itself is in tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from dli_admin import aksk
from dli_admin.simulator.credentials import (
    DEMO_ACCESS_KEY,
    DEMO_IAM_DOMAIN,
    DEMO_IAM_PASSWORD,
    DEMO_IAM_USER,
    DEMO_SECRET_KEY,
)
from dli_admin.simulator.seed import DEMO_PROJECTS, build_seed

if TYPE_CHECKING:
    from dli_admin.simulator.server import Simulator

PASSWORD = "correct horse battery staple"
PROJECT = DEMO_PROJECTS[0]  # analytics-prod: project_a in tests/conftest.py
OTHER = DEMO_PROJECTS[1]  # project_b


def make_user(username: str, *grants, superuser: bool = False):
    """A user with PASSWORD and one Grant per (role, project); tests take the cast's fixtures instead."""
    from django.contrib.auth import get_user_model

    from dli_admin.projects.models import Grant, recorded_change

    user = get_user_model().objects.create_user(
        username, password=PASSWORD, is_superuser=superuser, is_staff=superuser
    )
    with recorded_change():  # the cast is set up, not granted by anyone: no audit record
        for role, project in grants:
            Grant.objects.create(user=user, role=role, project=project)
    return user


def make_project(project_id: str, name: str, **fields):
    """A DliProject set up for a test, without an audit record (the cast's projects are made so)."""
    from dli_admin.projects.models import DliProject, recorded_change

    with recorded_change():
        return DliProject.objects.create(project_id=project_id, name=name, **fields)


def sign(
    method: str,
    url: str,
    *,
    params: Iterable[tuple[str, Any]] = (),
    body: bytes = b"",
    project_id: str | None = None,
    access_key: str = DEMO_ACCESS_KEY,
    secret_key: str = DEMO_SECRET_KEY,
    now: datetime | None = None,
) -> tuple[str, dict[str, str]]:
    """The URL to send and the headers of an SDK-HMAC-SHA256 signed request, as the official SDK makes it."""
    target = urlsplit(url)
    headers = {"Content-Type": "application/json", "Host": target.netloc, "X-Sdk-Date": aksk.sdk_date(now)}
    if project_id:
        headers["X-Project-Id"] = project_id
    query = aksk.canonical_query(params)
    names = aksk.signed_header_names(headers)
    canonical = aksk.canonical_request(
        method=method, path=target.path, query=query, headers=headers, signed_headers=names, body=body
    )
    sig = aksk.signature(secret_key, aksk.string_to_sign(canonical, headers["X-Sdk-Date"]))
    headers["Authorization"] = aksk.authorization_header(access_key, names, sig)
    return url + (f"?{query}" if query else ""), headers


class Dli:
    """Calls one project's Flink-job API on the simulator, AK/SK-signed (or with a token when given)."""

    def __init__(self, simulator: Simulator, project_id: str = PROJECT.id, token: str | None = None) -> None:
        self.simulator = simulator
        self.project_id = project_id
        self.token = token
        self.session = requests.Session()

    def call(
        self,
        method: str,
        suffix: str = "",
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        raw: bytes | None = None,
        timeout: float = 5,
    ) -> requests.Response:
        url = f"{self.simulator.url}/v1.0/{self.project_id}/streaming/jobs{suffix}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        if self.token is not None:
            query = aksk.canonical_query((params or {}).items())
            headers = {"Content-Type": "application/json", "X-Auth-Token": self.token}
            return self.session.request(
                method, url + (f"?{query}" if query else ""), headers=headers, data=data, timeout=timeout
            )
        url, headers = sign(method, url, params=(params or {}).items(), body=data, project_id=self.project_id)
        return self.session.request(method, url, headers=headers, data=data, timeout=timeout)

    def list(self, **params: Any) -> requests.Response:
        return self.call("GET", params=params)

    def show(self, job_id: int | str) -> requests.Response:
        return self.call("GET", f"/{job_id}")

    def delete(self, job_id: int | str) -> requests.Response:
        return self.call("DELETE", f"/{job_id}")

    def batch_delete(self, job_ids: list[Any], **kwargs: Any) -> requests.Response:
        return self.call("POST", "/delete", body={"job_ids": job_ids}, **kwargs)

    def batch_stop(self, job_ids: list[Any], savepoint: bool = False) -> requests.Response:
        return self.call("POST", "/stop", body={"job_ids": job_ids, "trigger_savepoint": savepoint})

    def all_ids(self, **params: Any) -> list[int]:
        ids, offset = [], 0
        while True:
            page = self.list(limit=100, offset=offset, **params).json()["job_list"]["jobs"]
            if not page:
                return ids
            ids += [job["job_id"] for job in page]
            offset += 100


def seeded_jobs(project_id: str = PROJECT.id) -> list[dict[str, Any]]:
    return list(build_seed().jobs[project_id].values())


def iam_body(user=DEMO_IAM_USER, password=DEMO_IAM_PASSWORD, domain=DEMO_IAM_DOMAIN, project_id=PROJECT.id):
    scope = {"project": {"id": project_id}} if project_id else None
    auth = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": user, "password": password, "domain": {"name": domain}}},
        }
    }
    if scope:
        auth["scope"] = scope
    return {"auth": auth}


def issue_token(simulator: Simulator, **kwargs) -> requests.Response:
    return requests.post(
        f"{simulator.url}/v3/auth/tokens",
        json=iam_body(**kwargs),
        headers={"Content-Type": "application/json;charset=utf8"},
        timeout=5,
    )


# --- Settings in a fresh process -------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def production_environment(tmp_path: Path) -> dict[str, str]:
    """Exactly what `make check-deploy` sets, with SQLite in a temporary directory and no developer's .env."""
    return {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "dli-admin.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DLI_ADMIN_AUDIT_KEY": secrets.token_urlsafe(32),
        "DLI_ADMIN_ENV_FILE": "",
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


# --- Background batches ----------------------------------------------------------------------


def run_queued_batches() -> list:
    """What a worker does with every batch that waits for one, here in the test's process."""
    from dli_admin.deletes.models import LIVE_BATCH_STATES, DeleteBatch
    from dli_admin.deletes.runner import batch_run

    waiting = DeleteBatch.objects.filter(state__in=LIVE_BATCH_STATES).order_by("created_at")
    return [batch_run(batch_id) for batch_id in waiting.values_list("pk", flat=True)]


def database_url() -> str:
    """The test database as a URL, for processes the test starts."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgresql://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


def start_worker(simulator, name: str, **extra: str) -> subprocess.Popen:
    """A real `manage.py db_worker` process on the test database, talking to the test's simulator."""
    from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dli_admin.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": database_url(),
        "DLI_ENDPOINT": simulator.url,
        "DLI_AK": DEMO_ACCESS_KEY,
        "DLI_SK": DEMO_SECRET_KEY,
        "DLI_BATCH_LEASE": "3",
        "DLI_BATCH_SWEEP": "1",
        "DLI_TIMEOUT": "10",
        **extra,
    }
    command = [
        sys.executable,
        "manage.py",
        "db_worker",
        "--no-reload",
        "--no-startup-delay",
        "--interval",
        "0.1",
    ]
    return subprocess.Popen(
        [*command, "--worker-id", name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.kill()
    out, _ = process.communicate(timeout=10)
    return out or ""


def wait_for(condition, timeout: float = 60.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


# --- Cleanup policies ----------------------------------------------------------------------------


class WebhookReceiver:
    """A local HTTP server that records the JSON bodies POSTed to it; answers `status` after `delay` s."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200
        self.delay = 0.0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                time.sleep(receiver.delay)
                receiver.paths.append(self.path)
                receiver.bodies.append(json.loads(body or b"null"))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def ms_ago(days: float) -> int:
    """A DLI create_time (epoch milliseconds) `days` ago."""
    return int((time.time() - days * 86400) * 1000)
