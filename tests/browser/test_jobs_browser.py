"""The jobs page in a real headless Chromium: filter, select, confirm, and watch rows become status rows."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("DLI projects")


def test_an_operator_cleans_up_a_filtered_batch(
    page: Page, live_server, simulator, project_a, operator, artifacts_dir, worker
):
    pid = project_a.project_id
    stopped = [
        simulator.add_job(pid, name=f"bt-sweep-{n:02d}", status="job_cancel_success") for n in range(23)
    ]
    running = simulator.add_job(pid, name="bt-sweep-live", status="job_running")
    simulator.set_fault(pid, "fail_ids", [stopped[5]])

    log_in(page, live_server, operator.username)
    page.click(f"text={project_a.name}")
    page.fill("input[name=name]", "bt-sweep")
    page.select_option("select[name=page_size]", "50")
    page.click("text=Apply")
    expect(page.locator("#jobs-region tbody tr")).to_have_count(24)
    assert "name=bt-sweep" in page.url, "the URL keeps the filter"
    page.screenshot(path=artifacts_dir / "jobs-filtered.png", full_page=True)

    boxes = page.locator('input[name="job_ids"]')
    boxes.nth(1).click()
    boxes.nth(4).click(modifiers=["Shift"])
    expect(page.locator("#selected-count")).to_have_text("4")
    page.click("#select-page")
    expect(page.locator("#selected-count")).to_have_text("24")

    page.click("#delete-selected")
    confirm = page.locator("#action-panel .confirm")
    expect(confirm).to_contain_text("Delete 23 jobs")
    expect(confirm).to_contain_text("needs owner")
    page.screenshot(path=artifacts_dir / "jobs-confirm.png", full_page=True)
    page.fill("#confirm-name", project_a.name)
    # Slow enough that the progress bar is seen between empty and full.
    simulator.set_fault(pid, "latency", 0.4, ops={"batch_delete", "list", "show"})
    page.click("#confirm-delete")

    progress = page.locator("#batch-progress progress")
    expect(progress).to_have_attribute("max", "24")
    expect(page.locator("#batch-progress-title")).to_be_focused()
    assert "/batches/" in page.url, "the confirm pushed the batch's stable URL"
    page.wait_for_function(
        "() => { const p = document.querySelector('#batch-progress progress');"
        " return p && p.value > 1 && p.value < p.max; }",
        timeout=20_000,
    )  # the bar moved, and the batch is still running
    page.screenshot(path=artifacts_dir / "jobs-progress.png", full_page=True)
    expect(page.locator("#action-panel .summary")).to_have_text(
        "22 deleted, 1 failed, 1 skipped", timeout=30_000
    )
    expect(progress).to_have_count(0)
    expect(page.locator(f"#job-{stopped[0]}")).to_have_class("status-row outcome-deleted")
    expect(page.locator(f"#job-{stopped[5]} .outcome")).to_have_text("failed")
    expect(page.locator(f"#job-{running} .outcome")).to_have_text("skipped")
    expect(page.locator(f"#job-{running}")).to_contain_text("needs owner")
    expect(page.locator("#selected-count")).to_have_text("0")
    page.screenshot(path=artifacts_dir / "jobs-result.png", full_page=True)
    sent = [job_id for request in simulator.requests(op="batch_delete") for job_id in request.job_ids]
    assert sorted(sent) == sorted(stopped), "every stopped job was sent once, in chunks of 5"


def test_a_viewer_sees_no_checkboxes(page: Page, live_server, simulator, project_a, viewer):
    log_in(page, live_server, viewer.username)
    page.goto(f"{live_server.url}/projects/{project_a.project_id}/jobs/")
    expect(page.locator("table.jobs tbody tr").first).to_be_visible()
    expect(page.locator('input[name="job_ids"]')).to_have_count(0)
    expect(page.locator("#delete-selected")).to_have_count(0)
