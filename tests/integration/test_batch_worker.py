"""Batches through real `manage.py db_worker` processes: pick-up, SIGKILL mid-chunk and mid-read-back,
SIGTERM hand-back, two workers racing, the database going away. The simulator runs in this process, so
its request log shows every id that was sent, and how often."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from dli_admin.deletes import runner, services
from dli_admin.deletes.models import BatchKind, BatchState, DeleteBatch, DeleteBatchJob, JobState
from dli_admin.deletes.services import Requester
from tests.helpers import start_worker, stop, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture(autouse=True)
def quick_sweeps(settings):
    settings.DLI_BATCH_SWEEP = 1  # the sweep queued by a confirm in this process runs a second later


def confirm(user, project, ids) -> DeleteBatch:
    requester = Requester(user=user, client_ip="127.0.0.1")
    plan = services.flink_jobs_delete_plan(
        requester=requester, project=project, job_ids=[str(i) for i in ids]
    )
    return services.flink_jobs_delete(
        requester=requester, project=project, token=plan.token, confirm_name=project.name
    )


def ended(batch: DeleteBatch) -> bool:
    return DeleteBatch.objects.filter(pk=batch.pk, state=BatchState.ENDED).exists()


def outcomes(batch) -> dict[int, str]:
    return dict(DeleteBatchJob.objects.filter(batch=batch).values_list("job_id", "outcome"))


def sends(simulator) -> Counter:
    return Counter(job_id for request in simulator.requests(op="batch_delete") for job_id in request.job_ids)


def add_jobs(simulator, project, count):
    return [
        simulator.add_job(project.project_id, name=f"worker-{n}", status="job_finish") for n in range(count)
    ]


def test_a_worker_process_runs_a_batch_confirmed_on_the_web(simulator, project_a, operator, client):
    ids = add_jobs(simulator, project_a, 12)
    client.force_login(operator)
    review = client.post(
        f"/projects/{project_a.project_id}/jobs/delete/review/", {"job_ids": [str(i) for i in ids]}
    )
    token = review.context["plan"].token
    response = client.post(
        f"/projects/{project_a.project_id}/jobs/delete/", {"token": token, "confirm_name": project_a.name}
    )
    batch = DeleteBatch.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/batches/{batch.pk}/")
    assert DBTaskResult.objects.filter(task_path__endswith="run_delete_batch").count() == 1

    worker = start_worker(simulator, "web-pickup")
    try:
        wait_for(lambda: ended(batch), what="the batch to end")
    finally:
        log = stop(worker)
    assert outcomes(batch) == dict.fromkeys(ids, "deleted"), log
    assert set(sends(simulator).values()) == {1}


@pytest.mark.parametrize("moment", ["mid-chunk", "mid-read-back"])
def test_a_worker_killed_at_any_moment_is_taken_over_and_no_id_is_sent_twice(
    simulator, project_a, operator, settings, moment
):
    settings.DLI_BATCH_SIZE = 5
    ids = add_jobs(simulator, project_a, 20)
    batch = confirm(operator, project_a, ids)
    slow_ops = {"batch_delete"} if moment == "mid-chunk" else {"list", "show"}
    # Slow enough that the kill lands while DLI holds the call.
    simulator.set_fault(project_a.project_id, "latency", 1.5, ops=slow_ops)
    simulator.clear_requests()

    first = start_worker(simulator, "first", DLI_BATCH_SIZE="5")
    try:
        if moment == "mid-chunk":
            wait_for(
                lambda: DeleteBatchJob.objects.filter(batch=batch, state=JobState.SENT).exists(),
                what="a chunk",
            )
        else:
            # Every chunk answered; the worker is now reading the jobs back.
            wait_for(
                lambda: (
                    DeleteBatchJob.objects.filter(batch=batch, state=JobState.SENT, replied=True).count()
                    == 20
                ),
                what="every answer",
            )
            time.sleep(0.5)
        first.send_signal(signal.SIGKILL)
    finally:
        first_log = stop(first)
    assert not ended(batch), first_log
    simulator.clear_faults()

    second = start_worker(simulator, "second", DLI_BATCH_SIZE="5")
    try:
        wait_for(lambda: ended(batch), timeout=90, what="the second worker to finish the batch")
    finally:
        second_log = stop(second)

    assert set(sends(simulator).values()) == {1}, "no job id appears in two delete requests"
    assert set(outcomes(batch).values()) <= {"deleted", "failed"}, second_log
    for job_id, outcome in outcomes(batch).items():
        assert (simulator.job(project_a.project_id, job_id) is None) == (outcome == "deleted")
    assert sorted(sends(simulator)) == sorted(ids) or moment == "mid-chunk"


def test_a_worker_stopped_with_sigterm_hands_the_batch_back(simulator, project_a, operator, settings):
    ids = add_jobs(simulator, project_a, 30)
    batch = confirm(operator, project_a, ids)
    simulator.set_fault(project_a.project_id, "latency", 1.0, ops={"batch_delete"})

    first = start_worker(simulator, "terminated", DLI_BATCH_SIZE="5", DLI_CONCURRENCY="1")
    try:
        wait_for(
            lambda: DeleteBatchJob.objects.filter(batch=batch, state=JobState.SENT).exists(), what="a chunk"
        )
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    finally:
        first_log = stop(first)
    assert first.returncode == 0, first_log
    assert not DeleteBatchJob.objects.filter(batch=batch, state=JobState.SENT, replied=False).exists()
    assert DeleteBatch.objects.get(pk=batch.pk).lease_owner == ""

    simulator.clear_faults()
    second = start_worker(simulator, "after-deploy", DLI_BATCH_SIZE="5")
    try:
        wait_for(lambda: ended(batch), what="the batch to end")
    finally:
        stop(second)
    assert outcomes(batch) == dict.fromkeys(ids, "deleted")
    assert set(sends(simulator).values()) == {1}


def test_two_workers_racing_for_batches_send_every_id_once(simulator, project_a, operator, owner, settings):
    settings.DLI_BATCH_SIZE = 4
    ids = add_jobs(simulator, project_a, 40)
    batches = [confirm(operator, project_a, ids[:24]), confirm(owner, project_a, ids[16:])]
    simulator.set_fault(project_a.project_id, "latency", 0.1, ops={"batch_delete"})

    workers = [start_worker(simulator, f"racer-{n}", DLI_BATCH_SIZE="4") for n in range(2)]
    try:
        wait_for(lambda: all(ended(batch) for batch in batches), timeout=90, what="both batches")
    finally:
        logs = [stop(worker) for worker in workers]

    assert set(sends(simulator).values()) == {1}, logs
    assert sorted(sends(simulator)) == sorted(ids)
    first, second = (outcomes(batch) for batch in batches)
    for job_id in ids[16:24]:  # the overlap: deleted by whichever batch claimed it, skipped by the other
        assert sorted((first[job_id], second[job_id])) == ["deleted", "skipped"]


@pytest.mark.postgres
def test_a_worker_reconnects_when_the_database_drops_its_connections(simulator, project_a, operator):
    if connection.vendor != "postgresql":
        pytest.skip("terminating another process's connection needs PostgreSQL")
    ids = add_jobs(simulator, project_a, 30)
    batch = confirm(operator, project_a, ids)
    simulator.set_fault(project_a.project_id, "latency", 0.5, ops={"batch_delete"})
    worker = start_worker(simulator, "reconnecting", DLI_BATCH_SIZE="5", DLI_CONCURRENCY="1")
    try:
        wait_for(
            lambda: (
                DeleteBatchJob.objects.filter(batch=batch, state=JobState.SETTLED).exists()
                or DeleteBatchJob.objects.filter(batch=batch, state=JobState.SENT).exists()
            ),
            what="progress",
        )
        with connection.cursor() as cursor:  # what a database restart does to the worker's connections
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        simulator.clear_faults()
        wait_for(lambda: ended(batch), timeout=90, what="the batch to end after the reconnect")
    finally:
        log = stop(worker)
    assert outcomes(batch) == dict.fromkeys(ids, "deleted"), log
    assert set(sends(simulator).values()) == {1}


def test_a_worker_killed_while_dli_answers_a_create_is_taken_over_and_the_job_found_by_name(
    simulator, project_a, owner
):
    pid = project_a.project_id
    job_id = simulator.add_job(
        pid, name="worker-restore", status="job_finish", job_type="flink_sql_job", sql_body="S"
    )
    deleted = confirm(owner, project_a, [job_id])
    runner.batch_run(deleted.pk)
    deleted.refresh_from_db()
    requester = Requester(user=owner)
    plan = services.flink_jobs_restore_plan(requester=requester, project=project_a, batch=deleted)
    # DLI creates the job, then holds its answer: the kill lands after the create, before its reply.
    simulator.set_fault(pid, "slow_reply", 5.0, ops={"create_sql_job"})
    restore = services.flink_jobs_restore(
        requester=requester, project=project_a, batch=deleted, token=plan.token
    )
    assert restore.kind == BatchKind.RESTORE

    first = start_worker(simulator, "restore-first")
    try:
        wait_for(
            lambda: DeleteBatchJob.objects.filter(batch=restore, state=JobState.SENT).exists(),
            what="a create",
        )
        wait_for(lambda: len(simulator.requests(op="create_sql_job")) == 1, what="the create to reach DLI")
        time.sleep(0.5)
        first.send_signal(signal.SIGKILL)
    finally:
        first_log = stop(first)
    assert not ended(restore), first_log
    simulator.clear_faults()

    second = start_worker(simulator, "restore-second")
    try:
        wait_for(lambda: ended(restore), timeout=90, what="the second worker to finish the restore")
    finally:
        second_log = stop(second)

    row = DeleteBatchJob.objects.get(batch=restore)
    assert (row.outcome, row.new_job_id is not None) == ("restored", True), second_log
    assert "found by name" in row.message
    assert len(simulator.requests(op="create_sql_job")) == 1, "the create was never sent twice"
    assert simulator.job(pid, row.new_job_id)["name"] == "worker-restore"
