"""A database made before the projects/deletes apps existed upgrades without losing a record."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dli_admin.audit.models import AuditIntentJob, AuditRecord
from dli_admin.audit.selectors import audit_unsettled_jobs
from dli_admin.audit.services import AuditJobResult, audit_intent_record, audit_results_record
from dli_admin.projects.jobs import JobRef
from dli_admin.projects.models import DliProject, Grant

# The newest migrations of the layout before the move: every model of projects and deletes was in dashboard.
BEFORE_THE_MOVE = [("dashboard", "0001_initial"), ("projects", None), ("deletes", None)]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_old_layout_keeps_every_project_grant_and_audit_record(django_user_model):
    migrate(BEFORE_THE_MOVE)
    old = MigrationExecutor(connection).loader.project_state([("dashboard", "0001_initial")]).apps
    OldProject, OldGrant, OldClaim = (
        old.get_model("dashboard", name) for name in ("DliProject", "Grant", "JobClaim")
    )
    ContentType.objects.filter(app_label__in=["projects", "deletes"]).delete()
    for model in ("dliproject", "grant", "jobclaim"):
        ContentType.objects.get_or_create(app_label="dashboard", model=model)

    alice = django_user_model.objects.create_user("alice")
    project = OldProject.objects.create(project_id="a" * 32, name="alpha", region="eu-de")
    OldProject.objects.create(project_id="b" * 32, name="beta")
    OldGrant.objects.create(user_id=alice.pk, project_id=project.pk, role="operator")
    OldGrant.objects.create(user_id=alice.pk, project_id=None, role="auditor")
    batch = uuid.uuid4()
    OldClaim.objects.create(project_id=project.pk, job_id=7, batch_id=batch)
    audit_intent_record(
        batch_id=batch,
        actor=alice,
        project_id=project.project_id,
        project_name=project.name,
        jobs=[JobRef(7, "etl", "job_finish"), JobRef(8, "etl-2", "job_finish")],
        client_ip="127.0.0.1",
        user_agent="test",
    )
    audit_results_record(
        batch_id=batch,
        actor=alice,
        project_id=project.project_id,
        results=[AuditJobResult(8, "etl-2", "deleted")],
    )

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert sorted(DliProject.objects.values_list("name", flat=True)) == ["alpha", "beta"]
    assert sorted(Grant.objects.values_list("user__username", "role", "project__name")) == [
        ("alice", "auditor", None),
        ("alice", "operator", "alpha"),
    ]
    # The claim of a delete that ran in a web request is gone with its table; the audit log still holds
    # its intent, so reconcile can settle the job.
    assert [(job.batch_id, job.job_id) for job in audit_unsettled_jobs()] == [(batch, 7)]
    assert (AuditRecord.objects.count(), AuditIntentJob.objects.count()) == (2, 2)
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "audit chain OK: 2 records" in out.getvalue()
    moved = ContentType.objects.filter(model__in=["dliproject", "grant", "jobclaim"])
    assert sorted(moved.values_list("app_label", "model")) == [
        ("deletes", "jobclaim"),
        ("projects", "dliproject"),
        ("projects", "grant"),
    ]  # a stale "jobclaim" type is harmless: Django's remove_stale_contenttypes clears it


@pytest.mark.django_db(transaction=True)
def test_the_move_can_be_undone_without_losing_a_row(project_a, operator):
    migrate(BEFORE_THE_MOVE)
    old = MigrationExecutor(connection).loader.project_state([("dashboard", "0001_initial")]).apps
    assert old.get_model("dashboard", "Grant").objects.filter(user_id=operator.pk).count() == 2
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert Grant.objects.filter(user=operator).count() == 2


# Where every app stood when background batches and the keyed audit chain did not exist yet.
BEFORE_THIS_ROUND = [*BEFORE_THE_MOVE, ("audit", "0004_truncate_hint")]


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_keyed_records_upgrades_and_its_chain_still_verifies(django_user_model):
    from datetime import UTC, datetime

    from dli_admin.audit.chain import GENESIS, RECORD_FIELDS, record_hash

    migrate(BEFORE_THIS_ROUND)
    old = (
        MigrationExecutor(connection)
        .loader.project_state(BEFORE_THIS_ROUND[-1:] + [("dashboard", "0001_initial")])
        .apps
    )
    OldProject, OldGrant = old.get_model("dashboard", "DliProject"), old.get_model("dashboard", "Grant")
    OldRecord, OldLine = old.get_model("audit", "AuditRecord"), old.get_model("audit", "AuditIntentJob")
    bob = django_user_model.objects.create_user("legacy-bob")
    project = OldProject.objects.create(project_id="c" * 32, name="gamma")
    OldGrant.objects.create(user_id=bob.pk, project_id=project.pk, role="owner")
    batch, prev = uuid.uuid4(), GENESIS
    for seq, kind in [(1, "intent"), (2, "result")]:
        fields = dict.fromkeys(RECORD_FIELDS, "")
        fields.update(
            seq=seq,
            created_at=datetime(2026, 11, 30, 12, seq, tzinfo=UTC),
            kind=kind,
            batch_id=batch,
            actor_id=bob.pk,
            actor_username="legacy-bob",
            project_id=project.project_id,
            refused_job_ids=[],
            job_id=None if kind == "intent" else 5,
            outcome="" if kind == "intent" else "deleted",
            attempts=0,
            duration_ms=0,
            prev_hash=prev,
        )
        jobs = [[5, "old-job", "job_finish"]] if kind == "intent" else []
        prev = record_hash([fields[name] for name in RECORD_FIELDS], jobs)  # version 1: plain SHA-256
        del fields["snapshot_digest"]  # a column added later (audit 0010), not in this old layout
        OldRecord.objects.bulk_create([OldRecord(**fields, hash=prev)])
        for position, (job_id, name, status) in enumerate(jobs):
            OldLine.objects.bulk_create(
                [
                    OldLine(
                        record_id=seq,
                        position=position,
                        batch_id=batch,
                        project_id=project.project_id,
                        job_id=job_id,
                        name=name,
                        status=status,
                    )
                ]
            )

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert Grant.objects.get(user=bob).project.name == "gamma"
    assert list(AuditRecord.objects.order_by("seq").values_list("seq", "hash_version")) == [(1, 1), (2, 1)]
    audit_results_record(
        batch_id=batch,
        actor=bob,
        project_id=project.project_id,
        results=[AuditJobResult(5, "old-job", "deleted", "checked again")],
    )
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "audit chain OK: 3 records" in out.getvalue()
    assert AuditRecord.objects.get(seq=3).hash_version == 3, (
        "the first record after the upgrade is keyed (v3)"
    )


@pytest.mark.django_db(transaction=True)
def test_delete_batches_from_before_restore_existed_upgrade_as_delete_batches(django_user_model):
    from dli_admin.deletes.models import BatchKind, DeleteBatch, DeleteBatchJob

    before = [
        ("deletes", "0002_batches_replace_claims"),
        ("audit", "0007_no_truncate_hint"),
        ("projects", "0001_initial"),
    ]
    migrate(before)
    old = MigrationExecutor(connection).loader.project_state(before).apps
    OldBatch, OldJob = old.get_model("deletes", "DeleteBatch"), old.get_model("deletes", "DeleteBatchJob")
    project = old.get_model("projects", "DliProject").objects.create(project_id="d" * 32, name="delta")
    batch = OldBatch.objects.create(
        project_id=project.pk,
        project_id_text=project.project_id,
        project_name="delta",
        state="ended",
        total=1,
    )
    OldJob.objects.create(
        batch_id=batch.pk,
        position=0,
        project_id_text=project.project_id,
        job_id=9,
        state="settled",
        outcome="deleted",
    )

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    upgraded = DeleteBatch.objects.get(pk=batch.pk)
    assert (upgraded.kind, upgraded.without_snapshot, upgraded.total) == (BatchKind.DELETE, False, 1)
    job = DeleteBatchJob.objects.get(batch=upgraded)
    assert (job.job_id, job.outcome, job.snapshot_digest, job.new_job_id) == (9, "deleted", "", None)


# Where every app stood before access records, policies, the unsettled-jobs table, snapshots, named DLI
# connections, time zones and single sign-on.
BEFORE_ACCESS_AND_SNAPSHOTS = [
    ("policies", None),
    ("audit", "0007_no_truncate_hint"),
    ("deletes", "0002_batches_replace_claims"),
    ("projects", "0001_initial"),
    ("accounts", "0001_initial"),
]


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_access_records_and_snapshots_keeps_everything_and_verifies(
    django_user_model, settings
):
    from datetime import UTC, datetime

    from dli_admin.audit.chain import GENESIS, KEYED, RECORD_FIELDS, record_hash

    migrate(BEFORE_ACCESS_AND_SNAPSHOTS)
    old = MigrationExecutor(connection).loader.project_state(BEFORE_ACCESS_AND_SNAPSHOTS[1:]).apps
    OldProject, OldGrant = old.get_model("projects", "DliProject"), old.get_model("projects", "Grant")
    OldRecord, OldLine = old.get_model("audit", "AuditRecord"), old.get_model("audit", "AuditIntentJob")
    carol = django_user_model.objects.create_user("carol")
    east = OldProject.objects.create(project_id="e" * 32, name="east", region="eu-de")
    west = OldProject.objects.create(project_id="f" * 32, name="west")
    OldGrant.objects.create(user_id=carol.pk, project_id=east.pk, role="owner")
    OldGrant.objects.create(user_id=carol.pk, project_id=west.pk, role="viewer")
    OldGrant.objects.create(user_id=carol.pk, project_id=None, role="auditor")
    key = settings.DLI_ADMIN_AUDIT_KEY.encode()
    batch, prev = uuid.uuid4(), GENESIS
    # A keyed (version 2) intent of two jobs, one deleted, one unknown: the unknown one is unsettled.
    for seq, kind, job_id, outcome in [
        (1, "intent", None, ""),
        (2, "result", 21, "deleted"),
        (3, "result", 22, "unknown"),
    ]:
        fields = dict.fromkeys(RECORD_FIELDS, "")
        fields.update(
            seq=seq,
            created_at=datetime(2026, 12, 1, 12, seq, tzinfo=UTC),
            kind=kind,
            source="" if kind == "intent" else "delete",
            batch_id=batch,
            actor_id=carol.pk,
            actor_username="carol",
            project_id=east.project_id,
            refused_job_ids=[],
            job_id=job_id,
            outcome=outcome,
            attempts=0 if kind == "intent" else 1,
            duration_ms=0,
            prev_hash=prev,
        )
        jobs = [[21, "etl-a", "job_finish"], [22, "etl-b", "job_failed"]] if kind == "intent" else []
        prev = record_hash([fields[name] for name in RECORD_FIELDS], jobs, version=KEYED, key=key)
        del fields["snapshot_digest"]  # added by audit 0011
        OldRecord.objects.bulk_create([OldRecord(**fields, hash_version=KEYED, hash=prev)])
        OldLine.objects.bulk_create(
            [
                OldLine(
                    record_id=seq,
                    position=position,
                    batch_id=batch,
                    project_id=east.project_id,
                    job_id=line_job,
                    name=name,
                    status=status,
                )
                for position, (line_job, name, status) in enumerate(jobs)
            ]
        )

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    projects = {p.project_id: (p.name, p.region, p.connection) for p in DliProject.objects.all()}
    assert projects == {"e" * 32: ("east", "eu-de", "default"), "f" * 32: ("west", "", "default")}
    grants = {
        (g.project.name if g.project else None, g.role, g.source) for g in Grant.objects.filter(user=carol)
    }
    assert grants == {("east", "owner", "manual"), ("west", "viewer", "manual"), (None, "auditor", "manual")}
    assert list(AuditRecord.objects.order_by("seq").values_list("seq", "hash_version")) == [
        (1, 2),
        (2, 2),
        (3, 2),
    ]
    assert AuditIntentJob.objects.count() == 2
    assert [job.job_id for job in audit_unsettled_jobs()] == [22], "the migration fills the unsettled jobs"
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "audit chain OK: 3 records" in out.getvalue()
    # Grants from before they were audited: named by access_verify until recorded once as found.
    with pytest.raises(CommandError, match="3 grant"):
        call_command("access_verify", stdout=StringIO(), stderr=StringIO())
    call_command("access_verify", "--baseline", stdout=StringIO())
    call_command("access_verify", stdout=StringIO())
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "audit chain OK: 6 records" in out.getvalue()
