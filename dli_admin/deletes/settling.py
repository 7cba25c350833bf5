"""How dli-admin decides what became of each job: right after its delete, and later by reconcile.

DLI's batch reply carries no job ids (docs/dli-api.md §1), so a reply alone never decides: every job DLI
may have deleted is read back. The two fate rules below differ on purpose and sit side by side:
- right after a delete (`settled_fate`, used by the batch runner), a job that still exists after an
  ambiguous answer is "unknown": DLI may still be working on it;
- reconcile (`reconciled_fate`), which runs later, takes "still exists" as "failed".
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone

from dli_admin.audit.models import AuditOutcome
from dli_admin.audit.selectors import UnsettledJob, audit_unsettled_jobs
from dli_admin.audit.services import AuditJobResult, audit_results_record
from dli_admin.dli import ChunkOutcome, ChunkResult, DliError, ErrorCategory, ReplyShape
from dli_admin.projects.connections import dli_client_for
from dli_admin.projects.models import DliProject
from dli_admin.projects.selectors import ReadBack, flink_jobs_read
from dli_admin.projects.statuses import status_label

from .models import LIVE_BATCH_STATES, DeleteBatch, DeleteBatchJob, JobState

DELETED, FAILED, UNKNOWN = AuditOutcome.DELETED, AuditOutcome.FAILED, AuditOutcome.UNKNOWN

# Refusals that happen before DLI acts on anything.
_UNTOUCHED = frozenset(
    {ErrorCategory.AUTH, ErrorCategory.FORBIDDEN, ErrorCategory.THROTTLED, ErrorCategory.NETWORK}
)


def provably_untouched(chunk: ChunkResult) -> bool:
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
        if reply is None:  # a per-id reply has an element for every id; kept safe all the same
            return "DLI's reply had no element for this job"
        return None if reply.is_success else reply.message or "DLI said it failed"
    if chunk.outcome == ChunkOutcome.REPLIED:
        return f"DLI's reply could not be matched to each job ({chunk.shape})"
    return f"DLI's answer was ambiguous: {chunk.error}"


@dataclass(frozen=True)
class Reply:
    """What DLI answered to the chunk that carried one job, as the batch keeps it."""

    replied: bool  # False: the worker stopped before an answer came (or before it was recorded)
    ambiguous: bool  # the answer leaves the job's fate open (a timeout, a 5xx after sending)
    problem: str  # "": DLI said it deleted the job


def reply_of(chunk: ChunkResult, job_id: int) -> Reply:
    problem = chunk_problem(chunk, job_id)
    return Reply(replied=True, ambiguous=chunk.outcome == ChunkOutcome.AMBIGUOUS, problem=problem or "")


def settled_fate(read: ReadBack, job_id: int, reply: Reply) -> tuple[str, str] | None:
    """Right after the delete: one job's outcome and message from DLI's answer and the read-back.

    None when the read-back could not tell (the read failed): the batch reads again later.
    """
    if job_id in read.unknown:
        return None
    if job_id in read.gone:
        return DELETED, "" if reply.replied and not reply.problem else "confirmed gone by read-back"
    if not reply.replied:
        return FAILED, (
            "not deleted: the worker stopped while this job's delete was in flight, and the job still "
            "exists in DLI; it was not sent again"
        )
    if reply.ambiguous:
        return UNKNOWN, f"{reply.problem}; the job still exists for now"  # DLI may still be working on it
    if not reply.problem:
        return UNKNOWN, "DLI said deleted, but still lists the job"
    return FAILED, reply.problem


def gave_up_reading(reply: Reply, problem: str) -> tuple[str, str]:
    """The read-back kept failing until the batch's deadline: the fate stays unknown (reconcile)."""
    said = reply.problem or (
        "DLI said deleted" if reply.replied else "the worker stopped before DLI answered"
    )
    return UNKNOWN, f"{said}; reading it back failed: {problem}"


def reconciled_fate(read: ReadBack, job_id: int) -> tuple[str, str]:
    """Later, when no batch works on the job any more: still there means it was not deleted."""
    if job_id in read.gone:
        return DELETED, "confirmed gone by a later read-back"
    if job_id in read.found:
        status = status_label(read.found[job_id].status)
        return FAILED, f"the job still exists in DLI ({status}): it was not deleted"
    return UNKNOWN, f"still unknown: {read.unknown.get(job_id, '')}"


def _held_by_live_batches(job_ids: Iterable[tuple[uuid.UUID, int]]) -> set[tuple[uuid.UUID, int]]:
    """Of these (batch, job) pairs, those a live batch still works on: its worker settles them."""
    pairs = set(job_ids)
    if not pairs:
        return set()
    live = DeleteBatchJob.objects.filter(
        batch_id__in={batch_id for batch_id, _ in pairs}, batch__state__in=LIVE_BATCH_STATES
    ).values_list("batch_id", "job_id")
    return pairs & set(live)


def flink_jobs_held_unsettled(*, project_id: str | None = None) -> list[DeleteBatch]:
    """Live batches with unsettled jobs in the audit log: their workers settle them, not reconcile."""
    unsettled = audit_unsettled_jobs(project_id=project_id)
    held = _held_by_live_batches((job.batch_id, job.job_id) for job in unsettled)
    # A batch no worker has started yet has no audit intent yet: it counts too.
    waiting = DeleteBatch.objects.filter(state__in=LIVE_BATCH_STATES).exclude(selection=[])
    if project_id is not None:
        waiting = waiting.filter(project_id_text=project_id)
    batches = DeleteBatch.objects.filter(
        Q(pk__in={batch_id for batch_id, _ in held}) | Q(pk__in=waiting.values("pk"))
    )
    return list(batches.order_by("created_at"))


def _batch_rows_follow(batch_id: uuid.UUID, results: Iterable[AuditJobResult]) -> None:
    """The batch's own rows take the reconciled outcome, so its page and its counts say what the log says.

    A delete from before background batches has no rows: nothing to update. The audit log stays the record.
    """
    now = timezone.now()
    for result in results:
        # Only a new outcome: a page polling the batch swaps in rows whose settled_at moved.
        rows = DeleteBatchJob.objects.filter(batch_id=batch_id, job_id=result.job_id, state=JobState.SETTLED)
        rows.exclude(outcome=result.outcome).update(
            outcome=result.outcome, message=result.message[:2000], settled_at=now
        )


def flink_jobs_reconcile(
    *,
    project_id: str | None = None,
    job_ids: Iterable[int] | None = None,
    actor: Any = None,
) -> list[AuditJobResult]:
    """Settle jobs whose fate the audit log does not know (DLI was ambiguous, a project was removed
    while its batch ran, or a delete from before background batches) by reading them back.

    Appends a result per job (never edits earlier records). Used by `audit_reconcile` and "check again".
    Jobs that a live batch still works on are left to its worker, which resumes after any crash.
    """
    unsettled = audit_unsettled_jobs(project_id=project_id, job_ids=job_ids)
    held = _held_by_live_batches((job.batch_id, job.job_id) for job in unsettled)
    by_batch: dict[tuple[str, uuid.UUID], list[UnsettledJob]] = defaultdict(list)
    for job in unsettled:
        if (job.batch_id, job.job_id) not in held:
            by_batch[(job.project_id, job.batch_id)].append(job)
    settled: list[AuditJobResult] = []
    projects = {p.project_id: p for p in DliProject.objects.filter(project_id__in={k[0] for k in by_batch})}
    by_project: dict[str, list[tuple[uuid.UUID, list[UnsettledJob]]]] = defaultdict(list)
    for (batch_project_id, batch_id), jobs in by_batch.items():
        by_project[batch_project_id].append((batch_id, jobs))
    for batch_project_id, batches in by_project.items():
        project = projects.get(batch_project_id)
        if project is None:
            continue  # the project was removed from dli-admin: nothing to read it with
        # One read-back per project, however many batches its unsettled jobs come from.
        every_job = [job.job_id for _, jobs in batches for job in jobs]
        read = flink_jobs_read(client=dli_client_for(project), job_ids=every_job)
        for batch_id, jobs in batches:
            results = [
                AuditJobResult(job_id=job.job_id, name=job.name, outcome=outcome, message=message)
                for job in jobs
                for outcome, message in [reconciled_fate(read, job.job_id)]
            ]
            audit_results_record(
                batch_id=batch_id,
                actor=actor,
                project_id=batch_project_id,
                results=results,
                source="reconcile",
            )
            _batch_rows_follow(batch_id, results)
            settled += results
    return settled
