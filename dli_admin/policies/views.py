"""Cleanup policy pages: owners change, readers of the project look. Each view parses, calls one service
or selector, and renders; the services check the role again and audit every change."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dli_admin.accounts.http import AuthenticatedHttpRequest
from dli_admin.audit.services import client_ip_for
from dli_admin.deletes.services import Requester, SelectionError, flink_jobs_refusal_record
from dli_admin.dli import DliError
from dli_admin.projects.connections import DliNotConfigured
from dli_admin.projects.models import DliProject, Role
from dli_admin.projects.permissions import project_for

from . import selectors, services
from .forms import PolicyForm
from .models import CleanupPolicy, RunState
from .schedule import policy_next_slot
from .webhooks import redacted


def _requester(request: AuthenticatedHttpRequest) -> Requester:
    return Requester(
        user=request.user,
        client_ip=client_ip_for(request),
        user_agent=request.headers.get("User-Agent", "")[:300],
    )


def _project(request: AuthenticatedHttpRequest, project_id: str) -> tuple[DliProject, Role]:
    """The project and the user's role; a change asked for without any role is audited, then 404."""
    try:
        return project_for(request.user, project_id)
    except Http404:
        if request.method == "POST":
            flink_jobs_refusal_record(
                _requester(request), project_id[:64], [], "no role in this project (cleanup policies)"
            )
        raise


def _owner_project(request: AuthenticatedHttpRequest, project_id: str) -> DliProject:
    project, role = _project(request, project_id)
    if role != Role.OWNER:
        if request.method == "POST":
            services.require_owner(_requester(request), project, "change cleanup policies")
        raise PermissionDenied("Only an owner of the project may change cleanup policies.")
    return project


@require_GET
def policy_list(request: AuthenticatedHttpRequest, project_id: str) -> HttpResponse:
    project, role = _project(request, project_id)
    now = timezone.now()
    rows = [
        (policy, policy_next_slot(policy, now), selectors.policy_runs(policy, limit=1))
        for policy in selectors.policies_of(project)
    ]
    context = {
        "project": project,
        "role": role,
        "rows": rows,
        "may_change": role == Role.OWNER,
        "webhook": selectors.webhook_of(project),
    }
    return render(request, "policies/list.html", context)


def _form_page(request: AuthenticatedHttpRequest, project: DliProject, policy: CleanupPolicy | None):
    if request.method == "POST":
        form = PolicyForm(request.POST, instance=policy, project=project)
        if form.is_valid():
            saved = services.policy_save(
                requester=_requester(request), project=project, form=form, policy=policy
            )
            messages.success(request, f"Policy {saved.name} saved.")
            return redirect(reverse("dli-policy-detail", args=[project.project_id, saved.pk]))
        status = 400
    else:
        initial = {"statuses": ["job_finish", "job_submit_fail", "job_cancel_success"], "at_time": "02:00"}
        form = PolicyForm(instance=policy, initial=initial if policy is None else None, project=project)
        status = 200
    context = {"project": project, "form": form, "policy": policy}
    return render(request, "policies/form.html", context, status=status)


@require_http_methods(["GET", "POST"])
def policy_create(request: AuthenticatedHttpRequest, project_id: str) -> HttpResponse:
    return _form_page(request, _owner_project(request, project_id), None)


@require_http_methods(["GET", "POST"])
def policy_edit(request: AuthenticatedHttpRequest, project_id: str, policy_id: int) -> HttpResponse:
    project = _owner_project(request, project_id)
    return _form_page(request, project, selectors.policy_of(project, policy_id))


@require_GET
def policy_detail(request: AuthenticatedHttpRequest, project_id: str, policy_id: int) -> HttpResponse:
    project, role = _project(request, project_id)
    policy = selectors.policy_of(project, policy_id)
    runs = selectors.policy_runs(policy)
    context = {
        "project": project,
        "policy": policy,
        "may_change": role == Role.OWNER,
        "next_slot": policy_next_slot(policy, timezone.now()) if policy.enabled else None,
        "runs": runs,
        "running": any(run.state == RunState.RUNNING for run in runs),
        "failures": selectors.policy_delivery_failures(policy),
    }
    return render(request, "policies/detail.html", context)


@require_GET
def policy_preview(request: AuthenticatedHttpRequest, project_id: str, policy_id: int) -> HttpResponse:
    """What the policy would delete at this moment: the same rules as a run, read from DLI now."""
    project, _role = _project(request, project_id)
    policy = selectors.policy_of(project, policy_id)
    context: dict = {"project": project, "policy": policy}
    status = 200
    try:
        context["preview"] = services.policy_preview(policy)
    except (DliError, DliNotConfigured) as error:
        context["error"] = f"DLI could not be read: {error}"
        status = 502
    template = "policies/preview.html#preview" if request.htmx else "policies/preview.html"
    return render(request, template, context, status=status)


def _policy_change(request: AuthenticatedHttpRequest, project_id: str, policy_id: int) -> CleanupPolicy:
    project, _role = _project(request, project_id)
    return selectors.policy_of(project, policy_id)


@require_POST
def policy_run(request: AuthenticatedHttpRequest, project_id: str, policy_id: int) -> HttpResponse:
    policy = _policy_change(request, project_id, policy_id)
    try:
        services.policy_run_now(requester=_requester(request), policy=policy, background=True)
    except SelectionError as error:
        messages.error(request, str(error))
    else:
        messages.info(
            request, "The run has started: a worker reads DLI and runs it. Its outcome shows below."
        )
    return redirect(reverse("dli-policy-detail", args=[project_id, policy.pk]))


@require_POST
def policy_disable(request: AuthenticatedHttpRequest, project_id: str, policy_id: int) -> HttpResponse:
    policy = _policy_change(request, project_id, policy_id)
    services.policy_disable(requester=_requester(request), policy=policy)
    messages.info(request, f"Policy {policy.name} is disabled: it runs no more until enabled again.")
    return redirect(reverse("dli-policy-detail", args=[project_id, policy.pk]))


@require_POST
def policy_delete(request: AuthenticatedHttpRequest, project_id: str, policy_id: int) -> HttpResponse:
    policy = _policy_change(request, project_id, policy_id)
    services.policy_remove(requester=_requester(request), policy=policy)
    messages.info(request, f"Policy {policy.name} removed. Its batches stay in the audit log.")
    url = reverse("dli-policy-list", args=[project_id])
    if request.htmx:  # the button asks first (hx-confirm), then the page moves to the list
        response = HttpResponse(status=200)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


class WebhookForm(forms.Form):
    url = forms.URLField(
        required=False,
        max_length=1000,
        assume_scheme="https",
        label="Webhook URL",
        help_text="empty removes the webhook; kept secret: shown as its host only",
    )
    min_jobs = forms.IntegerField(
        min_value=0, initial=100, label="Also notify manual batches of more than (jobs)"
    )
    enabled = forms.BooleanField(required=False, initial=True)
    remove = forms.BooleanField(required=False, label="Remove the webhook")

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if url and not url.startswith(("https://", "http://")):
            raise forms.ValidationError("A webhook URL starts with https:// (or http://).")
        return url


@require_http_methods(["GET", "POST"])
def project_webhook(request: AuthenticatedHttpRequest, project_id: str) -> HttpResponse:
    project = _owner_project(request, project_id)
    hook = selectors.webhook_of(project)
    status = 200
    if request.method == "POST":
        form = WebhookForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            # An empty URL keeps the one set (it is never sent back to the browser), unless removed.
            url = "" if data["remove"] else data["url"] or (hook.url if hook else "")
            services.webhook_save(
                requester=_requester(request),
                project=project,
                url=url,
                min_jobs=data["min_jobs"],
                enabled=data["enabled"],
            )
            messages.success(request, "Webhook saved." if url else "Webhook removed.")
            return redirect(reverse("dli-policy-list", args=[project_id]))
        status = 400
    else:
        form = WebhookForm(initial={"min_jobs": hook.min_jobs, "enabled": hook.enabled} if hook else None)
    context = {
        "project": project,
        "form": form,
        "hook": hook,
        "shown_url": redacted(hook.url) if hook else "",
        "failures": selectors.project_delivery_failures(project),
    }
    return render(request, "policies/webhook.html", context, status=status)
