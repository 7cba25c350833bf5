"""How dli-admin decides what became of each job: right after its delete, and later by reconcile.

DLI's batch reply carries no job ids (docs/dli-api.md §1), so a reply alone never decides: every job DLI
may have deleted is read back. The two fate rules below differ on purpose and sit side by side:
- right after a delete (`flink_jobs_delete_and_settle`), a job that still exists after an ambiguous
  answer is "unknown": DLI may still be working on it;
- reconcile (`flink_jobs_reconcile`), which runs later, takes "still exists" as "failed".
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from django.utils import timezone

from dli_admin.audit.models import AuditOutcome
from dli_admin.audit.selectors import audit_unsettled_jobs
from dli_admin.audit.services import AuditJobResult, audit_results_record
from dli_admin.dli import ChunkOutcome, ChunkResult, DliClient, DliError, ErrorCategory, ReplyShape
from dli_admin.projects.connections import dli_client_for
from dli_admin.projects.jobs import JobRef
from dli_admin.projects.models import DliProject
from dli_admin.projects.selectors import ReadBack, flink_jobs_read
from dli_admin.projects.statuses import status_label

from .models import CLAIM_TTL, JobClaim

DELETED, FAILED, UNKNOWN = AuditOutcome.DELETED, AuditOutcome.FAILED, AuditOutcome.UNKNOWN

# Refusals that happen before DLI acts on anything.
_UNTOUCHED = frozenset(
    {ErrorCategory.AUTH, ErrorCategory.FORBIDDEN, ErrorCategory.THROTTLED, ErrorCategory.NETWORK}
)


def _provably_untouched(chunk: ChunkResult) -> bool:
    """Auth, permissions, throttling, no connection, or not sent at all."""
    return chunk.attempts == 0 or (chunk.error is not None and chunk.error.category in _UNTOUCHED)


def refusal_message(error: DliError | None) -> str:
    """What an operator reads for a delete DLI refused."""
    if error is None:
        return "DLI refused the request"
    if error.category == ErrorCategory.THROTTLED:
        return "throttled by DLI: its rate limit held after every retry; try again in a minute"
    if error.category == ErrorCategory.AUTH:
        return (
            f"DLI rejected dli-admin's credentials ({error.code or error.status}): fix the DLI configuration"
        )
    return str(error)


def chunk_problem(chunk: ChunkResult, job_id: int) -> str | None:
    """What DLI's answer to a chunk says went wrong for one of its jobs; None: DLI said it deleted it."""
    if chunk.outcome == ChunkOutcome.REFUSED:
        # A 400 for a whole batch: DLI may still have deleted some ids (undocumented), so read back.
        return refusal_message(chunk.error)
    if chunk.outcome == ChunkOutcome.REPLIED and chunk.shape == ReplyShape.PER_ID:
        reply = chunk.reply_for(job_id)
        return None if reply.is_success else reply.message or "DLI said it failed"
    if chunk.outcome == ChunkOutcome.REPLIED:
        return f"DLI's reply could not be matched to each job ({chunk.shape})"
    return f"DLI's answer was ambiguous: {chunk.error}"


def settled_fate(read: ReadBack, job_id: int, chunk: ChunkResult, problem: str | None) -> tuple[str, str]:
    """Right after the delete: the outcome and message of one job, from DLI's answer and the read-back."""
    if job_id in read.gone:
        return DELETED, "" if problem is None else "confirmed gone by read-back"
    if job_id in read.found:
        if chunk.outcome == ChunkOutcome.AMBIGUOUS:
            return UNKNOWN, f"{problem}; the job still exists for now"  # DLI may still be working on it
        if problem is None:
            return UNKNOWN, "DLI said deleted, but still lists the job"
        return FAILED, problem
    return UNKNOWN, f"{problem or 'DLI said deleted'}; reading it back failed: {read.unknown.get(job_id, '')}"


def reconciled_fate(read: ReadBack, job_id: int) -> tuple[str, str]:
    """Later, when no batch works on the job any more: still there means it was not deleted."""
    if job_id in read.gone:
        return DELETED, "confirmed gone by a later read-back"
    if job_id in read.found:
        status = status_label(read.found[job_id].status)
        return FAILED, f"the job still exists in DLI ({status}): it was not deleted"
    return UNKNOWN, f"still unknown: {read.unknown.get(job_id, '')}"


def flink_jobs_delete_and_settle(client: DliClient, jobs: list[JobRef]) -> dict[int, AuditJobResult]:
    """Send the deletes in chunks, then read back every job DLI may have deleted to learn its fate."""
    by_id = {job.job_id: job for job in jobs}
    settled: dict[int, AuditJobResult] = {}
    to_read: dict[int, tuple[ChunkResult, str | None]] = {}
    for chunk in client.iter_batch_delete(list(by_id)):
        for job_id in chunk.job_ids:
            if chunk.outcome == ChunkOutcome.REFUSED and _provably_untouched(chunk):
                settled[job_id] = _result(by_id[job_id], chunk, FAILED, refusal_message(chunk.error))
            else:
                to_read[job_id] = (chunk, chunk_problem(chunk, job_id))
    if to_read:
        read = flink_jobs_read(client=client, job_ids=to_read)
        for job_id, (chunk, problem) in to_read.items():
            outcome, message = settled_fate(read, job_id, chunk, problem)
            settled[job_id] = _result(by_id[job_id], chunk, outcome, message)
    return settled


def _result(job: JobRef, chunk: ChunkResult, outcome: str, message: str) -> AuditJobResult:
    error = chunk.error
    return AuditJobResult(
        job_id=job.job_id,
        name=job.name,
        outcome=outcome,
        message=message,
        error_code=(error.code or "") if error else "",
        dli_request_id=chunk.request_id or (error.request_id if error and error.request_id else "") or "",
        attempts=chunk.attempts,
        duration_ms=int(chunk.duration * 1000),
    )


def _live_claims() -> set[tuple[uuid.UUID, int]]:
    recent = JobClaim.objects.filter(claimed_at__gte=timezone.now() - CLAIM_TTL)
    return set(recent.values_list("batch_id", "job_id"))


def flink_jobs_held_unsettled(*, project_id: str | None = None) -> int:
    """Unsettled jobs that a batch still claims: it may be running now, so reconciling leaves them alone."""
    live = _live_claims()
    return sum((job.batch_id, job.job_id) in live for job in audit_unsettled_jobs(project_id=project_id))


def flink_jobs_reconcile(
    *,
    project_id: str | None = None,
    job_ids: Iterable[int] | None = None,
    actor=None,
    include_claimed: bool = False,
) -> list[AuditJobResult]:
    """Settle jobs whose fate the audit log does not know (a crash, or DLI was ambiguous) by reading them.

    Appends a result per job (never edits earlier records). Used by `audit_reconcile` and "check again".
    Jobs still claimed by their batch are left alone (it may be running) unless `include_claimed`: for
    a batch whose process is known to be gone; their claims are released once settled.
    """
    unsettled = audit_unsettled_jobs(project_id=project_id, job_ids=job_ids)
    if not include_claimed:
        live = _live_claims()
        unsettled = [job for job in unsettled if (job.batch_id, job.job_id) not in live]
    by_batch: dict[tuple[str, uuid.UUID], list] = defaultdict(list)
    for job in unsettled:
        by_batch[(job.project_id, job.batch_id)].append(job)
    settled: list[AuditJobResult] = []
    projects = {p.project_id: p for p in DliProject.objects.filter(project_id__in={k[0] for k in by_batch})}
    for (batch_project_id, batch_id), jobs in by_batch.items():
        project = projects.get(batch_project_id)
        if project is None:
            continue  # the project was removed from dli-admin: nothing to read it with
        read = flink_jobs_read(client=dli_client_for(project), job_ids=[job.job_id for job in jobs])
        results = [
            AuditJobResult(job_id=job.job_id, name=job.name, outcome=outcome, message=message)
            for job in jobs
            for outcome, message in [reconciled_fate(read, job.job_id)]
        ]
        audit_results_record(
            batch_id=batch_id, actor=actor, project_id=batch_project_id, results=results, source="reconcile"
        )
        JobClaim.objects.filter(batch_id=batch_id, job_id__in=[job.job_id for job in jobs]).delete()
        settled += results
    return settled
