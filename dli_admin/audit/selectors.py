"""Audit reads: unsettled jobs for the jobs page and reconciliation."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import OuterRef, Q, Subquery

from .models import AuditIntentJob, AuditKind, AuditOutcome, AuditRecord


@dataclass(frozen=True)
class UnsettledJob:
    batch_id: uuid.UUID
    project_id: str
    job_id: int
    name: str


def latest_outcome(batch_ref: str = "batch_id", job_ref: str = "job_id") -> Subquery:
    """The outcome of the newest result of a job in a batch (None: no result yet)."""
    return Subquery(
        AuditRecord.objects.filter(
            kind=AuditKind.RESULT, batch_id=OuterRef(batch_ref), job_id=OuterRef(job_ref)
        )
        .order_by("-seq")
        .values("outcome")[:1]
    )


def audit_unsettled_jobs(
    *, project_id: str | None = None, job_ids: Iterable[int] | None = None
) -> list[UnsettledJob]:
    """Jobs with an intent but no result, or whose latest result is "unknown", oldest batch first."""
    lines = AuditIntentJob.objects.all()
    if project_id is not None:
        lines = lines.filter(project_id=project_id)
    if job_ids is not None:
        job_ids = list(job_ids)
        if not job_ids:
            return []
        lines = lines.filter(job_id__in=job_ids)
    lines = (
        lines.annotate(latest=latest_outcome())
        .filter(Q(latest__isnull=True) | Q(latest=AuditOutcome.UNKNOWN))
        .order_by("record_id", "position")
        .values_list("batch_id", "project_id", "job_id", "name")
    )
    return [UnsettledJob(*line) for line in lines]
