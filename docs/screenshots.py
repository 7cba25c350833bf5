#!/usr/bin/env python3
"""Screenshots of dli-admin for the docs: docs/screenshots/<page>-390.png and <page>-1920.png.

Starts what `make run` starts (a DLI simulator, the dashboard, a background worker, demo data), in a
throwaway directory so the developer's database is untouched, then drives Debian's chromium through the
pages: jobs, review, batch, job-detail, audit, projects. Run it with the project's venv:
    .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
WIDTHS = {390: 844, 1920: 1080}
PAGES = ("jobs", "review", "batch", "job-detail", "audit", "projects")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"screenshots: nothing answered on port {port}")


def start_servers(stack: ExitStack, work: Path) -> tuple[str, dict[str, str]]:
    """The simulator, the dashboard and a worker, like `make run`; the dashboard's URL and the demo logins."""
    from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    sim_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "DLI_ADMIN_AUDIT_KEY": secrets.token_urlsafe(32),
        "DLI_ADMIN_AUDIT_CHECKPOINTS": str(work / "checkpoints.jsonl"),
        "DJANGO_TIME_ZONE": "Europe/Berlin",
    }
    python = sys.executable
    log = (work / "servers.log").open("w")

    def start(*args: str, extra: dict[str, str] | None = None) -> None:
        process = subprocess.Popen(  # noqa: S603 - our own manage.py with fixed arguments
            [python, "manage.py", *args], cwd=ROOT, env={**env, **(extra or {})}, stdout=log, stderr=log
        )
        stack.callback(lambda: (process.terminate(), process.wait(10)))

    start("dli_simulator", "--port", str(sim_port))
    wait_for(sim_port)
    env |= {
        "DLI_ENDPOINT": f"http://127.0.0.1:{sim_port}",
        "DLI_AK": DEMO_ACCESS_KEY,
        "DLI_SK": DEMO_SECRET_KEY,
    }
    logins = work / "logins.txt"
    for command in (["migrate", "--noinput"], ["demo_setup", "--logins-file", str(logins)]):
        subprocess.run([python, "manage.py", *command], cwd=ROOT, env=env, check=True, stdout=log, stderr=log)  # noqa: S603
    start("db_worker", "--no-reload", "--interval", "0.3")
    start("runserver", "--noreload", f"127.0.0.1:{web_port}")
    wait_for(web_port)
    passwords = dict(line.split(maxsplit=1) for line in logins.read_text().splitlines() if line.strip())
    return f"http://127.0.0.1:{web_port}", passwords


def log_in(page: Page, url: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("DLI projects")


def shoot(page: Page, name: str, width: int) -> None:
    page.wait_for_load_state("networkidle")
    path = OUT / f"{name}-{width}.png"
    page.screenshot(path=path, full_page=True)
    print(f"screenshots: {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")


def tour(page: Page, url: str, passwords: dict[str, str], width: int) -> None:
    page.set_viewport_size({"width": width, "height": WIDTHS[width]})
    log_in(page, url, "operator", passwords["operator"])
    shoot(page, "projects", width)
    page.locator("table a").first.click()
    jobs_url = page.url
    page.goto(f"{jobs_url}?page_size=20")  # a screenful or two, and a PNG of reasonable size
    expect(page.locator("#jobs-region tbody tr").first).to_be_visible()
    shoot(page, "jobs", width)

    page.goto(f"{jobs_url}?job_type=flink_opensource_sql_job&page_size=10")
    page.locator("#jobs-region td.name a").first.click()  # a SQL job: its SQL and the copy button
    expect(page.locator("h2", has_text="Definition")).to_be_visible()
    shoot(page, "job-detail", width)

    page.goto(f"{jobs_url}?status=job_cancel_success&page_size=10")
    expect(page.locator("#jobs-region tbody tr").first).to_be_visible()
    boxes = page.locator('#selection input[name="job_ids"]')
    for n in range(min(4, boxes.count())):
        boxes.nth(n).check()
    page.click("#delete-selected")
    expect(page.locator("#confirm-title")).to_be_focused()
    shoot(page, "review", width)
    if page.locator("#confirm-name").count():
        page.fill("#confirm-name", page.locator("label[for=confirm-name] strong").inner_text())
    page.click("#confirm-delete")
    expect(page.locator("#action-panel .summary")).to_be_visible(timeout=60_000)
    page.goto(page.url)  # the batch's own page, at the URL the confirm pushed
    shoot(page, "batch", width)

    log_in(page, url, "auditor", passwords["auditor"])
    page.goto(f"{url}/audit/")
    page.locator("a", has_text="Jobs").first.click()
    expect(page.locator(".audit-batch-jobs")).to_be_visible()
    shoot(page, "audit", width)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dli_admin.settings")
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("screenshots: Debian's chromium is missing (scripts/ensure-chromium installs it)")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dli-admin-screens-") as tmp, ExitStack() as stack:
        url, passwords = start_servers(stack, Path(tmp))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--disable-gpu"])
            page = browser.new_page(timezone_id="Europe/Berlin")
            for width in WIDTHS:
                tour(page, url, passwords, width)
            browser.close()
    missing = [f"{name}-{w}.png" for name in PAGES for w in WIDTHS if not (OUT / f"{name}-{w}.png").exists()]
    if missing:
        sys.exit(f"screenshots: missing {missing}")


if __name__ == "__main__":
    main()
