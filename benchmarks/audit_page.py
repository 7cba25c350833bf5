"""Time the /audit/ review pages and the CSV export over an audit log of N records (default 1,000,000).

    .venv/bin/python benchmarks/audit_page.py [N] [--database-url URL] [--reuse] [--no-export]

Uses the same throwaway database as benchmarks/audit_verify.py (run that first and pass --reuse to
skip filling it again). Requests go through Django's test client as an auditor: URL routing,
permissions, queries and template rendering, without a network or a web server.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_verify import prepare  # noqa: E402


def timed(
    client, url: str, params: dict | None = None, *, repeat: int = 9, **headers
) -> tuple[float, object]:
    """The median time of `repeat` GETs, after one warm-up, in milliseconds."""
    response = client.get(url, params or {}, headers=headers)
    assert response.status_code == 200, (url, params, response.status_code)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(url, params or {}, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="default: the throwaway SQLite file in var/")
    parser.add_argument(
        "--reuse", action="store_true", help="keep var/bench-audit-N.sqlite3 if it holds N records"
    )
    parser.add_argument("--no-export", action="store_true", help="skip streaming the whole log as CSV")
    args = parser.parse_args()
    where = prepare(args.n, args.database_url, args.reuse)

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from dli_admin.audit.models import AuditRecord

    # The test client's host let in by the setting, not by setup_test_environment(), whose template
    # instrumentation (a signal per template rendered) production does not run.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    auditor = get_user_model().objects.filter(username="bench-auditor").first()
    if auditor is None:
        auditor = get_user_model().objects.create_user("bench-auditor", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(auditor)
    heads = AuditRecord.objects.exclude(kind="result")  # batches (intents) and refusals
    deep = heads.order_by("seq").values_list("seq", flat=True)[100]  # ~2 pages from the oldest end
    pages = heads.filter(seq__gt=deep).count() // 50
    sample = (  # a batch 5% into the log
        AuditRecord.objects.filter(kind="intent")
        .order_by("seq")
        .values_list("batch_id", "project_id", "created_at")[args.n // 20]
    )
    day = timezone.localdate(sample[2]).isoformat()
    job_id = AuditRecord.objects.filter(kind="result", batch_id=sample[0]).values_list("job_id", flat=True)[0]
    print(f"audit pages: {args.n} records, {heads.count()} batches and refusals, on {where}")

    audit = reverse("dli-audit-list")
    cases = [
        ("first page", audit, {}, {}),
        (f"deep page (page ~{pages + 1}, cursor before={deep})", audit, {"before": deep}, {}),
        ("newer page from the deep cursor", audit, {"after": deep}, {}),
        ("first page, htmx fragment", audit, {}, {"HX-Request": "true"}),
        ("filter: actor", audit, {"actor": "operator3"}, {}),
        ("filter: actor, deep", audit, {"actor": "operator3", "before": deep}, {}),
        ("filter: project", audit, {"project": sample[1]}, {}),
        ("filter: outcome failed", audit, {"outcome": "failed"}, {}),
        ("filter: outcome refused", audit, {"outcome": "refused"}, {}),
        ("filter: job id", audit, {"job": str(job_id)}, {}),
        ("filter: job name (substring)", audit, {"job": f"job-{job_id}"}, {}),
        (
            "filter: one day, 5% into the log",
            audit,
            {"date_from": day, "date_to": day},
            {},
        ),
        ("batch page", reverse("dli-audit-batch", args=[sample[0]]), {}, {}),
        (
            "batch rows fragment",
            reverse("dli-audit-batch-rows", args=[sample[0]]),
            {},
            {"HX-Request": "true"},
        ),
    ]
    for label, url, params, headers in cases:
        ms, response = timed(client, url, params, **headers)
        rows = response.content.count(b'class="audit-entry') if url == audit else "-"
        print(f"  {label:<52} {ms:8.1f} ms   rows {rows}")

    # The Django admin's changelist of the records: its first page and the deepest it offers, against
    # the admin as it was (a full COUNT and an OFFSET to the page), the peer of the pages above.
    from unittest import mock

    from django.contrib import admin
    from django.core.paginator import Paginator

    from dli_admin.audit.admin import NewestPaginator

    get_user_model().objects.filter(pk=auditor.pk).update(is_staff=True)  # the admin wants staff
    changelist = reverse("admin:audit_auditrecord_changelist")
    per_page = admin.site._registry[AuditRecord].list_per_page
    total = AuditRecord.objects.count()
    deepest = max(1, -(-min(NewestPaginator.LIMIT, total) // per_page))
    first_ms, _ = timed(client, changelist, {})
    deep_ms, _ = timed(client, changelist, {"p": deepest})
    print(f"  {'admin changelist, first page':<52} {first_ms:8.1f} ms")
    print(f"  {f'admin changelist, deepest page ({deepest})':<52} {deep_ms:8.1f} ms (goal <= 50)")

    record_admin = admin.site._registry[AuditRecord]
    last = -(-total // per_page)
    with mock.patch.object(record_admin, "paginator", Paginator):  # the admin as it was
        old_ms, _ = timed(client, changelist, {"p": last}, repeat=3)
    print(f"  {f'before: full COUNT + OFFSET, last page ({last})':<52} {old_ms:8.1f} ms")
    print(f"  ratio of the deep admin page: {old_ms / deep_ms:.1f}x")

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            sql, params = heads.filter(seq__lt=deep).order_by("-seq")[:51].query.sql_with_params()
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            print("  plan of the deep page:", "; ".join(str(row[-1]) for row in cursor.fetchall()))

    if not args.no_export:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        began = time.perf_counter()
        response = client.get(reverse("dli-audit-export"))
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - began
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(
            f"  CSV export of everything: {lines - 1} rows, {size / 1e6:.0f} MB in {elapsed:.1f} s; "
            f"peak memory grew by {grown:.1f} MB"
        )


if __name__ == "__main__":
    main()
