"""audit_verify over a long chain walks it in two processes (the older half forked): it finds the same
faults at the same records as one walk. Committed data (a forked process has its own connection)."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from dli_admin.audit import selectors
from dli_admin.audit.chain import SNAPSHOT, record_hash
from dli_admin.audit.checkpoints import audit_key
from dli_admin.audit.models import AuditRecord
from dli_admin.audit.services import AuditJobResult, audit_intent_record, audit_results_record
from dli_admin.projects.jobs import JobRef

pytestmark = pytest.mark.django_db(transaction=True)
PROJECT = "a" * 32
RECORDS = "audit_auditrecord"
LINES = "audit_auditintentjob"


@pytest.fixture
def chain(settings, tmp_path, monkeypatch):
    """8 records, 1 intent (3 jobs) 2-4 results, 5 intent (3 jobs) 6-8 results; the walk cut at 4."""
    settings.DLI_ADMIN_AUDIT_CHECKPOINTS = str(tmp_path / "audit-checkpoints.jsonl")
    for first in (11, 21):
        batch_id = uuid.uuid4()
        jobs = [JobRef(job_id, f"job-{job_id}", "job_finished") for job_id in range(first, first + 3)]
        audit_intent_record(
            batch_id=batch_id,
            actor=None,
            project_id=PROJECT,
            project_name="A",
            jobs=jobs,
            client_ip="192.0.2.1",
            user_agent="UA",
        )
        audit_results_record(
            batch_id=batch_id,
            actor=None,
            project_id=PROJECT,
            results=[AuditJobResult(job.job_id, job.name, "deleted") for job in jobs],
        )
    assert AuditRecord.objects.count() == 8
    if connection.vendor == "postgresql":  # what someone covering their tracks must do first
        sql(f"ALTER TABLE {RECORDS} DISABLE TRIGGER USER")
        sql(f"ALTER TABLE {LINES} DISABLE TRIGGER USER")
    monkeypatch.setattr(selectors, "PARALLEL_FROM", 2)
    yield
    if connection.vendor == "postgresql":
        sql(f"ALTER TABLE {RECORDS} ENABLE TRIGGER USER")
        sql(f"ALTER TABLE {LINES} ENABLE TRIGGER USER")


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def verify() -> str:
    out = StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def test_an_intact_chain_gives_the_same_status_in_two_processes_as_in_one(chain):
    two = selectors.audit_chain_verify()
    one = selectors.audit_chain_verify(parallel_from=10**9)

    assert two == one
    assert (two.records, two.job_lines, two.head_seq) == (8, 6, 8)
    assert verify().startswith("audit chain OK: 8 records (6 job lines), head 8")


@pytest.mark.parametrize("seq", [1, 4, 5, 8])
def test_a_changed_record_is_found_in_either_half(chain, seq):
    sql(f"UPDATE {RECORDS} SET project_name = 'B' WHERE seq = %s", [seq])

    with pytest.raises(CommandError, match=rf"BROKEN at record {seq}: its content does not match its hash"):
        verify()


def test_the_older_half_wins_when_both_are_broken(chain):
    sql(f"UPDATE {RECORDS} SET project_name = 'B' WHERE seq IN (2, 7)")

    with pytest.raises(CommandError, match=r"BROKEN at record 2: its content does not match its hash"):
        verify()


def test_a_changed_job_line_of_the_newer_half_is_found_at_its_intent(chain):
    sql(f"UPDATE {LINES} SET name = 'other' WHERE record_id = 5 AND position = 1")

    with pytest.raises(CommandError, match=r"BROKEN at record 5: its content does not match its hash"):
        verify()


def test_a_record_removed_at_the_cut_is_found(chain):
    sql(f"DELETE FROM {RECORDS} WHERE seq = 4")

    with pytest.raises(CommandError, match=r"BROKEN at record 4: missing \(the next record is 5\)"):
        verify()


def test_a_record_changed_and_rehashed_at_the_cut_is_found_at_the_next(chain):
    record = AuditRecord.objects.get(seq=4)
    record.outcome = "failed"
    new_hash = record_hash(record.chain_values(), version=SNAPSHOT, key=audit_key())
    sql(
        f"UPDATE {RECORDS} SET outcome = 'failed', hash = %s, hash_version = %s WHERE seq = 4",
        [new_hash, SNAPSHOT],
    )

    with pytest.raises(CommandError, match=r"BROKEN at record 5: its prev_hash does not match record 4's"):
        verify()
