"""The audit review pages: auditors see every project, owners their own, superusers all, others 403."""

from __future__ import annotations

import uuid

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dli_admin.accounts.http import AuthenticatedHttpRequest
from dli_admin.projects.jobs import parse_job_id
from dli_admin.projects.models import DliProject
from dli_admin.projects.permissions import audit_project_ids

from .export import audit_export_csv, audit_export_rows
from .forms import AuditFilterForm
from .rows import audit_rows_html
from .selectors import BatchDetail, audit_batch_page, audit_batch_read, snapshots_document


def _scope(request: AuthenticatedHttpRequest) -> set[str] | None:
    """Projects whose log the user may read (None: all); PermissionDenied when there are none."""
    scope = audit_project_ids(request.user)
    if scope is not None and not scope:
        raise PermissionDenied("Only auditors and project owners may read the audit log.")
    return scope


def _is_fragment_request(request: AuthenticatedHttpRequest) -> bool:
    # A history restore wants the whole page even though htmx sends it.
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_GET
@vary_on_headers("HX-Request")
def audit_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    scope = _scope(request)
    form = AuditFilterForm(request.GET)
    page = None
    if form.is_valid():
        page = audit_batch_page(
            scope=scope,
            filters=form.filters(),
            before=form.cleaned_data["before"],
            after=form.cleaned_data["after"],
        )
    projects = DliProject.objects.all() if scope is None else DliProject.objects.filter(project_id__in=scope)
    rows_html = audit_rows_html(page.rows) if page else ""
    context = {"form": form, "page": page, "rows_html": rows_html, "projects": projects}
    template = "audit/list.html#results" if _is_fragment_request(request) else "audit/list.html"
    return render(request, template, context)


def _batch_or_404(request: AuthenticatedHttpRequest, batch_id: uuid.UUID) -> BatchDetail:
    batch = audit_batch_read(scope=_scope(request), batch_id=batch_id)
    if batch is None:
        raise Http404("No such batch in the audit log.")  # or not one of the user's projects
    return batch


@require_GET
def audit_batch(request: AuthenticatedHttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    return render(request, "audit/batch.html", {"batch": _batch_or_404(request, batch_id)})


@require_GET
@vary_on_headers("HX-Request")
def audit_batch_rows(request: AuthenticatedHttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    """The batch's per-job rows, for expanding a list row in place; a plain visit goes to the batch."""
    batch = _batch_or_404(request, batch_id)
    if not _is_fragment_request(request):
        return redirect("dli-audit-batch", batch_id=batch_id)
    return render(request, "audit/batch.html#job-rows", {"batch": batch, "expanded": True})


@require_GET
def audit_batch_snapshots(request: AuthenticatedHttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    """The definitions a batch's results name, as one JSON document, or one job's (?job=ID)."""
    batch = _batch_or_404(request, batch_id)
    snapshots = batch.snapshots
    suffix = ""
    if "job" in request.GET:
        job_id = parse_job_id(request.GET["job"])
        if job_id is None or job_id not in snapshots:
            raise Http404("No definition of this job in this batch.")
        snapshots, suffix = {job_id: snapshots[job_id]}, f"-job-{job_id}"
    document = snapshots_document(snapshots.values(), batch_id=batch_id, project_id=batch.head.project_id)
    response = JsonResponse(document, json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="dli-snapshots-{batch_id}{suffix}.json"'
    return response


@require_GET
def audit_export(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The current filter as CSV, one row per job record, streamed from server-side cursors."""
    scope = _scope(request)
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "audit/list.html", {"form": form, "page": None, "projects": []}, status=400)
    rows = audit_export_rows(scope=scope, filters=form.filters())
    response = StreamingHttpResponse(audit_export_csv(rows), content_type="text/csv; charset=utf-8")
    filename = f"dli-audit-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
