"""The audit log in a real headless Chromium: an auditor filters the log and expands a batch in place."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from playwright.sync_api import Page, expect

from dli_admin.audit.services import AuditJobResult, audit_intent_record, audit_results_record
from dli_admin.projects.jobs import JobRef
from dli_admin.projects.models import DliProject, Grant

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"
ALPHA, BETA = "a" * 32, "b" * 32


@pytest.fixture
def audit_log(transactional_db):
    """An auditor, and two batches: one in Alpha (one job deleted, one failed), one in Beta."""
    yield _write_log()
    if connection.vendor == "postgresql":  # let the test database be emptied afterwards
        with connection.cursor() as cursor:
            cursor.execute("SET dli_admin.audit_truncate = 'allow'")


def _write_log() -> dict[str, uuid.UUID]:
    for project_id, name in ((ALPHA, "Alpha"), (BETA, "Beta")):
        DliProject.objects.create(project_id=project_id, name=name)
    auditor = get_user_model().objects.create_user("aud", password=PASSWORD)
    Grant.objects.create(user=auditor, role="auditor")
    olivia = get_user_model().objects.create_user("olivia", password=PASSWORD)
    batches = {}
    for project_id, jobs in (
        (ALPHA, [(11, "etl-orders", "deleted"), (12, "etl-refunds", "failed")]),
        (BETA, [(21, "stream-clicks", "deleted")]),
    ):
        batch_id = batches[project_id] = uuid.uuid4()
        audit_intent_record(
            batch_id=batch_id,
            actor=olivia,
            project_id=project_id,
            project_name="Alpha" if project_id == ALPHA else "Beta",
            jobs=[JobRef(job_id, name, "job_cancel_success") for job_id, name, _ in jobs],
            client_ip="192.0.2.10",
            user_agent="Mozilla/5.0",
        )
        audit_results_record(
            batch_id=batch_id,
            actor=olivia,
            project_id=project_id,
            results=[
                AuditJobResult(
                    job_id, name, outcome, "" if outcome == "deleted" else "DLI.0002: job is locked"
                )
                for job_id, name, outcome in jobs
            ],
        )
    return batches


def test_an_auditor_filters_the_log_and_expands_a_batch(
    page: Page, live_server, audit_log, artifacts_dir, csp_violations
):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("aud")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".who")).to_have_text("aud")

    page.goto(f"{live_server.url}/audit/")
    entries = page.locator("table.audit-list tbody.audit-entry")
    expect(entries).to_have_count(2)

    page.get_by_label("Project id").fill(ALPHA)
    page.get_by_role("button", name="Filter").click()
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("Alpha")
    assert f"project={ALPHA}" in page.url, "the URL keeps the filter"

    entries.first.get_by_role("link", name="Jobs").click()
    jobs = entries.first.locator(".audit-job-rows tbody tr")
    expect(jobs).to_have_count(2)
    expect(jobs.nth(0)).to_contain_text("etl-orders")
    expect(jobs.nth(0)).to_contain_text("deleted")
    expect(jobs.nth(1)).to_contain_text("failed")
    expect(jobs.nth(1)).to_contain_text("DLI.0002: job is locked")
    assert "/batches/" not in page.url and f"project={ALPHA}" in page.url, "expanding stays on the list"
    page.screenshot(path=artifacts_dir / "audit-log-expanded.png", full_page=True)

    page.locator(".audit-batch-jobs summary").click()  # native <details>: collapses without script
    expect(jobs.first).to_be_hidden()
    page.wait_for_load_state("networkidle")
    assert csp_violations == []
