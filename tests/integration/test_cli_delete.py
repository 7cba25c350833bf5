"""`manage.py flink_jobs_delete` against the simulator: plan, refusals, exit codes, JSON, and the audit."""

from __future__ import annotations

import io
import json
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from dli_admin.audit.models import AuditKind, AuditRecord
from dli_admin.deletes.management.commands import flink_jobs_delete as command
from dli_admin.deletes.models import BatchState, DeleteBatch
from dli_admin.deletes.runner import batch_run

pytestmark = pytest.mark.django_db(transaction=True)  # the lease keeper renews from its own connection
DAY_MS = 24 * 3600 * 1000


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def run(*args: str, stdout: StringIO | None = None) -> tuple[int, str, str]:
    """Exit code, standard output and standard error of the command, as a shell would see them."""
    out, err = stdout or StringIO(), StringIO()
    try:
        call_command("flink_jobs_delete", *args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


def add_jobs(simulator, project, count, status="job_cancel_success", prefix="cli-cleanup", **fields):
    return [
        simulator.add_job(project.project_id, name=f"{prefix}-{n}", status=status, **fields)
        for n in range(count)
    ]


def as_user(project, user) -> list[str]:
    return ["--project", project.project_id, "--as", user.username]


def ids_args(ids) -> list[str]:
    return [arg for job_id in ids for arg in ("--job-id", str(job_id))]


def gone(simulator, project, ids) -> bool:
    return all(simulator.job(project.project_id, job_id) is None for job_id in ids)


def test_it_deletes_every_job_and_exits_0_audited_as_the_user_from_the_command_line(
    simulator, project_a, operator
):
    ids = add_jobs(simulator, project_a, 3)

    code, out, _ = run(*as_user(project_a, operator), *ids_args(ids), "--yes", "--run-here")

    assert code == 0, out
    assert gone(simulator, project_a, ids)
    batch = DeleteBatch.objects.get()
    assert (batch.via, batch.state, batch.requested_by_username) == (
        "command line",
        BatchState.ENDED,
        "olivia",
    )
    intent = AuditRecord.objects.get(kind=AuditKind.INTENT)
    assert intent.actor_username == "olivia" and "command line" in intent.user_agent
    assert f"Batch {batch.pk} ended: 3 deleted" in out


def test_a_dry_run_shows_the_plan_and_sends_no_delete(simulator, project_a, owner):
    add_jobs(simulator, project_a, 2)
    add_jobs(simulator, project_a, 1, status="job_running", prefix="cli-cleanup-live")

    code, out, _ = run(*as_user(project_a, owner), "--name", "cli-cleanup", "--dry-run")

    assert code == 0
    assert "Would delete 3 job(s): 2 Stopped, 1 Running" in out
    assert f"--confirm-name {project_a.name!r}: it deletes active jobs" in out
    assert simulator.requests(op="batch_delete") == [] and not DeleteBatch.objects.exists()


def test_a_dry_run_in_json_lists_the_plan_with_exclusions(simulator, project_a, operator):
    stopped = add_jobs(simulator, project_a, 2)
    (running,) = add_jobs(simulator, project_a, 1, status="job_running", prefix="cli-cleanup-live")

    code, out, _ = run(*as_user(project_a, operator), "--name", "cli-cleanup", "--dry-run", "--json")

    plan = json.loads(out)
    assert code == 0
    assert (plan["project"], plan["dry_run"], plan["eligible"], plan["excluded"]) == (
        project_a.project_id,
        True,
        2,
        1,
    )
    assert plan["counts_by_status"] == {"Stopped": 2} and plan["needs_name"] is False
    reasons = {job["job_id"]: job["excluded_because"] for job in plan["jobs"]}
    assert reasons == {stopped[0]: "", stopped[1]: "", running: "needs owner: the job is active"}
    assert simulator.requests(op="batch_delete") == []


def test_the_result_in_json_and_exit_2_when_a_job_fails(simulator, project_a, operator):
    ids = add_jobs(simulator, project_a, 3)
    simulator.set_fault(project_a.project_id, "fail_ids", [ids[0]])

    code, out, err = run(*as_user(project_a, operator), *ids_args(ids), "--yes", "--run-here", "--json")

    result = json.loads(out)
    assert code == 2 and "1 failed" in err
    assert set(result) == {"batch_id", "project", "state", "url", "counts", "jobs"}
    assert result["state"] == "ended" and result["counts"] == {"deleted": 2, "failed": 1}
    assert [(job["job_id"], job["outcome"]) for job in result["jobs"]] == [
        (ids[0], "failed"),
        (ids[1], "deleted"),
        (ids[2], "deleted"),
    ]
    assert set(result["jobs"][0]) == {"job_id", "name", "outcome", "message"}


def test_an_operator_s_active_jobs_are_skipped_and_exit_2(simulator, project_a, operator):
    stopped = add_jobs(simulator, project_a, 1)
    (running,) = add_jobs(simulator, project_a, 1, status="job_running", prefix="cli-cleanup-live")

    code, out, _ = run(*as_user(project_a, operator), "--name", "cli-cleanup", "--yes", "--run-here")

    assert code == 2
    assert "1 deleted, 1 skipped" in out and f"{running}  cli-cleanup-live-0  skipped: needs owner" in out
    assert gone(simulator, project_a, stopped) and simulator.job(project_a.project_id, running) is not None


def test_it_refuses_a_viewer_audits_it_and_reads_nothing(simulator, project_a, viewer):
    add_jobs(simulator, project_a, 2)
    simulator.clear_requests()

    code, _, err = run(*as_user(project_a, viewer), "--status", "job_cancel_success", "--yes", "--run-here")

    assert code == 1 and "does not allow this" in err
    refusal = AuditRecord.objects.get(kind=AuditKind.REFUSAL)
    assert refusal.actor_username == "victor" and "role viewer may not delete" in refusal.reason
    assert "command line" in refusal.user_agent
    assert simulator.requests() == [] and not DeleteBatch.objects.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--status", "job_gone"], "--status: Select a valid choice"),
        (["--status", "job_finish", "--status", "nope"], "--status: Select a valid choice"),
        (["--tags", "team"], "--tags: Write tags as key=value"),
        (["--name", "x" * 58], "--name: Ensure this value has at most 57 characters"),
        (["--older-than", "30"], "--older-than '30': write a whole number of days or hours"),
        (["--older-than", "2w"], "write a whole number of days or hours"),
        (["--job-type", "spark_job"], "invalid choice"),
        (["--job-id", "12", "--status", "job_finish"], "Give job ids or filters, not both"),
        (["--job-id", "12x"], "These are not DLI job ids"),
        ([], "Say which jobs"),
        (["--name", "   "], "Say which jobs"),
        (["--no-wait", "--run-here", "--status", "job_finish"], "contradict"),
    ],
)
def test_bad_input_is_refused_with_exit_1_and_nothing_sent(simulator, project_a, owner, args, message):
    simulator.clear_requests()

    code, _, err = run(*as_user(project_a, owner), *args, "--yes", "--run-here")

    assert code == 1 and message in err
    assert simulator.requests(op="batch_delete") == [] and simulator.requests(op="list") == []
    assert not DeleteBatch.objects.exists()


def test_an_unknown_user_or_project_is_refused(simulator, project_a, operator):
    assert run("--project", project_a.project_id, "--as", "nobody", "--status", "job_finish")[0] == 1
    code, _, err = run("--project", "f" * 32, "--as", "olivia", "--status", "job_finish", "--dry-run")
    assert code == 1 and "No DLI project" in err
    assert AuditRecord.objects.get(kind=AuditKind.REFUSAL).actor_username == "olivia"
    assert simulator.requests(op="batch_delete") == []


def test_it_needs_yes_unless_a_dry_run(simulator, project_a, operator):
    ids = add_jobs(simulator, project_a, 2)

    code, out, err = run(*as_user(project_a, operator), *ids_args(ids))

    assert code == 1 and "Add --yes to delete these 2 job(s)" in err
    assert "Would delete 2 job(s)" in out  # the plan is shown first
    assert simulator.requests(op="batch_delete") == [] and not DeleteBatch.objects.exists()


def test_active_jobs_need_the_project_name(simulator, project_a, owner):
    ids = add_jobs(simulator, project_a, 1, status="job_running")
    args = [*as_user(project_a, owner), *ids_args(ids), "--yes", "--run-here"]

    code, _, err = run(*args)
    assert code == 1 and f"needs --confirm-name {project_a.name!r}: it deletes active jobs" in err
    assert not DeleteBatch.objects.exists()

    assert run(*args, "--confirm-name", project_a.name)[0] == 0
    assert gone(simulator, project_a, ids)


def test_more_jobs_than_the_threshold_need_the_project_name_typed_exactly(
    simulator, project_a, operator, settings
):
    settings.DLI_CONFIRM_NAME_THRESHOLD = 2
    ids = add_jobs(simulator, project_a, 3)
    args = [*as_user(project_a, operator), *ids_args(ids), "--yes", "--run-here"]

    code, _, err = run(*args)
    assert code == 1 and "it deletes more than 2 jobs" in err
    code, _, err = run(*args, "--confirm-name", project_a.name.upper())
    assert code == 1 and "Type the project name" in err
    assert simulator.requests(op="batch_delete") == [] and not DeleteBatch.objects.exists()

    assert run(*args, "--confirm-name", project_a.name)[0] == 0
    assert gone(simulator, project_a, ids)


def test_older_than_selects_by_create_time(simulator, project_a, operator):
    now_ms = int(time.time() * 1000)
    old = add_jobs(simulator, project_a, 2, prefix="cli-old", create_time=now_ms - 31 * DAY_MS)
    recent = add_jobs(simulator, project_a, 2, prefix="cli-recent", create_time=now_ms - 29 * DAY_MS)
    args = [*as_user(project_a, operator), "--name", "cli-", "--older-than", "30d"]

    plan = json.loads(run(*args, "--dry-run", "--json")[1])
    assert sorted(job["job_id"] for job in plan["jobs"]) == sorted(old)

    assert run(*args, "--yes", "--run-here")[0] == 0
    assert gone(simulator, project_a, old)
    assert all(simulator.job(project_a.project_id, job_id) for job_id in recent)


def test_several_statuses_are_merged_into_one_batch(simulator, project_a, operator):
    stopped = add_jobs(simulator, project_a, 2, prefix="cli-s")
    finished = add_jobs(simulator, project_a, 1, status="job_finish", prefix="cli-f")
    failed = add_jobs(simulator, project_a, 1, status="job_submit_fail", prefix="cli-x")
    args = ["--name", "cli-", "--status", "job_cancel_success", "--status", "job_finish"]

    code, _, _ = run(*as_user(project_a, operator), *args, "--yes", "--run-here")

    assert code == 0 and DeleteBatch.objects.get().total == 3
    assert gone(simulator, project_a, stopped + finished)
    assert simulator.job(project_a.project_id, failed[0]) is not None


def test_job_type_narrows_the_filter(simulator, project_a, operator):
    jar = add_jobs(simulator, project_a, 1, prefix="cli-jar", job_type="flink_jar_job")
    add_jobs(simulator, project_a, 1, prefix="cli-sql", job_type="flink_sql_job")

    out = run(
        *as_user(project_a, operator), "--name", "cli-", "--job-type", "flink_jar_job", "--dry-run", "--json"
    )[1]

    assert [job["job_id"] for job in json.loads(out)["jobs"]] == jar


def test_nothing_matching_is_not_an_error(simulator, project_a, operator):
    code, out, _ = run(*as_user(project_a, operator), "--name", "no-such-job-anywhere", "--yes", "--run-here")

    assert code == 0 and "nothing to delete" in out and not DeleteBatch.objects.exists()


def test_ids_from_a_file_and_from_standard_input(simulator, project_a, operator, tmp_path, monkeypatch):
    ids = add_jobs(simulator, project_a, 4)
    listing = tmp_path / "ids.txt"
    listing.write_text(f"# stopped last quarter\n{ids[0]}\n\n{ids[1]}  # the old one\n")

    assert run(*as_user(project_a, operator), "--ids-from", str(listing), "--yes", "--run-here")[0] == 0
    assert gone(simulator, project_a, ids[:2])

    monkeypatch.setattr("sys.stdin", io.StringIO(f"{ids[2]}\n{ids[3]}\n"))
    assert run(*as_user(project_a, operator), "--ids-from", "-", "--yes", "--run-here")[0] == 0
    assert gone(simulator, project_a, ids)

    listing.write_text("\n# nothing\n")
    code, _, err = run(*as_user(project_a, operator), "--ids-from", str(listing), "--yes")
    assert code == 1 and "holds no job ids" in err


def test_no_wait_queues_the_batch_and_a_worker_runs_it_later(simulator, project_a, operator):
    ids = add_jobs(simulator, project_a, 2)

    code, out, _ = run(*as_user(project_a, operator), *ids_args(ids), "--yes", "--no-wait")

    batch = DeleteBatch.objects.get()
    assert code == 0 and batch.state == BatchState.QUEUED
    assert f"/projects/{project_a.project_id}/batches/{batch.pk}/" in out and str(batch.pk) in out
    assert simulator.requests(op="batch_delete") == []

    batch_run(batch.pk)

    batch.refresh_from_db()
    assert batch.state == BatchState.ENDED and gone(simulator, project_a, ids)


def test_waiting_on_a_terminal_shows_progress_and_says_when_no_worker_comes(
    simulator, project_a, operator, monkeypatch
):
    ids = add_jobs(simulator, project_a, 2)
    monkeypatch.setattr(command, "WORKER_GRACE", 0.0)
    pauses = []

    def a_worker_comes_late(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            batch_run(DeleteBatch.objects.get().pk)

    monkeypatch.setattr(command, "sleep", a_worker_comes_late)

    code, out, err = run(*as_user(project_a, operator), *ids_args(ids), "--yes", stdout=Terminal())

    assert code == 0 and pauses == [1.0, 1.0]
    assert "waiting for a worker: is `manage.py db_worker` running?" in err
    assert "\r0/2 settled (nothing settled yet), queued" in out and "\r2/2 settled (2 deleted), ended" in out


def test_waiting_off_a_terminal_prints_no_progress(simulator, project_a, operator, monkeypatch):
    ids = add_jobs(simulator, project_a, 1)
    monkeypatch.setattr(command, "sleep", lambda seconds: batch_run(DeleteBatch.objects.get().pk))

    code, out, _ = run(*as_user(project_a, operator), *ids_args(ids), "--yes")

    assert code == 0 and "\r" not in out and "settled" not in out


FILTER_FIELDS = ("status", "name", "queue_name", "user_name", "tags")


def test_the_command_checks_filters_by_the_jobs_page_s_own_rules():
    from dli_admin.dashboard.forms import JobFilterForm
    from dli_admin.projects.filters import JobFilterFields

    assert issubclass(JobFilterForm, JobFilterFields) and command.JobFilterFields is JobFilterFields


@pytest.mark.parametrize(
    "data",
    [
        {"status": "job_finish", "tags": " team=data , env=prod "},
        {"name": " nightly ", "queue_name": "q1", "user_name": "ops"},
        {"status": "job_gone", "tags": "team", "name": "x" * 58, "user_name": "u" * 129},
    ],
)
def test_the_command_s_filters_and_messages_match_the_jobs_page_s(data):
    from dli_admin.dashboard.forms import JobFilterForm

    page, here = JobFilterForm(data), command.JobFilterFields(data)
    assert here.is_valid() == page.is_valid()
    assert dict(here.errors) == {
        field: errors for field, errors in page.errors.items() if field in FILTER_FIELDS
    }
    if page.is_valid():
        assert here.filters() == page.filters()


def test_without_snapshot_is_for_owners_only_and_is_audited(simulator, project_a, operator, owner):
    ids = add_jobs(simulator, project_a, 1, prefix="cli-nosnap")

    code, _out, err = run(
        *as_user(project_a, operator), *ids_args(ids), "--yes", "--run-here", "--without-snapshot"
    )

    assert code != 0 and "Only an owner" in err
    assert not gone(simulator, project_a, ids)
    assert "without a snapshot" in AuditRecord.objects.filter(kind=AuditKind.REFUSAL).latest("seq").reason

    code, out, _ = run(
        *as_user(project_a, owner), *ids_args(ids), "--yes", "--run-here", "--without-snapshot"
    )

    assert code == 0, out
    assert gone(simulator, project_a, ids)
    assert DeleteBatch.objects.get().without_snapshot
    assert "without a snapshot" in AuditRecord.objects.get(kind=AuditKind.INTENT).reason
