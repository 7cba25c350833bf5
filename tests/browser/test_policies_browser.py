"""Cleanup policies in headless Chromium (DEBUG off): create, preview, run, on a desktop and a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import PASSWORD, ms_ago

pytestmark = pytest.mark.django_db(transaction=True)
QUEUE = "browser_q"


def log_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("DLI projects")


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"


@pytest.mark.parametrize("width", [1280, 390])
def test_an_owner_creates_previews_and_runs_a_policy(
    page: Page, live_server, simulator, project_a, owner, artifacts_dir, worker, csp_violations, width
):
    page.set_viewport_size({"width": width, "height": 900})
    pid = project_a.project_id
    old = [
        simulator.add_job(
            pid, name=f"bp-old-{n}", status="job_finish", queue_name=QUEUE, create_time=ms_ago(40)
        )
        for n in range(3)
    ]
    kept = simulator.add_job(
        pid,
        name="bp-keep",
        status="job_finish",
        queue_name=QUEUE,
        create_time=ms_ago(40),
        tags={"keep": "true"},
    )
    log_in(page, live_server, owner.username)
    page.click(f"text={project_a.name}")
    page.click("text=Cleanup policies")
    page.click("text=New policy")
    page.fill("#id_name", "browser-nightly")
    page.fill("#id_queue_name", QUEUE)
    page.fill("#id_tags_exclude", "keep=true")
    page.fill("#id_zone", "Mars/Base")  # a mistake first: shown at its field, nothing saved
    page.select_option("#id_mode", "delete")
    page.click("text=Save policy")
    expect(page.locator("p.error[role=alert]")).to_be_visible()
    expect(page.locator("#id_zone-error")).to_contain_text("is not an IANA time zone")
    page.screenshot(path=artifacts_dir / f"policy-form-{width}.png", full_page=True)
    no_sideways_scroll(page)
    page.fill("#id_zone", "Europe/Berlin")
    page.click("text=Save policy")
    expect(page.locator("h1")).to_have_text("Policy browser-nightly")
    no_sideways_scroll(page)

    page.click("text=Preview now")
    preview = page.locator("#preview")
    expect(preview.locator(".preview-count")).to_contain_text("3 jobs would be deleted")
    expect(preview).to_contain_text("bp-old-0")
    preview.locator("summary").click()
    expect(preview).to_contain_text("has tag keep=true")
    page.screenshot(path=artifacts_dir / f"policy-preview-{width}.png", full_page=True)
    no_sideways_scroll(page)

    page.click("text=Run now")
    expect(page.locator(".messages")).to_contain_text("The run has started")
    expect(page.locator("table.runs")).to_contain_text("batch made", timeout=30_000)  # refreshed by htmx
    page.click("table.runs a")
    expect(page.locator("#action-panel .summary")).to_have_text("3 deleted", timeout=30_000)
    expect(page.locator("main")).to_contain_text("(policy browser-nightly)")
    assert all(simulator.job(pid, job_id) is None for job_id in old)
    assert simulator.job(pid, kept) is not None
    page.go_back()
    page.reload()
    expect(page.locator("table.runs")).to_contain_text("3 jobs, ended")
    page.screenshot(path=artifacts_dir / f"policy-detail-{width}.png", full_page=True)
    no_sideways_scroll(page)
    page.goto(f"{live_server.url}/projects/{pid}/policies/")
    expect(page.locator("table.policies")).to_contain_text("batch made")
    page.click("text=browser-nightly")
    page.once("dialog", lambda dialog: dialog.accept())  # "Remove the policy ...?"
    page.click("text=Delete policy")
    expect(page.locator(".messages")).to_contain_text("Policy browser-nightly removed")
    expect(page.locator("table.policies")).to_have_count(0)
    assert csp_violations == []


def test_a_viewer_sees_policies_read_only_and_may_preview(
    page: Page, live_server, simulator, project_a, owner, viewer
):
    from dli_admin.policies.models import CleanupPolicy

    CleanupPolicy.objects.create(
        project=project_a, name="read-me", statuses=["job_finish"], queue_name=QUEUE, at_time="02:00",
        created_by=owner, schedule_from="2026-01-01T00:00Z",
    )  # fmt: skip
    log_in(page, live_server, viewer.username)
    page.goto(f"{live_server.url}/projects/{project_a.project_id}/policies/")
    expect(page.locator(".role")).to_contain_text("read-only")
    expect(page.locator("text=New policy")).to_have_count(0)
    page.click("text=read-me")
    expect(page.locator("text=Run now")).to_have_count(0)
    page.keyboard.press("Tab")
    page.click("text=Preview now")
    expect(page.locator("#preview .preview-count")).to_contain_text("0 jobs would be")
