"""Reads of delete batches for their pages: progress, rows, and what settled since the last look."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from dli_admin.audit.models import AuditOutcome, JobSnapshot
from dli_admin.projects.models import DliProject

from .models import BatchState, DeleteBatch, DeleteBatchJob, JobState

BATCH_PAGE_SIZE = 100


@dataclass(frozen=True)
class BatchProgress:
    batch: DeleteBatch
    total: int
    settled: int
    sent: int  # sent to DLI, not yet settled
    counts: dict[str, int]  # outcome -> jobs, settled ones only
    now: datetime

    @property
    def running(self) -> bool:
        return self.batch.state != BatchState.ENDED

    @property
    def outcome_counts(self) -> list[tuple[str, int]]:
        return [
            (outcome, self.counts[outcome]) for outcome in AuditOutcome.values if self.counts.get(outcome)
        ]

    @property
    def elapsed(self) -> timedelta:
        start = self.batch.started_at or self.batch.created_at
        end = self.batch.ended_at or self.now
        return max(end - start, timedelta(0))

    @property
    def remaining(self) -> timedelta | None:
        """A straight-line estimate from the pace so far; None until there is a pace to go by."""
        if not self.running or not self.settled or not self.batch.started_at:
            return None
        pace = self.elapsed.total_seconds() / self.settled
        return timedelta(seconds=math.ceil(pace * (self.total - self.settled)))

    @property
    def summary(self) -> str:
        return ", ".join(f"{n} {outcome}" for outcome, n in self.outcome_counts) or "nothing settled yet"


def batch_for(*, project: DliProject, batch_id: uuid.UUID) -> DeleteBatch | None:
    return DeleteBatch.objects.filter(pk=batch_id, project_id_text=project.project_id).first()


def batch_progress(batch: DeleteBatch) -> BatchProgress:
    """One grouped query over the batch's jobs (indexed by batch and state)."""
    rows = (
        DeleteBatchJob.objects.filter(batch=batch)
        .values_list("state", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[str, int] = {}
    settled = sent = 0
    for state, outcome, n in rows:
        if state == JobState.SETTLED:
            settled += n
            counts[outcome] = counts.get(outcome, 0) + n
        elif state == JobState.SENT:
            sent += n
    return BatchProgress(
        batch=batch, total=batch.total, settled=settled, sent=sent, counts=counts, now=timezone.now()
    )


def batch_rows(batch: DeleteBatch, *, page: int = 1, outcome: str = "") -> tuple[list[DeleteBatchJob], int]:
    """One page of the batch's jobs in their confirmed order, and the number of pages."""
    rows = DeleteBatchJob.objects.filter(batch=batch)
    if outcome:
        rows = rows.filter(outcome=outcome)
    total = rows.count()
    pages = max(1, math.ceil(total / BATCH_PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * BATCH_PAGE_SIZE
    return list(rows.order_by("position")[start : start + BATCH_PAGE_SIZE]), pages


def batch_rows_settled(
    batch: DeleteBatch, *, job_ids: Iterable[int], since: datetime | None
) -> list[DeleteBatchJob]:
    """Of these jobs (the rows a page shows), those settled after `since`: the rows to swap in."""
    wanted = list(job_ids)
    if not wanted:
        return []
    rows = DeleteBatchJob.objects.filter(batch=batch, job_id__in=wanted, state=JobState.SETTLED)
    if since is not None:
        rows = rows.filter(settled_at__gt=since)
    return list(rows.order_by("position"))


def batches_live(*, project: DliProject | None = None) -> list[DeleteBatch]:
    """Batches not ended yet, newest first (the projects page and the audit pages link them)."""
    batches = DeleteBatch.objects.filter(~Q(state=BatchState.ENDED))
    if project is not None:
        batches = batches.filter(project=project)
    return list(batches.order_by("-created_at")[:20])


def batch_snapshots(batch: DeleteBatch, *, job_ids: Iterable[int] | None = None) -> dict[int, JobSnapshot]:
    """Job id -> the snapshot each job of the batch names (kept before its delete, or restored from).

    `job_ids`: only these jobs (a page of the batch); None: every job of the batch.
    """
    rows = DeleteBatchJob.objects.filter(batch=batch).exclude(snapshot_digest="")
    if job_ids is not None:
        rows = rows.filter(job_id__in=list(job_ids))
    digests = dict(rows.values_list("job_id", "snapshot_digest"))
    by_digest = {
        snapshot.digest: snapshot
        for snapshot in JobSnapshot.objects.filter(
            project_id=batch.project_id_text, digest__in=set(digests.values())
        ).order_by("id")
    }
    return {job_id: by_digest[digest] for job_id, digest in digests.items() if digest in by_digest}


def batch_holding(*, project: DliProject, job_id: int) -> DeleteBatch | None:
    """The newest batch of this project that holds this job (where a no-JS "Check again" goes back to)."""
    row = (
        DeleteBatchJob.objects.filter(project_id_text=project.project_id, job_id=job_id)
        .select_related("batch")
        .order_by("-batch__created_at")
        .first()
    )
    return row.batch if row else None
