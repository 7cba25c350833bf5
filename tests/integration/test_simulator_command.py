"""`manage.py dli_simulator` serves the simulator stand-alone, and can reset a running one."""

from __future__ import annotations

import os
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from dli_admin.dli import AkSkAuth, DliClient, DliError, TokenAuth
from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, DEMO_TOKEN
from dli_admin.simulator.management.commands.dli_simulator import parse_fault
from dli_admin.simulator.seed import DEMO_PROJECTS

ROOT = Path(__file__).resolve().parents[2]
# Own credentials for a stand-alone simulator, shaped like real ones.
OWN_AK = "STANDALONEACCESSKEY1"
OWN_SK = "StandAloneSecretKey000000000000000000001"


def manage(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_DEBUG": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py picks the real settings
    return subprocess.Popen(
        [sys.executable, "manage.py", "dli_simulator", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(**variables: str) -> dict[str, str]:
    """Only what a shell in the README would have: no DLI_* or DATABASE_URL of the test run."""
    return {"PYTHONUNBUFFERED": "1", "DLI_ADMIN_ENV_FILE": "", **variables}


def wait_until_listening(process: subprocess.Popen) -> list[str]:
    lines = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if "listening on" in line:
            return lines
    raise AssertionError(f"the simulator stopped: {lines} {process.stderr.read()}")


@pytest.fixture
def stand_alone() -> Iterator:
    """Starts `manage.py dli_simulator` processes; returns (output lines until it listens, its URL)."""
    processes: list[subprocess.Popen] = []

    def start(*args: str, env: dict[str, str]) -> tuple[list[str], str]:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "dli_simulator", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        lines = wait_until_listening(process)
        return lines, re.search(r"http://127\.0\.0\.1:\d+", lines[-1]).group(0)

    yield start
    for process in processes:
        process.terminate()
        process.communicate(timeout=10)


def test_it_serves_until_terminated():
    process = manage("--port", "0", "--fault", f"{DEMO_PROJECTS[1].name}:throttle=1")
    try:
        lines = []
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "listening on" in line:
                break
        assert lines[: len(DEMO_PROJECTS)] == [
            f"project {p.id} {p.name} {p.job_count} jobs" for p in DEMO_PROJECTS
        ]
        url = re.search(r"http://127\.0\.0\.1:\d+", lines[-1]).group(0)
        port = url.rsplit(":", 1)[1]

        project = DEMO_PROJECTS[0]
        jobs = f"{url}/v1.0/{project.id}/streaming/jobs"
        reply = requests.get(jobs, headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5)
        assert reply.json()["job_list"]["total_count"] == project.job_count
        throttled = f"{url}/v1.0/{DEMO_PROJECTS[1].id}/streaming/jobs"
        assert requests.get(throttled, headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5).status_code == 429

        first_job = reply.json()["job_list"]["jobs"][0]["job_id"]
        requests.delete(f"{jobs}/{first_job}", headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5)
        reset = manage("--reset", "--port", port)
        out, err = reset.communicate(timeout=30)
        assert reset.returncode == 0, err
        assert "reset" in out
        reply = requests.get(jobs, headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5)
        assert reply.json()["job_list"]["total_count"] == project.job_count
        assert requests.get(throttled, headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5).status_code == 200
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "DLI simulator stopped" in out


def test_it_refuses_a_non_loopback_host():
    with pytest.raises(CommandError, match="--allow-remote"):
        call_command("dli_simulator", host="0.0.0.0", port=0)  # noqa: S104  the refusal is the point


def test_it_refuses_an_unknown_fault():
    with pytest.raises(CommandError, match="unknown fault"):
        call_command("dli_simulator", port=0, fault=[f"{DEMO_PROJECTS[0].id}:gremlins=1"])


def test_reset_says_when_nothing_runs():
    with pytest.raises(CommandError, match="no DLI simulator answered"):
        call_command("dli_simulator", reset=True, port=1)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("abc123:throttle=1", ("abc123", "throttle", "1")),
        (f"{DEMO_PROJECTS[0].name}:drop_after", (DEMO_PROJECTS[0].id, "drop_after", True)),
        ("*:server_error=503", (None, "server_error", "503")),
        ("p:fail_ids=1,2,3", ("p", "fail_ids", "1,2,3")),
    ],
)
def test_fault_flags_parse(spec, expected):
    assert parse_fault(spec) == expected


@pytest.mark.parametrize("spec", ["throttle=1", ":throttle=1", "p:"])
def test_malformed_fault_flags_are_refused(spec):
    with pytest.raises(CommandError):
        parse_fault(spec)


def test_without_credentials_in_its_environment_it_prints_and_accepts_the_demo_ones(stand_alone):
    lines, url = stand_alone("--port", "0", env=clean_env(DJANGO_DEBUG="1"))
    printed = "\n".join(lines)
    for value in (DEMO_ACCESS_KEY, DEMO_SECRET_KEY, DEMO_TOKEN):
        assert value in printed, "public demo values are printed in full"
    client = DliClient(url, DEMO_PROJECTS[0].id, auth=AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY))
    assert client.list_jobs(limit=1).total_count == DEMO_PROJECTS[0].job_count


@pytest.mark.parametrize("variables", [{"DLI_AK": OWN_AK}, {"DLI_SK": OWN_SK}], ids=["ak-only", "sk-only"])
def test_half_a_key_pair_is_refused(variables):
    result = subprocess.run(
        [sys.executable, "manage.py", "dli_simulator", "--port", "0"],
        cwd=ROOT,
        env=clean_env(DJANGO_DEBUG="1", **variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "DLI_AK and DLI_SK go together" in result.stderr


def test_with_a_token_in_its_environment_it_accepts_that_token_only(stand_alone):
    token = "MIIstand-alone-own-token-0000000000001"
    lines, url = stand_alone("--port", "0", env=clean_env(DJANGO_DEBUG="1", DLI_AUTH_TOKEN=token))
    assert token not in "\n".join(lines) and DEMO_SECRET_KEY not in "\n".join(lines)
    project = DEMO_PROJECTS[0].id
    assert DliClient(url, project, auth=TokenAuth(token)).list_jobs(limit=1).total_count > 0
    for auth in (TokenAuth(DEMO_TOKEN), AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)):
        with pytest.raises(DliError) as refused:
            DliClient(url, project, auth=auth).list_jobs(limit=1)
        assert refused.value.status == 401


def readme_recipe() -> list[list[str]]:
    """The shell lines of the README's stand-alone recipe, split as a shell would (comments dropped)."""
    text = (ROOT / "README.md").read_text()
    block = text.split("The simulator also runs on its own", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [words for line in block.splitlines() if (words := shlex.split(line, comments=True))]


def assignments(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """A command's leading NAME=value words, and the rest."""
    count = next((i for i, word in enumerate(words) if not re.match(r"[A-Z_]+=", word)), len(words))
    return dict(word.split("=", 1) for word in words[:count]), words[count:]


def test_the_readmes_stand_alone_recipe_works_as_written(stand_alone, tmp_path):
    venv, export, simulator_line, dashboard_line, stop = readme_recipe()
    assert venv == ["make", "venv"] and stop == ["kill", "%1"]
    assert export[0] == "export"
    exported, rest = assignments(export[1:])
    assert not rest and exported.keys() == {"DLI_AK", "DLI_SK"}
    simulator_env, simulator_command = assignments(simulator_line)
    assert simulator_command[:4] == [".venv/bin/python", "manage.py", "dli_simulator", "--port"]
    recipe_port, background = simulator_command[4:]
    assert background == "&"
    dashboard_env, dashboard_command = assignments(dashboard_line)
    assert dashboard_env == {"DLI_ENDPOINT": f"http://127.0.0.1:{recipe_port}"}
    assert dashboard_command == ["make", "run"]
    # What `make run` (scripts/run-dev) does before it serves: these two steps, in this order, with
    # DJANGO_DEBUG=1, and with the DLI_ENDPOINT it was given (no simulator of its own then).
    assert "\tPY=$(PY) HOST=$(HOST) PORT=$(PORT) scripts/run-dev" in (ROOT / "Makefile").read_text()
    script = (ROOT / "scripts" / "run-dev").read_text()
    make_run = ["manage.py migrate --noinput", "manage.py demo_setup"]
    positions = [script.find(f'"$PY" {step}\n') for step in make_run]
    assert -1 not in positions and positions == sorted(positions) and "export DJANGO_DEBUG=1" in script
    assert 'if [[ -z "${DLI_ENDPOINT:-}" ]]; then' in script

    # The recipe, on a free port instead of 8765, with a fresh SQLite database.
    port = str(free_port())
    lines, url = stand_alone("--port", port, env=clean_env(**exported, **simulator_env))
    assert url == f"http://127.0.0.1:{port}"
    assert "accepting DLI_AK/DLI_SK from the environment only" in "\n".join(lines)
    assert exported["DLI_SK"] not in "\n".join(lines) and DEMO_SECRET_KEY not in "\n".join(lines)
    database = tmp_path / "db.sqlite3"
    dashboard = clean_env(
        **exported,
        DLI_ENDPOINT=dashboard_env["DLI_ENDPOINT"].replace(recipe_port, port),
        DJANGO_DEBUG="1",
        DATABASE_URL=f"sqlite:///{database}",
        DLI_ADMIN_AUDIT_KEY="recipe-test-audit-key-" + "k" * 20,  # scripts/run-dev makes one in var/
        DLI_ADMIN_AUDIT_CHECKPOINTS=str(tmp_path / "checkpoints.jsonl"),
    )
    for step in make_run:
        extra = ["--logins-file", str(tmp_path / "demo-logins.txt")] if "demo_setup" in step else []
        result = subprocess.run(
            [sys.executable, *step.split(), *extra],
            cwd=ROOT,
            env=dashboard,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr

    with sqlite3.connect(database) as db:
        projects = db.execute("SELECT project_id, endpoint FROM dashboard_dliproject ORDER BY id").fetchall()
        users = {row[0] for row in db.execute("SELECT username FROM auth_user")}
    assert projects == [(p.id, url) for p in DEMO_PROJECTS]
    assert users == {"admin", "owner", "operator", "viewer", "auditor"}

    # The dashboard's own DLI client, with the recipe's credentials, lists every seeded job.
    for seed in DEMO_PROJECTS[:2]:
        client = DliClient(url, seed.id, auth=AkSkAuth(exported["DLI_AK"], exported["DLI_SK"]))
        assert client.list_jobs(limit=1).total_count == seed.job_count
    # The demo credentials no longer open this simulator.
    for auth in (AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY), TokenAuth(DEMO_TOKEN)):
        with pytest.raises(DliError) as refused:
            DliClient(url, DEMO_PROJECTS[0].id, auth=auth, max_attempts=1).list_jobs(limit=1)
        assert refused.value.status == 401


@pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning")  # the SDK's own signer
def test_the_official_sdk_signs_requests_the_stand_alone_simulator_accepts(stand_alone):
    pytest.importorskip(
        "huaweicloudsdkdli", reason="huaweicloudsdkdli is not installed (requirements-dev.txt)"
    )
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkdli.v1 import DliClient as SdkDliClient
    from huaweicloudsdkdli.v1 import ListFlinkJobsRequest

    _, url = stand_alone("--port", "0", env=clean_env(DJANGO_DEBUG="1", DLI_AK=OWN_AK, DLI_SK=OWN_SK))
    seed = DEMO_PROJECTS[1]

    def sdk_client(ak: str, sk: str):
        return (
            SdkDliClient.new_builder()
            .with_credentials(BasicCredentials(ak, sk, seed.id))
            .with_endpoints([url])
            .build()
        )

    reply = sdk_client(OWN_AK, OWN_SK).list_flink_jobs(ListFlinkJobsRequest(limit=3, order="asc"))
    assert reply.job_list.total_count == seed.job_count
    assert len(reply.job_list.jobs) == 3
    with pytest.raises(ClientRequestException) as refused:
        sdk_client(DEMO_ACCESS_KEY, DEMO_SECRET_KEY).list_flink_jobs(ListFlinkJobsRequest(limit=1))
    assert refused.value.status_code == 401
