"""DLI calls of reconcile and of "select all", against the simulator with every DLI call delayed.

    .venv/bin/python benchmarks/dli_reads.py [--latency 0.02]

- reconcile of 50 batches x 10 unknown jobs (one project of 2,000 jobs): its DLI calls and time, against
  reading the jobs back batch by batch (a read-back per batch, as reconcile did before), in the same run;
- "select all" over a filter matching 509 jobs: its list calls and time with DLI_CONCURRENCY pages in
  flight, against one page after another (DLI_CONCURRENCY=1), in the same run.

Uses a throwaway SQLite file in var/.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections import Counter

from throwaway import throwaway_django

BATCHES, UNKNOWN_PER_BATCH, PROJECT_JOBS, MATCHING = 50, 10, 2_000, 509


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to every DLI call")
    args = parser.parse_args()

    throwaway_django("dli-reads")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test.utils import override_settings

    from dli_admin.audit.selectors import audit_unsettled_jobs
    from dli_admin.audit.services import AuditJobResult, audit_intent_record, audit_results_record
    from dli_admin.deletes.settling import flink_jobs_reconcile
    from dli_admin.projects.connections import dli_client_for
    from dli_admin.projects.jobs import JobRef
    from dli_admin.projects.models import DliProject, recorded_change
    from dli_admin.projects.selectors import JobFilters, flink_jobs_matching, flink_jobs_read
    from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
    from dli_admin.simulator.server import Simulator

    with Simulator(port=0) as simulator:
        settings.DLI_ENDPOINT, settings.DLI_AK, settings.DLI_SK = (
            simulator.url,
            DEMO_ACCESS_KEY,
            DEMO_SECRET_KEY,
        )
        operator = get_user_model().objects.create_user("bench-operator")
        pid = "benchreads"
        with recorded_change():  # set-up, not a change anyone made
            project = DliProject.objects.create(project_id=pid, name=pid)
        jobs = [
            simulator.add_job(pid, name=f"{'match' if i < MATCHING else 'other'}-{i}", status="job_finish")
            for i in range(PROJECT_JOBS)
        ]

        def calls() -> Counter:
            return Counter(request.op for request in simulator.requests(project_id=pid))

        def unknown_batches() -> list[tuple[uuid.UUID, list[int]]]:
            """50 batches whose 10 jobs each were left "unknown" (DLI never answered the delete)."""
            made = []
            for b in range(BATCHES):
                batch_id, ids = uuid.uuid4(), jobs[b * UNKNOWN_PER_BATCH : (b + 1) * UNKNOWN_PER_BATCH]
                refs = [JobRef(job_id, f"job-{job_id}", "job_finish") for job_id in ids]
                audit_intent_record(
                    batch_id=batch_id, actor=operator, project_id=pid, project_name=pid, jobs=refs,
                    client_ip="127.0.0.1", user_agent="benchmark",
                )  # fmt: skip
                audit_results_record(
                    batch_id=batch_id, actor=operator, project_id=pid,
                    results=[AuditJobResult(job_id, f"job-{job_id}", "unknown", "timeout") for job_id in ids],
                )  # fmt: skip
                made.append((batch_id, ids))
            return made

        simulator.set_fault(pid, "latency", args.latency)
        print(f"DLI latency {args.latency * 1000:.0f} ms a call, DLI_CONCURRENCY={settings.DLI_CONCURRENCY}")

        # The way before, in the same run: one read-back per batch (reads only; nothing is appended).
        batches = unknown_batches()
        before_calls = calls()
        began = time.perf_counter()
        for _batch_id, ids in batches:
            flink_jobs_read(client=dli_client_for(project), job_ids=ids)
        per_batch_s = time.perf_counter() - began
        per_batch_calls = sum((calls() - before_calls).values())

        before_calls = calls()
        began = time.perf_counter()
        settled = flink_jobs_reconcile(project_id=pid)
        reconcile_s = time.perf_counter() - began
        reconcile_calls = calls() - before_calls
        assert len(settled) == BATCHES * UNKNOWN_PER_BATCH, len(settled)
        assert not audit_unsettled_jobs(project_id=pid)
        print(
            f"reconcile, {BATCHES} batches x {UNKNOWN_PER_BATCH} unknown jobs: "
            f"{sum(reconcile_calls.values())} DLI calls {dict(reconcile_calls)}, {reconcile_s:.2f} s"
        )
        call_ratio = per_batch_calls / sum(reconcile_calls.values())
        print(
            f"  a read-back per batch (before): {per_batch_calls} calls, {per_batch_s:.2f} s; "
            f"ratio {per_batch_s / reconcile_s:.1f}x in time, {call_ratio:.1f}x in calls"
        )

        filters = JobFilters(name="match-")
        timings = {}
        for concurrency in (settings.DLI_CONCURRENCY, 1):
            with override_settings(DLI_CONCURRENCY=concurrency):
                before_calls = calls()
                began = time.perf_counter()
                found = flink_jobs_matching(client=dli_client_for(project), filters=filters, ceiling=10_000)
                timings[concurrency] = time.perf_counter() - began
                listed = sum((calls() - before_calls).values())
            assert len(found) == MATCHING, len(found)
            took = timings[concurrency]
            print(f"select all over {MATCHING} jobs, {concurrency} in flight: {listed} calls, {took:.2f} s")
        ratio = timings[1] / timings[settings.DLI_CONCURRENCY]
        print(f"  pages fetched concurrently: {ratio:.1f}x faster than one after another")


if __name__ == "__main__":
    main()
