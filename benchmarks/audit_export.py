"""Time the CSV export of the whole audit log of N records (default 1,000,000): rows/s and memory.

    .venv/bin/python benchmarks/audit_export.py [N] [--database-url URL] [--reuse] [--no-peer]

Uses the database of benchmarks/audit_verify.py (same loader). Streams the export view's response
through Django's test client as an auditor, counting rows; the peer is the export as it was before
(named-tuple rows, a formula check and a local-time conversion per cell, one write per row), measured
in the same run over the same rows.
"""

from __future__ import annotations

import argparse
import csv
import re
import resource
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_verify import prepare  # noqa: E402

FORMULA = re.compile(r"[\t\r]|[\s\u200b\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20]")


def export_before():
    """The rows and CSV lines as the export made them before: the peer."""
    import heapq
    from operator import itemgetter

    from django.utils import timezone

    from dli_admin.audit.export import EXPORT_COLUMNS
    from dli_admin.audit.models import AuditIntentJob, AuditRecord

    names = ("time", "batch_id", "kind", "actor", "project_id", "job_id", "job_name", "status", "outcome")
    names += (
        "message",
        "error_code",
        "dli_request_id",
        "attempts",
        "duration_ms",
        "client_ip",
        "source",
        "seq",
    )

    def row(**cells):
        return tuple(cells.get(name, "") for name in names)

    def cell(value):
        if value is None:
            return ""
        if isinstance(value, datetime):
            return timezone.localtime(value).isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, str) and FORMULA.match(value):
            return f"'{value}"
        return value

    line_fields = ("record_id", "position", "record__created_at", "batch_id", "record__actor_username")
    line_fields += ("project_id", "job_id", "name", "status", "record__client_ip")
    record_fields = ("seq", "created_at", "kind", "batch_id", "actor_username", "project_id", "job_id")
    record_fields += ("job_name", "outcome", "message", "error_code", "dli_request_id", "attempts")
    record_fields += ("duration_ms", "client_ip", "source", "reason", "refused_job_ids")

    def intents():
        query = AuditIntentJob.objects.order_by("record_id", "position").values_list(*line_fields, named=True)
        for x in query.iterator(chunk_size=2000):
            yield (
                (x.record_id, x.position),
                row(
                    time=x.record__created_at,
                    batch_id=x.batch_id,
                    kind="intent",
                    actor=x.record__actor_username,
                    project_id=x.project_id,
                    job_id=x.job_id,
                    job_name=x.name,
                    status=x.status,
                    client_ip=x.record__client_ip,
                    seq=x.record_id,
                ),
            )

    def others():
        query = (
            AuditRecord.objects.filter(kind__in=["result", "refusal"])
            .order_by("seq")
            .values_list(*record_fields, named=True)
        )
        for r in query.iterator(chunk_size=2000):
            common = {
                "time": r.created_at,
                "kind": r.kind,
                "actor": r.actor_username,
                "project_id": r.project_id,
            }
            if r.kind == "result":
                yield (
                    (r.seq, 0),
                    row(
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
            for position, refused in enumerate(r.refused_job_ids or [""]):
                yield (
                    (r.seq, position),
                    row(
                        **common,
                        job_id=refused,
                        outcome="refused",
                        message=r.reason,
                        client_ip=r.client_ip,
                        seq=r.seq,
                    ),
                )

    class Echo:
        def write(self, value):
            return value

    writer = csv.writer(Echo())
    yield writer.writerow(list(EXPORT_COLUMNS))
    for _key, cells in heapq.merge(intents(), others(), key=itemgetter(0)):
        yield writer.writerow([cell(value) for value in cells])


def consume(chunks) -> tuple[int, int, float, float]:
    """Rows, bytes, seconds and peak memory growth (MB) of streaming the chunks."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began, cpu = time.perf_counter(), time.process_time()
    size = lines = 0
    for chunk in chunks:
        if isinstance(chunk, str):
            chunk = chunk.encode()
        size += len(chunk)
        lines += chunk.count(b"\n")
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    # On a shared machine the wall clock counts other people's work; this process's CPU time does not.
    print(f"  ({(lines - 1) / cpu:,.0f} rows per CPU second of this process)")
    return lines - 1, size, elapsed, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="default: the throwaway SQLite file in var/")
    parser.add_argument(
        "--reuse", action="store_true", help="keep var/bench-audit-N.sqlite3 if it holds N records"
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the export as it was before")
    args = parser.parse_args()
    where = prepare(args.n, args.database_url, args.reuse)

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    # The test client's host let in by the setting, not by setup_test_environment(), whose template
    # instrumentation (a signal per template rendered) production does not run.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    auditor = get_user_model().objects.filter(username="bench-auditor").first()
    if auditor is None:
        auditor = get_user_model().objects.create_user("bench-auditor", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(auditor)
    response = client.get(reverse("dli-audit-export"))
    rows, size, elapsed, grown = consume(response.streaming_content)
    rate = rows / elapsed
    print(f"CSV export: {args.n} records on {where}: {rows} rows, {size / 1e6:.0f} MB in {elapsed:.1f} s")
    print(f"  {rate:,.0f} rows/s (goal >= 100,000), peak memory grew by {grown:.1f} MB (goal <= 50)")
    if not args.no_peer:
        rows_before, _size, elapsed_before, _grown = consume(export_before())
        before = rows_before / elapsed_before
        print(f"  before: {before:,.0f} rows/s ({rows_before} rows in {elapsed_before:.1f} s)", end="")
        print(f"; ratio {rate / before:.2f}x")


if __name__ == "__main__":
    main()
