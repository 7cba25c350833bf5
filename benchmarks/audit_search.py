"""Time the /audit/ job-name search over an audit log of N records (default 1,000,000).

    .venv/bin/python benchmarks/audit_search.py [N] [--database-url URL] [--reuse]

Uses the database of benchmarks/audit_verify.py (same loader). On PostgreSQL the peer is the same
page with bitmap scans switched off for the session, which is the plan from before the trigram index
(a substring match over every intent job line), and the index asked for every trigram of the text
instead of its longest run of letters and digits (selectors.lines_named); SQLite has no such index (its
figure is the scan).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_page import timed  # noqa: E402
from audit_verify import prepare  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="default: the throwaway SQLite file in var/")
    parser.add_argument(
        "--reuse", action="store_true", help="keep var/bench-audit-N.sqlite3 if it holds N records"
    )
    args = parser.parse_args()
    where = prepare(args.n, args.database_url, args.reuse)

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from dli_admin.audit import selectors
    from dli_admin.audit.models import AuditIntentJob

    # The test client's host let in by the setting, not by setup_test_environment(), whose template
    # instrumentation (a signal per template rendered) production does not run.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    def every_trigram(lines, text: str):
        return lines.filter(name__icontains=text)

    auditor = get_user_model().objects.filter(username="bench-auditor").first()
    if auditor is None:
        auditor = get_user_model().objects.create_user("bench-auditor", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(auditor)
    lines = AuditIntentJob.objects.count()
    one = AuditIntentJob.objects.order_by("record_id").values_list("job_id", flat=True)[lines // 20]
    cases = [
        ("one job's name", f"flink-job-{one}"),
        ("a part matching ~100 jobs", f"job-{str(one)[:4]}"),
        ("a part matching nothing", "no-such-job-name"),
    ]
    print(f"/audit/ job-name search: {args.n} records, {lines} intent job lines, on {where}")
    for label, text in cases:
        ms, response = timed(client, reverse("dli-audit-list"), {"job": text})
        rows = response.content.count(b'class="audit-entry')
        line = f"  {label:<28} {ms:8.1f} ms (goal <= 50 on PostgreSQL), rows {rows}"
        if connection.vendor == "postgresql":
            # The index asked for every trigram of the text, as before selectors.lines_named.
            with mock.patch.object(selectors, "lines_named", every_trigram):
                all_trigrams, _ = timed(client, reverse("dli-audit-list"), {"job": text})
            line += f"; every trigram {all_trigrams:.1f} ms ({all_trigrams / ms:.1f}x)"
            with connection.cursor() as cursor:
                cursor.execute("SET enable_bitmapscan = off")  # no trigram index: the plan from before
            try:
                before, _ = timed(client, reverse("dli-audit-list"), {"job": text}, repeat=3)
            finally:
                with connection.cursor() as cursor:
                    cursor.execute("RESET enable_bitmapscan")
            line += f"; without the index {before:.1f} ms, ratio {before / ms:.1f}x"
        print(line)


if __name__ == "__main__":
    main()
