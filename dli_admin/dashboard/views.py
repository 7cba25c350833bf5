"""Projects and jobs pages. Each view parses, authorizes, calls one service or selector, renders."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import datetime

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from dli_admin.accounts.http import AuthenticatedHttpRequest
from dli_admin.audit.selectors import snapshots_document
from dli_admin.audit.services import client_ip_for
from dli_admin.deletes import services
from dli_admin.deletes.models import DeleteBatch
from dli_admin.deletes.selectors import (
    batch_for,
    batch_holding,
    batch_progress,
    batch_rows,
    batch_rows_settled,
    batch_snapshots,
    batches_live,
)
from dli_admin.dli import DliError
from dli_admin.projects.connections import DliNotConfigured, dli_client_for
from dli_admin.projects.jobs import parse_job_id
from dli_admin.projects.models import DliProject, Grant
from dli_admin.projects.permissions import is_auditor, may_delete_any, project_for, projects_visible_to
from dli_admin.projects.selectors import JobFilters, flink_job_definition, flink_jobs_page

from .forms import BatchPageForm, BatchPollForm, JobFilterForm
from .rows import job_rows_html, page_ids_html

logger = logging.getLogger(__name__)
JOBS = "dashboard/jobs.html"


def _requester(request: AuthenticatedHttpRequest) -> services.Requester:
    return services.Requester(
        user=request.user,
        client_ip=client_ip_for(request),
        user_agent=request.headers.get("User-Agent", "")[:300],
    )


def _project_for_change(request: AuthenticatedHttpRequest, project_id: str, job_ids=()):
    """The project of a mutating request; a refusal (no role: 404) is audited, then raised."""
    try:
        return project_for(request.user, project_id)[0]
    except Http404:
        services.flink_jobs_refusal_record(
            _requester(request), project_id[:64], job_ids, "no role in this project (or no such project)"
        )
        raise


def _page_ids(request: AuthenticatedHttpRequest) -> set[int]:
    """Ids of the rows shown on the operator's page: only those get swapped in place."""
    return {
        job_id for value in request.POST.getlist("page_ids") if (job_id := parse_job_id(value)) is not None
    }


def _render(
    request: AuthenticatedHttpRequest, partial: str, context: dict, status: int = 200
) -> HttpResponse:
    """A fragment for htmx, the whole page otherwise; the same URL answers both."""
    template = f"{JOBS}#{partial}" if request.htmx else "dashboard/jobs_action.html"
    response = render(request, template, {**context, "partial": partial}, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
def project_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    projects = list(projects_visible_to(request.user))
    roles = dict(
        Grant.objects.filter(user=request.user, project__in=projects).values_list("project_id", "role")
    )
    rows = [
        (project, "owner (superuser)" if request.user.is_superuser else roles.get(project.pk))
        for project in projects
    ]
    running = [batch for batch in batches_live() if batch.project_id in {project.pk for project in projects}]
    auditor = not request.user.is_superuser and is_auditor(request.user)
    context = {"rows": rows, "running": running, "auditor": auditor}
    return render(request, "dashboard/project_list.html", context)


@require_GET
def job_list(request: AuthenticatedHttpRequest, project_id: str) -> HttpResponse:
    project, role = project_for(request.user, project_id)
    form = JobFilterForm(request.GET)
    filters = form.filters()
    page = error = None
    try:
        # An invalid filter lists nothing: leaving it out would show (and offer to delete) more jobs.
        if filters is not None:
            page = flink_jobs_page(
                client=dli_client_for(project),
                filters=filters,
                page=form.page_number(),
                page_size=form.page_size_value(),
            )
    except (DliError, DliNotConfigured) as exc:
        logger.warning("listing jobs of %s failed: %s", project.project_id, exc)
        error = str(exc)
    context = {
        "project": project,
        "role": role,
        "may_delete": may_delete_any(role),
        "form": form,
        "filters": filters,
        "page": page,
        "rows_html": job_rows_html(page.jobs, project_id=project.project_id, selectable=may_delete_any(role))
        if page
        else "",
        "page_ids_html": page_ids_html(page.jobs) if page else "",
        "error": error,
        "query": _query_without_page(request),
    }
    template = f"{JOBS}#jobs-region" if request.htmx and request.htmx.target == "jobs-region" else JOBS
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _definition_or_404(request: AuthenticatedHttpRequest, project_id: str, job_id: str):
    """Any role in the project may read a job's definition; DLI is asked on every request (no cache)."""
    project, role = project_for(request.user, project_id)
    parsed = parse_job_id(job_id)
    if parsed is None:
        raise Http404("No such job.")
    definition = flink_job_definition(client=dli_client_for(project), job_id=parsed)
    if definition is None:
        raise Http404("DLI does not know this job in this project: it was deleted or never existed.")
    return project, role, definition


@require_GET
def job_detail(request: AuthenticatedHttpRequest, project_id: str, job_id: str) -> HttpResponse:
    """One job as DLI's console shows it: status, owner, queue, times and its definition (read-only)."""
    try:
        project, role, definition = _definition_or_404(request, project_id, job_id)
    except (DliError, DliNotConfigured) as exc:
        project, role = project_for(request.user, project_id)
        logger.warning("showing a job of %s failed: %s", project.project_id, exc)
        context = {"project": project, "role": role, "job_id": job_id, "error": str(exc)}
        return render(request, "dashboard/job_detail.html", context, status=502)
    context = {"project": project, "role": role, "definition": definition, "job": definition.job}
    return render(request, "dashboard/job_detail.html", context)


@require_GET
def job_definition_download(request: AuthenticatedHttpRequest, project_id: str, job_id: str) -> HttpResponse:
    """The job's definition as DLI's show call returned it, as a JSON file."""
    try:
        _project, _role, definition = _definition_or_404(request, project_id, job_id)
    except (DliError, DliNotConfigured) as exc:
        return HttpResponse(f"DLI did not answer: {exc}", status=502, content_type="text/plain")
    response = JsonResponse(dict(definition.detail), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="dli-job-{definition.job.job_id}.json"'
    return response


def _query_without_page(request: AuthenticatedHttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _select_across(request: AuthenticatedHttpRequest) -> JobFilters | None:
    if request.POST.get("select_across") != "1":
        return None
    filters = JobFilterForm(request.POST).filters()
    if filters is None:
        raise services.SelectionError(
            "The filter of this selection is not valid: fix the filters, list the jobs again, then select."
        )
    return filters


@require_POST
def job_delete_review(request: AuthenticatedHttpRequest, project_id: str) -> HttpResponse:
    """Step 1: what would be deleted, what is excluded and why, and the confirm button."""
    project = _project_for_change(request, project_id, request.POST.getlist("job_ids")[:200])
    context = {"project": project, "page_ids": sorted(_page_ids(request))}
    try:
        plan = services.flink_jobs_delete_plan(
            requester=_requester(request),
            project=project,
            job_ids=request.POST.getlist("job_ids"),
            select_across=_select_across(request),
        )
    except (services.SelectionError, DliError, DliNotConfigured) as exc:
        return _render(request, "action-error", {**context, "error": str(exc)}, status=400)
    return _render(request, "confirm-panel", {**context, "plan": plan})


@require_POST
def job_delete(request: AuthenticatedHttpRequest, project_id: str) -> HttpResponse:
    """Step 2: hand what the signed confirmation lists to a worker; answers at once with its progress."""
    project = _project_for_change(request, project_id)
    page_ids = sorted(_page_ids(request))
    context = {"project": project, "page_ids": page_ids}
    token = request.POST.get("token", "")
    confirm_name = request.POST.get("confirm_name", "")
    try:
        if not token:
            raise services.SelectionError("Nothing to delete: select jobs and review them first.")
        batch = services.flink_jobs_delete(
            requester=_requester(request),
            project=project,
            token=token,
            confirm_name=confirm_name,
            without_snapshot=request.POST.get("without_snapshot") == "on",
        )
    except services.NameMismatch as exc:
        # Show the same confirmation again with the message, so nothing typed is lost but the name.
        return _render(request, "confirm-panel", {**context, "plan": exc.plan, "name_error": str(exc)}, 400)
    except (services.SelectionError, DliNotConfigured) as exc:
        return _render(request, "action-error", {**context, "error": str(exc)}, status=400)
    url = reverse("dli-batch-detail", args=[project.project_id, batch.pk])
    if not request.htmx:
        return redirect(url)  # POST, redirect, GET: a reload never confirms twice
    response = _render_progress(request, project, batch, rows=page_ids, since=None)
    response["HX-Push-Url"] = url
    return response


def _render_progress(
    request: AuthenticatedHttpRequest,
    project: DliProject,
    batch: DeleteBatch,
    *,
    rows: list[int],
    since: datetime | None,
) -> HttpResponse:
    """The batch's progress panel, with each shown row that settled since the last look swapped in."""
    progress = batch_progress(batch)
    settled = batch_rows_settled(batch, job_ids=rows, since=since)
    newest = max((row.settled_at for row in settled if row.settled_at), default=since)
    context = {
        "project": project,
        "batch": batch,
        "progress": progress,
        "settled_rows": settled,
        "rows": ",".join(str(job_id) for job_id in rows),
        "since": newest.isoformat() if newest else "",
        "may_cancel": services.may_cancel(request.user, batch),
    }
    response = render(request, "dashboard/batch.html#progress", context)
    patch_vary_headers(response, ["HX-Request"])
    if not progress.running and (request.method == "POST" or request.headers.get("X-Dli-Admin-Poll")):
        # Just ended (seen by a poll, or at once by the confirm): the page re-reads its counts and rows.
        response["HX-Trigger"] = "dli-batch-ended"
    return response


def _batch_or_404(request: AuthenticatedHttpRequest, project_id: str, batch_id: uuid.UUID):
    project, role = project_for(request.user, project_id)
    batch = batch_for(project=project, batch_id=batch_id)
    if batch is None:
        raise Http404("No such delete batch in this project.")
    return project, role, batch


@require_GET
def batch_detail(request: AuthenticatedHttpRequest, project_id: str, batch_id: uuid.UUID) -> HttpResponse:
    """A batch at its stable URL: live progress while it runs, every job's outcome once it ended."""
    project, role, batch = _batch_or_404(request, project_id, batch_id)
    form = BatchPageForm(request.GET)
    page = form.cleaned_data["page"] if form.is_valid() and form.cleaned_data["page"] else 1
    rows, pages = batch_rows(batch, page=page)
    progress = batch_progress(batch)
    snapshots = batch_snapshots(batch, job_ids=[row.job_id for row in rows])
    may_restore = services.may_restore(request.user, batch)
    context = {
        # The definitions kept of this page's jobs, and whether each may be restored from its snapshot.
        "snapshot_rows": [
            (row, snapshots[row.job_id], may_restore and row.outcome == "deleted")
            for row in rows
            if row.job_id in snapshots
        ],
        "may_restore": may_restore,
        "project": project,
        "batch": batch,
        "progress": progress,
        "job_rows": rows,
        "page": min(page, pages),
        "pages": pages,
        "rows": ",".join(str(row.job_id) for row in rows if row.state != "settled"),
        "since": timezone.now().isoformat(),
        "may_cancel": services.may_cancel(request.user, batch),
        "may_check": may_delete_any(role) and bool(progress.counts.get("unknown")) and not progress.running,
    }
    return render(request, "dashboard/batch.html", context)


@require_GET
def batch_progress_view(
    request: AuthenticatedHttpRequest, project_id: str, batch_id: uuid.UUID
) -> HttpResponse:
    """What the progress panel polls (about once a second) while the batch runs."""
    project, _role, batch = _batch_or_404(request, project_id, batch_id)
    form = BatchPollForm(request.GET)
    if not form.is_valid():
        # Swapped in place of the panel (htmx swaps errors too), so it stops the polling and says why.
        return HttpResponse(
            '<p class="card error" role="alert" id="batch-progress">This progress request could not be '
            "read: reload the page.</p>",
            status=400,
        )
    return _render_progress(
        request, project, batch, rows=form.cleaned_data["rows"], since=form.cleaned_data["since"]
    )


@require_POST
def batch_cancel(request: AuthenticatedHttpRequest, project_id: str, batch_id: uuid.UUID) -> HttpResponse:
    """Stop a running batch: chunks not yet sent are not sent; a chunk in flight settles normally."""
    project = _project_for_change(request, project_id)
    batch = batch_for(project=project, batch_id=batch_id)
    if batch is None:
        raise Http404("No such delete batch in this project.")
    batch = services.flink_jobs_batch_cancel(requester=_requester(request), batch=batch)
    if not request.htmx:
        messages.info(
            request, "The batch stops before its next chunk: jobs not yet sent will not be deleted."
        )
        return redirect(reverse("dli-batch-detail", args=[project.project_id, batch.pk]))
    form = BatchPollForm(request.POST)
    rows = form.cleaned_data["rows"] if form.is_valid() else []
    return _render_progress(request, project, batch, rows=rows, since=None)


@require_POST
def job_check(request: AuthenticatedHttpRequest, project_id: str, job_id: str) -> HttpResponse:
    """'Check again' on an unknown row: read the job back from DLI and record what we learn."""
    project = _project_for_change(request, project_id, [job_id])
    try:
        outcomes = services.flink_job_check(requester=_requester(request), project=project, job_id=job_id)
    except services.SelectionError as exc:
        return _check_error(request, project, job_id, str(exc), status=400)
    except (DliError, DliNotConfigured) as exc:
        return _check_error(request, project, job_id, f"DLI did not answer the check: {exc}", status=502)
    if not outcomes:
        error = (
            f"Job {job_id} has nothing to check now: either its delete is settled, or a batch that is "
            "still running holds it (try again in a moment)."
        )
        return _check_error(request, project, job_id, error, status=404)
    item = outcomes[-1]
    if not request.htmx:
        # POST, redirect, GET: a reload shows the result again instead of checking (and recording) twice.
        note = f"Checked with DLI: {item.name} ({item.job_id}): {item.outcome}. {item.message}."
        messages.info(request, note)
        batch = batch_holding(project=project, job_id=item.job_id)
        if batch is not None:
            return redirect(reverse("dli-batch-detail", args=[project.project_id, batch.pk]))
        return redirect(reverse("dli-job-list", args=[project.project_id]))
    response = _render(
        request, "check-row", {"project": project, "item": item, "page_ids": [item.job_id], "checked": True}
    )
    response["HX-Trigger"] = "dli-job-checked"  # an ended batch's summary re-reads its counts
    return response


@require_POST
def batch_check(request: AuthenticatedHttpRequest, project_id: str, batch_id: uuid.UUID) -> HttpResponse:
    """ "Check all unknown": read every unknown job of the batch back from DLI, then show the batch again."""
    project = _project_for_change(request, project_id)
    batch = batch_for(project=project, batch_id=batch_id)
    if batch is None:
        raise Http404("No such delete batch in this project.")
    try:
        outcomes = services.flink_jobs_batch_check(requester=_requester(request), batch=batch)
    except (services.SelectionError, DliError, DliNotConfigured) as exc:
        messages.error(request, f"Nothing was checked: {exc}")
    else:
        counts = Counter(item.outcome for item in outcomes)
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "nothing to check"
        messages.info(
            request, f"Checked {len(outcomes)} unknown job{pluralize(len(outcomes))} with DLI: {summary}."
        )
    return redirect(reverse("dli-batch-detail", args=[project.project_id, batch.pk]))  # POST, redirect, GET


def _check_error(
    request: AuthenticatedHttpRequest, project: DliProject, job_id: str, error: str, *, status: int
) -> HttpResponse:
    """A failed "Check again" lands in its own row's cell, next to the button; the row stays."""
    response = _render(request, "check-error", {"project": project, "error": error}, status=status)
    if request.htmx:
        parsed = parse_job_id(job_id)
        retarget(response, f"#check-error-{parsed}" if parsed is not None else "#action-panel")
        reswap(response, "innerHTML")
    return response


@require_GET
def batch_snapshots_json(
    request: AuthenticatedHttpRequest, project_id: str, batch_id: uuid.UUID
) -> HttpResponse:
    """The definitions kept of a batch's jobs as one JSON document, or of one job (?job=ID)."""
    _project, _role, batch = _batch_or_404(request, project_id, batch_id)
    snapshots = batch_snapshots(batch)
    suffix = ""
    if "job" in request.GET:
        job_id = parse_job_id(request.GET["job"])
        if job_id is None or job_id not in snapshots:
            raise Http404("No definition of this job was kept in this batch.")
        snapshots, suffix = {job_id: snapshots[job_id]}, f"-job-{job_id}"
    document = snapshots_document(snapshots.values(), batch_id=batch.pk, project_id=batch.project_id_text)
    response = JsonResponse(document, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="dli-snapshots-{batch.pk}{suffix}.json"'
    return response


def _delete_batch_for_restore(request: AuthenticatedHttpRequest, project_id: str, batch_id: uuid.UUID):
    project = _project_for_change(request, project_id)
    batch = batch_for(project=project, batch_id=batch_id)
    if batch is None:
        raise Http404("No such delete batch in this project.")
    return project, batch


def _restore_page(request: AuthenticatedHttpRequest, context: dict, status: int = 200) -> HttpResponse:
    return render(request, "dashboard/restore.html", context, status=status)


@require_POST
def batch_restore_review(
    request: AuthenticatedHttpRequest, project_id: str, batch_id: uuid.UUID
) -> HttpResponse:
    """Step 1 of a restore: what would be re-created from which snapshot, what cannot be and why."""
    project, batch = _delete_batch_for_restore(request, project_id, batch_id)
    context = {"project": project, "batch": batch}
    everything = request.POST.get("scope") == "all"
    try:
        job_ids = [] if everything else request.POST.getlist("job_ids")
        if not everything and not job_ids:
            raise services.SelectionError("Tick the jobs to restore, or press “Restore all restorable…”.")
        plan = services.flink_jobs_restore_plan(
            requester=_requester(request), project=project, batch=batch, job_ids=job_ids
        )
    except services.SelectionError as exc:
        return _restore_page(request, {**context, "error": str(exc)}, status=400)
    return _restore_page(request, {**context, "plan": plan})


@require_POST
def batch_restore(request: AuthenticatedHttpRequest, project_id: str, batch_id: uuid.UUID) -> HttpResponse:
    """Step 2: hand the confirmed restore to a worker; answers with a redirect to the restore's page."""
    project, batch = _delete_batch_for_restore(request, project_id, batch_id)
    context = {"project": project, "batch": batch}
    try:
        restore = services.flink_jobs_restore(
            requester=_requester(request),
            project=project,
            batch=batch,
            token=request.POST.get("token", ""),
            again=request.POST.get("again") == "on",
        )
    except services.RestoreAgain as exc:
        return _restore_page(request, {**context, "plan": exc.plan, "error": str(exc)}, status=400)
    except services.SelectionError as exc:
        return _restore_page(request, {**context, "error": str(exc)}, status=400)
    return redirect(reverse("dli-batch-detail", args=[project.project_id, restore.pk]))
