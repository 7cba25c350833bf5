"""Webhook notices after policy runs and large manual batches, against a local HTTP receiver."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from dli_admin.deletes import services as deletes
from dli_admin.deletes.services import Requester
from dli_admin.policies import services
from dli_admin.policies.forms import PolicyForm
from dli_admin.policies.models import CleanupPolicy, DeliveryState, WebhookDelivery
from dli_admin.policies.tasks import tick_schedule
from dli_admin.policies.webhooks import delivery_attempt
from tests.helpers import WebhookReceiver, ms_ago, run_queued_batches, start_worker, stop, wait_for

TOKEN = "T0KEN-that-must-stay-secret"
QUEUE = "hook_q"


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def policy_of(owner, project, **overrides) -> CleanupPolicy:
    data = {
        "name": "weekly-clean",
        "statuses": ["job_finish"],
        "queue_name": QUEUE,
        "min_age_days": "30",
        "max_jobs": "10",
        "schedule": "daily",
        "at_time": "02:00",
        "zone": "UTC",
        "mode": "delete",
        "enabled": "on",
        **overrides,
    }
    form = PolicyForm(data)
    assert form.is_valid(), form.errors
    policy = services.policy_save(requester=Requester(user=owner), project=project, form=form)
    CleanupPolicy.objects.filter(pk=policy.pk).update(schedule_from=timezone.now() - timedelta(days=2))
    return policy


def hook(owner, project, receiver, min_jobs=100):
    services.webhook_save(
        requester=Requester(user=owner),
        project=project,
        url=f"{receiver.url}/hooks/{TOKEN}",
        min_jobs=min_jobs,
        enabled=True,
    )


def old_jobs(simulator, project, n: int) -> list[int]:
    return [
        simulator.add_job(
            project.project_id, name=f"old-{i}", status="job_finish", queue_name=QUEUE, create_time=ms_ago(60)
        )
        for i in range(n)
    ]


@pytest.mark.django_db
def test_a_report_only_run_notifies_with_project_policy_counts_and_slack_text(
    simulator, project_a, owner, receiver
):
    hook(owner, project_a, receiver)
    old_jobs(simulator, project_a, 2)
    policy_of(owner, project_a, mode="report")
    (run,) = services.policies_tick()
    delivery = WebhookDelivery.objects.get(run=run)
    assert delivery_attempt(delivery.pk) == "sent"
    (body,) = receiver.bodies
    assert receiver.paths == [f"/hooks/{TOKEN}"]
    assert body["project"] == {"id": project_a.project_id, "name": project_a.name}
    assert body["policy"] == "weekly-clean" and body["user"] == "oscar" and body["counts"] == {"matched": 2}
    assert body["batch_url"] is None
    assert body["text"].startswith(f"dli-admin: {project_a.name}: policy weekly-clean:")


@pytest.mark.django_db
def test_a_failing_receiver_is_retried_then_shown_on_the_policy_page_without_its_token(
    simulator, project_a, owner, receiver, settings, caplog
):
    settings.DLI_WEBHOOK_ATTEMPTS = 2
    receiver.status = 500
    hook(owner, project_a, receiver)
    policy = policy_of(owner, project_a, mode="report")
    (run,) = services.policies_tick()
    delivery = WebhookDelivery.objects.get(run=run)
    with caplog.at_level(logging.WARNING, logger="dli_admin.policies"):
        assert delivery_attempt(delivery.pk) == "HTTP 500"
        retry = (
            DBTaskResult.objects.filter(task_path__endswith="deliver_webhook")
            .order_by("-enqueued_at")
            .first()
        )
        assert retry is not None and retry.run_after > timezone.now()  # a later attempt, not a blocking one
        assert delivery_attempt(delivery.pk) == "HTTP 500"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 2 and len(receiver.bodies) == 2
    assert "gave up" in caplog.text and TOKEN not in caplog.text and "127.0.0.1" in caplog.text
    client = Client()
    client.force_login(owner)
    page = client.get(reverse("dli-policy-detail", args=[project_a.project_id, policy.pk])).content.decode()
    assert "HTTP 500 after 2 attempts" in page and TOKEN not in page
    webhook_page = client.get(reverse("dli-project-webhook", args=[project_a.project_id])).content.decode()
    assert f"{receiver.url}/…" in webhook_page and TOKEN not in webhook_page


@pytest.mark.django_db
def test_a_receiver_that_does_not_answer_times_out(simulator, project_a, owner, receiver, settings):
    settings.DLI_WEBHOOK_TIMEOUT = 0.3
    receiver.delay = 1.0
    hook(owner, project_a, receiver)
    policy_of(owner, project_a, mode="report")
    (run,) = services.policies_tick()
    delivery = WebhookDelivery.objects.get(run=run)
    assert delivery_attempt(delivery.pk) == "no answer within 0.3s"


@pytest.mark.django_db
def test_manual_batches_above_the_threshold_are_notified_and_smaller_ones_not(
    simulator, project_a, owner, operator, receiver
):
    hook(owner, project_a, receiver, min_jobs=2)
    requester = deletes.Requester(user=operator)
    for size in (2, 3):
        ids = [str(job_id) for job_id in old_jobs(simulator, project_a, size)]
        plan = deletes.flink_jobs_delete_plan(requester=requester, project=project_a, job_ids=ids)
        deletes.flink_jobs_delete(requester=requester, project=project_a, token=plan.token)
        run_queued_batches()  # the real runner: its end sends batch_ended
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.payload["user"] == "olivia" and delivery.payload["policy"] is None
    assert delivery.payload["counts"]["deleted"] == 3 and delivery.payload["batch_url"].endswith(
        f"/batches/{delivery.batch_id}/"
    )


@pytest.mark.django_db(transaction=True)
def test_the_workers_run_a_due_policy_and_its_batch_and_notify(
    simulator, project_a, owner, receiver, settings
):
    """The cron-free set-up: a real worker runs the self-scheduling tick, the batch, then the notice."""
    settings.DLI_POLICY_TICK = 0.2
    hook(owner, project_a, receiver)
    jobs = old_jobs(simulator, project_a, 3)
    policy_of(owner, project_a)
    tick_schedule()
    worker = start_worker(simulator, "policy-worker", DLI_ADMIN_BASE_URL="https://dli-admin.example.com")
    try:
        wait_for(lambda: receiver.bodies, timeout=60, what="the webhook notice")
    finally:
        output = stop(worker)
    (body,) = receiver.bodies
    assert body["policy"] == "weekly-clean" and body["counts"]["deleted"] == 3, output[-2000:]
    assert body["batch_url"].startswith(
        f"https://dli-admin.example.com/projects/{project_a.project_id}/batches/"
    )
    assert all(simulator.job(project_a.project_id, job_id) is None for job_id in jobs)
    assert TOKEN not in output
