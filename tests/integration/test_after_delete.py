"""After a delete: "Check again" and "Check all unknown" update the batch's own counts, and no result page
re-posts on reload (POST, redirect, GET)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from dli_admin.audit.models import AuditRecord
from dli_admin.deletes.models import DeleteBatch
from tests.helpers import run_queued_batches

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def unknown_batch(client: Client, simulator, project, count: int) -> tuple[DeleteBatch, list[int]]:
    """A confirmed, ended batch whose every job is unknown (DLI answered 502 to the delete)."""
    jobs = [simulator.add_job(project.project_id, name=f"amb-{n}", status="job_finish") for n in range(count)]
    review = client.post(
        reverse("dli-job-delete-review", args=[project.project_id]), {"job_ids": [str(j) for j in jobs]}
    )
    token = re.search(r'name="token" value="([^"]+)"', review.content.decode()).group(1)
    simulator.set_fault(project.project_id, "server_error", 502, ops={"batch_delete"})
    client.post(reverse("dli-job-delete", args=[project.project_id]), {"token": token})
    run_queued_batches()
    simulator.clear_faults()
    batch = DeleteBatch.objects.get()
    return batch, jobs


def batch_url(project, batch) -> str:
    return reverse("dli-batch-detail", args=[project.project_id, batch.pk])


def test_check_all_unknown_settles_them_and_the_summary_follows(operator, project_a, simulator):
    client = login(operator)
    batch, jobs = unknown_batch(client, simulator, project_a, 3)
    page = client.get(batch_url(project_a, batch)).content.decode()
    assert "3 unknown" in page and "Check all 3 unknown with DLI" in page

    response = client.post(reverse("dli-batch-check", args=[project_a.project_id, batch.pk]))
    assert response.status_code == 302 and response["Location"] == batch_url(project_a, batch)
    page = client.get(batch_url(project_a, batch)).content.decode()
    assert "Checked 3 unknown jobs with DLI: 3 failed." in page
    assert re.search(r'<h2 id="batch-progress-title" class="summary" tabindex="-1">3 failed</h2>', page)
    assert "When it ended: 3 unknown." in page
    assert "Check all" not in page


def test_check_again_updates_the_ended_panels_summary(operator, project_a, simulator):
    client = login(operator)
    batch, jobs = unknown_batch(client, simulator, project_a, 2)
    progress = reverse("dli-batch-progress", args=[project_a.project_id, batch.pk])
    assert "2 unknown" in client.get(progress, {"rows": ""}, headers=HX).content.decode()
    check = client.post(reverse("dli-job-check", args=[project_a.project_id, jobs[0]]), headers=HX)
    assert check["HX-Trigger"] == "dli-job-checked"
    assert "1 failed, 1 unknown" in client.get(progress, {"rows": ""}, headers=HX).content.decode()


def test_check_again_without_javascript_redirects_so_a_reload_records_nothing(operator, project_a, simulator):
    client = login(operator)
    batch, jobs = unknown_batch(client, simulator, project_a, 1)
    response = client.post(reverse("dli-job-check", args=[project_a.project_id, jobs[0]]))
    assert response.status_code == 302 and response["Location"] == batch_url(project_a, batch)
    records = AuditRecord.objects.count()
    page = client.get(response["Location"]).content.decode()
    assert f"Checked with DLI: amb-0 ({jobs[0]}): failed." in page
    client.get(response["Location"])  # the reload is a GET: nothing checked, nothing written
    assert AuditRecord.objects.count() == records


def test_a_viewer_may_not_check_all_unknown(viewer, operator, project_a, simulator):
    batch, _jobs = unknown_batch(login(operator), simulator, project_a, 1)
    viewer_client = login(viewer)
    assert "Check all" not in viewer_client.get(batch_url(project_a, batch)).content.decode()
    simulator.clear_requests()
    response = viewer_client.post(reverse("dli-batch-check", args=[project_a.project_id, batch.pk]))
    assert response.status_code == 403 and simulator.requests() == []
