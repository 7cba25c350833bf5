"""Time a whole batch delete through the service against the embedded simulator, and count DLI calls.

    .venv/bin/python benchmarks/batch_delete.py [N ...]     (default: 20 100 1000)

For each N: N stopped jobs are added to the 10,000-job demo project, planned (read back from DLI) and
deleted (claim, re-check, chunked batch delete, read-back). Prints wall time per phase and how many
list / show / batch-delete calls DLI received, so the read-back's choice of strategy is visible.
Uses a throwaway SQLite file, var/bench-delete.sqlite3.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DB = ROOT / "var" / "bench-delete.sqlite3"


def main(sizes: list[int]) -> None:
    sys.path.insert(0, str(ROOT))
    DB.parent.mkdir(exist_ok=True)
    DB.unlink(missing_ok=True)
    os.environ.update(
        DATABASE_URL=f"sqlite:///{DB}", DJANGO_DEBUG="1", DJANGO_SETTINGS_MODULE="dli_admin.settings"
    )
    os.environ["DJANGO_LOG_LEVEL"] = "WARNING"
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.DEBUG = False
    call_command("migrate", verbosity=0)

    from django.contrib.auth import get_user_model

    from dli_admin.deletes import services
    from dli_admin.projects.models import DliProject
    from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
    from dli_admin.simulator.seed import DEMO_PROJECTS
    from dli_admin.simulator.server import Simulator

    seed = next(p for p in DEMO_PROJECTS if p.job_count == 10_000)
    with Simulator(port=0) as simulator:
        settings.DLI_ENDPOINT, settings.DLI_AK, settings.DLI_SK = (
            simulator.url,
            DEMO_ACCESS_KEY,
            DEMO_SECRET_KEY,
        )
        project = DliProject.objects.create(project_id=seed.id, name=seed.name)
        user = get_user_model().objects.create_user("bench")
        requester = services.Requester(user=user, client_ip="127.0.0.1")
        print(f"DLI_BATCH_SIZE={settings.DLI_BATCH_SIZE}; project {seed.name} with {seed.job_count} jobs")
        print(f"{'jobs':>6} {'plan s':>8} {'delete s':>9} {'per job ms':>11}  calls during delete")
        for size in sizes:
            simulator.reset()
            ids = [simulator.add_job(seed.id, name=f"bench-{n}", status="job_finish") for n in range(size)]
            started = time.perf_counter()
            plan = services.flink_jobs_delete_plan(
                requester=requester, project=project, job_ids=[str(i) for i in ids]
            )
            planned = time.perf_counter()
            simulator.clear_requests()
            result = services.flink_jobs_delete(
                requester=requester,
                project=project,
                token=plan.token,
                confirm_name=project.name,
            )
            done = time.perf_counter()
            calls = Counter(request.op for request in simulator.requests())
            assert result.counts == {"deleted": size}, result.counts
            per_job_ms = (done - planned) * 1000 / size
            print(
                f"{size:>6} {planned - started:>8.2f} {done - planned:>9.2f} {per_job_ms:>11.1f}"
                f"  {dict(sorted(calls.items()))}"
            )


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [20, 100, 1000])
