"""Time `audit_reconcile` and the unsettled-jobs read over an audit log of N records (default 1,000,000).

    .venv/bin/python benchmarks/audit_reconcile.py [N] [--database-url URL] [--reuse]

Uses the database of benchmarks/audit_verify.py (same loader). Its jobs belong to projects that are
not registered in dli-admin, so reconcile reads nothing from DLI and the figures are the audit side
alone: "nothing pending" is reconcile for a registered project with no unsettled job, the goal row of
docs' table; the whole log's unsettled jobs are read too. The peer is the query from before (every
intent job line's latest outcome), measured in the same run.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_verify import prepare  # noqa: E402


def unsettled_before() -> list[tuple]:
    """The unsettled-jobs query as it was: each job line's latest result, over the whole log."""
    from django.db.models import OuterRef, Q, Subquery

    from dli_admin.audit.models import AuditIntentJob, AuditRecord

    latest = Subquery(
        AuditRecord.objects.filter(batch_id=OuterRef("batch_id"), job_id=OuterRef("job_id"))
        .order_by("-seq")
        .values("outcome")[:1]
    )
    return list(
        AuditIntentJob.objects.annotate(latest=latest)
        .filter(Q(latest__isnull=True) | Q(latest="unknown"))
        .order_by("record_id", "position")
        .values_list("batch_id", "project_id", "job_id", "name")
    )


def median_ms(action, repeat: int = 5) -> float:
    action()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="default: the throwaway SQLite file in var/")
    parser.add_argument(
        "--reuse", action="store_true", help="keep var/bench-audit-N.sqlite3 if it holds N records"
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the query from before (seconds at 10^6)")
    args = parser.parse_args()
    where = prepare(args.n, args.database_url, args.reuse)

    from django.core.management import call_command

    from dli_admin.audit.selectors import audit_unsettled_jobs
    from dli_admin.projects.models import DliProject, recorded_change

    empty = "e" * 32  # registered, and nothing of it is unsettled
    with recorded_change():  # set-up, not a change anyone made
        DliProject.objects.get_or_create(project_id=empty, defaults={"name": "bench-empty"})

    def reconcile(*args: str) -> None:
        call_command("audit_reconcile", *args, stdout=io.StringIO(), skip_checks=True)

    unsettled = audit_unsettled_jobs()
    print(f"audit_reconcile: {args.n} records on {where}, {len(unsettled)} unsettled jobs in the log")
    nothing = median_ms(lambda: reconcile("--project", empty))
    print(f"  reconcile with nothing pending (one registered project): {nothing:.1f} ms (goal <= 100)")
    everything = median_ms(lambda: reconcile(), repeat=3)
    print(f"  reconcile over the whole log (projects not registered: no DLI reads): {everything:.1f} ms")
    read = median_ms(audit_unsettled_jobs, repeat=3)
    print(f"  unsettled jobs read: {read:.1f} ms")
    if not args.no_peer:
        began = time.perf_counter()
        before = unsettled_before()
        before_ms = (time.perf_counter() - began) * 1000
        same = [(j.batch_id, j.project_id, j.job_id, j.name) for j in unsettled] == before
        print(f"  before (latest outcome of every job line): {before_ms:.0f} ms, the same jobs: {same}")
        # Reconcile read the unsettled jobs twice before (reconcile, then the live batches it leaves).
        ratio = 2 * before_ms / nothing
        print(f"  ratio: read {before_ms / read:.0f}x; reconcile with nothing pending {ratio:.0f}x")


if __name__ == "__main__":
    main()
