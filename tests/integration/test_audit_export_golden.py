"""The CSV export's bytes for a fixed audit log are pinned: a faster export must write exactly these.

tests/integration/audit_export_golden/*.csv were written by the export before its speed work; the log
holds every kind of row (intent lines, results, refusals with and without ids, an access change), text
a spreadsheet would run, non-ASCII text, times without a fraction of a second, both time zones' edges.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dli_admin.audit.export import audit_export_csv, audit_export_rows
from dli_admin.audit.models import AuditIntentJob, AuditRecord
from dli_admin.audit.selectors import AuditFilters

pytestmark = pytest.mark.django_db
GOLDEN = Path(__file__).parent / "audit_export_golden"
A, B = "a" * 32, "b" * 32
START = datetime(2026, 1, 2, 23, 59, 59, tzinfo=UTC)


def fixed_log() -> None:
    records, lines = [], []

    def add(kind: str, jobs=(), **fields) -> None:
        seq = len(records) + 1
        when = START + timedelta(seconds=seq * 7, microseconds=0 if seq % 3 == 0 else seq * 1001)
        record = AuditRecord(
            seq=seq, created_at=when, kind=kind, prev_hash="0" * 64, hash=f"{seq:064x}", **fields
        )
        records.append(record)
        for position, (job_id, name, status) in enumerate(jobs):
            lines.append(
                AuditIntentJob(
                    record_id=seq,
                    position=position,
                    batch_id=record.batch_id,
                    project_id=record.project_id,
                    job_id=job_id,
                    name=name,
                    status=status,
                )
            )

    one, two = uuid.UUID("12345678-1234-4678-9234-567812345678"), uuid.UUID(int=0xABCDEF, version=4)
    common = {"actor_id": 3, "actor_username": "olivia", "client_ip": "192.0.2.1", "user_agent": "UA"}
    jobs = [
        (11, "etl-nightly", "job_finished"),
        (12, "=cmd|' /C calc'!A0", "job_running"),
        (13, 'Zürich, "q"', ""),
    ]
    add("intent", jobs, batch_id=one, project_id=A, project_name="A", **common)
    add(
        "result",
        batch_id=one,
        project_id=A,
        job_id=11,
        job_name="etl-nightly",
        outcome="deleted",
        source="delete",
        dli_request_id="req-1",
        attempts=1,
        duration_ms=120,
        **common,
    )
    add(
        "result",
        batch_id=one,
        project_id=A,
        job_id=12,
        job_name="=cmd|' /C calc'!A0",
        outcome="failed",
        message="+DLI said no\nsecond line",
        error_code="DLI.0001",
        dli_request_id="req-2",
        attempts=3,
        duration_ms=900,
        source="delete",
        snapshot_digest="cd" * 32,
        **common,
    )
    add(
        "refusal",
        project_id=B,
        reason="role viewer may not delete jobs",
        refused_job_ids=["21", "22"],
        actor_id=5,
        actor_username="victor",
        client_ip="198.51.100.7",
        user_agent="UA",
    )
    add("refusal", project_id=B, reason="@no ids", refused_job_ids=[], actor_username="", client_ip="")
    add("intent", [(21, "other", "job_finished")], batch_id=two, project_id=B, project_name="B", **common)
    add(
        "result",
        batch_id=two,
        project_id=B,
        job_id=21,
        job_name="other",
        outcome="unknown",
        source="restore",
        attempts=0,
        duration_ms=0,
        **common,
    )
    change = {"subject": "victor", "role": "operator", "before": None, "after": "operator"}
    add(
        "access",
        project_id=A,
        reason="granted operator to victor",
        message=json.dumps(change),
        source="command",
        actor_username="root",
        client_ip="",
    )
    AuditRecord.objects.bulk_create(records)
    AuditIntentJob.objects.bulk_create(lines)


def export(**filters) -> str:
    rows = audit_export_rows(scope=None, filters=AuditFilters(**filters), chunk_size=3)
    return "".join(audit_export_csv(rows, rows_per_chunk=2))


CASES = {
    "all": {},
    "job-21": {"job": "21"},
    "job-name": {"job": "cmd"},
    "refused": {"outcome": "refused"},
    "failed": {"outcome": "failed"},
    "project-b": {"project_id": B},
}


@pytest.mark.parametrize("case", CASES)
def test_the_export_writes_the_pinned_bytes(case):
    fixed_log()

    assert export(**CASES[case]) == (GOLDEN / f"{case}.csv").read_text(encoding="utf-8", newline="")
