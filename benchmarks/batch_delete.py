"""Background batch deletes end to end: confirm, a real worker, DLI calls by kind, against one by one.

    .venv/bin/python benchmarks/batch_delete.py [--latency 0.05] [--quick]

For projects of 1,000 and 10,000 jobs and batches of N = 100, 1,000 and 10,000 of their jobs (N no larger
than the project), with every DLI call delayed by --latency seconds in the simulator:
- the confirm request's server time (the Django test client, session and middleware included);
- confirm-to-ended wall time, through a real `manage.py db_worker` process (polling every 0.1 s);
- DLI calls by kind while the batch ran;
- the ratio against deleting one by one (N single DELETE calls, one after another, measured for N = 100
  in the same run and scaled by N).
A project holds the batch's jobs (one owner, one job type: a team's finished jobs) among others of six
owners and three types. --quick skips the 10,000-job batch. Uses a throwaway SQLite file in var/.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from collections import Counter

from throwaway import ROOT, throwaway_django

OWNERS = ["dli-demo-operator", "anna.schmidt", "li.wei", "marta.nowak", "etl-robot", "k.tanaka"]
TYPES = ["flink_opensource_sql_job", "flink_sql_job", "flink_jar_job"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every DLI call")
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-job batch")
    args = parser.parse_args()

    throwaway_django("batches", DJANGO_ALLOWED_HOSTS="testserver")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from dli_admin.deletes import services
    from dli_admin.deletes.models import BatchState, DeleteBatch
    from dli_admin.dli import AkSkAuth, DliClient
    from dli_admin.projects.models import DliProject, Grant, recorded_change
    from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
    from dli_admin.simulator.server import Simulator

    rng = random.Random(7)
    with Simulator(port=0) as simulator:
        settings.DLI_ENDPOINT, settings.DLI_AK, settings.DLI_SK = (
            simulator.url,
            DEMO_ACCESS_KEY,
            DEMO_SECRET_KEY,
        )
        user = get_user_model().objects.create_user("bench")
        client = Client()
        client.force_login(user)
        requester = services.Requester(user=user, client_ip="127.0.0.1")
        worker = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "db_worker",
                "--no-reload",
                "--no-startup-delay",
                "--interval",
                "0.1",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "DLI_ENDPOINT": simulator.url,
                "DLI_AK": DEMO_ACCESS_KEY,
                "DLI_SK": DEMO_SECRET_KEY,
                "DLI_MAX_BATCH": "10000",
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            print(
                f"DLI latency {args.latency * 1000:.0f} ms per call; "
                f"DLI_BATCH_SIZE={settings.DLI_BATCH_SIZE}, DLI_CONCURRENCY={settings.DLI_CONCURRENCY}, "
                f"DLI_BATCH_WAVE={settings.DLI_BATCH_WAVE}"
            )
            one_by_one_per_job = None
            results = {}
            print(f"{'project':>8} {'N':>6} {'confirm ms':>11} {'ended s':>8} {'vs 1-by-1':>10}  DLI calls")
            for project_size in (1_000, 10_000):
                for n in (100, 1_000, 10_000):
                    if n > project_size or (args.quick and n == 10_000):
                        continue
                    pid = f"bench{project_size}n{n}"
                    for _ in range(project_size - n):
                        simulator.add_job(
                            pid, status="job_finish", user_name=rng.choice(OWNERS), job_type=rng.choice(TYPES)
                        )
                    ids = [simulator.add_job(pid, name=f"cleanup-{k}", status="job_finish") for k in range(n)]
                    with recorded_change():  # set-up, not a change anyone made
                        project = DliProject.objects.create(project_id=pid, name=pid)
                        Grant.objects.create(user=user, project=project, role="operator")
                    simulator.clear_faults()
                    simulator.set_fault(pid, "latency", args.latency)
                    if one_by_one_per_job is None:
                        one_by_one_per_job = one_by_one(simulator, pid, ids[:100], DliClient, AkSkAuth)
                        ids = ids[100:]  # those are gone now; the batch takes the rest
                        for _ in range(100):
                            ids.append(simulator.add_job(pid, name="cleanup-more", status="job_finish"))
                    plan = services.flink_jobs_delete_plan(
                        requester=requester, project=project, job_ids=[str(i) for i in ids]
                    )
                    simulator.clear_requests()
                    started = time.perf_counter()
                    response = client.post(
                        f"/projects/{pid}/jobs/delete/", {"token": plan.token, "confirm_name": pid}
                    )
                    confirmed = time.perf_counter()
                    assert response.status_code == 302, response.content[:500]
                    batch = DeleteBatch.objects.latest("created_at")
                    while not DeleteBatch.objects.filter(pk=batch.pk, state=BatchState.ENDED).exists():
                        if worker.poll() is not None:
                            raise SystemExit("the worker died")
                        time.sleep(0.02)
                    ended = time.perf_counter()
                    calls = Counter(request.op for request in simulator.requests())
                    sent = Counter(i for r in simulator.requests(op="batch_delete") for i in r.job_ids)
                    assert set(sent.values()) == {1}, "a job id was sent twice"
                    leftover = [i for i in ids if simulator.job(pid, i) is not None]
                    assert not leftover, f"{len(leftover)} jobs were not deleted"
                    ratio = one_by_one_per_job * n / (ended - started)
                    results[(project_size, n)] = sum(calls.values())
                    print(
                        f"{project_size:>8} {n:>6} {(confirmed - started) * 1000:>11.0f}"
                        f" {ended - started:>8.2f} {ratio:>9.0f}x  {dict(sorted(calls.items()))}"
                    )
            per_job = one_by_one_per_job * 1000
            print(f"one by one: {per_job:.0f} ms per job (N = 100 single DELETE calls, one after another)")
            if (1_000, 1_000) in results and (10_000, 1_000) in results:
                print(
                    "DLI calls for 1,000 jobs, 10,000-job project vs 1,000-job project: "
                    f"{results[(10_000, 1_000)]} / {results[(1_000, 1_000)]} = "
                    f"{results[(10_000, 1_000)] / results[(1_000, 1_000)]:.2f}x"
                )
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def one_by_one(simulator, pid, ids, DliClient, AkSkAuth) -> float:
    """Seconds per job when a script deletes jobs with one DELETE call each, one after another."""
    from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    client = DliClient(simulator.url, pid, auth=AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY))
    started = time.perf_counter()
    for job_id in ids:
        client.delete_job(job_id)
    return (time.perf_counter() - started) / len(ids)


if __name__ == "__main__":
    main()
