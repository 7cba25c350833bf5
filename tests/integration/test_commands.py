"""The management commands whose names and shapes are dli-admin's public interface."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from dli_admin.projects.models import DliProject, Grant
from dli_admin.simulator.seed import DEMO_PROJECTS

pytestmark = pytest.mark.django_db
PID = "0123456789abcdef0123456789abcdef"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_dli_project_add_then_add_again_updates_it():
    assert "added" in run("dli_project", "add", PID, "--name", "Analytics")
    assert "updated" in run(
        "dli_project", "add", PID, "--name", "Analytics prod", "--endpoint", "https://dli.example.com"
    )
    project = DliProject.objects.get()
    assert (project.name, project.endpoint) == ("Analytics prod", "https://dli.example.com")
    assert PID in run("dli_project", "list")


def test_dli_project_refuses_a_bad_id():
    with pytest.raises(CommandError, match="letters and digits"):
        run("dli_project", "add", "not-a/project", "--name", "x")


def test_grant_and_revoke_a_project_role_and_the_auditor_role(outsider):
    run("dli_project", "add", PID, "--name", "A")
    run("grant", "mallory", "operator", "--project", PID)
    run("grant", "mallory", "owner", "--project", PID)  # granting again replaces the role
    run("grant", "mallory", "auditor")
    assert sorted(Grant.objects.values_list("role", flat=True)) == ["auditor", "owner"]
    run("revoke", "mallory", "owner", "--project", PID)
    run("revoke", "mallory", "auditor")
    assert not Grant.objects.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (("grant", "nobody", "viewer", "--project", PID), "no user"),
        (("grant", "mallory", "viewer"), "give --project"),
        (("grant", "mallory", "auditor", "--project", PID), "global role"),
        (("grant", "mallory", "viewer", "--project", "ffff"), "no DLI project"),
        (("revoke", "mallory", "viewer", "--project", PID), "is not viewer"),
    ],
)
def test_grant_and_revoke_explain_mistakes(outsider, args, message):
    run("dli_project", "add", PID, "--name", "A")
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_demo_setup_creates_one_user_per_role_and_reuses_them(settings, tmp_path, monkeypatch):
    from dli_admin.access.management.commands import demo_setup

    settings.DLI_ENDPOINT = ""
    monkeypatch.setattr(demo_setup, "LOGINS_FILE", tmp_path / "demo-logins.txt")
    first = run("demo_setup")
    second = run("demo_setup")
    for username in ("admin", "owner", "operator", "viewer", "auditor"):
        assert username in first
    assert first == second, "running it again reuses the users and their passwords"
    assert (tmp_path / "demo-logins.txt").stat().st_mode & 0o077 == 0
    password = next(line.split()[1] for line in first.splitlines() if line.strip().startswith("operator"))
    assert get_user_model().objects.get(username="operator").check_password(password)


def test_demo_setup_registers_the_projects_of_the_simulator_at_dli_endpoint(simulator, tmp_path):
    simulator.add_job("extra0project", name="added", status="job_finish")  # a project beyond the seed
    out = run("demo_setup", "--logins-file", str(tmp_path / "logins.txt"))

    projects = list(DliProject.objects.order_by("id").values_list("project_id", "name", "endpoint"))
    assert projects == [(p.id, p.name, simulator.url) for p in DEMO_PROJECTS] + [
        ("extra0project", "extra0project", simulator.url)
    ]
    assert f"DLI at {simulator.url}" in out
    operator = get_user_model().objects.get(username="operator")
    assert Grant.objects.filter(user=operator, role="operator").count() == len(projects) - 1


class _RealDliGateway(BaseHTTPRequestHandler):
    """What DLI's API gateway answers for a path it does not know, /_sim/projects included."""

    def do_GET(self):
        body = json.dumps({"error_code": "APIG.0101", "error_msg": "The API does not exist"}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def real_dli_lookalike():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RealDliGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("where", ["real-dli", "nothing-listening"])
def test_demo_setup_refuses_an_endpoint_that_is_not_a_simulator(where, settings, tmp_path, request):
    settings.DLI_ENDPOINT = (
        request.getfixturevalue("real_dli_lookalike") if where == "real-dli" else "http://127.0.0.1:1"
    )
    with pytest.raises(CommandError, match="is not a dli-admin simulator") as refused:
        run("demo_setup", "--logins-file", str(tmp_path / "logins.txt"))
    assert "nothing done" in str(refused.value)
    assert not get_user_model().objects.exists()
    assert not DliProject.objects.exists()
    assert not (tmp_path / "logins.txt").exists()
