"""Audit reads: unsettled jobs, the chain check, and the review pages."""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Iterable, Iterator
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from .chain import GENESIS, RECORD_FIELDS, record_hash
from .models import AuditIntentJob, AuditKind, AuditOutcome, AuditRecord


@dataclass(frozen=True)
class UnsettledJob:
    batch_id: uuid.UUID
    project_id: str
    job_id: int
    name: str


def latest_outcome(batch_ref: str = "batch_id", job_ref: str = "job_id") -> Subquery:
    """The outcome of the newest result of a job in a batch (None: no result yet)."""
    # Only results have a job id; naming no kind keeps SQLite on the (batch_id, job_id, seq) index.
    return Subquery(
        AuditRecord.objects.filter(batch_id=OuterRef(batch_ref), job_id=OuterRef(job_ref))
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


# --- The chain ------------------------------------------------------------------------------------


class ChainBroken(Exception):
    """The first place where the stored chain differs from what its hashes promise."""

    def __init__(self, seq: int, problem: str):
        super().__init__(f"record {seq}: {problem}")
        self.seq = seq
        self.problem = problem


@dataclass(frozen=True)
class ChainStatus:
    records: int
    job_lines: int
    head_seq: int
    head_hash: str


def _snapshot():
    """PostgreSQL: one transaction, so server-side cursors need no WITH HOLD copy of the whole result.

    SQLite: none, since BEGIN IMMEDIATE would block every writer for as long as we read.
    """
    return transaction.atomic() if connection.vendor == "postgresql" else nullcontext()


def audit_chain_verify(*, chunk_size: int = 5000, expected_head: str = "") -> ChainStatus:
    """Walk the chain in seq order and recompute every hash; raise ChainBroken at the first fault.

    Streams tuples (no model instances) from two cursors, records and intent job lines, both in seq
    order, and merges them. Records appended while this runs are outside the walk (seq <= the head
    read at the start). `expected_head`, a head hash kept from an earlier run, must still be in the
    chain: that catches a chain rewritten from some record to its end, which hashes alone cannot.
    """
    with _snapshot():
        last = AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        records = (
            AuditRecord.objects.filter(seq__lte=last)
            .order_by("seq")
            .values_list(*RECORD_FIELDS, "hash")
            .iterator(chunk_size=chunk_size)
        )
        lines = (
            AuditIntentJob.objects.filter(record_id__lte=last)
            .order_by("record_id", "position")
            .values_list("record_id", "position", "batch_id", "project_id", "job_id", "name", "status")
            .iterator(chunk_size=chunk_size)
        )
        with closing(records), closing(lines):  # close the cursors inside the transaction, even on error
            status, found_expected = _walk(records, lines, expected_head)
    if status.head_seq != last:
        raise ChainBroken(status.head_seq + 1, "missing: the chain ends early")
    if not found_expected:
        raise ChainBroken(
            last, f"the expected head {expected_head} is not in the chain: records were rewritten or removed"
        )
    return status


_SEQ, _CREATED_AT, _BATCH_ID, _PROJECT_ID, _PREV_HASH = (
    RECORD_FIELDS.index(name) for name in ("seq", "created_at", "batch_id", "project_id", "prev_hash")
)


def _walk(records: Iterator[tuple], lines: Iterator[tuple], expected_head: str) -> tuple[ChainStatus, bool]:
    seq, prev_hash, line_count, found_expected = 0, GENESIS, 0, not expected_head
    prev_time = datetime.min.replace(tzinfo=UTC)
    line = next(lines, None)
    for row in records:
        values, stored_hash = row[:-1], row[-1]
        if values[_SEQ] != seq + 1:
            if values[_SEQ] > seq + 1:
                raise ChainBroken(seq + 1, f"missing (the next record is {values[_SEQ]}): it was removed")
            raise ChainBroken(values[_SEQ], f"out of sequence (expected {seq + 1}): it was inserted")
        seq += 1
        jobs, copy_problem = [], ""
        while line is not None and line[0] <= seq:
            record_id, position, batch_id, project_id, *job = line
            if record_id < seq:
                raise ChainBroken(record_id, f"job line {position} has no record: it was inserted")
            if position != len(jobs):
                raise ChainBroken(seq, f"job line {len(jobs)} is missing: it was removed")
            if batch_id != values[_BATCH_ID] or project_id != values[_PROJECT_ID]:
                copy_problem = copy_problem or f"job line {position} names another batch or project: changed"
            jobs.append(job)
            line_count += 1
            line = next(lines, None)
        if record_hash(values, jobs) != stored_hash:
            raise ChainBroken(seq, "its content does not match its hash: the record or its jobs changed")
        if copy_problem:
            raise ChainBroken(seq, copy_problem)
        if values[_CREATED_AT] < prev_time:
            raise ChainBroken(seq, f"its time is before record {seq - 1}'s: it was changed and re-hashed")
        if values[_PREV_HASH] != prev_hash:
            raise ChainBroken(
                seq,
                f"its prev_hash does not match record {seq - 1}'s hash: "
                "a record before it was changed and re-hashed, removed or inserted",
            )
        found_expected = found_expected or stored_hash == expected_head
        prev_hash, prev_time = stored_hash, values[_CREATED_AT]
    if line is not None:
        raise ChainBroken(line[0], f"job line {line[1]} has no record: it was inserted")
    return ChainStatus(records=seq, job_lines=line_count, head_seq=seq, head_hash=prev_hash), found_expected


# --- Review pages ---------------------------------------------------------------------------------

REFUSED = "refused"  # the outcome filter's name for refusals
PAGE_SIZE = 50
MAX_ID = 2**63 - 1  # job ids and seqs are 64-bit signed integers in the database


def _in_order(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Outcome counts in a fixed order for display, zeros left out."""
    return [(outcome, counts[outcome]) for outcome in AuditOutcome.values if counts.get(outcome)]


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""  # username, exact
    project_id: str = ""
    outcome: str = ""  # an AuditOutcome value, or REFUSED
    job: str = ""  # digits: a job id; anything else: part of a job name
    date_from: date | None = None  # local dates, both inclusive
    date_to: date | None = None

    @property
    def job_id(self) -> int | None:
        """The job filter as a DLI job id (a Java long), or None when it is (part of) a name."""
        if self.job.isascii() and self.job.isdigit() and int(self.job) <= MAX_ID:
            return int(self.job)
        return None


@dataclass
class BatchRow:
    """A row of the review list: a batch's intent with its outcome counts, or a refusal."""

    head: AuditRecord
    job_count: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # latest outcome of each job -> jobs

    @property
    def no_result(self) -> int:
        """Jobs with no result at all: the process died before writing them (or is still running)."""
        return max(self.job_count - sum(self.counts.values()), 0)

    @property
    def outcome_counts(self) -> list[tuple[str, int]]:
        return _in_order(self.counts)


@dataclass(frozen=True)
class BatchPage:
    rows: list[BatchRow]
    older: int | None  # cursor for the next older page (seq to go below), None: this is the oldest
    newer: int | None  # cursor for the next newer page (seq to go above), None: this is the newest


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _date_range(records: QuerySet, filters: AuditFilters, prefix: str = "") -> QuerySet:
    if filters.date_from:
        records = records.filter(**{f"{prefix}created_at__gte": _start_of(filters.date_from)})
    if filters.date_to:
        records = records.filter(
            **{f"{prefix}created_at__lt": _start_of(filters.date_to + timedelta(days=1))}
        )
    return records


def _seq_range(records: QuerySet[AuditRecord], filters: AuditFilters) -> QuerySet[AuditRecord]:
    """The date range as a seq range (time never runs backwards along the chain): two index lookups,
    then the newest-first walk starts at the right place instead of filtering its way there."""
    if filters.date_from:
        first = (
            AuditRecord.objects.filter(created_at__gte=_start_of(filters.date_from))
            .order_by("created_at", "seq")
            .values_list("seq", flat=True)
            .first()
        )
        records = records.filter(seq__gte=first) if first else records.none()
    if filters.date_to:
        last = (
            AuditRecord.objects.filter(created_at__lt=_start_of(filters.date_to + timedelta(days=1)))
            .order_by("-created_at", "-seq")
            .values_list("seq", flat=True)
            .first()
        )
        records = records.filter(seq__lte=last) if last else records.none()
    return records


# One job id is in a handful of batches; past this many, the oldest are not listed by a job id filter.
JOB_MATCH_LIMIT = 10_000


def _heads(scope: set[str] | None, filters: AuditFilters) -> QuerySet[AuditRecord]:
    """Intents and refusals the user may read that match the filters; a job or outcome filter picks
    the batches that hold such a job or such a result.

    Written for SQLite's planner as much as PostgreSQL's: "not a result" rather than "kind IN (...)"
    so the newest-first walk follows the primary key, and subqueries that name a batch or job but
    not the kind, so the only index that fits them is (batch_id, job_id, seq).
    """
    heads = AuditRecord.objects.exclude(kind=AuditKind.RESULT)
    if scope is not None:
        heads = heads.filter(project_id__in=scope)
    if filters.actor:
        heads = heads.filter(actor_username=filters.actor)
    if filters.project_id:
        heads = heads.filter(project_id=filters.project_id)
    heads = _seq_range(heads, filters)
    if filters.outcome == REFUSED:
        heads = heads.filter(kind=AuditKind.REFUSAL)
    elif filters.outcome:  # only results have an outcome; only intents share their batch id
        results = AuditRecord.objects.filter(batch_id=OuterRef("batch_id"), outcome=filters.outcome)
        heads = heads.filter(Exists(results))
    if filters.job:
        if (job_id := filters.job_id) is not None:
            # Two index lookups into a short list of records: an OR of the two conditions inside the
            # walk would make PostgreSQL scan every record (measured: 272 ms at 10^6 records).
            # A refusal keeps the posted ids as JSON strings: match one whole element.
            intents = AuditIntentJob.objects.filter(job_id=job_id).values_list("record_id", flat=True)
            refusals = AuditRecord.objects.filter(
                kind=AuditKind.REFUSAL, refused_job_ids__icontains=f'"{job_id}"'
            ).values_list("seq", flat=True)
            heads = heads.filter(seq__in=[*intents[:JOB_MATCH_LIMIT], *refusals[:JOB_MATCH_LIMIT]])
        else:
            lines = AuditIntentJob.objects.filter(name__icontains=filters.job)
            heads = heads.filter(seq__in=lines.values("record_id"))
    return heads


def audit_batch_page(
    *,
    scope: set[str] | None,
    filters: AuditFilters,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> BatchPage:
    """One page of batches and refusals, newest first, by keyset on seq: no OFFSET, no COUNT.

    `before` gives the page of records older than that seq, `after` the page just newer than it; a
    record written meanwhile has a higher seq and so never shifts the page being read.
    """
    heads = _heads(scope, filters)
    if after is not None:
        found = list(heads.filter(seq__gt=after).order_by("seq")[: size + 1])
        if not found:  # nothing newer (any more): show the newest page
            return audit_batch_page(scope=scope, filters=filters, size=size)
        newer = found[size - 1].seq if len(found) > size else None
        found = found[:size][::-1]
        older = found[-1].seq if found and heads.filter(seq__lt=found[-1].seq).exists() else None
    else:
        page = heads.filter(seq__lt=before) if before is not None else heads
        found = list(page.order_by("-seq")[: size + 1])
        older = found[size - 1].seq if len(found) > size else None
        found = found[:size]
        newer = (
            found[0].seq
            if before is not None and found and heads.filter(seq__gt=found[0].seq).exists()
            else None
        )
    return BatchPage(rows=_with_counts(found), older=older, newer=newer)


def _latest_results(batch_ids: Iterable[uuid.UUID]) -> QuerySet[AuditRecord]:
    """The newest result of every job of these batches (a reconcile result supersedes the delete's)."""
    # A job id marks a result (intents and refusals have none); no kind, as in _heads.
    newer = AuditRecord.objects.filter(
        batch_id=OuterRef("batch_id"),
        job_id=OuterRef("job_id"),
        seq__gt=OuterRef("seq"),
    )
    return AuditRecord.objects.filter(batch_id__in=list(batch_ids), job_id__isnull=False).exclude(
        Exists(newer)
    )


def _with_counts(heads: list[AuditRecord]) -> list[BatchRow]:
    rows = [BatchRow(head=head) for head in heads]
    intents = {row.head.seq: row for row in rows if row.head.kind == AuditKind.INTENT}
    if not intents:
        return rows
    job_counts = (
        AuditIntentJob.objects.filter(record_id__in=list(intents))
        .order_by()
        .values_list("record_id")
        .annotate(n=Count("position"))
    )
    for record_id, n in job_counts:
        intents[record_id].job_count = n
    by_batch = {row.head.batch_id: row for row in intents.values()}
    outcomes = (
        _latest_results(by_batch).order_by().values_list("batch_id", "outcome").annotate(n=Count("seq"))
    )
    for batch_id, outcome, n in outcomes:
        by_batch[batch_id].counts[outcome] = n
    return rows


@dataclass(frozen=True)
class BatchJob:
    """One job of a batch: as selected, and its newest result (None: no result yet)."""

    job_id: int
    name: str
    status: str
    latest: AuditRecord | None
    results: int


@dataclass(frozen=True)
class BatchDetail:
    batch_id: uuid.UUID
    intent: AuditRecord | None
    jobs: list[BatchJob]
    results: list[AuditRecord]  # every result in chain order, later reconcile results included
    counts: dict[str, int]

    @property
    def head(self) -> AuditRecord:
        return self.intent or self.results[0]

    @property
    def outcome_counts(self) -> list[tuple[str, int]]:
        return _in_order(self.counts)

    @property
    def no_result(self) -> int:
        return sum(1 for job in self.jobs if job.latest is None)


def audit_batch_read(*, scope: set[str] | None, batch_id: uuid.UUID) -> BatchDetail | None:
    """A batch's intent, jobs and results, or None when it does not exist for this user."""
    records = AuditRecord.objects.filter(batch_id=batch_id)
    if scope is not None:
        records = records.filter(project_id__in=scope)
    records = list(records.order_by("seq"))
    if not records:
        return None
    intent = next((record for record in records if record.kind == AuditKind.INTENT), None)
    results = [record for record in records if record.kind == AuditKind.RESULT]
    latest: dict[int, AuditRecord] = {}
    tally: dict[int, int] = {}
    for result in results:
        latest[result.job_id] = result
        tally[result.job_id] = tally.get(result.job_id, 0) + 1
    selected = intent.jobs.order_by("position") if intent else AuditIntentJob.objects.none()
    jobs = [
        BatchJob(
            line.job_id, line.name, line.status, latest.pop(line.job_id, None), tally.get(line.job_id, 0)
        )
        for line in selected
    ]
    # Results for jobs the intent does not list (should not happen) are shown, not hidden.
    jobs += [BatchJob(r.job_id, r.job_name, "", r, tally[r.job_id]) for r in latest.values()]
    counts: dict[str, int] = {}
    for job in jobs:
        if job.latest:
            counts[job.latest.outcome] = counts.get(job.latest.outcome, 0) + 1
    return BatchDetail(batch_id=batch_id, intent=intent, jobs=jobs, results=results, counts=counts)


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
    lines, records = _date_range(lines, filters, "record__"), _date_range(records, filters)
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
    line_fields = ("record_id", "position", "record__created_at", "batch_id", "record__actor_username")
    line_fields += ("project_id", "job_id", "name", "status", "record__client_ip")
    record_fields = ("seq", "created_at", "kind", "batch_id", "actor_username", "project_id", "job_id")
    record_fields += ("job_name", "outcome", "message", "error_code", "dli_request_id", "attempts")
    record_fields += ("duration_ms", "client_ip", "source", "reason", "refused_job_ids")

    def intent_rows() -> Iterator[tuple]:
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

    def record_rows() -> Iterator[tuple]:
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

    with _snapshot():
        intents, others = intent_rows(), record_rows()
        with closing(intents), closing(others):  # a client that goes away mid-download closes the cursors
            for _key, row in heapq.merge(intents, others, key=itemgetter(0)):
                yield row
