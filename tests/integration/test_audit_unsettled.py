"""Unsettled jobs as state: audit.services keeps AuditUnsettledJob as results are appended, and migration
0010 fills it from an existing log, both by the rule reconcile used to evaluate over the whole log."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dli_admin.audit.models import AuditIntentJob, AuditRecord, AuditUnsettledJob
from dli_admin.audit.selectors import audit_unsettled_jobs
from dli_admin.audit.services import AuditJobResult, audit_intent_record, audit_results_record
from dli_admin.projects.jobs import JobRef

A, B = "a" * 32, "b" * 32


def by_the_log() -> list[tuple]:
    """Every intent job line whose newest result in its batch is missing or "unknown", read from the log."""
    latest = {}
    for batch_id, job_id, outcome in (
        AuditRecord.objects.filter(kind="result").order_by("seq").values_list("batch_id", "job_id", "outcome")
    ):
        latest[(batch_id, job_id)] = outcome
    return [
        (batch_id, project_id, job_id, name)
        for batch_id, project_id, job_id, name in AuditIntentJob.objects.order_by(
            "record_id", "position"
        ).values_list("batch_id", "project_id", "job_id", "name")
        if latest.get((batch_id, job_id), "unknown") == "unknown"
    ]


def kept() -> list[tuple]:
    return [(j.batch_id, j.project_id, j.job_id, j.name) for j in audit_unsettled_jobs()]


def intent(project_id: str, *job_ids: int) -> uuid.UUID:
    batch_id = uuid.uuid4()
    audit_intent_record(
        batch_id=batch_id,
        actor=None,
        project_id=project_id,
        project_name="p",
        jobs=[JobRef(job_id, f"job-{job_id}", "job_finished") for job_id in job_ids],
        client_ip="192.0.2.1",
        user_agent="pytest",
    )
    return batch_id


def results(batch_id: uuid.UUID, project_id: str, *outcomes: tuple[int, str]) -> None:
    audit_results_record(
        batch_id=batch_id,
        actor=None,
        project_id=project_id,
        results=[AuditJobResult(job_id, f"job-{job_id}", outcome) for job_id, outcome in outcomes],
    )


def a_busy_log() -> None:
    first = intent(A, 1, 2, 3, 4)
    results(first, A, (1, "deleted"), (2, "unknown"), (3, "failed"))  # 4: no result (the worker died)
    second = intent(B, 5, 6)
    results(second, B, (5, "unknown"), (6, "skipped"))
    results(second, B, (5, "deleted"))  # reconcile settled it
    third = intent(A, 7, 8, 1)  # job 1 again, in another batch
    results(third, A, (7, "deleted"), (8, "deleted"))
    results(third, A, (7, "unknown"))  # a later answer undid what was known: unsettled again
    results(third, A, (8, "deleted"), (8, "unknown"), (8, "failed"))  # the last of several wins


@pytest.mark.django_db
def test_appending_results_keeps_the_unsettled_jobs_as_the_log_says():
    a_busy_log()

    assert kept() == by_the_log()
    assert [(j.job_id, j.project_id) for j in audit_unsettled_jobs()] == [(2, A), (4, A), (7, A), (1, A)]
    assert [j.job_id for j in audit_unsettled_jobs(project_id=B)] == []
    assert [j.job_id for j in audit_unsettled_jobs(job_ids=[1, 4])] == [4, 1]
    assert audit_unsettled_jobs(job_ids=[]) == []


@pytest.mark.django_db
def test_reading_unsettled_jobs_is_one_query_on_the_small_table(django_assert_num_queries):
    a_busy_log()

    with django_assert_num_queries(1) as captured:
        audit_unsettled_jobs(project_id=A)

    assert "audit_auditrecord" not in captured.captured_queries[0]["sql"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_unsettled_jobs_of_an_existing_log_without_losing_one():
    a_busy_log()
    expected = by_the_log()
    records = AuditRecord.objects.count()
    executor = MigrationExecutor(connection)
    executor.migrate([("audit", "0009_policy_kind")])  # before the table existed

    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert AuditUnsettledJob.objects.count() == len(expected) == 4
    assert kept() == expected
    assert AuditRecord.objects.count() == records


@pytest.mark.django_db
def test_postgresql_finds_job_names_through_the_trigram_index():
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL gets the pg_trgm index; SQLite scans the job lines")
    query = AuditIntentJob.objects.filter(name__icontains="nightly").values("record_id")
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'audit_intent_job_name_trgm'")
        (definition,) = cursor.fetchone()
        cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table: the planner would scan it
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = " ".join(row[0] for row in cursor.fetchall())

    assert "gin_trgm_ops" in definition
    assert "audit_intent_job_name_trgm" in plan  # Django's icontains matches the index's expression
