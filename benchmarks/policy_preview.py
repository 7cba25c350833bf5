"""A cleanup policy's preview and run (up to the queued batch) over a project of many jobs.

    .venv/bin/python benchmarks/policy_preview.py [--latency 0.05] [--quick]

For policies matching N = 1,000 and 10,000 old jobs (among as many young and tagged-keep ones), with
every DLI call delayed by --latency seconds in the simulator: the preview's time and DLI calls, and the
run's (preview, plan, confirm: the batch is queued, not run). --quick skips N = 10,000. Uses a throwaway
SQLite file in var/.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from throwaway import throwaway_django

DAY_MS = 86_400_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every DLI call")
    parser.add_argument("--quick", action="store_true", help="skip N = 10,000")
    args = parser.parse_args()

    throwaway_django("policies")
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from dli_admin.deletes.services import Requester
    from dli_admin.policies import services
    from dli_admin.policies.forms import PolicyForm
    from dli_admin.projects.models import DliProject, Grant, recorded_change
    from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
    from dli_admin.simulator.server import Simulator

    with Simulator(port=0) as simulator:
        settings.DLI_ENDPOINT, settings.DLI_AK, settings.DLI_SK = (
            simulator.url,
            DEMO_ACCESS_KEY,
            DEMO_SECRET_KEY,
        )
        owner = get_user_model().objects.create_user("bench-owner")
        now_ms = int(time.time() * 1000)
        print(f"DLI latency {args.latency:.2f}s a call")
        for n in (1_000,) if args.quick else (1_000, 10_000):
            pid = f"benchpolicy{n}"
            with recorded_change():  # set-up, not a change anyone made
                project = DliProject.objects.create(project_id=pid, name=pid)
                Grant.objects.create(user=owner, project=project, role="owner")
            for i in range(n):
                simulator.add_job(
                    pid,
                    name=f"old-{i}",
                    status="job_finish",
                    queue_name="q",
                    create_time=now_ms - 60 * DAY_MS,
                )
                young = i % 2 == 0
                simulator.add_job(
                    pid,
                    name=f"other-{i}",
                    status="job_finish",
                    queue_name="q",
                    create_time=now_ms - (DAY_MS if young else 60 * DAY_MS),
                    tags={} if young else {"keep": "true"},
                )
            form = PolicyForm(
                {
                    "name": "bench", "statuses": ["job_finish"], "queue_name": "q",
                    "tags_exclude": "keep=true",
                    "min_age_days": "30", "max_jobs": str(n), "schedule": "daily", "at_time": "02:00",
                    "zone": "UTC", "mode": "delete", "enabled": "on",
                }
            )  # fmt: skip
            assert form.is_valid(), form.errors
            policy = services.policy_save(requester=Requester(user=owner), project=project, form=form)
            simulator.set_fault(pid, "latency", args.latency)
            for label, step in (
                ("preview", lambda policy=policy: services.policy_preview(policy)),
                ("run", lambda policy=policy: services.policy_run(services.run_claim(policy, django_now()))),
            ):
                simulator.clear_requests()
                began = time.perf_counter()
                result = step()
                took = time.perf_counter() - began
                calls = Counter(request.op for request in simulator.requests(project_id=pid))
                what = (
                    f"{len(result.eligible)} eligible"
                    if label == "preview"
                    else f"{result.state}, {result.matched} matched"
                )
                print(f"N={n:>6} {label:<8} {took:6.2f}s  {what}; DLI calls: {dict(calls)}")


def django_now():
    from django.utils import timezone

    return timezone.now()


if __name__ == "__main__":
    main()
