"""Background delete batches against the simulator: confirm, run, cancel, overlap, throttling, outages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from dli_admin.access.services import command_origin, project_delete
from dli_admin.audit.models import AuditKind, AuditRecord
from dli_admin.audit.selectors import audit_unsettled_jobs
from dli_admin.deletes import runner, services
from dli_admin.deletes.models import BatchState, DeleteBatch, DeleteBatchJob, JobState
from dli_admin.deletes.services import Requester

pytestmark = pytest.mark.django_db(transaction=True)  # the lease keeper renews from its own connection


def add_jobs(simulator, project, count, status="job_cancel_success", prefix="cleanup"):
    return [simulator.add_job(project.project_id, name=f"{prefix}-{n}", status=status) for n in range(count)]


def confirm(user, project, ids, confirm_name=None) -> DeleteBatch:
    requester = Requester(user=user, client_ip="127.0.0.1")
    plan = services.flink_jobs_delete_plan(
        requester=requester, project=project, job_ids=[str(i) for i in ids]
    )
    name = project.name if confirm_name is None else confirm_name
    return services.flink_jobs_delete(
        requester=requester, project=project, token=plan.token, confirm_name=name
    )


def outcomes(batch) -> dict[int, str]:
    return dict(DeleteBatchJob.objects.filter(batch=batch).values_list("job_id", "outcome"))


def messages(batch) -> dict[int, str]:
    return dict(DeleteBatchJob.objects.filter(batch=batch).values_list("job_id", "message"))


def test_a_confirm_queues_a_batch_and_sends_nothing(simulator, project_a, operator):
    ids = add_jobs(simulator, project_a, 3)
    simulator.clear_requests()

    batch = confirm(operator, project_a, ids)

    assert batch.state == BatchState.QUEUED and batch.total == 3
    assert [job[0] for job in batch.selection] == ids
    assert simulator.requests(op="batch_delete") == []
    assert not DeleteBatchJob.objects.filter(batch=batch).exists()


def test_the_worker_writes_the_intent_before_its_first_dli_call(simulator, project_a, operator, monkeypatch):
    ids = add_jobs(simulator, project_a, 3)
    batch = confirm(operator, project_a, ids)
    simulator.clear_requests()
    seen_at_first_call = []
    real_list = runner.flink_jobs_read

    def first_read(**kwargs):
        if not seen_at_first_call:
            intent = AuditRecord.objects.filter(kind=AuditKind.INTENT, batch_id=batch.pk).first()
            seen_at_first_call.append((intent, len(simulator.requests())))
        return real_list(**kwargs)

    monkeypatch.setattr(runner, "flink_jobs_read", first_read)
    runner.batch_run(batch.pk)

    ((intent, calls_before),) = seen_at_first_call
    assert intent is not None and intent.actor_username == "olivia" and calls_before == 0
    assert list(intent.jobs.values_list("job_id", flat=True)) == ids
    assert DeleteBatch.objects.get(pk=batch.pk).selection == [], "the selection lives on in the audit log"


def test_a_worker_deletes_every_job_and_audits_each_result(simulator, project_a, operator):
    ids = add_jobs(simulator, project_a, 7)
    batch = confirm(operator, project_a, ids)

    assert runner.batch_run(batch.pk).state == "ended"

    batch.refresh_from_db()
    assert batch.state == BatchState.ENDED and batch.ended_at is not None
    assert outcomes(batch) == dict.fromkeys(ids, "deleted")
    assert all(simulator.job(project_a.project_id, i) is None for i in ids)
    results = AuditRecord.objects.filter(kind=AuditKind.RESULT, batch_id=batch.pk)
    assert sorted(results.values_list("job_id", "outcome")) == [(i, "deleted") for i in sorted(ids)]
    assert audit_unsettled_jobs(project_id=project_a.project_id) == []
    assert batch.lease_owner == "" and batch.lease_until is None


def test_chunks_go_out_a_few_at_a_time_and_no_id_is_sent_twice(simulator, project_a, operator, settings):
    settings.DLI_BATCH_SIZE = 5
    settings.DLI_CONCURRENCY = 3
    ids = add_jobs(simulator, project_a, 40)
    simulator.set_fault(project_a.project_id, "latency", 0.2, ops={"batch_delete"})
    batch = confirm(operator, project_a, ids)
    simulator.clear_requests()

    runner.batch_run(batch.pk)

    sent = [job_id for request in simulator.requests(op="batch_delete") for job_id in request.job_ids]
    assert sorted(sent) == sorted(ids)
    assert len(simulator.requests(op="batch_delete")) == 8
    assert outcomes(batch) == dict.fromkeys(ids, "deleted")


def test_running_a_batch_again_sends_nothing_more(simulator, project_a, operator):
    ids = add_jobs(simulator, project_a, 3)
    batch = confirm(operator, project_a, ids)
    runner.batch_run(batch.pk)
    simulator.clear_requests()

    assert runner.batch_run(batch.pk).state == "busy"
    assert simulator.requests() == []


def test_a_job_changed_or_gone_since_the_confirmation_is_skipped_with_the_reason(
    simulator, project_a, operator
):
    ids = add_jobs(simulator, project_a, 4)
    batch = confirm(operator, project_a, ids)
    simulator.set_job_status(project_a.project_id, ids[0], "job_running")
    simulator_delete_one(simulator, project_a, ids[1])

    runner.batch_run(batch.pk)

    assert outcomes(batch) == {ids[0]: "skipped", ids[1]: "skipped", ids[2]: "deleted", ids[3]: "deleted"}
    assert messages(batch)[ids[0]].startswith("changed since you confirmed: now Running")
    assert messages(batch)[ids[1]] == "already gone from DLI"
    assert simulator.job(project_a.project_id, ids[0]) is not None


def simulator_delete_one(simulator, project, job_id):
    from dli_admin.projects.connections import dli_client_for

    dli_client_for(project).delete_job(job_id)


def test_an_operators_active_job_is_skipped_at_confirm_and_never_sent(simulator, project_a, operator):
    ids = add_jobs(simulator, project_a, 2) + add_jobs(simulator, project_a, 1, status="job_running")
    batch = confirm(operator, project_a, ids)
    runner.batch_run(batch.pk)

    assert outcomes(batch)[ids[2]] == "skipped"
    assert messages(batch)[ids[2]] == "needs owner: the job is active"
    sent = {job_id for request in simulator.requests(op="batch_delete") for job_id in request.job_ids}
    assert ids[2] not in sent


def test_a_live_batch_holds_its_jobs_against_a_second_one(simulator, project_a, operator, owner):
    ids = add_jobs(simulator, project_a, 6)
    first, second = confirm(operator, project_a, ids[:4]), confirm(owner, project_a, ids[2:])
    runner.batch_expand(first)  # the first batch's worker has taken its jobs, and is still at work

    runner.batch_run(second.pk)

    assert outcomes(second) == {ids[2]: "skipped", ids[3]: "skipped", ids[4]: "deleted", ids[5]: "deleted"}
    assert messages(second)[ids[2]] == "already being deleted by another batch"
    runner.batch_run(first.pk)
    assert outcomes(first) == dict.fromkeys(ids[:4], "deleted")
    sent = [job_id for request in simulator.requests(op="batch_delete") for job_id in request.job_ids]
    assert sorted(sent) == sorted(ids)


def test_two_batches_share_no_job_the_second_skips_what_the_first_holds(
    simulator, project_a, operator, owner
):
    ids = add_jobs(simulator, project_a, 6)
    first = confirm(operator, project_a, ids[:4])
    second = confirm(owner, project_a, ids[2:])

    runner.batch_run(first.pk)
    runner.batch_run(second.pk)

    assert outcomes(first) == dict.fromkeys(ids[:4], "deleted")
    assert outcomes(second) == {ids[2]: "skipped", ids[3]: "skipped", ids[4]: "deleted", ids[5]: "deleted"}
    assert messages(second)[ids[2]] == "already gone from DLI"  # the first batch ended before
    sent = [job_id for request in simulator.requests(op="batch_delete") for job_id in request.job_ids]
    assert sorted(sent) == sorted(ids)


def test_a_cancelled_batch_sends_nothing_and_its_jobs_read_skipped(simulator, project_a, operator):
    ids = add_jobs(simulator, project_a, 3)
    batch = confirm(operator, project_a, ids)
    services.flink_jobs_batch_cancel(requester=Requester(user=operator), batch=batch)

    runner.batch_run(batch.pk)

    assert outcomes(batch) == dict.fromkeys(ids, "skipped")
    assert set(messages(batch).values()) == {"cancelled before sending (by olivia)"}
    assert simulator.requests(op="batch_delete") == []
    assert AuditRecord.objects.filter(
        kind=AuditKind.CANCEL, batch_id=batch.pk, actor_username="olivia"
    ).exists()


def test_only_the_requester_or_an_owner_may_cancel(simulator, project_a, operator, owner, viewer):
    from django.core.exceptions import PermissionDenied

    batch = confirm(operator, project_a, add_jobs(simulator, project_a, 1))
    with pytest.raises(PermissionDenied):
        services.flink_jobs_batch_cancel(requester=Requester(user=viewer), batch=batch)
    assert AuditRecord.objects.filter(kind=AuditKind.REFUSAL, actor_username=viewer.username).exists()
    services.flink_jobs_batch_cancel(requester=Requester(user=owner), batch=batch)
    batch.refresh_from_db()
    assert batch.state == BatchState.CANCELLING and batch.cancel_requested_by_username == owner.username


def test_a_throttle_that_lifts_ends_with_every_job_deleted(
    simulator, project_a, operator, monkeypatch, settings
):
    monkeypatch.setattr(runner, "RETRY_PAUSES", (0.2,))
    settings.DLI_BATCH_SIZE = 2
    ids = add_jobs(simulator, project_a, 6)
    batch = confirm(operator, project_a, ids)
    # Every batch delete answers 429 with Retry-After for the first 6 requests: more than the client's
    # retries of one chunk, so chunks go back to pending and the batch tries them again.
    simulator.set_fault(project_a.project_id, "throttle", 0.05, ops={"batch_delete"}, count=6)

    assert runner.batch_run(batch.pk).state == "ended"

    assert outcomes(batch) == dict.fromkeys(ids, "deleted")
    sent = [job_id for r in simulator.requests(op="batch_delete") if r.status == 200 for job_id in r.job_ids]
    assert sorted(sent) == sorted(ids)


def test_dli_down_past_the_deadline_skips_the_unsent_jobs_with_the_reason(
    simulator, project_a, operator, monkeypatch, settings
):
    monkeypatch.setattr(runner, "RETRY_PAUSES", (0.1,))
    settings.DLI_BATCH_RETRY_DEADLINE = 0.5
    ids = add_jobs(simulator, project_a, 3)
    batch = confirm(operator, project_a, ids)
    simulator.set_fault(project_a.project_id, "server_error", 503, ops={"list", "show"})

    assert runner.batch_run(batch.pk).state == "ended"

    assert outcomes(batch) == dict.fromkeys(ids, "skipped")
    assert all(m.startswith("could not be checked in DLI before deleting") for m in messages(batch).values())
    assert simulator.requests(op="batch_delete") == []


def test_an_outage_that_ends_in_time_ends_with_every_job_deleted(simulator, project_a, operator, monkeypatch):
    monkeypatch.setattr(runner, "RETRY_PAUSES", (0.1,))
    ids = add_jobs(simulator, project_a, 3)
    batch = confirm(operator, project_a, ids)
    simulator.set_fault(project_a.project_id, "server_error", 503, ops={"list", "show"}, count=12)

    runner.batch_run(batch.pk)

    assert outcomes(batch) == dict.fromkeys(ids, "deleted")


def test_a_project_removed_while_queued_ends_the_batch_with_every_job_skipped(simulator, project_a, operator):
    ids = add_jobs(simulator, project_a, 2)
    batch = confirm(operator, project_a, ids)
    project_delete(command_origin(), project_a)

    assert runner.batch_run(batch.pk).state == "ended"

    assert outcomes(batch) == dict.fromkeys(ids, "skipped")
    assert set(messages(batch).values()) == {"not sent: the project was removed from dli-admin"}
    assert simulator.requests(op="batch_delete") == []


def test_jobs_left_sent_by_a_dead_worker_are_read_back_never_sent_again(simulator, project_a, operator):
    ids = add_jobs(simulator, project_a, 4)
    batch = confirm(operator, project_a, ids)
    runner.batch_expand(batch)
    # A worker marked two jobs sent, DLI deleted one of them, then the worker died before the answer.
    DeleteBatchJob.objects.filter(batch=batch, job_id__in=ids[:2]).update(state=JobState.SENT, chunk=1)
    simulator_delete_one(simulator, project_a, ids[0])
    alive_for_now = timezone.now() + timedelta(seconds=30)
    DeleteBatch.objects.filter(pk=batch.pk).update(
        state=BatchState.RUNNING, lease_owner="dead", lease_until=alive_for_now
    )
    simulator.clear_requests()

    assert runner.batch_run(batch.pk).state == "busy", "the dead worker's lease has not lapsed yet"
    DeleteBatch.objects.filter(pk=batch.pk).update(lease_until=None)
    assert runner.batch_run(batch.pk).state == "ended"

    assert outcomes(batch) == {ids[0]: "deleted", ids[1]: "failed", ids[2]: "deleted", ids[3]: "deleted"}
    assert "it was not sent again" in messages(batch)[ids[1]]
    sent = [job_id for request in simulator.requests(op="batch_delete") for job_id in request.job_ids]
    assert sorted(sent) == sorted(ids[2:])


def test_rejected_credentials_fail_the_batch_and_stop_sending(simulator, project_a, operator, settings):
    settings.DLI_BATCH_SIZE = 2
    ids = add_jobs(simulator, project_a, 6)
    batch = confirm(operator, project_a, ids)
    simulator.set_fault(project_a.project_id, "auth_fail", True, ops={"batch_delete"})

    runner.batch_run(batch.pk)

    assert outcomes(batch) == dict.fromkeys(ids, "failed")
    assert len(simulator.requests(op="batch_delete")) == 1
    assert "DLI rejected dli-admin's credentials" in messages(batch)[ids[0]]


def test_reconcile_leaves_a_live_batch_to_its_worker_and_says_so(simulator, project_a, operator):
    from io import StringIO

    ids = add_jobs(simulator, project_a, 2)
    batch = confirm(operator, project_a, ids)
    out = StringIO()

    call_command("audit_reconcile", stdout=out)

    text = out.getvalue()
    assert f"left 2 job(s) to batch {batch.pk}" in text
    assert "nothing to settle" not in text
    assert simulator.requests(op="batch_delete") == []


def test_the_projects_page_and_the_audit_page_link_a_running_batch(
    simulator, project_a, operator, owner, client
):
    from django.urls import reverse

    batch = confirm(operator, project_a, add_jobs(simulator, project_a, 2))
    runner.batch_expand(batch)  # the intent is written; the worker is still at work
    url = reverse("dli-batch-detail", args=[project_a.project_id, batch.pk])
    client.force_login(owner)
    assert f'href="{url}"' in client.get("/").content.decode()
    assert f'href="{url}"' in client.get(reverse("dli-audit-batch", args=[batch.pk])).content.decode()

    runner.batch_run(batch.pk)
    assert f'href="{url}"' not in client.get("/").content.decode(), "an ended batch is not listed"


def test_a_cancelled_batch_that_a_dead_worker_held_settles_every_job(simulator, project_a, operator):
    ids = add_jobs(simulator, project_a, 4)
    batch = confirm(operator, project_a, ids)
    runner.batch_expand(batch)
    # The dead worker had sent one chunk (DLI deleted it), then died; then the operator cancelled.
    DeleteBatchJob.objects.filter(batch=batch, job_id__in=ids[:2]).update(state=JobState.SENT, chunk=1)
    for job_id in ids[:2]:
        simulator_delete_one(simulator, project_a, job_id)
    lapsed = timezone.now() - timedelta(seconds=1)
    DeleteBatch.objects.filter(pk=batch.pk).update(
        state=BatchState.RUNNING, lease_owner="dead", lease_until=lapsed
    )
    services.flink_jobs_batch_cancel(
        requester=Requester(user=operator), batch=DeleteBatch.objects.get(pk=batch.pk)
    )
    simulator.clear_requests()

    assert [b.pk for b in runner.batches_stalled()] == [batch.pk]
    assert runner.batch_run(batch.pk).state == "ended"

    assert outcomes(batch) == {ids[0]: "deleted", ids[1]: "deleted", ids[2]: "skipped", ids[3]: "skipped"}
    assert messages(batch)[ids[2]] == "cancelled before sending (by olivia)"
    assert simulator.requests(op="batch_delete") == []
    assert DeleteBatch.objects.get(pk=batch.pk).state == BatchState.ENDED
