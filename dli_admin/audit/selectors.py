"""Audit reads: unsettled jobs, the chain read for verification, and the review pages."""

from __future__ import annotations

import json
import multiprocessing
import re
import uuid
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from asgiref.local import Local
from django.db import connection, connections, models, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, StrIndex, Upper
from django.utils import timezone

from dli_admin.projects.jobs import parse_job_id

from .chain import RECORD_FIELDS, ChainBroken, ChainStatus, snapshot_digest, utc_text, walk
from .checkpoints import Checkpoint, audit_key
from .models import (
    AuditDatabase,
    AuditIntentJob,
    AuditKind,
    AuditOutcome,
    AuditRecord,
    AuditRefusalRepeat,
    AuditSource,
    AuditUnsettledJob,
    JobSnapshot,
)


@dataclass(frozen=True)
class UnsettledJob:
    batch_id: uuid.UUID
    project_id: str
    job_id: int
    name: str


def audit_unsettled_jobs(
    *, project_id: str | None = None, job_ids: Iterable[int] | None = None
) -> list[UnsettledJob]:
    """Jobs with an intent but no result, or whose latest result is "unknown", oldest batch first.

    Read from AuditUnsettledJob, which audit.services keeps as it appends: as long as the unsettled
    jobs, not the log. Deletes only: a restore's job is settled by its own batch (found by name), never
    by reading the deleted job's id back, so restore intents never enter that table.
    """
    unsettled = AuditUnsettledJob.objects.all()
    if project_id is not None:
        unsettled = unsettled.filter(project_id=project_id)
    if job_ids is not None:
        job_ids = list(job_ids)
        if not job_ids:
            return []
        unsettled = unsettled.filter(job_id__in=job_ids)
    rows = unsettled.order_by("seq", "position").values_list("batch_id", "project_id", "job_id", "name")
    return [UnsettledJob(*row) for row in rows]


# --- The chain ------------------------------------------------------------------------------------


def read_snapshot():
    """PostgreSQL: one transaction, so server-side cursors need no WITH HOLD copy of the whole result.

    SQLite: none, since BEGIN IMMEDIATE would block every writer for as long as we read.
    """
    return transaction.atomic() if connection.vendor == "postgresql" else nullcontext()


def closable[T](rows: Iterator[T]) -> Generator[T, None, None]:
    """The rows as a generator, whose close() also closes `rows`: QuerySet.iterator() returns one, so
    closing it closes the server-side cursor, but its stubs only promise an Iterator (no close())."""
    yield from rows


def audit_database() -> str | None:
    """This database's audit identity, as checkpoints name it (None: it has none)."""
    database = AuditDatabase.objects.values_list("id", flat=True).first()
    return str(database) if database else None


def audit_head_checkpoint() -> Checkpoint | None:
    """A checkpoint of the chain's head as it is now (None: the log is empty), for keeping elsewhere."""
    head = AuditRecord.objects.order_by("-seq").values_list("seq", "hash", "created_at").first()
    database = audit_database()
    if head is None or database is None:
        return None
    seq, hash_, created_at = head
    at = created_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return Checkpoint(database=database, seq=seq, hash=hash_, at=at)


# The chain as audit_verify reads it: plain DB-API rows (no per-field converters), the time and batch id
# turned into the canonical text by the database (chain.walk takes them as they are), the refused ids
# decoded here only when there are any. A million records: most of the walk's time was the converters.
def _chain_sql(model: type[models.Model], names: Iterable[str], where: str, order: str) -> str:
    qn, columns = connection.ops.quote_name, []
    for name in names:
        field = model._meta.get_field(name)
        assert isinstance(field, models.Field) and field.column
        column = qn(field.column)
        if name == "created_at":  # canonical UTC text, "2026-01-02T03:04:05.000006Z"
            if connection.vendor == "postgresql":
                column = f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
            else:  # SQLite holds UTC as "2026-01-02 03:04:05.000006" (no fraction when it is zero)
                column = (
                    f"CASE length({column}) WHEN 26 THEN replace({column}, ' ', 'T') || 'Z' "
                    f"WHEN 19 THEN replace({column}, ' ', 'T') || '.000000Z' ELSE {column} END"
                )
        elif name == "batch_id":  # hyphenated lower-case hex; SQLite holds 32 hex digits
            if connection.vendor == "postgresql":
                column = f"CAST({column} AS text)"
            else:
                parts = "||'-'||".join(f"substr({column}, {a}, {b})" for a, b in _UUID_PARTS)
                column = f"CASE length({column}) WHEN 32 THEN lower({parts}) ELSE {column} END"
        elif name == "refused_job_ids" and connection.vendor == "postgresql":
            column = f"CAST({column} AS text)"
        columns.append(column)
    # Names from the models, values as parameters: nothing from a user goes into this text.
    return f"SELECT {', '.join(columns)} FROM {qn(model._meta.db_table)} WHERE {where} ORDER BY {order}"  # noqa: S608


_UUID_PARTS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))


def raw_rows(sql: str, params: list, chunk_size: int) -> Generator[tuple, None, None]:
    """Rows of a query from a server-side cursor on PostgreSQL (a plain one on SQLite), many per fetch;
    closing the generator closes the cursor.

    On PostgreSQL the next chunk is fetched on a thread while the caller works on this one: otherwise the
    server waits for each FETCH and the caller for each reply, up to a quarter of a long export's time.
    """
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        if connection.vendor != "postgresql":
            while rows := cursor.fetchmany(chunk_size):
                yield from rows
            return
        # The same cursor, so the same connection and transaction; psycopg serialises its use. Leaving
        # the pool waits for a fetch under way, before the cursor closes.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dli-admin-fetch") as fetcher:
            ahead = fetcher.submit(cursor.fetchmany, chunk_size)
            while rows := ahead.result():
                ahead = fetcher.submit(cursor.fetchmany, chunk_size)
                yield from rows


def _chain_range(column: str, after: int | None, last: int) -> tuple[str, list[int]]:
    """A WHERE clause for after < column <= last (no lower bound for None: a record before the first
    is part of the walk and found there)."""
    column = connection.ops.quote_name(column)
    if after is None:
        return f"{column} <= %s", [last]
    return f"{column} > %s AND {column} <= %s", [after, last]


def _chain_records(after: int | None, last: int, chunk_size: int) -> Generator[list, None, None]:
    names = (*RECORD_FIELDS, "hash_version", "hash")
    where, params = _chain_range("seq", after, last)
    sql = _chain_sql(AuditRecord, names, where, "1")
    refused, when = RECORD_FIELDS.index("refused_job_ids"), RECORD_FIELDS.index("created_at")
    for row in raw_rows(sql, params, chunk_size):
        record = list(row)
        ids = record[refused]
        record[refused] = [] if ids == "[]" else json.loads(ids)  # nearly every record has none
        if len(record[when]) != 27:  # not as Django stores it
            record[when] = _stored_time(record[when])
        yield record


def _stored_time(text: str) -> datetime | str:
    """A SQLite time in another form than Django's, as the driver would read it (naive is UTC); text
    that is no time stays as it is, and fails its hash."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _chain_lines(after: int | None, last: int, chunk_size: int) -> Generator[tuple, None, None]:
    names = ("record", "position", "batch_id", "project_id", "job_id", "name", "status")
    where, params = _chain_range("record_id", after, last)
    yield from raw_rows(_chain_sql(AuditIntentJob, names, where, "1, 2"), params, chunk_size)


# From this many records audit_verify walks the chain in two processes, the older half in a second one
# (forked): below it, starting one costs more than it saves.
PARALLEL_FROM = 100_000


def audit_chain_verify(
    *,
    chunk_size: int = 5000,
    expected_head: str = "",
    checkpoint: Checkpoint | None = None,
    parallel_from: int | None = None,
) -> ChainStatus:
    """Walk the chain in seq order and recompute every hash; raise ChainBroken at the first fault.

    Streams rows (no model instances) from two cursors, records and intent job lines, both in seq
    order, and merges them. Records appended while this runs are outside the walk (seq <= the head
    read at the start). `expected_head`, a head hash kept from an earlier run, must still be in the
    chain: that catches a chain rewritten from some record to its end, which hashes alone cannot.
    `checkpoint`, a signed checkpoint of this database, pins its record's hash; a chain that ends before
    that record lost its newest records (or all of them). Keyed records are checked with the audit key.

    A long chain (`parallel_from` records, PARALLEL_FROM by default) is walked in two parts at once:
    the older half in a forked process, the newer one here from the stored state of the half's last
    record. Each part runs the whole walk (chain.walk); the first fault of the older part wins, and the
    older part must end on exactly the state the newer one started from.
    """
    pin = (checkpoint.seq, checkpoint.hash) if checkpoint else None
    with read_snapshot():
        last = AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        split = _split(last) if last >= (parallel_from or PARALLEL_FROM) else None
        if split is None:
            status, found_expected = _walk_part(None, last, None, pin, expected_head, chunk_size).result()
        else:
            middle, start = split
            older_pin, newer_pin = (pin, None) if pin and pin[0] <= middle else (None, pin)
            context = multiprocessing.get_context("fork")
            with context.Pool(1, initializer=_detach_connections) as pool:
                older_part = (None, middle, None, older_pin, expected_head, chunk_size)
                older = pool.apply_async(_walk_part, older_part)
                newer = _walk_part(middle, last, start, newer_pin, expected_head, chunk_size)
                first = older.get().result()
            if first[0].head_seq != start[0] or first[0].head_hash != start[1]:
                raise ChainBroken(start[0] + 1, "the chain changed while it was verified: verify again")
            second = newer.result()
            status = ChainStatus(
                records=second[0].records,
                job_lines=first[0].job_lines + second[0].job_lines,
                head_seq=second[0].head_seq,
                head_hash=second[0].head_hash,
            )
            found_expected = first[1] or second[1]
        _snapshots_verify(last, chunk_size=max(1, chunk_size // 10))
    if status.head_seq != last:
        raise ChainBroken(status.head_seq + 1, "missing: the chain ends early")
    if not found_expected:
        raise ChainBroken(
            last, f"the expected head {expected_head} is not in the chain: records were rewritten or removed"
        )
    return status


@dataclass(frozen=True)
class _Part:
    """A part's outcome, as it crosses from the forked process (ChainBroken itself does not pickle)."""

    status: tuple[ChainStatus, bool] | None
    broken: tuple[int, str, str] | None = None  # seq, problem, where

    def result(self) -> tuple[ChainStatus, bool]:
        if self.broken is not None:
            seq, problem, where = self.broken
            raise ChainBroken(seq, problem, where=where)
        assert self.status is not None
        return self.status


def _walk_part(
    after: int | None,
    last: int,
    start: tuple[int, str, str, int] | None,
    pin: tuple[int, str] | None,
    expected_head: str,
    chunk_size: int,
) -> _Part:
    """chain.walk over the records after seq `after` up to `last` and their job lines."""
    with read_snapshot():
        records, lines = _chain_records(after, last, chunk_size), _chain_lines(after, last, chunk_size)
        with closing(records), closing(lines):  # close the cursors inside the transaction, even on error
            try:
                return _Part(walk(records, lines, expected_head, key=audit_key(), pin=pin, start=start))
            except ChainBroken as broken:
                return _Part(None, (broken.seq, broken.problem, broken.where))


def _split(last: int) -> tuple[int, tuple[int, str, str, int]] | None:
    """Where to cut the chain in two: the last record at or before its middle, as the walk's start."""
    names = ("seq", "hash", "created_at", "hash_version")
    sql = _chain_sql(AuditRecord, names, f"{connection.ops.quote_name('seq')} <= %s", "1 DESC")
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} LIMIT 1", [last // 2])
        row = cursor.fetchone()
    if row is None:
        return None
    seq, hash_, when, version = row
    if len(when) != 27:
        stored = _stored_time(when)
        when = stored if isinstance(stored, str) else utc_text(stored)
    return seq, (seq, hash_, when, version)


_inherited: list[object] = []  # the parent's connections, kept from the garbage collector in a fork


def _detach_connections() -> None:
    """In a forked process: open connections of its own, never touching (or closing) the parent's."""
    # Django keeps its connections in this Local: a fresh one makes new ones on first use.
    _inherited.append(connections._connections)  # type: ignore[attr-defined]
    connections._connections = Local(connections.thread_critical)  # type: ignore[attr-defined]


def _snapshots_verify(last: int, *, chunk_size: int) -> None:
    """Each stored snapshot still has the digest it was stored with, and each digest in the chain (whose
    records were just verified) names a stored snapshot of that job (of that batch, for a delete)."""
    snapshots = closable(
        JobSnapshot.objects.order_by("id").values_list("id", "digest", "definition").iterator(chunk_size)
    )
    with closing(snapshots):
        for snapshot_id, digest, definition in snapshots:
            if snapshot_digest(definition) != digest:
                cited = (
                    AuditRecord.objects.filter(seq__lte=last, snapshot_digest=digest)
                    .order_by("seq")
                    .values_list("seq", flat=True)
                    .first()
                )
                raise ChainBroken(
                    cited or 0,
                    "its definition no longer matches its digest: the snapshot was changed"
                    + (f" (record {cited} carries that digest)" if cited else ""),
                    where=f"snapshot {snapshot_id}",
                )
    same = JobSnapshot.objects.filter(
        digest=OuterRef("snapshot_digest"), job_id=OuterRef("job_id"), project_id=OuterRef("project_id")
    )
    orphan = (
        AuditRecord.objects.filter(seq__lte=last)
        .exclude(snapshot_digest="")
        .filter(
            (Q(source=AuditSource.RESTORE) & ~Exists(same))
            | (~Q(source=AuditSource.RESTORE) & ~Exists(same.filter(batch_id=OuterRef("batch_id"))))
        )
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )
    if orphan is not None:
        raise ChainBroken(
            orphan,
            "its snapshot digest names no stored snapshot of its job: the snapshot was changed or removed",
        )


# --- Review pages ---------------------------------------------------------------------------------

REFUSED = "refused"  # the outcome filter's name for refusals
ACCESS = "access"  # the outcome filter's name for access changes (grants, projects, user flags)
PAGE_SIZE = 50
MAX_ID = 2**63 - 1  # job ids and seqs are 64-bit signed integers in the database


_OUTCOMES = tuple(AuditOutcome.values)  # the enum's .values builds a new list on every read


def _in_order(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Outcome counts in a fixed order for display, zeros left out."""
    return [(outcome, counts[outcome]) for outcome in _OUTCOMES if counts.get(outcome)]


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""  # username, exact
    project_id: str = ""
    outcome: str = ""  # an AuditOutcome value, REFUSED or ACCESS
    job: str = ""  # digits: a job id; anything else: part of a job name
    date_from: date | None = None  # local dates, both inclusive
    date_to: date | None = None

    @property
    def job_id(self) -> int | None:
        """The job filter as a DLI job id (a Java long), or None when it is (part of) a name."""
        return parse_job_id(self.job)


@dataclass
class BatchRow:
    """A row of the review list: a batch's intent with its outcome counts, or a refusal."""

    head: AuditRecord
    job_count: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # latest outcome of each job -> jobs
    repeats: int = 0  # a refusal: how often it was repeated within a minute after (AuditRefusalRepeat)

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


def date_range[QS: QuerySet](records: QS, filters: AuditFilters, prefix: str = "") -> QS:
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
    heads: QuerySet[AuditRecord] = AuditRecord.objects.exclude(kind=AuditKind.RESULT)
    if scope is not None:
        heads = heads.filter(project_id__in=scope)
    if filters.actor:
        heads = heads.filter(actor_username=filters.actor)
    if filters.project_id:
        heads = heads.filter(project_id=filters.project_id)
    heads = _seq_range(heads, filters)
    if filters.outcome == REFUSED:
        heads = heads.filter(kind=AuditKind.REFUSAL)
    elif filters.outcome == ACCESS:
        heads = heads.filter(kind=AuditKind.ACCESS)
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
            heads = heads.filter(
                seq__in=lines_named(AuditIntentJob.objects.all(), filters.job).values("record_id")
            )
    return heads


_WORD = re.compile(r"[^\W_]+")  # a run of letters and digits: what pg_trgm makes trigrams of


def lines_named[QS: QuerySet](lines: QS, text: str) -> QS:
    """Those of `lines` whose name contains `text`, in any case (icontains): for the list and the export.

    On PostgreSQL the trigram index (audit 0010) is asked only for the text's longest run of letters and
    digits, and the whole text is checked on the lines it finds, by an expression the index cannot take:
    with every trigram of the text, a part that nearly all names share (a team's "flink-job-" prefix) makes
    the index read nearly all its entries (at 0.91 M lines: 46 ms for "flink-job-145536", 5 ms for "145536").
    """
    longest = max(_WORD.findall(text), key=len, default="")
    if connection.vendor != "postgresql" or len(longest) < 3 or longest == text:
        return lines.filter(name__icontains=text)
    whole = StrIndex(Upper("name"), Upper(Value(text)))
    return lines.filter(name__icontains=longest).alias(whole_at=whole).filter(whole_at__gt=0)


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
    # Each head's job count and repeats come in the page's query (a lookup per row shown), not in two more.
    lines = AuditIntentJob.objects.filter(record_id=OuterRef("seq")).order_by().values("record_id")
    shown = heads.annotate(
        job_count=Coalesce(Subquery(lines.annotate(n=Count("position")).values("n")), 0),
        repeats=Coalesce(Subquery(AuditRefusalRepeat.objects.filter(seq=OuterRef("seq")).values("count")), 0),
    )
    if after is not None:
        found = list(shown.filter(seq__gt=after).order_by("seq")[: size + 1])
        if not found:  # nothing newer (any more): show the newest page
            return audit_batch_page(scope=scope, filters=filters, size=size)
        newer = found[size - 1].seq if len(found) > size else None
        found = found[:size][::-1]
        older = found[-1].seq if found and heads.filter(seq__lt=found[-1].seq).exists() else None
    else:
        page = shown.filter(seq__lt=before) if before is not None else shown
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


def _with_counts(heads: Sequence[AuditRecord]) -> list[BatchRow]:
    """Rows for heads annotated with job_count and repeats (audit_batch_page), with their outcome counts."""
    rows = [
        BatchRow(head=head, job_count=head.job_count, repeats=head.repeats)  # type: ignore[attr-defined]
        for head in heads
    ]
    intents = {row.head.seq: row for row in rows if row.head.kind == AuditKind.INTENT}
    if not intents:
        return rows
    # An intent always has a batch id; a None would name no batch (an IN list drops it) anyway.
    by_batch = {row.head.batch_id: row for row in intents.values() if row.head.batch_id is not None}
    outcomes = (
        _latest_results(by_batch).order_by().values_list("batch_id", "outcome").annotate(n=Count("seq"))
    )
    for batch_id, outcome, n in outcomes:
        by_batch[batch_id].counts[outcome] = n
    return rows


@dataclass(frozen=True)
class BatchJob:
    """One job of a batch: as selected, and its newest result (None: no result yet)."""

    job_id: int | None  # None: a result stored without a job id (not one audit.services writes)
    name: str
    status: str
    latest: AuditRecord | None
    results: int
    snapshot: JobSnapshot | None = None  # the definition kept before its delete, or restored from


@dataclass(frozen=True)
class BatchDetail:
    batch_id: uuid.UUID
    intent: AuditRecord | None
    jobs: list[BatchJob]
    results: list[AuditRecord]  # every result in chain order, later reconcile results included
    counts: dict[str, int]
    snapshots: dict[int, JobSnapshot] = field(default_factory=dict)  # job id -> the snapshot its results name

    @property
    def is_restore(self) -> bool:
        return self.intent is not None and self.intent.source == AuditSource.RESTORE

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
    matching = AuditRecord.objects.filter(batch_id=batch_id)
    if scope is not None:
        matching = matching.filter(project_id__in=scope)
    records = list(matching.order_by("seq"))
    if not records:
        return None
    intent = next((record for record in records if record.kind == AuditKind.INTENT), None)
    results = [record for record in records if record.kind == AuditKind.RESULT]
    # Keyed by job id; None only for a result stored without one (a damaged record), shown as such.
    latest: dict[int | None, AuditRecord] = {}
    tally: dict[int | None, int] = {}
    for result in results:
        latest[result.job_id] = result
        tally[result.job_id] = tally.get(result.job_id, 0) + 1
    digests = {result.job_id: result.snapshot_digest for result in results if result.snapshot_digest}
    by_digest = {
        snapshot.digest: snapshot
        for snapshot in JobSnapshot.objects.filter(digest__in=set(digests.values())).order_by("id")
    }
    snapshots = {
        job_id: by_digest[d] for job_id, d in digests.items() if job_id is not None and d in by_digest
    }
    selected = intent.jobs.order_by("position") if intent else AuditIntentJob.objects.none()
    jobs = [
        BatchJob(
            line.job_id,
            line.name,
            line.status,
            latest.pop(line.job_id, None),
            tally.get(line.job_id, 0),
            snapshots.get(line.job_id),
        )
        for line in selected
    ]
    # Results for jobs the intent does not list (should not happen) are shown, not hidden.
    jobs += [BatchJob(r.job_id, r.job_name, "", r, tally[r.job_id]) for r in latest.values()]
    counts: dict[str, int] = {}
    for job in jobs:
        if job.latest:
            counts[job.latest.outcome] = counts.get(job.latest.outcome, 0) + 1
    return BatchDetail(
        batch_id=batch_id, intent=intent, jobs=jobs, results=results, counts=counts, snapshots=snapshots
    )


def snapshots_document(
    snapshots: Iterable[JobSnapshot], *, batch_id: uuid.UUID, project_id: str
) -> dict[str, object]:
    """Snapshots as one JSON document (a whole batch's, or one job's): what a download hands out."""
    return {
        "batch_id": str(batch_id),
        "project_id": project_id,
        "note": (
            "Job definitions kept by dli-admin before each delete; "
            "checkpoints and savepoints are not part of them."
        ),
        "jobs": [snapshot.as_document() for snapshot in snapshots],
    }
