"""Delete two jobs, see what was kept of them, restore one: headless Chromium and a real worker."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from dli_admin.deletes.models import BatchKind, DeleteBatchJob
from tests.helpers import PASSWORD, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SQL = "INSERT INTO restored_sink SELECT * FROM restored_source;"


def log_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("DLI projects")


def test_an_owner_deletes_two_jobs_and_restores_one(
    page: Page, live_server, simulator, project_a, owner, artifacts_dir, worker, csp_violations
):
    pid = project_a.project_id
    kept, restored = (
        simulator.add_job(pid, name=name, status="job_finish", job_type="flink_sql_job", sql_body=SQL)
        for name in ("bt-restore-keep", "bt-restore-back")
    )

    log_in(page, live_server, owner.username)
    page.click(f"text={project_a.name}")
    page.fill("input[name=name]", "bt-restore")
    page.click("text=Apply")
    expect(page.locator("#jobs-region tbody tr")).to_have_count(2)
    page.click("#select-page")
    page.click("#delete-selected")
    expect(page.locator("#action-panel .confirm")).to_contain_text("Delete 2 jobs")
    page.click("#confirm-delete")
    expect(page.locator("#action-panel .summary")).to_have_text("2 deleted", timeout=30_000)

    page.click("text=Every job's outcome")
    snapshots = page.locator("section.snapshots")
    expect(snapshots).to_contain_text("Definitions kept before delete")
    expect(snapshots).to_contain_text("never starts it")
    expect(snapshots).to_contain_text("Checkpoints and savepoints are not part of a snapshot")
    snapshots.locator("summary").nth(1).click()
    expect(snapshots.locator("pre").nth(1)).to_contain_text(SQL)
    page.set_viewport_size({"width": 390, "height": 800})
    page.screenshot(path=artifacts_dir / "restore-definitions-phone.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.check(f"#restore-{restored}")
    page.click("text=Restore selected…")
    expect(page.locator("h2#restore-title")).to_have_text("Re-create 1 job from its snapshot")
    expect(page.locator("main, body").first).to_contain_text("not started")
    page.screenshot(path=artifacts_dir / "restore-review.png", full_page=True)
    page.click("button:has-text('Restore 1 job')")

    expect(page.locator("h1")).to_have_text(f"Restore batch in {project_a.name}")
    expect(page.locator("#action-panel .summary")).to_have_text("1 restored", timeout=30_000)
    row = wait_for(
        lambda: DeleteBatchJob.objects.filter(batch__kind=BatchKind.RESTORE, outcome="restored").first(),
        what="the restore to settle",
    )
    assert row.job_id == restored and row.new_job_id
    page.reload()
    expect(page.locator(f"#job-{restored}")).to_contain_text(f"restored as job {row.new_job_id}")
    page.screenshot(path=artifacts_dir / "restore-result.png", full_page=True)
    new = simulator.job(pid, row.new_job_id)
    assert (new["name"], new["status"], new["sql_body"]) == ("bt-restore-back", "job_init", SQL)
    assert simulator.job(pid, kept) is None, "the other job stays deleted"
    assert csp_violations == []
