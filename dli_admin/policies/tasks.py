"""The policies' clock on the workers: a self-scheduling tick (like the deletes' stalled-batch sweep),
and the webhook sender. `manage.py cleanup_policy tick` does one tick from cron instead."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

log = logging.getLogger("dli_admin.policies")


@task()
def run_due_policies() -> int:
    """Run the policies that are due; queues the next tick first, so the chain survives any failure."""
    from .services import policies_tick

    tick_schedule()
    return len(policies_tick())


def tick_schedule() -> None:
    """Make sure one tick is queued, DLI_POLICY_TICK seconds from now. Called when a policy is saved and
    by `cleanup_policy tick --schedule`; each tick queues the next. Workers that were down run the
    queued tick when they come back, and it runs each policy's latest missed slot once."""
    queued = DBTaskResult.objects.filter(
        task_path=run_due_policies.module_path, status=TaskResultStatus.READY
    )
    if not queued.exists():
        run_due_policies.using(
            run_after=timezone.now() + timedelta(seconds=settings.DLI_POLICY_TICK)
        ).enqueue()


@task()
def run_policy(run_id: int) -> str:
    """A run asked for on the policy's page, claimed there."""
    from .services import claimed_run, policy_run

    run = claimed_run(run_id)
    if run is None:
        return "nothing to run"
    return policy_run(run).state


@task()
def deliver_webhook(delivery_id: int) -> str:
    from .webhooks import delivery_attempt

    return delivery_attempt(delivery_id)
