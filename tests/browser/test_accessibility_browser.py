"""axe-core (bundled in axe-playwright-python, no CDN) on every page and main htmx state: no violation."""

from __future__ import annotations

import json

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Axe()


def settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")


def violations(page: Page) -> list[str]:
    """Every violation axe-core finds on the page as it is now, with the elements it names."""
    results = AXE.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in results.response["violations"]
    ]


def log_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("DLI projects")


@pytest.mark.parametrize("width", [390, 1366])
def test_every_page_and_htmx_state_has_no_axe_violation(
    page: Page, live_server, simulator, project_a, operator, owner, auditor, worker, artifacts_dir, width
):
    page.set_viewport_size({"width": width, "height": 900})
    pid = project_a.project_id
    sql = "SELECT 1;"
    jobs = [simulator.add_job(pid, name=f"a11y-{n}", status="job_finish", sql_body=sql) for n in range(3)]
    found: dict[str, list[str]] = {}

    def check(state: str) -> None:
        settle(page)
        found[state] = violations(page)
        if page.evaluate("document.documentElement.scrollWidth") > width:
            found[state].append(f"the page scrolls sideways at {width} px")

    page.goto(f"{live_server.url}/accounts/login/")
    check("login")
    page.fill("#id_username", operator.username)
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    check("login with an error")
    log_in(page, live_server, operator.username)
    check("projects")
    page.goto(f"{live_server.url}/projects/{pid}/jobs/")
    check("jobs")
    page.goto(f"{live_server.url}/projects/{pid}/jobs/?page_size=7")
    check("jobs with an invalid filter")
    page.goto(f"{live_server.url}/projects/{pid}/jobs/{jobs[0]}/")
    check("job detail")

    page.goto(f"{live_server.url}/projects/{pid}/jobs/?name=a11y-")
    page.click("#select-page")
    page.click("#delete-selected")
    expect(page.locator("#confirm-title")).to_be_focused()
    check("review and confirmation")
    simulator.set_fault(pid, "latency", 0.5, ops={"batch_delete", "list", "show"})
    simulator.set_fault(pid, "server_error", 502, ops={"batch_delete"})  # leaves rows "unknown"
    page.click("#confirm-delete")
    expect(page.locator("#batch-progress progress")).to_be_visible()
    check("batch progress")
    expect(page.locator("#action-panel .summary")).to_contain_text("unknown", timeout=30_000)
    check("batch result on the jobs page")
    simulator.clear_faults()
    page.goto(page.url)  # the batch's own page (its URL was pushed)
    check("batch page")
    page.locator(f"#job-{jobs[0]} button", has_text="Check again").click()
    expect(page.locator(f"#job-{jobs[0]} .outcome")).to_have_text("failed")
    check("batch page after check again")

    page.goto(f"{live_server.url}/accounts/settings/")
    check("settings")
    page.goto(f"{live_server.url}/accounts/password_change/")
    check("password change")
    page.goto(f"{live_server.url}/projects/{pid}/jobs/999999/")
    check("404 page")
    page.goto(f"{live_server.url}/audit/")
    check("403 page")

    page.context.clear_cookies()
    log_in(page, live_server, auditor.username)
    check("projects (auditor)")
    page.goto(f"{live_server.url}/audit/")
    check("audit list")
    page.locator("a", has_text="Jobs").first.click()
    expect(page.locator(".audit-batch-jobs")).to_be_visible()
    check("audit list with a batch expanded")
    page.goto(f"{live_server.url}{page.locator('.audit-batch-jobs p a').first.get_attribute('href')}")
    check("audit batch")

    page.context.clear_cookies()
    log_in(page, live_server, owner.username)
    page.goto(f"{live_server.url}/projects/{pid}/policies/")
    check("cleanup policies")
    page.goto(f"{live_server.url}/projects/{pid}/policies/new/")
    check("new cleanup policy")
    page.fill("#id_name", "")
    page.locator("form.policy-form button[type=submit]").first.click()
    expect(page.locator(".errorlist, [role=alert]").first).to_be_visible()
    check("new cleanup policy with errors")

    (artifacts_dir / f"axe-{width}.json").write_text(json.dumps(found, indent=1))  # per page, for the record
    assert {state: v for state, v in found.items() if v} == {}
    assert len(found) == 22
