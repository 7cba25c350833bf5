"""Reads for the policy pages: a project's policies, one policy, its runs and its notices."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from dli_admin.projects.models import DliProject

from .models import CleanupPolicy, DeliveryState, PolicyRun, ProjectWebhook, WebhookDelivery

HISTORY_ROWS = 50


def policies_of(project: DliProject) -> QuerySet[CleanupPolicy]:
    return CleanupPolicy.objects.filter(project=project).select_related("created_by")


def policy_of(project: DliProject, policy_id: int) -> CleanupPolicy:
    policy = policies_of(project).filter(pk=policy_id).select_related("project").first()
    if policy is None:
        raise Http404("No such cleanup policy in this project.")
    return policy


def policy_runs(policy: CleanupPolicy, limit: int = HISTORY_ROWS) -> list[PolicyRun]:
    """The policy's runs, newest slot first."""
    return list(PolicyRun.objects.filter(policy=policy).select_related("batch")[:limit])


def policy_delivery_failures(policy: CleanupPolicy) -> list[WebhookDelivery]:
    return list(
        WebhookDelivery.objects.filter(run__policy=policy, state=DeliveryState.FAILED).select_related("run")[
            :HISTORY_ROWS
        ]
    )


def project_delivery_failures(project: DliProject) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(project=project, state=DeliveryState.FAILED)[:HISTORY_ROWS])


def webhook_of(project: DliProject) -> ProjectWebhook | None:
    return ProjectWebhook.objects.filter(project=project).first()
