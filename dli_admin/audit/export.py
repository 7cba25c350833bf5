"""The audit log as CSV: every job record matching a filter, streamed from server-side cursors.

Times are ISO 8601 in UTC to the second ("2026-01-02T03:04:05Z"), whatever the server's time zone.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import re
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from itertools import islice

from django.core.exceptions import EmptyResultSet
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from .models import AuditIntentJob, AuditKind, AuditRecord, access_change
from .selectors import ACCESS, REFUSED, AuditFilters, date_range, lines_named, raw_rows, read_snapshot

# The CSV header, in column order.
EXPORT_COLUMNS = (
    "time",
    "batch id",
    "kind",
    "actor",
    "project id",
    "job id",
    "job name",
    "status at intent",
    "outcome",
    "message",
    "error code",
    "DLI request id",
    "attempts",
    "duration ms",
    "client ip",
    "source",
    "seq",
    "snapshot digest",  # a deleted job's kept definition (JobSnapshot), as its result record holds it
    # An access change: the subject user, the role, and before/after as JSON (the record's message).
    "subject",
    "role",
    "change",
)
NO_ACCESS = ("", "", "")  # the access columns of every other row
NO_DIGEST = ""

# A spreadsheet runs a cell as a formula when it starts with = + - @ (tab and CR too, OWASP), also after
# leading whitespace or zero-width characters, and in their full-width forms (U+FF1D U+FF0B U+FF0D U+FF20).
FORMULA = re.compile(r"[\t\r]|[\s\u200b\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20]")


def csv_text(value: str) -> str:
    """Text for a cell; one a spreadsheet would run as a formula (FORMULA) gets a leading quote (ASVS
    1.2.10). A cell that starts with a letter or digit cannot be one, so most skip the pattern."""
    if value and not value[0].isalnum() and FORMULA.match(value):
        return f"'{value}"
    return value


def csv_time(value: datetime) -> str:
    """An aware time as ISO 8601 UTC to the second: 2026-01-02T03:04:05Z."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def csv_cell(value: object) -> object:
    """Any value as a cell: None empty, times in UTC, UUIDs as text, text defused (csv_text)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return csv_time(value)
    if isinstance(value, str):
        return csv_text(value)
    if isinstance(value, (int, float)):
        return value
    return str(value)


def _text(column: str) -> Cast:
    return Cast(column, output_field=TextField())


def _uuid(text: str | None) -> str:
    """A batch id's text, hyphenated (SQLite stores 32 hex digits, PostgreSQL gives the usual form)."""
    if text is None:
        return ""
    return text if len(text) != 32 else f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _rows(query: QuerySet, chunk_size: int) -> Generator[tuple, None, None]:
    """A values_list query's rows as the driver gives them, without Django's iteration per row: every
    column read here is text, an integer or a Cast to text, none of which has a converter."""
    try:
        sql, params = query.query.sql_with_params()
    except EmptyResultSet:  # .none(), or filters that can match nothing
        return _no_rows()
    return raw_rows(sql, list(params), chunk_size)


def _no_rows() -> Generator[tuple, None, None]:
    yield from ()


def audit_export_rows(
    *, scope: set[str] | None, filters: AuditFilters, chunk_size: int = 2000
) -> Iterator[tuple]:
    """Every job record matching the filters, oldest first, one tuple of CSV cells per EXPORT_COLUMNS row.

    Row by row, not batch by batch: the job filter keeps that job's rows, the outcome filter keeps
    results with that outcome (or refusals). Two server-side cursors, intent job lines and
    results/refusals, merged on seq: memory stays flat at any size.
    """
    lines = AuditIntentJob.objects.all()
    records = AuditRecord.objects.all()
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
    # The intents whose lines are exported: their time, batch, actor, project and address, read once per
    # intent and not joined to each of its lines (a join costs the database an index lookup per line).
    intent_heads = records.filter(kind=AuditKind.INTENT)
    records = records.filter(kind__in=[AuditKind.RESULT, AuditKind.REFUSAL, AuditKind.ACCESS])
    if filters.outcome == REFUSED:
        lines, records = lines.none(), records.filter(kind=AuditKind.REFUSAL)
    elif filters.outcome == ACCESS:
        lines, records = lines.none(), records.filter(kind=AuditKind.ACCESS)
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
            lines = lines_named(lines, filters.job)
            records = records.filter(kind=AuditKind.RESULT, job_name__icontains=filters.job)
    # Times and batch ids as the database's text, not parsed into objects and formatted back: both
    # backends hold connections in UTC, so the first 19 characters are the time to the second.
    line_fields = ["record_id", "position", "job_id", "name", "status"]
    intent_fields: list[str | Cast] = [
        "seq",
        _text("created_at"),
        _text("batch_id"),
        "actor_username",
        "project_id",
        "client_ip",
    ]
    record_fields: list[str | Cast] = [
        "seq",
        _text("created_at"),
        "kind",
        _text("batch_id"),
        "actor_username",
    ]
    record_fields += [
        "project_id",
        "job_id",
        "job_name",
        "outcome",
        "message",
        "error_code",
        "dli_request_id",
    ]
    # The refused ids as their JSON text: nearly every record has none ("[]"), which needs no decoder.
    record_fields += ["attempts", "duration_ms", "client_ip", "source", "reason", _text("refused_job_ids")]
    record_fields += ["snapshot_digest"]
    # Plain strings: comparing with the enum's members costs more per row.
    intent, result, access = AuditKind.INTENT.value, AuditKind.RESULT.value, AuditKind.ACCESS.value

    # Generators, not just iterators: closing one closes its server-side cursor. Each yields
    # (seq, position, row) with the row's cells ready for the CSV writer; (seq, position) is unique
    # across both, so merging never compares rows. An intent's lines share its time, batch, actor,
    # project and address: their cells are made once per intent.
    def intent_rows() -> Generator[tuple, None, None]:
        query = lines.order_by("record_id", "position").values_list(*line_fields)
        # Both in seq order: the intent of each line is found by walking forward, never back.
        heads = _rows(intent_heads.order_by("seq").values_list(*intent_fields), chunk_size)
        seq_of_cells: int | None = None
        head: tuple[object, ...] = ()
        tail: tuple[object, ...] = ()
        line_rows = _rows(query, chunk_size)
        with closing(heads), closing(line_rows):
            for seq, position, job_id, name, status in line_rows:
                if seq != seq_of_cells:
                    seq_of_cells = seq
                    found = next((row for row in heads if row[0] == seq), None)
                    if found is None:  # a line whose intent the filters left out: the two queries disagree
                        raise RuntimeError(f"audit export: no intent record {seq} for its job lines")
                    _seq, when, batch_id, actor, project_id, ip = found
                    head = (f"{when[:10]}T{when[11:19]}Z", _uuid(batch_id), intent, csv_text(actor))
                    head += (csv_text(project_id),)
                    tail = ("", "", "", "", "", "", csv_text(ip), "", seq, NO_DIGEST, *NO_ACCESS)
                yield seq, position, (*head, job_id, csv_text(name), csv_text(status), *tail)

    def record_rows() -> Generator[tuple, None, None]:
        query = records.order_by("seq").values_list(*record_fields)
        # A batch's results follow each other: its id, actor and project cells are made once for the run.
        batch_text, batch_cell = None, ""
        who: tuple[str, str] | None = None
        who_cells = ("", "")
        for r in _rows(query, chunk_size):
            seq, when, kind, batch_id, actor, project_id = r[:6]
            if batch_id != batch_text:
                batch_text, batch_cell = batch_id, _uuid(batch_id)
            if (actor, project_id) != who:
                who, who_cells = (actor, project_id), (csv_text(actor), csv_text(project_id))
            common = (f"{when[:10]}T{when[11:19]}Z", batch_cell, kind, *who_cells)
            if kind == result:
                job_id, name, outcome, message, code, request_id, attempts, duration, _ip, source = r[6:16]
                yield (
                    seq,
                    0,
                    (*common, job_id, csv_text(name), "", outcome, csv_text(message), csv_text(code))
                    + (csv_text(request_id), attempts, duration, "", source, seq, r[18], *NO_ACCESS),
                )
                continue
            if kind == access:
                message, ip, source, reason = r[9], r[14], r[15], r[16]
                change = access_change(message)
                yield (
                    seq,
                    0,
                    (
                        *common,
                        "",
                        "",
                        "",
                        "",
                        csv_text(reason),
                        "",
                        "",
                        "",
                        "",
                        csv_text(ip),
                        source,
                        seq,
                        NO_DIGEST,
                    )
                    + (csv_text(str(change.get("subject", ""))), csv_text(str(change.get("role") or "")))
                    + (csv_text(message),),
                )
                continue
            ip, reason, refused = r[14], r[16], ([] if r[17] == "[]" else json.loads(r[17]))
            refused = [i for i in refused if i == wanted_id] if wanted_id else refused
            for position, refused_id in enumerate(refused or [""]):
                yield (
                    seq,
                    position,
                    (*common[:1], "", *common[2:], csv_cell(refused_id), "", "", REFUSED, csv_text(reason))
                    + ("", "", "", "", csv_text(ip), "", seq, NO_DIGEST, *NO_ACCESS),
                )

    with read_snapshot():
        intents, others = intent_rows(), record_rows()
        with closing(intents), closing(others):  # a client that goes away mid-download closes the cursors
            for _seq, _position, row in heapq.merge(intents, others):
                yield row


def audit_export_csv(rows: Iterable[tuple], *, rows_per_chunk: int = 500) -> Iterator[str]:
    """The header, then the rows as CSV text in chunks of many rows (one write per chunk, not per row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    rows = iter(rows)
    while chunk := list(islice(rows, rows_per_chunk)):  # no Python work per row here
        writer.writerows(chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no rows: the header alone
        yield buffer.getvalue()
