"""In a real browser: the pages run under the CSP without a single violation, and htmx obeys our config."""

from __future__ import annotations

import time

import pytest
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import Page, expect

from dli_admin.accounts.middleware import LAST_ACTIVITY
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".who")).to_have_text(user.username)


def settle(page: Page) -> None:
    page.wait_for_load_state("networkidle")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 100))")  # let reports arrive


def test_the_login_page_and_the_home_page_have_no_csp_violations(page, live_server, outsider, csp_violations):
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.get_by_role("heading", name="Log in to dli-admin")).to_be_visible()
    settle(page)
    assert csp_violations == []

    log_in(page, live_server, outsider)
    assert page.url == f"{live_server.url}/"
    settle(page)
    assert csp_violations == []


def test_htmx_runs_with_our_config_and_injects_no_inline_style(page, live_server, outsider, csp_violations):
    log_in(page, live_server, outsider)
    settle(page)
    config = page.evaluate(
        "() => [htmx.config.allowEval, htmx.config.includeIndicatorStyles, htmx.config.historyCacheSize]"
    )
    assert config == [False, False, 0]
    assert page.locator("head style").count() == 0
    assert csp_violations == []


def test_the_helper_does_see_a_violation(page, live_server, outsider, csp_violations):
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.head.appendChild(script);
        }"""
    )
    settle(page)
    assert page.evaluate("() => window.injected") is None
    assert any("script-src" in v for v in csp_violations)


def test_an_idle_session_sends_an_htmx_page_to_the_login_page(page, live_server, outsider, csp_violations):
    log_in(page, live_server, outsider)
    # An htmx button like the job pages' ones, aimed at a page that needs a login.
    page.evaluate(
        """() => {
            const button = document.createElement("button");
            button.id = "probe";
            button.setAttribute("hx-get", "/accounts/password_change/");
            button.setAttribute("hx-target", "#main");
            document.body.appendChild(button);
            htmx.process(button);
        }"""
    )
    [cookie] = [c for c in page.context.cookies() if c["name"] == "sessionid"]
    session = SessionStore(session_key=cookie["value"])
    session[LAST_ACTIVITY] = int(time.time()) - 31 * 60
    session.save()

    page.locator("#probe").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    expect(page.get_by_role("status")).to_contain_text("logged out after 30 minutes without activity")
    settle(page)
    assert csp_violations == []
