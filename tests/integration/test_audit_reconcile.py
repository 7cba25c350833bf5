"""audit_reconcile: jobs whose delete has no settled result are read back from DLI, settled by appending."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from dli_admin.audit.models import AuditRecord
from dli_admin.audit.selectors import audit_unsettled_jobs
from dli_admin.audit.services import AuditJobResult, audit_intent_record, audit_results_record
from dli_admin.deletes.management.commands import audit_reconcile
from dli_admin.projects.jobs import JobRef

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("audit_reconcile", *args, stdout=out)
    return out.getvalue().strip()


def test_it_reads_unsettled_jobs_back_from_dli_and_appends_what_it_learns(simulator, project_a, operator):
    pid = project_a.project_id
    still_there = simulator.add_job(pid, name="rc-still-there", status="job_cancel_success")
    ambiguous = simulator.add_job(pid, name="rc-ambiguous", status="job_cancel_success")
    settled = simulator.add_job(pid, name="rc-settled", status="job_cancel_success")
    gone = max(still_there, ambiguous, settled) + 1_000_000  # never existed: DLI answers "no such job"
    batch_id = uuid.uuid4()
    audit_intent_record(
        batch_id=batch_id,
        actor=operator,
        project_id=pid,
        project_name=project_a.name,
        jobs=[
            JobRef(job_id, name, "job_cancel_success")
            for job_id, name in [
                (still_there, "rc-still-there"),
                (gone, "rc-gone"),
                (ambiguous, "rc-ambiguous"),
                (settled, "rc-settled"),
            ]
        ],
        client_ip="192.0.2.1",
        user_agent="pytest",
    )
    # The process died after DLI's ambiguous answer for one job and a clear failure for another.
    audit_results_record(
        batch_id=batch_id,
        actor=operator,
        project_id=pid,
        results=[
            AuditJobResult(ambiguous, "rc-ambiguous", "unknown", "timeout"),
            AuditJobResult(settled, "rc-settled", "failed", "DLI said no"),
        ],
    )
    before = list(AuditRecord.objects.order_by("seq").values_list())

    assert run("--project", pid) == "settled 3 jobs: 1 deleted, 2 still exist (failed)"

    assert list(AuditRecord.objects.order_by("seq").values_list())[: len(before)] == before  # nothing edited
    appended = AuditRecord.objects.filter(seq__gt=len(before)).order_by("seq")
    assert {(r.job_id, r.outcome, r.source, r.actor_username) for r in appended} == {
        (still_there, "failed", "reconcile", ""),
        (gone, "deleted", "reconcile", ""),
        (ambiguous, "failed", "reconcile", ""),
    }
    assert audit_unsettled_jobs() == []
    assert run() == "nothing to settle: every delete in the audit log has a result"
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue().startswith(f"audit chain OK: {len(before) + 3} records")


def test_the_summary_counts_each_outcome(monkeypatch):
    calls = []

    def fake_reconcile(*, project_id=None, actor=None):
        calls.append((project_id, actor))
        outcomes = ["deleted", "deleted", "failed", "unknown", "deleted"]
        return [AuditJobResult(n, f"job-{n}", outcome) for n, outcome in enumerate(outcomes)]

    monkeypatch.setattr(audit_reconcile, "flink_jobs_reconcile", fake_reconcile)
    monkeypatch.setattr(audit_reconcile, "flink_jobs_held_unsettled", lambda **kwargs: [])

    assert run() == "settled 5 jobs: 3 deleted, 1 still exists (failed), 1 unknown"
    assert calls == [(None, None)]


def test_it_refuses_a_malformed_project_id():
    with pytest.raises(CommandError, match="letters and digits"):
        run("--project", "../etc")
