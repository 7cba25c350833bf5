"""`manage.py dli_simulator` serves the simulator stand-alone, and can reset a running one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.core.management import CommandError, call_command

from dli_admin.simulator.credentials import DEMO_TOKEN
from dli_admin.simulator.management.commands.dli_simulator import parse_fault
from dli_admin.simulator.seed import DEMO_PROJECTS

ROOT = Path(__file__).resolve().parents[2]


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
