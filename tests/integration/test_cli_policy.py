"""`manage.py cleanup_policy` against the simulator: the pages' rules and messages, roles, exit codes."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from dli_admin.audit.models import AuditKind, AuditRecord
from dli_admin.deletes.models import DeleteBatch
from dli_admin.policies.models import CleanupPolicy, PolicyRun, RunState
from tests.helpers import ms_ago

pytestmark = pytest.mark.django_db
QUEUE = "cli_policy_q"


def run(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("cleanup_policy", *args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


def add(project, *extra: str, user: str = "oscar", name: str = "nightly") -> tuple[int, str, str]:
    return run(
        "add", name, "--project", project.project_id, "--as", user,
        "--status", "job_finish", "--status", "job_cancel_success", "--queue", QUEUE,
        "--older-than-days", "30", "--max-jobs", "5", "--at", "03:15", "--zone", "Europe/Berlin", *extra,
    )  # fmt: skip


def old_jobs(simulator, project, n: int) -> list[int]:
    return [
        simulator.add_job(
            project.project_id, name=f"cli-{i}", status="job_finish", queue_name=QUEUE, create_time=ms_ago(45)
        )
        for i in range(n)
    ]


def test_add_list_show_and_remove_with_the_same_fields_as_the_page(project_a, owner):
    assert add(project_a, "--exclude-tags", "keep=true", "--mode", "delete")[0] == 0
    policy = CleanupPolicy.objects.get()
    assert policy.statuses == ["job_finish", "job_cancel_success"] and policy.tags_exclude == "keep=true"
    assert (
        policy.at_time.strftime("%H:%M") == "03:15"
        and policy.zone == "Europe/Berlin"
        and policy.created_by == owner
    )
    code, out, _ = run("list", "--json")
    (row,) = json.loads(out)
    assert code == 0 and row["name"] == "nightly" and row["schedule"] == "daily 03:15 Europe/Berlin"
    code, out, _ = run("show", "nightly", "--project", project_a.project_id)
    assert code == 0 and "runs_as: oscar" in out
    assert run("disable", "nightly", "--project", project_a.project_id, "--as", "oscar")[0] == 0
    assert not CleanupPolicy.objects.get().enabled
    assert run("remove", "nightly", "--project", project_a.project_id, "--as", "oscar")[0] == 0
    assert not CleanupPolicy.objects.exists()
    reasons = (
        AuditRecord.objects.filter(kind=AuditKind.POLICY).order_by("seq").values_list("reason", flat=True)
    )
    assert [reason.split(":")[0] for reason in reasons] == [
        "cleanup policy 'nightly' created",
        "cleanup policy 'nightly' disabled",
        "cleanup policy 'nightly' removed",
    ]
    assert (
        AuditRecord.objects.filter(kind=AuditKind.POLICY, user_agent__contains="cleanup_policy").count() == 3
    )


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ("--status", "job_running"),
            "--status: A cleanup policy never deletes active jobs: remove Running.",
        ),
        (("--zone", "Europe/Atlantis"), "--zone: 'Europe/Atlantis' is not an IANA time zone"),
        (("--schedule", "weekly"), "--day: A weekly policy needs a day."),
        (("--exclude-tags", "keep"), "--exclude-tags: Write tags as key=value, separated by commas."),
        (("--max-jobs", "many"), "--max-jobs: Enter a whole number."),
        (("--day", "someday", "--schedule", "weekly"), "--day 'someday': write mon, tue"),
    ],
)
def test_bad_input_is_refused_with_the_pages_message_and_exit_1(project_a, owner, extra, message):
    code, _, err = add(project_a, *extra)
    assert code == 1 and message in err
    assert not CleanupPolicy.objects.exists()


def test_a_user_who_is_not_an_owner_is_refused_and_audited(project_a, operator):
    code, _, err = add(project_a, user="olivia")
    assert code == 1 and "Only an owner of the project may change cleanup policies" in err
    assert not CleanupPolicy.objects.exists()
    assert AuditRecord.objects.filter(kind=AuditKind.REFUSAL, actor_username="olivia").exists()


def test_run_dry_run_sends_nothing_and_prints_json(simulator, project_a, owner):
    jobs = old_jobs(simulator, project_a, 2)
    add(project_a, "--mode", "delete")
    simulator.clear_requests()
    code, out, _ = run(
        "run", "nightly", "--project", project_a.project_id, "--as", "oscar", "--dry-run", "--json"
    )
    doc = json.loads(out)
    assert (
        code == 0
        and doc["would_delete"] == 2
        and sorted(job["job_id"] for job in doc["jobs"]) == sorted(jobs)
    )
    assert simulator.requests(op="batch_delete") == [] and not PolicyRun.objects.exists()


def test_run_now_queues_a_batch_and_exit_2_when_over_the_maximum(simulator, project_a, owner):
    old_jobs(simulator, project_a, 2)
    add(project_a, "--mode", "delete")
    code, out, _ = run(
        "run", "nightly", "--project", project_a.project_id, "--as", "oscar", "--now", "--json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["state"] == RunState.QUEUED and doc["batch_url"].startswith("/projects/")
    assert DeleteBatch.objects.get().via == "policy nightly"
    old_jobs(simulator, project_a, 5)
    code, out, err = run("run", "nightly", "--project", project_a.project_id, "--as", "oscar", "--now")
    assert code == 2 and "more than its maximum of 5" in err


def test_run_without_now_runs_only_a_due_slot_and_tick_runs_each_once(simulator, project_a, owner):
    add(project_a)
    code, out, _ = run("run", "nightly", "--project", project_a.project_id, "--as", "oscar")
    assert code == 0 and "is not due" in out  # made just now: its first slot is ahead
    CleanupPolicy.objects.update(schedule_from="2026-01-01T00:00Z")
    code, out, _ = run("tick")
    assert code == 0 and "nightly" in out and PolicyRun.objects.count() == 1
    assert json.loads(run("tick", "--json")[1]) == []


def test_unknown_project_policy_or_user_exit_1(project_a, owner):
    assert "No DLI project" in run("show", "x", "--project", "nope")[2]
    assert run("show", "missing", "--project", project_a.project_id)[0] == 1
    add(project_a)
    code, _, err = run("disable", "nightly", "--project", project_a.project_id, "--as", "ghost")
    assert code == 1 and "No active dli-admin user named 'ghost'" in err


def test_a_name_taken_is_refused_like_on_the_page(project_a, owner):
    add(project_a)
    code, _, err = add(project_a)
    assert code == 1 and "NAME: This project has a policy named 'nightly' already." in err
