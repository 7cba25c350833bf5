"""The batch page and its live progress on a 390 px phone; the whole delete flow with the keyboard only."""

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


def no_sideways_scroll(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"


def tab_to(page: Page, selector: str, most: int = 80) -> None:
    """Press Tab until the element `selector` has the focus, as a keyboard user would."""
    for _ in range(most):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus in {most} Tabs")


def test_the_batch_page_shows_live_progress_on_a_phone(
    page: Page, live_server, simulator, project_a, operator, worker, artifacts_dir
):
    page.set_viewport_size({"width": 390, "height": 844})
    pid = project_a.project_id
    # Two chunks of five (the worker's DLI_BATCH_SIZE); the first sent gets a 502 and stays unknown.
    jobs = [simulator.add_job(pid, name=f"phone-batch-job-{n:02d}", status="job_finish") for n in range(10)]
    log_in(page, live_server, operator.username)
    page.goto(f"{live_server.url}/projects/{pid}/jobs/?name=phone-batch")
    page.click("#select-page")
    page.click("#delete-selected")
    simulator.set_fault(pid, "latency", 0.6, ops={"batch_delete", "list", "show"})
    simulator.set_fault(pid, "server_error", 502, ops={"batch_delete"}, count=1)  # one chunk left unknown
    page.click("#confirm-delete")
    expect(page.locator("#batch-progress progress")).to_be_visible()
    page.goto(page.url)  # the batch's own page, opened while it runs (say, from another phone)
    progress = page.locator("#batch-progress progress")
    expect(progress).to_be_visible()
    expect(page.locator("#batch-progress-title")).to_contain_text("Deleting 10 jobs")
    no_sideways_scroll(page, 390)
    page.screenshot(path=artifacts_dir / "batch-running-390.png", full_page=True)
    expect(page.locator("#batch-progress .summary")).to_contain_text("unknown", timeout=30_000)
    expect(page.locator("tr.outcome-deleted")).to_have_count(5)  # rows swapped in, live
    assert page.locator("tr.status-row").count() == len(jobs)
    no_sideways_scroll(page, 390)

    simulator.clear_faults()
    button = page.locator("#check-all-unknown")
    page.reload()  # the result page reloads as a GET: nothing is posted again
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, "the button is on the screen"
    button.click()
    expect(page.locator(".messages")).to_contain_text("Checked 5 unknown jobs with DLI: 5 failed.")
    expect(page.locator("#batch-progress .summary")).to_have_text("5 deleted, 5 failed")
    expect(button).to_have_count(0)
    no_sideways_scroll(page, 390)
    page.screenshot(path=artifacts_dir / "batch-result-390.png", full_page=True)


def test_an_operator_deletes_and_checks_with_the_keyboard_only(
    page: Page, live_server, simulator, project_a, operator, worker
):
    pid = project_a.project_id
    jobs = [simulator.add_job(pid, name=f"kbd-{n}", status="job_finish") for n in range(3)]
    page.goto(f"{live_server.url}/accounts/login/")
    page.keyboard.type(operator.username)  # the username field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("DLI projects")
    tab_to(page, f"a[href='/projects/{pid}/jobs/']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/projects/{pid}/jobs/")
    tab_to(page, "input[name=name]")
    page.keyboard.type("kbd-")
    page.keyboard.press("Enter")
    expect(page.locator("#jobs-region tbody tr")).to_have_count(3)

    tab_to(page, "#select-page")
    page.keyboard.press("Space")
    expect(page.locator("#selected-count")).to_have_text("3")
    tab_to(page, "#delete-selected")
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-title")).to_be_focused()
    page.keyboard.press("Escape")  # Esc closes it and gives the focus back
    expect(page.locator("#confirm-panel")).to_have_count(0)
    expect(page.locator("#delete-selected")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-title")).to_be_focused()

    simulator.set_fault(pid, "server_error", 502, ops={"batch_delete"})
    tab_to(page, "#confirm-delete")
    page.keyboard.press("Enter")
    expect(page.locator("#batch-progress-title")).to_be_focused()
    expect(page.locator("#action-panel .summary")).to_have_text("3 unknown", timeout=30_000)
    expect(page.locator("#jobs-count")).to_contain_text("of 3")  # re-read: DLI still lists all three
    simulator.clear_faults()

    tab_to(page, f"#job-{jobs[0]} button")
    page.keyboard.press("Enter")
    expect(page.locator(f"#job-{jobs[0]} .outcome")).to_have_text("failed")
    tab_to(page, "#action-panel a[href*='/batches/']")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator("#batch-progress .summary")).to_have_text("1 failed, 2 unknown")
    tab_to(page, "#check-all-unknown")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Checked 2 unknown jobs")
    expect(page.locator("#batch-progress .summary")).to_have_text("3 failed")


def test_the_jobs_page_counts_again_after_a_delete(
    page: Page, live_server, simulator, project_a, operator, worker
):
    pid = project_a.project_id
    for n in range(3):
        simulator.add_job(pid, name=f"cnt-{n}", status="job_finish")
    log_in(page, live_server, operator.username)
    page.goto(f"{live_server.url}/projects/{pid}/jobs/?name=cnt-")
    expect(page.locator("#jobs-count")).to_contain_text("Jobs 1–3 of 3")
    boxes = page.locator('#selection input[name="job_ids"]')
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#delete-selected")
    page.click("#confirm-delete")
    expect(page.locator("#action-panel .summary")).to_have_text("2 deleted", timeout=30_000)
    expect(page.locator("#jobs-count")).to_contain_text("Jobs 1–1 of 1")  # read again from DLI
    expect(page.locator("tr.outcome-deleted")).to_have_count(2)  # the rows still say what happened
