"""The audit log in a real headless Chromium: an auditor filters the log and expands a batch in place."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from dli_admin.audit.services import AuditJobResult, audit_intent_record, audit_results_record
from dli_admin.projects.jobs import JobRef
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def audit_log(transactional_db, operator, project_a, project_b):
    """Two batches by olivia: one in project A (one job deleted, one failed), one in project B."""
    yield _write_log(operator, project_a, project_b)
    if connection.vendor == "postgresql":  # let the test database be emptied afterwards
        with connection.cursor() as cursor:
            cursor.execute("SET dli_admin.audit_truncate = 'allow'")


def _write_log(actor, project_a, project_b) -> dict[str, uuid.UUID]:
    batches = {}
    for project, jobs in (
        (project_a, [(11, "etl-orders", "deleted"), (12, "etl-refunds", "failed")]),
        (project_b, [(21, "stream-clicks", "deleted")]),
    ):
        batch_id = batches[project.project_id] = uuid.uuid4()
        audit_intent_record(
            batch_id=batch_id,
            actor=actor,
            project_id=project.project_id,
            project_name=project.name,
            jobs=[JobRef(job_id, name, "job_cancel_success") for job_id, name, _ in jobs],
            client_ip="192.0.2.10",
            user_agent="Mozilla/5.0",
        )
        audit_results_record(
            batch_id=batch_id,
            actor=actor,
            project_id=project.project_id,
            results=[
                AuditJobResult(
                    job_id, name, outcome, "" if outcome == "deleted" else "DLI.0002: job is locked"
                )
                for job_id, name, outcome in jobs
            ],
        )
    return batches


def test_an_auditor_filters_the_log_and_expands_a_batch(
    page: Page, live_server, auditor, project_a, audit_log, artifacts_dir, csp_violations
):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(auditor.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".who")).to_have_text(auditor.username)

    page.goto(f"{live_server.url}/audit/")
    entries = page.locator("table.audit-list tbody.audit-entry")
    expect(entries).to_have_count(2)

    page.get_by_label("Project id").fill(project_a.project_id)
    page.get_by_role("button", name="Filter").click()
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text(project_a.name)
    assert f"project={project_a.project_id}" in page.url, "the URL keeps the filter"

    entries.first.get_by_role("link", name="Jobs").click()
    jobs = entries.first.locator(".audit-job-rows tbody tr")
    expect(jobs).to_have_count(2)
    expect(jobs.nth(0)).to_contain_text("etl-orders")
    expect(jobs.nth(0)).to_contain_text("deleted")
    expect(jobs.nth(1)).to_contain_text("failed")
    expect(jobs.nth(1)).to_contain_text("DLI.0002: job is locked")
    assert "/batches/" not in page.url and f"project={project_a.project_id}" in page.url, (
        "expanding stays on the list"
    )
    page.screenshot(path=artifacts_dir / "audit-log-expanded.png", full_page=True)

    page.locator(".audit-batch-jobs summary").click()  # native <details>: collapses without script
    expect(jobs.first).to_be_hidden()
    page.wait_for_load_state("networkidle")
    assert csp_violations == []


def test_an_owner_on_a_phone_reads_their_projects_log_by_keyboard(
    page: Page, live_server, settings, owner, project_a, project_b, audit_log, csp_violations
):
    settings.DEBUG = False  # as in production
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(owner.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator(".who")).to_have_text(owner.username)

    # The navigation offers the log to an owner (the scope's query answers it); Enter follows the link.
    audit_link = page.get_by_role("link", name="Audit log")
    audit_link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.get_by_role("link", name="Audit log")).to_have_attribute("aria-current", "page")

    # Owner of A, only a viewer of B: A's batch alone.
    entries = page.locator("table.audit-list tbody.audit-entry")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text(project_a.name)
    expect(entries.first).to_contain_text("2 jobs")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scroll on a phone"

    jobs_link = entries.first.get_by_role("link", name="Jobs")
    jobs_link.focus()
    page.keyboard.press("Enter")
    jobs = entries.first.locator(".audit-job-rows tbody tr")
    expect(jobs).to_have_count(2)
    expect(jobs.nth(1)).to_contain_text("DLI.0002: job is locked")
    page.wait_for_load_state("networkidle")
    assert csp_violations == []
