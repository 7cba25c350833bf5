"""A job's page in Chromium: opened from its name in the list, its SQL copied, its definition downloaded."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

SQL = "INSERT INTO sink\nSELECT * FROM orders;"


def test_a_viewer_opens_a_job_copies_its_sql_and_downloads_its_definition(
    page: Page, live_server, simulator, project_a, viewer, artifacts_dir
):
    pid = project_a.project_id
    job = simulator.add_job(pid, name="detail-me", status="job_running", sql_body=SQL, queue_name="q-orders")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", viewer.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/projects/{pid}/jobs/?name=detail-me")
    page.click("text=detail-me")
    expect(page.locator("h1")).to_contain_text("detail-me")
    expect(page.locator("dl.facts")).to_contain_text("q-orders")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.click("text=Copy the SQL")
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == SQL

    with page.expect_download() as download:
        page.click("text=Download the definition (JSON)")
    assert download.value.suggested_filename == f"dli-job-{job}.json"
    definition = json.loads(download.value.path().read_text())
    assert definition["sql_body"] == SQL and definition["queue_name"] == "q-orders"
    page.screenshot(path=artifacts_dir / "job-detail-390.png", full_page=True)
