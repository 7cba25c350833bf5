"""Cleanup policies against the simulator and the real database: rules, roles, audit, runs, safety."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

from dli_admin.audit.models import AuditKind, AuditRecord
from dli_admin.deletes.models import DeleteBatch
from dli_admin.deletes.services import Requester
from dli_admin.policies import services
from dli_admin.policies.forms import PolicyForm
from dli_admin.policies.models import CleanupPolicy, PolicyRun, RunState
from dli_admin.projects.models import recorded_change
from tests.helpers import ms_ago, run_queued_batches

QUEUE = "cleanup_q"  # the tests' jobs sit in a queue of their own, apart from the seeded ones


def fields(**overrides):
    data = {
        "name": "nightly",
        "statuses": ["job_finish", "job_submit_fail", "job_cancel_success"],
        "queue_name": QUEUE,
        "tags_exclude": "keep=true",
        "min_age_days": "30",
        "max_jobs": "10",
        "schedule": "daily",
        "at_time": "02:00",
        "zone": "Europe/Berlin",
        "mode": "delete",
        "enabled": "on",
    }
    return {**data, **overrides}


def make_policy(user, project, **overrides) -> CleanupPolicy:
    form = PolicyForm(fields(**overrides))
    assert form.is_valid(), form.errors
    return services.policy_save(requester=Requester(user=user), project=project, form=form)


def add_jobs(simulator, project):
    """Two jobs the policy deletes, and one of each reason to keep a job."""
    pid = project.project_id
    add = simulator.add_job
    return {
        "old_done": add(pid, name="old-done", status="job_finish", queue_name=QUEUE, create_time=ms_ago(40)),
        "old_failed": add(
            pid, name="old-failed", status="job_submit_fail", queue_name=QUEUE, create_time=ms_ago(90)
        ),
        "kept_tag": add(
            pid,
            name="kept",
            status="job_finish",
            queue_name=QUEUE,
            create_time=ms_ago(50),
            tags={"keep": "true"},
        ),
        "young": add(pid, name="young", status="job_finish", queue_name=QUEUE, create_time=ms_ago(3)),
        "running": add(pid, name="running", status="job_running", queue_name=QUEUE, create_time=ms_ago(99)),
        "elsewhere": add(
            pid, name="elsewhere", status="job_finish", queue_name="other_q", create_time=ms_ago(99)
        ),
    }


def due(policy: CleanupPolicy):
    """Make the policy's schedule begin a week ago, so its latest slot is due now."""
    CleanupPolicy.objects.filter(pk=policy.pk).update(schedule_from=timezone.now() - timedelta(days=7))


@pytest.mark.django_db
class TestRules:
    @pytest.mark.parametrize(
        "overrides, field, message",
        [
            (
                {"statuses": ["job_finish", "job_running"]},
                "statuses",
                "never deletes active jobs: remove Running",
            ),
            ({"statuses": []}, "statuses", "Choose at least one status."),
            ({"zone": "Mars/Olympus"}, "zone", "is not an IANA time zone"),
            ({"schedule": "weekly"}, "weekday", "A weekly policy needs a day."),
            ({"tags_exclude": "keep"}, "tags_exclude", "Write tags as key=value, separated by commas."),
            ({"tags_include": "a=b,,c"}, "tags_include", "Write tags as key=value"),
            ({"max_jobs": "0"}, "max_jobs", "Between 1 and"),
            ({"name": "no spaces please"}, "name", "letters, digits, dots"),
            ({"at_time": "25:00"}, "at_time", "Enter a valid time."),
        ],
    )
    def test_bad_input_gets_a_clear_message(self, overrides, field, message):
        form = PolicyForm(fields(**overrides))
        assert not form.is_valid()
        assert message in " ".join(form.errors[field])

    def test_only_owners_change_policies_and_a_refusal_is_audited(self, project_a, operator, owner):
        with pytest.raises(PermissionDenied):
            make_policy(operator, project_a)
        assert not CleanupPolicy.objects.exists()
        refusal = AuditRecord.objects.get(kind=AuditKind.REFUSAL)
        assert refusal.actor_username == "olivia" and "may not change cleanup policies" in refusal.reason

    def test_creating_and_changing_a_policy_is_audited_with_who_and_what(self, project_a, owner):
        policy = make_policy(owner, project_a)
        created = AuditRecord.objects.get(kind=AuditKind.POLICY)
        assert created.actor_username == "oscar" and created.project_id == project_a.project_id
        assert "'nightly' created" in created.reason and "min_age_days=30" in created.reason
        form = PolicyForm(fields(min_age_days="60", mode="report"), instance=policy)
        assert form.is_valid()
        services.policy_save(requester=Requester(user=owner), project=project_a, form=form, policy=policy)
        changed = AuditRecord.objects.filter(kind=AuditKind.POLICY).order_by("-seq").first()
        assert "min_age_days: 30 -> 60" in changed.reason and "mode: delete -> report" in changed.reason
        assert "zone" not in changed.reason  # only what changed
        services.policy_disable(requester=Requester(user=owner), policy=policy)
        services.policy_remove(requester=Requester(user=owner), policy=policy)
        reasons = list(
            AuditRecord.objects.filter(kind=AuditKind.POLICY).order_by("seq").values_list("reason", flat=True)
        )
        assert reasons[-2:] == ["cleanup policy 'nightly' disabled", "cleanup policy 'nightly' removed"]


@pytest.mark.django_db
class TestRuns:
    def test_the_preview_selects_old_matching_jobs_and_says_why_it_keeps_others(
        self, simulator, project_a, owner
    ):
        jobs = add_jobs(simulator, project_a)
        preview = services.policy_preview(make_policy(owner, project_a))
        assert [job.job_id for job in preview.eligible] == [
            jobs["old_failed"],
            jobs["old_done"],
        ]  # oldest first
        kept = {job.job_id: why for job, why in preview.kept}
        assert kept == {jobs["kept_tag"]: "has tag keep=true", jobs["young"]: "younger than 30 days"}
        assert simulator.requests(op="batch_delete") == []

    def test_a_run_deletes_exactly_what_the_preview_showed_as_a_batch_of_the_owner(
        self, simulator, project_a, owner
    ):
        jobs = add_jobs(simulator, project_a)
        policy = make_policy(owner, project_a)
        due(policy)
        shown = [job.job_id for job in services.policy_preview(policy).eligible]
        (run,) = services.policies_tick()
        assert run.state == RunState.QUEUED and run.matched == 2
        batch = run.batch
        assert batch.via == "policy nightly" and batch.requested_by == owner and batch.total == 2
        assert sorted(job[0] for job in batch.selection) == sorted(shown)
        run_queued_batches()
        pid = project_a.project_id
        assert [simulator.job(pid, job_id) for job_id in shown] == [None, None]
        for name in ("kept_tag", "young", "running", "elsewhere"):
            assert simulator.job(pid, jobs[name]) is not None, name
        intent = AuditRecord.objects.get(kind=AuditKind.INTENT, batch_id=batch.pk)
        assert intent.actor_username == "oscar" and "cleanup policy 'nightly'" in intent.user_agent
        assert services.policies_tick() == []  # the slot has run

    def test_a_run_over_its_maximum_stops_and_deletes_nothing(self, simulator, project_a, owner):
        add_jobs(simulator, project_a)
        policy = make_policy(owner, project_a, max_jobs="1")
        due(policy)
        (run,) = services.policies_tick()
        assert run.state == RunState.STOPPED and run.batch is None
        assert "more than its maximum of 1" in run.message
        assert not DeleteBatch.objects.exists() and simulator.requests(op="batch_delete") == []

    def test_report_only_reports_and_deletes_nothing(self, simulator, project_a, owner):
        add_jobs(simulator, project_a)
        policy = make_policy(owner, project_a, mode="report")
        due(policy)
        (run,) = services.policies_tick()
        assert run.state == RunState.REPORTED and run.matched == 2 and "would delete 2" in run.message
        assert not DeleteBatch.objects.exists()

    def test_missed_slots_run_once_when_the_workers_return(self, simulator, project_a, owner):
        policy = make_policy(owner, project_a, mode="report")
        due(policy)  # a week of slots missed
        assert len(services.policies_tick()) == 1
        assert services.policies_tick() == [] and PolicyRun.objects.count() == 1
        later = timezone.now() + timedelta(days=3)
        assert len(services.policies_tick(later)) == 1  # three more missed: again one run
        assert PolicyRun.objects.count() == 2

    def test_a_disabled_users_policies_stop_and_a_demoted_owners_fail(self, simulator, project_a, owner):
        policy = make_policy(owner, project_a)
        due(policy)
        owner.is_active = False
        owner.save()
        assert services.policies_tick() == []
        owner.is_active = True
        owner.save()
        with recorded_change():  # demoted behind dli-admin's back: only the policy's reaction matters here
            owner.dli_grants.filter(project=project_a).update(role="operator")
        (run,) = services.policies_tick()
        assert run.state == RunState.FAILED and "no longer an owner" in run.message
        assert not DeleteBatch.objects.exists()

    def test_a_disabled_policy_does_not_run(self, simulator, project_a, owner):
        policy = make_policy(owner, project_a, enabled="")
        due(policy)
        assert services.policies_tick() == []

    def test_a_job_that_started_since_the_preview_is_left_alone(self, simulator, project_a, owner):
        jobs = add_jobs(simulator, project_a)
        policy = make_policy(owner, project_a)
        run = services.run_claim(policy, timezone.now())
        original = services.policy_preview

        def preview_then_start(*args, **kwargs):
            found = original(*args, **kwargs)
            simulator.set_job_status(project_a.project_id, jobs["old_done"], "job_running")
            return found

        services.policy_preview = preview_then_start
        try:
            run = services.policy_run(run)
        finally:
            services.policy_preview = original
        assert [job[0] for job in run.batch.selection] == [jobs["old_failed"]]


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_the_same_slot_run_it_once(simulator, project_a, owner):
    """Two ticks at once (threads with their own database connections, SQLite or PostgreSQL)."""
    add_jobs(simulator, project_a)
    policy = make_policy(owner, project_a)
    due(policy)
    start = threading.Barrier(2)
    results: list = []

    def tick() -> None:
        try:
            start.wait()
            results.append(services.policies_tick())
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(len(runs) for runs in results) == [0, 1]
    assert PolicyRun.objects.count() == 1 and DeleteBatch.objects.count() == 1


@pytest.mark.django_db
def test_a_run_whose_worker_died_reads_failed_and_the_next_slot_runs(simulator, project_a, owner):
    policy = make_policy(owner, project_a, mode="report")
    due(policy)
    stale = services.run_claim(policy, timezone.now() - timedelta(days=1))
    PolicyRun.objects.filter(pk=stale.pk).update(started_at=timezone.now() - timedelta(hours=1))
    (run,) = services.policies_tick()
    stale.refresh_from_db()
    assert stale.state == RunState.FAILED and "worker stopped" in stale.message
    assert run.state == RunState.NOTHING  # it ran: no job of its queue exists


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_run_a_slot_once(simulator, project_a, owner):
    """Two real `db_worker` processes, each handed ticks at once: one run, one batch, each job sent once."""
    from dli_admin.policies.tasks import run_due_policies
    from tests.helpers import start_worker, stop, wait_for

    jobs = add_jobs(simulator, project_a)
    policy = make_policy(owner, project_a)
    due(policy)
    for _ in range(6):
        run_due_policies.enqueue()
    workers = [start_worker(simulator, f"policy-worker-{n}") for n in range(2)]
    try:
        wait_for(
            lambda: DeleteBatch.objects.filter(state="ended").exists(), timeout=60, what="the policy's batch"
        )
    finally:
        outputs = [stop(worker) for worker in workers]
    assert PolicyRun.objects.count() == 1 and DeleteBatch.objects.count() == 1, outputs
    sent = [job_id for request in simulator.requests(op="batch_delete") for job_id in request.job_ids]
    assert sorted(sent) == sorted([jobs["old_done"], jobs["old_failed"]])


@pytest.mark.django_db
def test_a_listing_above_the_ceiling_stops_the_run_and_says_why(simulator, project_a, owner, settings):
    add_jobs(simulator, project_a)
    settings.DLI_POLICY_LIST_CEILING = 2
    policy = make_policy(owner, project_a)
    due(policy)
    (run,) = services.policies_tick()
    assert run.state == RunState.STOPPED and "more than the 2 a run reads" in run.message
    assert not DeleteBatch.objects.exists()
