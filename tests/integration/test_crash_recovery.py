"""A worker killed mid-batch: the intent survives, reconcile settles every job, nothing is sent twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from dli_admin.audit.models import AuditRecord
from dli_admin.audit.selectors import audit_unsettled_jobs
from dli_admin.deletes import services
from dli_admin.deletes.models import JobClaim
from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import django
django.setup()
from django.contrib.auth import get_user_model
from dli_admin.deletes import services
from dli_admin.projects.models import DliProject
services.flink_jobs_delete(
    requester=services.Requester(user=get_user_model().objects.get(pk={user})),
    project=DliProject.objects.get(pk={project}),
    token={token!r},
)
"""


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgresql://{db['USER']}:{db['PASSWORD']}@{host}:{port}/{db['NAME']}"


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def reconcile(*args) -> str:
    out = StringIO()
    call_command("audit_reconcile", *args, stdout=out)
    return out.getvalue()


def test_a_worker_killed_during_a_delete_is_settled_by_reconcile(simulator, project_a, operator):
    pid = project_a.project_id
    ids = [simulator.add_job(pid, name=f"crash-{n}", status="job_finish") for n in range(3)]
    token = services.flink_jobs_delete_plan(
        requester=services.Requester(user=operator),
        project=project_a,
        job_ids=[str(i) for i in ids],
    ).token
    simulator.set_fault(pid, "latency", 3.0, ops={"batch_delete"})  # DLI holds the delete
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dli_admin.settings_test",
        "DATABASE_URL": database_url(),
        "DLI_ENDPOINT": simulator.url,
        "DLI_AK": DEMO_ACCESS_KEY,
        "DLI_SK": DEMO_SECRET_KEY,
    }
    script = WORKER.format(user=operator.pk, project=project_a.pk, token=token)
    worker = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT)
    try:
        # The worker has written its intent and claimed the jobs; give it a moment to send the delete.
        wait_for(lambda: JobClaim.objects.filter(job_id__in=ids).count() == 3)
        time.sleep(0.8)
    finally:
        worker.kill()
        worker.wait()
    assert worker.returncode != 0, "the worker must have died mid-batch"

    assert AuditRecord.objects.filter(kind="intent").count() == 1
    assert AuditRecord.objects.filter(kind="result").count() == 0
    assert sorted(job.job_id for job in audit_unsettled_jobs(project_id=pid)) == sorted(ids)
    before = list(AuditRecord.objects.order_by("seq").values_list())

    # While the dead batch's claims are fresh, reconcile leaves its jobs alone: it might still be running.
    assert "left 3 job(s) alone" in reconcile()
    wait_for(lambda: all(simulator.job(pid, i) is None for i in ids))  # DLI finished the held delete
    assert "settled 3 jobs: 3 deleted" in reconcile("--include-claimed")

    assert audit_unsettled_jobs(project_id=pid) == []
    assert list(AuditRecord.objects.order_by("seq").values_list())[: len(before)] == before, "nothing altered"
    assert set(AuditRecord.objects.filter(kind="result").values_list("job_id", "outcome", "source")) == {
        (i, "deleted", "reconcile") for i in ids
    }
    assert len(simulator.requests(op="batch_delete")) == 1, "no delete sent twice"
    assert not JobClaim.objects.exists()
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue().startswith("audit chain OK")
