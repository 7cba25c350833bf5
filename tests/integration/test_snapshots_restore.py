"""Snapshots before delete, and restores from them, against the simulator: runner, services, audit log."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from dli_admin.audit.chain import snapshot_digest
from dli_admin.audit.models import AuditKind, AuditRecord, JobSnapshot
from dli_admin.deletes import runner, services
from dli_admin.deletes.models import BatchKind, DeleteBatch, DeleteBatchJob
from dli_admin.deletes.restore import NotRestorable, restore_request
from dli_admin.deletes.services import Requester

pytestmark = pytest.mark.django_db(transaction=True)  # the lease keeper renews from its own connection

SQL = "INSERT INTO orders_sink SELECT id, amount FROM orders_source WHERE amount > 100;"


def sql_job(simulator, project, name, **fields):
    config = {
        "checkpoint_enabled": True,
        "checkpoint_mode": "exactly_once",
        "checkpoint_interval": 60,
        "cu_number": 4,
        "parallel_number": 2,
        "restart_when_exception": True,
        "obs_bucket": "dli-logs",
        "log_enabled": True,
    }
    return simulator.add_job(
        project.project_id,
        name=name,
        status="job_cancel_success",
        job_type="flink_sql_job",
        sql_body=SQL,
        desc=f"{name} for the demo",
        queue_name="analytics_shared",
        job_config=config,
        **fields,
    )


def jar_job(simulator, project, name, entrypoint="obs://dli-jars/orders.jar"):
    return simulator.add_job(
        project.project_id,
        name=name,
        status="job_finish",
        job_type="flink_jar_job",
        main_class="com.example.OrdersJob",
        entrypoint_args="--window 60",
        queue_name="analytics_prio",
        job_config={"cu_number": 2, "parallel_number": 1, "entrypoint": entrypoint, "log_enabled": False},
    )


def delete(user, project, ids, *, before_run=lambda: None, **kwargs) -> DeleteBatch:
    requester = Requester(user=user, client_ip="127.0.0.1")
    plan = services.flink_jobs_delete_plan(
        requester=requester, project=project, job_ids=[str(i) for i in ids]
    )
    batch = services.flink_jobs_delete(
        requester=requester, project=project, token=plan.token, confirm_name=project.name, **kwargs
    )
    before_run()
    assert runner.batch_run(batch.pk).state == "ended"
    batch.refresh_from_db()
    return batch


def restore(user, project, batch, ids=(), *, again=False) -> DeleteBatch:
    requester = Requester(user=user, client_ip="127.0.0.1")
    plan = services.flink_jobs_restore_plan(
        requester=requester, project=project, batch=batch, job_ids=[str(i) for i in ids]
    )
    restored = services.flink_jobs_restore(
        requester=requester, project=project, batch=batch, token=plan.token, again=again
    )
    assert runner.batch_run(restored.pk).state == "ended"
    restored.refresh_from_db()
    return restored


def rows(batch) -> dict[int, DeleteBatchJob]:
    return {row.job_id: row for row in DeleteBatchJob.objects.filter(batch=batch)}


def verify() -> str:
    out = StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def test_a_delete_keeps_each_definition_before_sending_at_no_extra_dli_call(simulator, project_a, operator):
    ids = [sql_job(simulator, project_a, f"snap-{n}") for n in range(4)]
    shown = {i: simulator.job(project_a.project_id, i) for i in ids}

    batch = delete(operator, project_a, ids, before_run=simulator.clear_requests)

    assert {i: row.outcome for i, row in rows(batch).items()} == dict.fromkeys(ids, "deleted")
    recheck = simulator.requests()[0]
    assert recheck.op == "list" and recheck.query.get("show_detail") == "true"
    assert simulator.requests(op="show") == [], "the recheck's list gave the definitions"
    for job_id in ids:
        snapshot = JobSnapshot.objects.get(batch_id=batch.pk, job_id=job_id)
        definition = json.loads(snapshot.definition)
        assert definition["sql_body"] == SQL and definition["job_config"]["cu_number"] == 4
        assert definition["queue_name"] == shown[job_id]["queue_name"]
        assert snapshot.digest == snapshot_digest(snapshot.definition) == rows(batch)[job_id].snapshot_digest
        result = AuditRecord.objects.get(kind=AuditKind.RESULT, batch_id=batch.pk, job_id=job_id)
        assert result.snapshot_digest == snapshot.digest and result.hash_version == 3
    assert verify().startswith("audit chain OK")


def test_a_job_whose_definition_dli_does_not_give_is_skipped_unless_an_owner_said_delete_anyway(
    simulator, project_a, owner, monkeypatch
):
    ids = [sql_job(simulator, project_a, f"nodef-{n}") for n in range(3)]
    real = runner.flink_jobs_read

    def without_definitions(**kwargs):
        read = real(**kwargs)
        for job_id, job in list(read.found.items()):  # as a DLI that ignores show_detail would answer
            read.found[job_id] = type(job)(job_id=job.job_id, name=job.name, status=job.status)
        return read

    monkeypatch.setattr(runner, "flink_jobs_read", without_definitions)
    batch = delete(owner, project_a, ids)

    assert {row.outcome for row in rows(batch).values()} == {"skipped"}
    assert "no snapshot could be kept" in rows(batch)[ids[0]].message
    assert all(simulator.job(project_a.project_id, i) is not None for i in ids)

    anyway = delete(owner, project_a, ids, without_snapshot=True)

    assert {row.outcome for row in rows(anyway).values()} == {"deleted"}
    intent = AuditRecord.objects.get(kind=AuditKind.INTENT, batch_id=anyway.pk)
    assert "without a snapshot" in intent.reason


def test_only_an_owner_may_delete_without_a_snapshot(simulator, project_a, operator):
    ids = [sql_job(simulator, project_a, "op-nodef")]
    requester = Requester(user=operator)
    plan = services.flink_jobs_delete_plan(requester=requester, project=project_a, job_ids=[str(ids[0])])

    with pytest.raises(PermissionDenied):
        services.flink_jobs_delete(
            requester=requester, project=project_a, token=plan.token, without_snapshot=True
        )

    refusal = AuditRecord.objects.filter(kind=AuditKind.REFUSAL).latest("seq")
    assert "without a snapshot" in refusal.reason and refusal.actor_username == "olivia"


def test_an_owner_restores_sql_and_jar_jobs_as_new_jobs_never_started(simulator, project_a, owner):
    sql_id, jar_id = (
        sql_job(simulator, project_a, "orders-enrich"),
        jar_job(simulator, project_a, "orders-jar"),
    )
    deleted = delete(owner, project_a, [sql_id, jar_id])

    restored = restore(owner, project_a, deleted)

    assert restored.kind == BatchKind.RESTORE
    done = rows(restored)
    assert {i: row.outcome for i, row in done.items()} == {sql_id: "restored", jar_id: "restored"}
    new_sql = simulator.job(project_a.project_id, done[sql_id].new_job_id)
    assert new_sql["name"] == "orders-enrich" and new_sql["status"] == "job_init"
    assert new_sql["sql_body"] == SQL and new_sql["queue_name"] == "analytics_shared"
    assert new_sql["job_config"]["cu_number"] == 4 and new_sql["job_config"]["checkpoint_interval"] == 60
    new_jar = simulator.job(project_a.project_id, done[jar_id].new_job_id)
    assert new_jar["job_type"] == "flink_jar_job" and new_jar["main_class"] == "com.example.OrdersJob"
    assert new_jar["job_config"]["entrypoint"] == "obs://dli-jars/orders.jar"
    assert simulator.requests(op="batch_stop") == [] and not any(
        "run" in (r.path or "") for r in simulator.requests()
    ), "a restore never starts a job"
    result = AuditRecord.objects.get(kind=AuditKind.RESULT, batch_id=restored.pk, job_id=sql_id)
    assert result.source == "restore" and result.outcome == "restored"
    assert result.snapshot_digest == rows(deleted)[sql_id].snapshot_digest
    assert f"restored as job {done[sql_id].new_job_id}" in result.message
    intent = AuditRecord.objects.get(kind=AuditKind.INTENT, batch_id=restored.pk)
    assert intent.source == "restore"
    assert verify().startswith("audit chain OK")


def test_restoring_a_snapshot_twice_asks_first_and_names_the_first_restore(simulator, project_a, owner):
    job_id = sql_job(simulator, project_a, "twice")
    deleted = delete(owner, project_a, [job_id])
    first = restore(owner, project_a, deleted)
    delete(owner, project_a, [rows(first)[job_id].new_job_id])  # the copy goes, the name is free again
    requester = Requester(user=owner)
    plan = services.flink_jobs_restore_plan(requester=requester, project=project_a, batch=deleted)

    assert plan.again and str(first.pk) in plan.again[0].restored_before
    with pytest.raises(services.RestoreAgain, match=str(first.pk)):
        services.flink_jobs_restore(requester=requester, project=project_a, batch=deleted, token=plan.token)
    assert DeleteBatch.objects.filter(kind=BatchKind.RESTORE).count() == 1

    second = restore(owner, project_a, deleted, again=True)
    assert rows(second)[job_id].outcome == "restored"


def test_a_name_taken_in_dli_fails_with_dlis_error_and_creates_nothing(simulator, project_a, owner):
    job_id = sql_job(simulator, project_a, "taken-name")
    deleted = delete(owner, project_a, [job_id])
    squatter = simulator.add_job(project_a.project_id, name="taken-name")

    restored = restore(owner, project_a, deleted)

    row = rows(restored)[job_id]
    assert row.outcome == "failed" and "DLI.0006" in row.message and "already exists" in row.message
    assert [j for j in simulator.requests(op="create_sql_job")] and row.new_job_id is None
    assert simulator.job(project_a.project_id, squatter)["name"] == "taken-name"


def test_a_queue_that_no_longer_exists_fails_with_dlis_error(simulator, project_a, owner):
    job_id = sql_job(simulator, project_a, "lost-queue")
    deleted = delete(owner, project_a, [job_id])
    simulator.remove_queue(project_a.project_id, "analytics_shared")

    row = rows(restore(owner, project_a, deleted))[job_id]

    assert row.outcome == "failed" and "DLI.0002" in row.message and "analytics_shared" in row.message


@pytest.mark.parametrize("fault", ["drop_after", "server_error_after"])
def test_a_create_whose_reply_was_lost_is_found_by_name_and_never_sent_twice(
    simulator, project_a, owner, fault
):
    job_id = sql_job(simulator, project_a, f"lost-reply-{fault}")
    deleted = delete(owner, project_a, [job_id])
    simulator.set_fault(
        project_a.project_id, fault, True if fault == "drop_after" else 502, ops="create_sql_job", count=1
    )
    simulator.clear_requests()

    restored = restore(owner, project_a, deleted)

    row = rows(restored)[job_id]
    assert row.outcome == "restored" and "found by name" in row.message
    assert len(simulator.requests(op="create_sql_job")) == 1
    assert simulator.job(project_a.project_id, row.new_job_id)["name"] == f"lost-reply-{fault}"


def test_a_create_that_never_reached_dli_is_sent_again_after_the_wait(simulator, project_a, owner, settings):
    job_id = sql_job(simulator, project_a, "throttled-create")
    deleted = delete(owner, project_a, [job_id])
    simulator.set_fault(project_a.project_id, "throttle", 0.01, ops="create_sql_job", count=8)

    restored = restore(owner, project_a, deleted)

    row = rows(restored)[job_id]
    assert row.outcome == "restored"
    assert len([r for r in simulator.requests(op="create_sql_job") if r.status == 200]) == 1


@pytest.mark.parametrize("who", ["viewer", "operator"])
def test_a_viewer_or_operator_may_not_restore_and_the_refusal_is_audited(
    simulator, project_a, owner, who, request
):
    job_id = sql_job(simulator, project_a, f"no-restore-{who}")
    deleted = delete(owner, project_a, [job_id])
    user = request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        services.flink_jobs_restore_plan(requester=Requester(user=user), project=project_a, batch=deleted)

    refusal = AuditRecord.objects.filter(kind=AuditKind.REFUSAL).latest("seq")
    assert refusal.actor_username == user.username and "may not restore" in refusal.reason


def test_a_changed_snapshot_is_found_by_audit_verify(simulator, project_a, owner):
    job_id = sql_job(simulator, project_a, "tampered")
    delete(owner, project_a, [job_id])
    snapshot = JobSnapshot.objects.get(job_id=job_id)
    changed = snapshot.definition.replace("amount > 100", "amount > 0")
    table = JobSnapshot._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_jobsnapshot DISABLE TRIGGER USER")
        cursor.execute(f"UPDATE {table} SET definition = %s WHERE id = %s", [changed, snapshot.pk])  # noqa: S608
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_jobsnapshot ENABLE TRIGGER USER")

    with pytest.raises(
        CommandError, match=f"BROKEN at snapshot {snapshot.pk}: its definition no longer matches"
    ):
        verify()

    with connection.cursor() as cursor:  # re-digested too: the chain's digest no longer names it
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_jobsnapshot DISABLE TRIGGER USER")
        cursor.execute(
            f"UPDATE {table} SET digest = %s WHERE id = %s",  # noqa: S608
            [snapshot_digest(changed), snapshot.pk],
        )
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_jobsnapshot ENABLE TRIGGER USER")
    result = AuditRecord.objects.get(kind=AuditKind.RESULT, job_id=job_id)
    with pytest.raises(
        CommandError, match=f"BROKEN at record {result.seq}: its snapshot digest names no stored"
    ):
        verify()


@pytest.mark.parametrize(
    ("definition", "why"),
    [
        ({"job_type": "flink_sql_job", "name": "x", "job_config": {}}, "no SQL body"),
        ({"job_type": "flink_jar_job", "name": "x", "job_config": {"entrypoint": ""}}, "names no jar"),
        ({"job_type": "flink_sql_edge_job", "name": "x", "job_config": {}}, "edge"),
        ({"job_type": "flink_sql_job", "name": "x", "sql_body": "S"}, "no job_config"),
    ],
)
def test_snapshots_that_lack_what_dli_needs_say_why(definition, why):
    with pytest.raises(NotRestorable, match=why):
        restore_request(definition)


def test_the_create_body_leaves_out_unset_values_and_keeps_false_and_zero():
    request = restore_request(
        {
            "job_type": "flink_opensource_sql_job",
            "name": "n",
            "desc": "",
            "sql_body": "S",
            "run_mode": "shared_cluster",
            "tags": {"team": "data"},
            "job_config": {"checkpoint_enabled": False, "cu_number": 2, "obs_bucket": None, "smn_topic": ""},
        }
    )

    assert request.kind == "sql"
    assert request.body == {
        "name": "n",
        "sql_body": "S",
        "run_mode": "shared_cluster",
        "job_type": "flink_opensource_sql_job",
        "checkpoint_enabled": False,
        "cu_number": 2,
        "tags": [{"key": "team", "value": "data"}],
    }


def test_an_unfinished_restore_is_left_to_its_batch_not_to_audit_reconcile(simulator, project_a, owner):
    from dli_admin.audit.selectors import audit_unsettled_jobs
    from dli_admin.deletes.restore import restore_expand

    job_id = sql_job(simulator, project_a, "unfinished-restore")
    deleted = delete(owner, project_a, [job_id])
    requester = Requester(user=owner)
    plan = services.flink_jobs_restore_plan(requester=requester, project=project_a, batch=deleted)
    restoring = services.flink_jobs_restore(
        requester=requester, project=project_a, batch=deleted, token=plan.token
    )

    restore_expand(restoring)  # its intent and rows, as a worker that then died would leave them

    assert AuditRecord.objects.filter(kind=AuditKind.INTENT, batch_id=restoring.pk).exists()
    assert audit_unsettled_jobs(project_id=project_a.project_id) == []


def test_two_restores_of_one_job_at_once_create_it_once(simulator, project_a, owner):
    from dli_admin.deletes.restore import restore_expand

    job_id = sql_job(simulator, project_a, "racing-restore")
    deleted = delete(owner, project_a, [job_id])
    requester = Requester(user=owner)
    first_plan = services.flink_jobs_restore_plan(requester=requester, project=project_a, batch=deleted)
    first = services.flink_jobs_restore(
        requester=requester, project=project_a, batch=deleted, token=first_plan.token
    )
    restore_expand(first)  # its job is claimed, not yet created
    plan = services.flink_jobs_restore_plan(requester=requester, project=project_a, batch=deleted)
    assert "still running" in plan.again[0].restored_before, "the second asks, naming the first"

    second = services.flink_jobs_restore(
        requester=requester, project=project_a, batch=deleted, token=plan.token, again=True
    )
    assert runner.batch_run(second.pk).state == "ended"
    assert runner.batch_run(first.pk).state == "ended"

    assert rows(second)[job_id].outcome == "skipped"
    assert rows(second)[job_id].message == "already being restored by another batch"
    assert rows(first)[job_id].outcome == "restored"
    assert len(simulator.requests(op="create_sql_job")) == 1
    skipped = AuditRecord.objects.get(kind=AuditKind.RESULT, batch_id=second.pk)
    assert skipped.snapshot_digest == rows(deleted)[job_id].snapshot_digest
