"""Every page of dli-admin, and its htmx fragments, in a real browser under the CSP: not one violation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 100))")  # let reports arrive


def test_every_page_runs_without_a_csp_violation(
    page: Page, live_server, simulator, project_a, superuser, csp_violations, worker
):
    pid = project_a.project_id
    jobs = [simulator.add_job(pid, name=f"csp-{n}", status="job_finish") for n in range(2)]
    simulator.set_fault(pid, "server_error", 502, ops={"batch_delete"})  # leaves rows "unknown"
    visited = []

    def visit(path: str) -> None:
        page.goto(f"{live_server.url}{path}")
        settle(page)
        visited.append(path)
        assert csp_violations == [], (path, csp_violations)

    visit("/accounts/login/")
    page.fill("#id_username", superuser.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    settle(page)
    for path in ["/", f"/projects/{pid}/jobs/", f"/projects/{pid}/jobs/?name=csp&page_size=10", "/healthz"]:
        visit(path)

    # The htmx flow: filter, review, confirm, check again.
    visit(f"/projects/{pid}/jobs/")
    page.fill("input[name=name]", "csp-")
    page.click("text=Apply")
    expect(page.locator("#jobs-region tbody tr")).to_have_count(2)
    page.click("#select-page")
    page.click("#delete-selected")
    page.click("#confirm-delete")
    expect(page.locator(f"#job-{jobs[0]} .outcome")).to_have_text("unknown", timeout=20_000)
    simulator.clear_faults()
    page.locator(f"#job-{jobs[0]} button", has_text="Check again").click()
    expect(page.locator(f"#job-{jobs[0]} .outcome")).to_have_text("failed")
    settle(page)
    assert csp_violations == []
    visit(page.url.removeprefix(live_server.url))  # the batch's own page (its URL was pushed)

    # Cleanup policies: the list, the form, a policy with its preview (htmx), the webhook.
    from dli_admin.policies.models import CleanupPolicy

    policy = CleanupPolicy.objects.create(
        project=project_a, name="csp", statuses=["job_finish"], name_contains="csp-", at_time="02:00",
        created_by=superuser, schedule_from="2026-01-01T00:00Z",
    )  # fmt: skip
    base = f"/projects/{pid}"
    for path in [
        f"{base}/policies/",
        f"{base}/policies/new/",
        f"{base}/webhook/",
        f"{base}/policies/{policy.pk}/",
    ]:
        visit(path)
    page.click("text=Preview now")
    expect(page.locator("#preview .preview-count")).to_be_visible()
    settle(page)
    assert csp_violations == []
    visit(f"{base}/policies/{policy.pk}/preview/")

    # The audit log, a batch, its rows fragment, and the admin.
    visit("/audit/")
    page.locator("text=Jobs").first.click()
    settle(page)
    assert csp_violations == []
    page.locator("a[href^='/audit/batches/']").first.click()
    settle(page)
    visited.append(page.url)
    assert csp_violations == []
    for path in [
        "/admin/",
        "/admin/projects/dliproject/",
        "/admin/deletes/deletebatch/",
        "/admin/audit/auditrecord/",
        "/accounts/password_change/",
    ]:
        visit(path)
    assert len(visited) >= 10
