"""Writing the audit log: what is recorded, that it commits, that nothing can change it afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test import RequestFactory
from django.urls import reverse

from dli_admin.access.services import command_origin, user_delete
from dli_admin.audit import services
from dli_admin.audit.chain import GENESIS, SNAPSHOT, record_hash
from dli_admin.audit.models import AuditImmutableError, AuditIntentJob, AuditRecord
from dli_admin.audit.selectors import audit_unsettled_jobs
from dli_admin.audit.services import (
    AuditJobResult,
    audit_intent_record,
    audit_refusal_record,
    audit_results_record,
    client_ip_for,
)
from dli_admin.projects.jobs import JobRef

PROJECT = "a" * 32


def intent(actor=None, *, batch_id=None, jobs=((1, "etl-a", "job_finished"),), project_id=PROJECT, **extra):
    batch_id = batch_id or uuid.uuid4()
    audit_intent_record(
        batch_id=batch_id,
        actor=actor,
        project_id=project_id,
        project_name=extra.pop("project_name", "Project A"),
        jobs=[JobRef(*job) for job in jobs],
        client_ip=extra.pop("client_ip", "192.0.2.10"),
        user_agent=extra.pop("user_agent", "Mozilla/5.0"),
    )
    return batch_id


def results(batch_id, *outcomes, actor=None, source="delete", project_id=PROJECT):
    audit_results_record(
        batch_id=batch_id,
        actor=actor,
        project_id=project_id,
        results=[AuditJobResult(job_id, f"etl-{job_id}", outcome) for job_id, outcome in outcomes],
        source=source,
    )


def verify() -> str:
    out = StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


@pytest.fixture
def allow_audit_flush(transactional_db):
    """After a transactional test, let the test database be emptied: PostgreSQL's trigger refuses TRUNCATE."""
    yield
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET dli_admin.audit_truncate = 'allow'")


# --- What is recorded ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_intent_records_every_job_the_actor_and_where_from(operator):
    batch_id = intent(
        operator,
        jobs=[(11, "etl-a", "job_finished"), (12, "etl-b", "job_running")],
        client_ip="192.0.2.10",
        user_agent="Mozilla/5.0 " + "x" * 500,
    )

    record = AuditRecord.objects.get()
    assert (record.seq, record.kind, record.batch_id) == (1, "intent", batch_id)
    assert (record.actor_id, record.actor_username) == (operator.pk, "olivia")
    assert (record.project_id, record.project_name) == (PROJECT, "Project A")
    assert record.client_ip == "192.0.2.10"
    assert len(record.user_agent) == 300
    assert record.created_at.utcoffset().total_seconds() == 0
    assert record.prev_hash == GENESIS
    assert [(j.position, j.job_id, j.name, j.status) for j in record.jobs.all()] == [
        (0, 11, "etl-a", "job_finished"),
        (1, 12, "etl-b", "job_running"),
    ]
    assert record.hash_version == SNAPSHOT
    assert record.hash == record_hash(
        record.chain_values(),
        [(11, "etl-a", "job_finished"), (12, "etl-b", "job_running")],
        version=SNAPSHOT,
        key=settings.DLI_ADMIN_AUDIT_KEY.encode(),
    )


@pytest.mark.django_db
def test_results_are_one_record_per_job_chained_after_the_intent(operator):
    batch_id = intent(operator, jobs=[(11, "etl-a", "job_finished"), (12, "etl-b", "job_finished")])
    audit_results_record(
        batch_id=batch_id,
        actor=operator,
        project_id=PROJECT,
        results=[
            AuditJobResult(11, "etl-a", "deleted", dli_request_id="req-1", attempts=1, duration_ms=80),
            AuditJobResult(12, "etl-b", "failed", "DLI said no", "DLI.0002", "req-2", 3, 900),
        ],
    )

    first, second, third = AuditRecord.objects.order_by("seq")
    assert [r.kind for r in (first, second, third)] == ["intent", "result", "result"]
    assert (second.prev_hash, third.prev_hash) == (first.hash, second.hash)
    assert (third.job_id, third.outcome, third.message, third.error_code) == (
        12,
        "failed",
        "DLI said no",
        "DLI.0002",
    )
    assert (third.dli_request_id, third.attempts, third.duration_ms, third.source) == (
        "req-2",
        3,
        900,
        "delete",
    )
    assert "audit chain OK: 3 records (2 job lines)" in verify()


@pytest.mark.django_db
def test_a_refusal_keeps_at_most_200_posted_ids_and_allows_an_anonymous_actor():
    posted = ["=cmd", "x" * 100] + [str(n) for n in range(300)]
    audit_refusal_record(
        actor=None,
        project_id="nonsense!",
        job_ids=posted,
        reason="bad selection",
        client_ip="",
        user_agent="",
    )

    record = AuditRecord.objects.get()
    assert (record.kind, record.actor_id, record.actor_username) == ("refusal", None, "")
    assert len(record.refused_job_ids) == 200
    assert record.refused_job_ids[:2] == ["=cmd", "x" * 64]
    assert record.reason == "bad selection [302 job ids posted, the first 200 kept]"


@pytest.mark.django_db
def test_text_the_database_would_reject_is_cleaned_not_refused():
    intent(jobs=[(1, "nul\x00byte", "job_finished")], user_agent="agent\x00\ud800")

    record = AuditRecord.objects.get()
    assert record.jobs.get().name == "nulbyte"
    assert record.user_agent == "agent?"
    assert "OK" in verify()


@pytest.mark.django_db
def test_time_never_runs_backwards_along_the_chain(monkeypatch):
    """A host whose clock is behind stamps its record with the previous record's time, not earlier."""
    late, early = datetime(2026, 5, 1, 12, 0, 1, tzinfo=UTC), datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    for now in (late, early):
        monkeypatch.setattr(services, "timezone", SimpleNamespace(now=lambda now=now: now))
        intent()

    assert list(AuditRecord.objects.order_by("seq").values_list("created_at", flat=True)) == [late, late]
    assert "OK" in verify()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("outcome", "source"), [("gone", "delete"), ("deleted", "cron")], ids=["bad outcome", "bad source"]
)
def test_results_with_an_unknown_outcome_or_source_are_refused(outcome, source):
    with pytest.raises(ValueError):
        results(uuid.uuid4(), (1, outcome), source=source)
    assert not AuditRecord.objects.exists()


@pytest.mark.django_db
def test_no_credentials_cookies_or_session_ids_are_stored(settings, operator):
    settings.DLI_ADMIN_CLIENT_IP_HEADER = "X-Forwarded-For"
    request = RequestFactory().get(
        "/",
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.7",
        HTTP_COOKIE="sessionid=SESSION-SECRET; csrftoken=CSRF-SECRET",
        HTTP_AUTHORIZATION="Bearer TOKEN-SECRET",
        HTTP_USER_AGENT="Mozilla/5.0",
    )
    intent(operator, client_ip=client_ip_for(request), user_agent=request.headers["User-Agent"])

    stored = " ".join(str(value) for value in AuditRecord.objects.values_list().get())
    stored += " ".join(str(value) for value in AuditIntentJob.objects.values_list().get())
    assert "198.51.100.7" in stored
    for secret in ("SESSION", "CSRF", "TOKEN", "Bearer", settings.SECRET_KEY):
        assert secret not in stored


# --- Unsettled jobs ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_unsettled_jobs_have_no_result_or_an_unknown_latest_result():
    batch = intent(jobs=[(1, "a", "s"), (2, "b", "s"), (3, "c", "s"), (4, "d", "s")])
    results(batch, (1, "deleted"), (2, "unknown"), (3, "unknown"))
    results(batch, (3, "deleted"), source="reconcile")
    other = intent(jobs=[(9, "z", "s")], project_id="b" * 32)

    unsettled = audit_unsettled_jobs()

    assert [(job.batch_id, job.job_id, job.name) for job in unsettled] == [
        (batch, 2, "b"),
        (batch, 4, "d"),
        (other, 9, "z"),
    ]
    assert [job.job_id for job in audit_unsettled_jobs(project_id=PROJECT)] == [2, 4]
    assert [job.job_id for job in audit_unsettled_jobs(job_ids=[4, 9, 1])] == [4, 9]
    assert audit_unsettled_jobs(job_ids=[]) == []


@pytest.mark.django_db
def test_a_later_unknown_unsettles_a_job_again():
    batch = intent(jobs=[(1, "a", "s")])
    results(batch, (1, "failed"))
    results(batch, (1, "unknown"), source="reconcile")

    assert [job.job_id for job in audit_unsettled_jobs()] == [1]


# --- Append-only ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_models_refuse_to_save_update_or_delete():
    intent()
    record = AuditRecord.objects.get()
    line = AuditIntentJob.objects.get()

    refusals = [
        lambda: record.save(),
        lambda: record.delete(),
        lambda: AuditRecord(seq=99, kind="intent").save(),
        lambda: AuditRecord.objects.update(kind="result"),
        lambda: AuditRecord.objects.filter(seq=1).delete(),
        lambda: AuditRecord.objects.bulk_update([record], ["kind"]),
        lambda: line.save(),
        lambda: line.delete(),
        lambda: record.jobs.update(name="x"),
        lambda: AuditIntentJob.objects.all().delete(),
    ]
    for refusal in refusals:
        with pytest.raises(AuditImmutableError):
            refusal()
    assert AuditRecord.objects.get().kind == "intent"
    assert "OK" in verify()


@pytest.mark.django_db
def test_the_admin_shows_the_log_but_offers_no_add_change_or_delete(client, superuser):
    intent()
    client.force_login(superuser)
    request = RequestFactory().get("/")
    request.user = superuser

    for model in (AuditRecord,):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
        assert "delete_selected" not in model_admin.get_actions(request)
    assert client.get(reverse("admin:audit_auditrecord_changelist")).status_code == 200
    change = client.get(reverse("admin:audit_auditrecord_change", args=[1]))
    assert change.status_code == 200
    assert b'name="_save"' not in change.content
    assert client.get(reverse("admin:audit_auditrecord_add")).status_code == 403
    assert client.get(reverse("admin:audit_auditrecord_delete", args=[1])).status_code == 403


@pytest.mark.django_db
def test_deleting_a_user_leaves_their_records_unchanged(operator):
    batch = intent(operator)
    results(batch, (1, "deleted"), actor=operator)
    before = list(AuditRecord.objects.order_by("seq").values_list())

    user_delete(command_origin(), operator)  # its grants' revokes are appended

    assert list(AuditRecord.objects.order_by("seq").values_list())[: len(before)] == before
    assert AuditRecord.objects.filter(actor_username="olivia").count() == 2
    assert "OK" in verify()


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditrecord SET actor_username = 'nobody'",
        "DELETE FROM audit_auditrecord",
        "TRUNCATE audit_auditrecord CASCADE",
        "UPDATE audit_auditintentjob SET name = 'x'",
        "DELETE FROM audit_auditintentjob",
        "TRUNCATE audit_auditintentjob",
    ],
)
def test_postgresql_refuses_changes_behind_the_application(statement):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    intent()

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE will not run with checks pending
        cursor.execute("SET LOCAL dli_admin.audit_truncate = ''")  # whatever the test settings allow
        cursor.execute(statement)

    assert AuditRecord.objects.get().actor_username == ""
    assert AuditIntentJob.objects.get().name == "etl-a"


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_lets_the_owner_empty_the_tables_only_on_purpose():
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    intent()

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL dli_admin.audit_truncate = 'allow'")
        cursor.execute("TRUNCATE audit_auditrecord, audit_auditintentjob")
        assert not AuditRecord.objects.exists()
        transaction.set_rollback(True)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL dli_admin.audit_truncate = 'allow'")
        cursor.execute("UPDATE audit_auditrecord SET kind = 'x'")  # only TRUNCATE, never UPDATE


# --- Commit and concurrency ------------------------------------------------------------------------------


def _in_another_connection(query):
    """Run `query` in a fresh thread, hence a fresh database connection that sees only committed rows."""
    answer = []

    def run():
        try:
            answer.append(query())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return answer[0]


def test_an_intent_is_committed_even_when_the_caller_then_fails(allow_audit_flush):
    batch_id = uuid.uuid4()

    def delete_batch():
        intent(batch_id=batch_id)
        raise ConnectionError("the process died half-way")

    with pytest.raises(ConnectionError):
        delete_batch()

    assert _in_another_connection(lambda: AuditRecord.objects.filter(batch_id=batch_id).count()) == 1
    assert _in_another_connection(lambda: [job.job_id for job in audit_unsettled_jobs()]) == [1]


def test_an_intent_refuses_to_join_the_callers_transaction(allow_audit_flush):
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        intent()
    assert not AuditRecord.objects.exists()


def test_concurrent_writers_keep_one_valid_chain(allow_audit_flush):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("in-memory SQLite shares one cache whose table locks ignore the busy timeout; see below")
    writers, rounds = 4, 8
    errors = []
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(rounds):
                batch = intent(jobs=[(n * 1000 + i, f"job-{n}-{i}", "job_finished")])
                results(batch, (n * 1000 + i, "deleted"))
                audit_refusal_record(  # each reason its own: repeats of one refusal are folded
                    actor=None,
                    project_id=PROJECT,
                    job_ids=[str(n)],
                    reason=f"r{n}-{i}",
                    client_ip="",
                    user_agent="",
                )
        except Exception as error:  # noqa: BLE001 - reported below, with the thread that raised it
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    total = writers * rounds * 3
    assert list(AuditRecord.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, total + 1)
    )
    assert f"audit chain OK: {total} records" in verify()


WRITER = """
import sys, time, uuid, django
django.setup()
from dli_admin.audit.services import AuditJobResult, audit_intent_record, audit_results_record
from dli_admin.projects.jobs import JobRef
n, rounds, start_at = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
time.sleep(max(0.0, start_at - time.time()))  # all writers start together
for i in range(rounds):
    batch = uuid.uuid4()
    audit_intent_record(batch_id=batch, actor=None, project_id="p", project_name="P",
                        jobs=[JobRef(n * 1000 + i, "j", "s")], client_ip="", user_agent="")
    audit_results_record(batch_id=batch, actor=None, project_id="p",
                         results=[AuditJobResult(n * 1000 + i, "j", "deleted")])
"""


def test_concurrent_processes_on_a_sqlite_file_keep_one_valid_chain(tmp_path):
    """Production's SQLite (a file, WAL, BEGIN IMMEDIATE): worker processes writing at once queue up."""
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'audit.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "dli_admin.settings",
        "DJANGO_DEBUG": "1",
        "PYTHONPATH": str(root),
    }
    manage = [sys.executable, str(root / "manage.py")]
    subprocess.run([*manage, "migrate", "--skip-checks"], env=env, check=True, capture_output=True)
    writers, rounds, start_at = 4, 40, time.time() + 3

    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(n), str(rounds), str(start_at)],
            env=env,
            cwd=root,
            stderr=subprocess.PIPE,
        )
        for n in range(writers)
    ]
    failures = [p.stderr.read().decode() for p in processes if p.wait() != 0]

    assert failures == []
    verified = subprocess.run(
        [*manage, "audit_verify", "--skip-checks"], env=env, check=True, capture_output=True, text=True
    )
    assert f"audit chain OK: {writers * rounds * 2} records" in verified.stdout


def test_without_the_audit_key_the_checks_fail_and_nothing_is_written(settings, db):
    from django.core.checks import run_checks
    from django.core.exceptions import ImproperlyConfigured

    settings.DLI_ADMIN_AUDIT_KEY = ""

    assert "DLI_ADMIN_AUDIT_KEY is not set" in [message.msg for message in run_checks()]
    with pytest.raises(ImproperlyConfigured, match="DLI_ADMIN_AUDIT_KEY is not set"):
        audit_refusal_record(
            actor=None, project_id=PROJECT, job_ids=[], reason="r", client_ip="", user_agent=""
        )
    assert not AuditRecord.objects.exists()


def test_a_short_audit_key_fails_the_checks(settings, db):  # some checks of other apps read the database
    from django.core.checks import run_checks

    settings.DLI_ADMIN_AUDIT_KEY = "short"

    assert [m.id for m in run_checks() if m.id.startswith("audit.")] == ["audit.E002"]
