"""The audit log as CSV rows: every job record matching a filter, streamed from server-side cursors."""

from __future__ import annotations

import heapq
from collections.abc import Generator, Iterator
from contextlib import closing
from operator import itemgetter

from django.db.models import Q

from .models import AuditIntentJob, AuditKind, AuditRecord
from .selectors import REFUSED, AuditFilters, date_range, read_snapshot

# CSV header -> the name _export_row takes it by.
EXPORT_COLUMNS = {
    "time": "time",
    "batch id": "batch_id",
    "kind": "kind",
    "actor": "actor",
    "project id": "project_id",
    "job id": "job_id",
    "job name": "job_name",
    "status at intent": "status",
    "outcome": "outcome",
    "message": "message",
    "error code": "error_code",
    "DLI request id": "dli_request_id",
    "attempts": "attempts",
    "duration ms": "duration_ms",
    "client ip": "client_ip",
    "source": "source",
    "seq": "seq",
    "snapshot digest": "snapshot_digest",
}


def _export_row(**cells: object) -> tuple:
    return tuple(cells.get(name, "") for name in EXPORT_COLUMNS.values())


def audit_export_rows(
    *, scope: set[str] | None, filters: AuditFilters, chunk_size: int = 2000
) -> Iterator[tuple]:
    """Every job record matching the filters, oldest first, one tuple per EXPORT_COLUMNS row.

    Row by row, not batch by batch: the job filter keeps that job's rows, the outcome filter keeps
    results with that outcome (or refusals). Two server-side cursors, intent job lines and
    results/refusals, merged on seq: memory stays flat at any size.
    """
    lines = AuditIntentJob.objects.all()
    records = AuditRecord.objects.filter(kind__in=[AuditKind.RESULT, AuditKind.REFUSAL])
    if scope is not None:
        lines, records = lines.filter(project_id__in=scope), records.filter(project_id__in=scope)
    if filters.actor:
        lines, records = (
            lines.filter(record__actor_username=filters.actor),
            records.filter(actor_username=filters.actor),
        )
    if filters.project_id:
        lines, records = (
            lines.filter(project_id=filters.project_id),
            records.filter(project_id=filters.project_id),
        )
    lines, records = date_range(lines, filters, "record__"), date_range(records, filters)
    if filters.outcome == REFUSED:
        lines, records = lines.none(), records.filter(kind=AuditKind.REFUSAL)
    elif filters.outcome:
        lines, records = lines.none(), records.filter(kind=AuditKind.RESULT, outcome=filters.outcome)
    wanted_id = ""  # a refusal's rows: only the refused id the job filter asks for
    if filters.job:
        if (job_id := filters.job_id) is not None:
            wanted_id = str(job_id)
            lines = lines.filter(job_id=job_id)
            records = records.filter(
                Q(kind=AuditKind.RESULT, job_id=job_id)
                | Q(kind=AuditKind.REFUSAL, refused_job_ids__icontains=f'"{job_id}"')
            )
        else:
            lines = lines.filter(name__icontains=filters.job)
            records = records.filter(kind=AuditKind.RESULT, job_name__icontains=filters.job)
    line_fields: tuple[str, ...] = ("record_id", "position", "record__created_at", "batch_id")
    line_fields += ("record__actor_username", "project_id", "job_id", "name", "status", "record__client_ip")
    record_fields: tuple[str, ...] = ("seq", "created_at", "kind", "batch_id", "actor_username")
    record_fields += ("project_id", "job_id", "job_name", "outcome", "message", "error_code")
    record_fields += ("dli_request_id", "attempts", "duration_ms", "client_ip", "source", "reason")
    record_fields += ("refused_job_ids", "snapshot_digest")

    # Generators, not just iterators: closing one closes its server-side cursor.
    def intent_rows() -> Generator[tuple, None, None]:
        query = lines.order_by("record_id", "position").values_list(*line_fields, named=True)
        for line in query.iterator(chunk_size=chunk_size):
            yield (
                (line.record_id, line.position),
                _export_row(
                    time=line.record__created_at,
                    batch_id=line.batch_id,
                    kind=AuditKind.INTENT.value,
                    actor=line.record__actor_username,
                    project_id=line.project_id,
                    job_id=line.job_id,
                    job_name=line.name,
                    status=line.status,
                    client_ip=line.record__client_ip,
                    seq=line.record_id,
                ),
            )

    def record_rows() -> Generator[tuple, None, None]:
        query = records.order_by("seq").values_list(*record_fields, named=True)
        for r in query.iterator(chunk_size=chunk_size):
            common = {
                "time": r.created_at,
                "kind": r.kind,
                "actor": r.actor_username,
                "project_id": r.project_id,
            }
            if r.kind == AuditKind.RESULT:
                yield (
                    (r.seq, 0),
                    _export_row(
                        **common,
                        batch_id=r.batch_id,
                        job_id=r.job_id,
                        job_name=r.job_name,
                        outcome=r.outcome,
                        message=r.message,
                        error_code=r.error_code,
                        dli_request_id=r.dli_request_id,
                        attempts=r.attempts,
                        duration_ms=r.duration_ms,
                        source=r.source,
                        seq=r.seq,
                        snapshot_digest=r.snapshot_digest,
                    ),
                )
                continue
            refused = [i for i in r.refused_job_ids if i == wanted_id] if wanted_id else r.refused_job_ids
            for position, refused_id in enumerate(refused or [""]):
                yield (
                    (r.seq, position),
                    _export_row(
                        **common,
                        job_id=refused_id,
                        outcome=REFUSED,
                        message=r.reason,
                        client_ip=r.client_ip,
                        seq=r.seq,
                    ),
                )

    with read_snapshot():
        intents, others = intent_rows(), record_rows()
        with closing(intents), closing(others):  # a client that goes away mid-download closes the cursors
            for _key, row in heapq.merge(intents, others, key=itemgetter(0)):
                yield row
