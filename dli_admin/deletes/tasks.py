"""Background tasks (Django's tasks framework on django-tasks-db): run a batch, and find stalled ones.

`manage.py db_worker` runs them. A task row of a worker that died stays "running" in django-tasks-db
for good, so liveness belongs to the batch (its lease), and a self-scheduling sweep, which every
worker may run, enqueues a fresh run for any batch that no worker holds.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import FrameType

from django.conf import settings
from django.db.models import Q
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from .runner import batch_run, batches_stalled

log = logging.getLogger("dli_admin.deletes")


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[threading.Event]:
    """A stop flag that SIGTERM sets, on top of the worker's own handling (which lets the task finish)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


@task()
def run_delete_batch(batch_id: str) -> str:
    """Run one batch until it ends, waits for DLI (then a later run resumes it), or the worker stops."""
    with _stop_on_sigterm() as stop:
        outcome = batch_run(uuid.UUID(batch_id), stop=stop)
    if outcome.state == "waiting":
        run_delete_batch.using(run_after=datetime.fromisoformat(outcome.detail)).enqueue(batch_id)
    elif outcome.state == "handed back":
        run_delete_batch.enqueue(batch_id)  # the next worker (or this one, restarted) goes on at once
    return f"{outcome.state}: {outcome.detail}".rstrip(": ")


@task()
def resume_stalled_batches() -> int:
    """Enqueue a run for every live batch no worker holds; schedules the next sweep first."""
    sweep_schedule()
    resumed = 0
    for batch in batches_stalled():
        if not _run_waiting(batch.pk):
            run_delete_batch.enqueue(str(batch.pk))
            resumed += 1
    if resumed:
        log.info("resumed %d batch(es) that no worker held", resumed)
    return resumed


def _run_waiting(batch_id: uuid.UUID) -> bool:
    """A run of this batch is queued already (and due within the lease)."""
    soon = timezone.now() + timedelta(seconds=settings.DLI_BATCH_LEASE)
    queued = DBTaskResult.objects.filter(
        task_path=run_delete_batch.module_path,
        status=TaskResultStatus.READY,
        args_kwargs__args=[str(batch_id)],
    )
    return queued.filter(Q(run_after=get_date_max()) | Q(run_after__lte=soon)).exists()


def sweep_schedule() -> None:
    """Make sure one sweep is queued. Each sweep queues the next as it starts, so the chain survives
    any worker's death; two chains (two workers racing) merge back into one at the next sweep."""
    queued = DBTaskResult.objects.filter(
        task_path=resume_stalled_batches.module_path, status=TaskResultStatus.READY
    )
    if not queued.exists():
        # DLI_BATCH_SWEEP seconds apart: a dead worker's batch is resumed well within a minute.
        resume_stalled_batches.using(
            run_after=timezone.now() + timedelta(seconds=settings.DLI_BATCH_SWEEP)
        ).enqueue()


def batch_enqueue(batch_id: uuid.UUID) -> None:
    """Hand a batch to the workers (after the commit that made it), with a sweep queued behind it."""
    run_delete_batch.enqueue(str(batch_id))
    sweep_schedule()
