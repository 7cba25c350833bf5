"""Notices to a project's webhook after a policy run or a large manual batch.

A delivery is a row and a task of its own: the batch (or run) never waits for the receiver. Each
attempt has a timeout; a failed one is tried again later, up to DLI_WEBHOOK_ATTEMPTS in all. The URL
often carries a token, so it is never logged, stored elsewhere or shown but as scheme://host/….
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from dli_admin.audit.models import AuditOutcome
from dli_admin.deletes.models import DeleteBatch, DeleteBatchJob, JobState

from .models import DeliveryState, PolicyRun, ProjectWebhook, WebhookDelivery

log = logging.getLogger("dli_admin.policies")


def redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…" if rest else "…"


def _batch_counts(batch: DeleteBatch) -> dict[str, int]:
    outcomes = DeleteBatchJob.objects.filter(batch=batch, state=JobState.SETTLED).values_list(
        "outcome", flat=True
    )
    counts = dict.fromkeys(AuditOutcome.values, 0)
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _batch_url(batch: DeleteBatch | None) -> str | None:
    if batch is None:
        return None
    path = reverse("dli-batch-detail", args=[batch.project_id_text, batch.pk])
    return f"{settings.DLI_ADMIN_BASE_URL.rstrip('/')}{path}"


def payload(
    *,
    project: Any,
    policy: str | None,
    user: str,
    counts: dict[str, int],
    batch: DeleteBatch | None,
    summary: str,
) -> dict[str, Any]:
    """The JSON a receiver gets; "text" is what Slack (and Slack-compatible chats) show."""
    url = _batch_url(batch)
    who = f"policy {policy}" if policy else f"user {user}"
    counted = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n) or summary
    text = f"dli-admin: {project.name}: {who}: {counted}" + (f" <{url}>" if url else "")
    return {
        "project": {"id": project.project_id, "name": project.name},
        "policy": policy,
        "user": user,
        "counts": counts,
        "summary": summary,
        "batch_id": str(batch.pk) if batch else None,
        "batch_url": url,
        "text": text,
    }


def _queue(project: Any, body: dict[str, Any], *, run: PolicyRun | None, batch_id: Any) -> None:
    hook = ProjectWebhook.objects.filter(project=project, enabled=True).first()
    if hook is None:
        return
    delivery = WebhookDelivery.objects.create(project=project, run=run, batch_id=batch_id, payload=body)
    from .tasks import deliver_webhook

    transaction.on_commit(lambda: deliver_webhook.enqueue(delivery.pk))


def run_notify(run: PolicyRun) -> None:
    """After a run that made no batch (reported, stopped, nothing to do, failed)."""
    try:
        policy = run.policy
        owner = policy.created_by.get_username() if policy.created_by else ""
        body = payload(
            project=policy.project,
            policy=policy.name,
            user=owner,
            counts={"matched": run.matched},
            batch=None,
            summary=f"{run.get_state_display()}: {run.message}",
        )
        _queue(policy.project, body, run=run, batch_id=None)
    except Exception:  # a notice must never fail the run
        log.exception("webhook notice of policy run %s not queued", run.pk)


def batch_ended_notify(sender: Any, batch: DeleteBatch, **kwargs: Any) -> None:
    """The deletes' batch_ended signal: a policy's batch always, a manual one above the threshold."""
    try:
        project = batch.project
        if project is None:
            return
        run = PolicyRun.objects.filter(batch=batch).select_related("policy").first()
        if run is None:
            hook = ProjectWebhook.objects.filter(project=project, enabled=True).first()
            if hook is None or batch.total <= hook.min_jobs:
                return
        body = payload(
            project=project,
            policy=run.policy.name if run else None,
            user=batch.requested_by_username,
            counts=_batch_counts(batch),
            batch=batch,
            summary=batch.end_message,
        )
        _queue(project, body, run=run, batch_id=batch.pk)
    except Exception:  # the batch has ended whatever happens here
        log.exception("webhook notice of batch %s not queued", batch.pk)


def _failure(error: Exception) -> str:
    """What went wrong, without the URL (requests' messages repeat it, token and all)."""
    if isinstance(error, requests.Timeout):
        return f"no answer within {settings.DLI_WEBHOOK_TIMEOUT:g}s"
    if isinstance(error, requests.ConnectionError):
        return "could not connect"
    return f"could not send ({type(error).__name__})"


def delivery_attempt(delivery_id: int) -> str:
    """One POST of a delivery; a failure queues the next attempt, later each time, until the last."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id, state=DeliveryState.PENDING).first()
    if delivery is None:
        return "nothing to send"
    hook = ProjectWebhook.objects.filter(project_id=delivery.project_id, enabled=True).first()
    if hook is None:
        delivery.state, delivery.last_error = DeliveryState.FAILED, "the project's webhook was removed"
        delivery.save()
        return delivery.last_error
    delivery.attempts += 1
    try:
        response = requests.post(
            hook.url, json=delivery.payload, timeout=settings.DLI_WEBHOOK_TIMEOUT, allow_redirects=False
        )
        problem = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except requests.RequestException as error:
        problem = _failure(error)
    if not problem:
        delivery.state, delivery.last_error = DeliveryState.SENT, ""
        delivery.save()
        return "sent"
    delivery.last_error = problem
    last = delivery.attempts >= settings.DLI_WEBHOOK_ATTEMPTS
    delivery.state = DeliveryState.FAILED if last else DeliveryState.PENDING
    delivery.save()
    log.warning(
        "webhook %s of project %s: attempt %d failed: %s%s",
        redacted(hook.url),
        hook.project_id,
        delivery.attempts,
        problem,
        " (gave up)" if last else "",
    )
    if not last:
        from .tasks import deliver_webhook

        pause = settings.DLI_WEBHOOK_RETRY * 2 ** (delivery.attempts - 1)
        deliver_webhook.using(run_after=timezone.now() + timedelta(seconds=pause)).enqueue(delivery.pk)
    return problem
