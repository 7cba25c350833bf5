"""Fill an audit log with N records (default 1,000,000) and time `manage.py audit_verify` over it.

    .venv/bin/python benchmarks/audit_verify.py [N] [--database-url URL] [--reuse]

Without --database-url the records go to a throwaway SQLite file, var/bench-audit-N.sqlite3 (recreated
unless --reuse and it already holds N records). The chain is computed in Python with the same
canonical hashing as the application and bulk-inserted, so filling is fast and verify sees a real chain.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import random
import resource
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = [(f"{i:032x}", f"project-{i}") for i in range(1, 7)]
ACTORS = [(i, f"operator{i}") for i in range(1, 11)]
OUTCOMES = ["deleted"] * 17 + ["failed", "skipped", "unknown"]


def setup_django(database_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    # Checkpoints of its own: the working copy's var/audit-checkpoints.jsonl holds those of `make run`, signed
    # with another key, which audit_verify would rightly call broken.
    os.environ["DLI_ADMIN_AUDIT_CHECKPOINTS"] = str(ROOT / "var" / "bench-audit-checkpoints.jsonl")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dli_admin.settings")
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False  # DJANGO_DEBUG=1 only boots without a secret key; do not log every query


def populate(n: int, *, seed: int = 7) -> None:
    """N records in batches of 1-20 jobs (an intent, then a result per job), a refusal now and then."""
    from django.db import transaction

    from dli_admin.audit.chain import GENESIS, record_hash
    from dli_admin.audit.models import AuditIntentJob, AuditRecord

    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    seq, prev, job_id = 0, GENESIS, 100_000
    records: list[AuditRecord] = []
    lines: list[AuditIntentJob] = []

    def add(record: AuditRecord, jobs: list[AuditIntentJob] = ()) -> None:
        nonlocal seq, prev
        seq += 1
        record.seq, record.prev_hash = seq, prev
        record.created_at = start + timedelta(seconds=seq * 20, microseconds=rng.randrange(1_000_000))
        for position, line in enumerate(jobs):
            line.record_id, line.position = seq, position
            line.batch_id, line.project_id = record.batch_id, record.project_id
        record.hash = prev = record_hash(record.chain_values(), [(j.job_id, j.name, j.status) for j in jobs])
        records.append(record)
        lines.extend(jobs)

    def flush() -> None:
        with transaction.atomic():
            AuditRecord.objects.bulk_create(records, batch_size=1000)
            AuditIntentJob.objects.bulk_create(lines, batch_size=1000)
        records.clear()
        lines.clear()

    while seq < n:
        (project_id, project_name), (actor_id, username) = rng.choice(PROJECTS), rng.choice(ACTORS)
        common = {"actor_id": actor_id, "actor_username": username, "project_id": project_id}
        if rng.random() < 0.03:
            add(
                AuditRecord(
                    kind="refusal",
                    reason="role viewer may not delete jobs in this project",
                    refused_job_ids=[str(job_id + i) for i in range(3)],
                    client_ip="10.0.0.9",
                    user_agent="Mozilla/5.0",
                    **common,
                )
            )
            continue
        batch_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        jobs = []
        for _ in range(rng.randint(1, 20)):
            job_id += 1
            jobs.append(AuditIntentJob(job_id=job_id, name=f"flink-job-{job_id}", status="job_finished"))
        add(
            AuditRecord(
                kind="intent",
                batch_id=batch_id,
                project_name=project_name,
                client_ip="10.0.0.8",
                user_agent="Mozilla/5.0 (X11; Linux x86_64)",
                **common,
            ),
            jobs,
        )
        for job in jobs:
            if seq >= n:
                break  # the last batch stops half-way, as if the process died
            outcome = rng.choice(OUTCOMES)
            add(
                AuditRecord(
                    kind="result",
                    source="delete",
                    batch_id=batch_id,
                    job_id=job.job_id,
                    job_name=job.name,
                    outcome=outcome,
                    message="" if outcome == "deleted" else f"DLI said {outcome}",
                    error_code="" if outcome == "deleted" else "DLI.0001",
                    dli_request_id=f"req-{seq:012d}",
                    attempts=1,
                    duration_ms=rng.randrange(50, 900),
                    **common,
                )
            )
        if len(records) >= 20_000:
            flush()
    flush()
    # The unsettled jobs, as audit.services keeps them when it appends: with migration 0009's own fill.
    from django.apps import apps

    fill = importlib.import_module("dli_admin.audit.migrations.0010_unsettled_jobs_and_name_search")
    fill.unsettled_fill(apps, None)


def prepare(n: int, database_url: str | None, reuse: bool) -> str:
    """Set up Django on the benchmark database, filled with N records; returns a description."""
    if database_url is None:
        default_db = ROOT / "var" / f"bench-audit-{n}.sqlite3"
        default_db.parent.mkdir(exist_ok=True)
        if not reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{default_db}{suffix}").unlink(missing_ok=True)
        database_url = f"sqlite:///{default_db}"
    setup_django(database_url)
    from django.core.management import call_command
    from django.db import connection

    from dli_admin.audit.models import AuditRecord

    call_command("migrate", verbosity=0, skip_checks=True)
    have = AuditRecord.objects.count()
    if have == 0:
        began = time.perf_counter()
        populate(n)
        print(f"filled {n} records in {time.perf_counter() - began:.1f} s")
    elif have != n:
        raise SystemExit(f"the database already holds {have} audit records, not {n}: use another one")
    with connection.cursor() as cursor:
        # Planner statistics and (PostgreSQL) the visibility map as autovacuum would leave them after a
        # bulk load: without statistics PostgreSQL scans whole tables for the page's per-batch counts,
        # without the map an index-only scan reads every row it passes.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return f"{connection.vendor} {connection.settings_dict['NAME']}"


def readers_before():
    """How audit_verify read the chain before the raw cursors (the peer): values_list querysets through
    Django's converters, with two custom fields for the refused ids and SQLite's times."""
    import json
    from datetime import UTC, datetime

    from django.db import connection, models
    from django.db.models import ExpressionWrapper, F
    from django.db.models.functions import Cast

    from dli_admin.audit.chain import RECORD_FIELDS
    from dli_admin.audit.models import AuditIntentJob, AuditRecord

    class JsonListText(models.TextField):
        def from_db_value(self, value, expression, connection):
            return [] if value is None or value == "[]" else json.loads(value)

    class UtcText(models.TextField):
        def from_db_value(self, value, expression, connection):
            return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)

    read_as = {"refused_job_ids": ExpressionWrapper(F("refused_job_ids"), output_field=JsonListText())}
    if connection.vendor == "sqlite":
        read_as["created_at"] = Cast("created_at", output_field=UtcText())
    fields = [read_as.get(name, name) for name in RECORD_FIELDS]

    def records(after, last, chunk_size):
        query = AuditRecord.objects.filter(seq__lte=last).order_by("seq")
        yield from query.values_list(*fields, "hash_version", "hash").iterator(chunk_size=chunk_size)

    def lines(after, last, chunk_size):
        query = AuditIntentJob.objects.filter(record_id__lte=last).order_by("record_id", "position")
        names = ("record_id", "position", "batch_id", "project_id", "job_id", "name", "status")
        yield from query.values_list(*names).iterator(chunk_size=chunk_size)

    return records, lines


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def verify_rate(n: int) -> tuple[float, str]:
    from django.core.management import call_command

    out = io.StringIO()
    began, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    call_command("audit_verify", stdout=out, skip_checks=True)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    children = _children_cpu() - children
    # On a shared machine the wall clock counts other people's work; CPU time does not (nor the
    # database server's, for PostgreSQL). A long chain is walked in two processes: both count.
    print(
        f"  ({n / (cpu + children):,.0f} records per CPU second of this process and its forked one; "
        f"CPU {cpu:.1f} s + {children:.1f} s, wall {elapsed:.1f} s)"
    )
    return n / elapsed, out.getvalue().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="default: a throwaway SQLite file in var/")
    parser.add_argument(
        "--reuse", action="store_true", help="keep var/bench-audit-N.sqlite3 if it holds N records"
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the run with the encoding from before")
    args = parser.parse_args()
    where = prepare(args.n, args.database_url, args.reuse)

    rate, said = verify_rate(args.n)
    print(said)
    print(f"audit_verify: {args.n} records on {where}: {rate:,.0f} records/s (goal >= 100,000)")
    if args.no_peer:
        return
    from unittest import mock

    from dli_admin.audit import selectors

    # The peer: the same walk over the rows read as before (querysets, Django's converters, the time
    # and batch id converted per record in Python).
    records, lines = readers_before()
    with (
        mock.patch.object(selectors, "_chain_records", records),
        mock.patch.object(selectors, "_chain_lines", lines),
        mock.patch.object(selectors, "PARALLEL_FROM", args.n + 1),  # one process, as before
    ):
        before, _ = verify_rate(args.n)
    label = "before (querysets through Django's converters)"
    print(f"  {label}: {before:,.0f} records/s; ratio {rate / before:.2f}x")


if __name__ == "__main__":
    main()
