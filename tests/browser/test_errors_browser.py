"""Every htmx error is shown where the operator acted, with DEBUG off as in production; a phone-sized page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def production_debug(settings):
    settings.DEBUG = False


def open_jobs(page: Page, live_server, user, project, query: str = "") -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("DLI projects")
    page.goto(f"{live_server.url}/projects/{project.project_id}/jobs/{query}")


def add_stopped(simulator, project, count: int, prefix: str = "zqx") -> list[int]:
    pid = project.project_id
    return [
        simulator.add_job(pid, name=f"{prefix}-{n:02d}", status="job_cancel_success") for n in range(count)
    ]


def review_first(page: Page) -> None:
    page.locator('input[name="job_ids"]').first.click()
    page.click("#delete-selected")


def test_a_wrong_project_name_is_shown_in_the_confirmation(
    page: Page, live_server, simulator, project_a, operator, settings
):
    settings.DLI_CONFIRM_NAME_THRESHOLD = 0
    add_stopped(simulator, project_a, 2)
    open_jobs(page, live_server, operator, project_a, "?name=zqx-")
    review_first(page)
    page.fill("#confirm-name", "not-the-name")
    page.click("#confirm-delete")
    alert = page.locator("#action-panel .confirm [role=alert]")
    expect(alert).to_be_visible()
    expect(alert).not_to_be_empty()
    expect(page.locator("#confirm-name")).to_be_focused()  # to type the name again
    assert simulator.requests(op="batch_delete") == []


def test_an_invalid_confirmation_is_shown_in_the_action_panel(
    page: Page, live_server, simulator, project_a, operator
):
    add_stopped(simulator, project_a, 2)
    open_jobs(page, live_server, operator, project_a, "?name=zqx-")
    review_first(page)
    page.locator("#action-panel input[name=token]").evaluate("(el) => { el.value = 'damaged'; }")
    page.click("#confirm-delete")
    alert = page.locator("#action-panel [role=alert]")
    expect(alert).to_contain_text("This confirmation is not valid")
    expect(alert).to_contain_text("Nothing was deleted")
    assert simulator.requests(op="batch_delete") == []


def test_select_all_above_the_ceiling_is_refused_in_the_action_panel(
    page: Page, live_server, simulator, project_a, operator, settings
):
    settings.DLI_MAX_BATCH = 3
    add_stopped(simulator, project_a, 12)
    open_jobs(page, live_server, operator, project_a, "?name=zqx-&page_size=10")
    page.click("#select-page")
    page.click("#select-across")
    page.click("#delete-selected")
    expect(page.locator("#action-panel [role=alert]")).to_contain_text("12 jobs match; at most 3")


def test_dli_failing_during_the_review_is_shown_in_the_action_panel(
    page: Page, live_server, simulator, project_a, operator
):
    add_stopped(simulator, project_a, 2)
    open_jobs(page, live_server, operator, project_a, "?name=zqx-")
    simulator.set_fault(project_a.project_id, "server_error", 503, ops={"list", "show"})
    review_first(page)
    alert = page.locator("#action-panel [role=alert]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Nothing was deleted")


def test_a_failed_check_again_is_shown_in_its_row(
    page: Page, live_server, simulator, project_a, operator, worker
):
    pid = project_a.project_id
    jobs = add_stopped(simulator, project_a, 2)
    simulator.set_fault(pid, "server_error", 502, ops={"batch_delete"})  # leaves rows "unknown"
    open_jobs(page, live_server, operator, project_a, "?name=zqx-")
    page.click("#select-page")
    page.click("#delete-selected")
    page.click("#confirm-delete")
    row = page.locator(f"#job-{jobs[0]}")
    expect(row.locator(".outcome")).to_have_text("unknown", timeout=20_000)
    simulator.clear_faults()
    simulator.set_fault(pid, "server_error", 503, ops={"show", "list"})
    row.locator("button", has_text="Check again").click()
    expect(row.locator("[role=alert]")).to_contain_text("still unknown")  # DLI down: said in the row

    # Settled meanwhile (another tab checked it): this tab's "Check again" has nothing to check.
    simulator.clear_faults()
    csrf = page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    settled = page.request.post(
        f"{live_server.url}/projects/{pid}/jobs/{jobs[0]}/check/", headers={"X-CSRFToken": csrf}
    )
    assert settled.ok
    row.locator("button", has_text="Check again").click()
    alert = row.locator("td .check-error [role=alert]")
    expect(alert).to_contain_text("has nothing to check now")
    expect(row.locator(".outcome")).to_have_text("unknown")  # the row stays, the message is beside it
    expect(row.locator("button", has_text="Check again")).to_be_visible()


def test_a_viewer_refused_by_role_sees_it_in_the_action_panel(
    page: Page, live_server, simulator, project_a, viewer
):
    add_stopped(simulator, project_a, 1)
    open_jobs(page, live_server, viewer, project_a, "?name=zqx-")
    # A viewer has no delete button; a forged htmx post is refused (403) into the panel all the same.
    page.evaluate(
        """() => {
          const panel = document.getElementById("action-panel");
          const form = document.createElement("form");
          form.setAttribute("hx-post", location.pathname.replace(/jobs\\/$/, "jobs/delete/review/"));
          form.setAttribute("hx-target", "#action-panel");
          const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
          form.innerHTML = '<input name="job_ids" value="1"><button id="forged">go</button>'
            + `<input type="hidden" name="csrfmiddlewaretoken" value="${csrf}">`;
          panel.after(form);
          htmx.process(form);
        }"""
    )
    page.click("#forged")
    expect(page.locator("#action-panel [role=alert]")).to_be_visible()


def test_on_a_phone_the_page_never_scrolls_sideways_and_the_confirmation_takes_the_focus(
    page: Page, live_server, simulator, project_a, operator, csp_violations, artifacts_dir
):
    page.set_viewport_size({"width": 390, "height": 844})
    add_stopped(simulator, project_a, 3, prefix="a-rather-long-job-name-for-a-small-screen")
    open_jobs(page, live_server, operator, project_a, "?name=a-rather")
    expect(page.locator("#jobs-region tbody tr")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    scroller = page.locator(".table-scroll")
    assert scroller.evaluate("(el) => el.scrollWidth > el.clientWidth"), "the table scrolls in its box"
    review_first(page)
    expect(page.locator("#confirm-title")).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=artifacts_dir / "jobs-390-confirm.png", full_page=True)
    page.keyboard.press("Escape")
    expect(page.locator("#confirm-panel")).to_have_count(0)
    expect(page.locator("#delete-selected")).to_be_focused()
    page.click("#delete-selected")  # the selection is still there
    expect(page.locator("#confirm-title")).to_be_focused()
    page.click("#action-panel .cancel")
    expect(page.locator("#delete-selected")).to_be_focused()
    assert csp_violations == []


def test_on_a_laptop_no_column_of_the_jobs_table_is_cut_off(
    page: Page, live_server, simulator, project_a, operator, artifacts_dir
):
    page.set_viewport_size({"width": 1366, "height": 768})
    add_stopped(simulator, project_a, 3)
    open_jobs(page, live_server, operator, project_a, "?name=zqx-")
    expect(page.locator("#jobs-region tbody tr")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    scroller = page.locator(".table-scroll")
    assert scroller.evaluate("(el) => el.scrollWidth <= el.clientWidth"), "every column fits"
    page.screenshot(path=artifacts_dir / "jobs-1366.png", full_page=True)


@pytest.mark.browser_context_args(timezone_id="America/Sao_Paulo")
def test_the_page_says_which_time_zone_its_times_are_in(
    page: Page, live_server, simulator, project_a, operator
):
    add_stopped(simulator, project_a, 1)
    open_jobs(page, live_server, operator, project_a, "?name=zqx-")
    # The browser's zone (its cookie set on the login page) until the operator chooses one.
    expect(page.locator(".tz-note")).to_contain_text("times in America/Sao_Paulo (your browser's)")
    expect(page.locator("#jobs-region tbody time").first).to_contain_text(" -03")
    page.click("a.who")
    page.select_option("#id_time_zone", "Asia/Tokyo")
    page.click("text=Save")
    expect(page.locator(".messages")).to_contain_text("Times are now shown in Asia/Tokyo.")
    open_jobs_again = page.goto(f"{live_server.url}/projects/{project_a.project_id}/jobs/?name=zqx-")
    assert open_jobs_again.ok
    expect(page.locator(".tz-note")).to_contain_text("times in Asia/Tokyo (your setting)")
    expect(page.locator("#jobs-region tbody time").first).to_contain_text(" JST")
