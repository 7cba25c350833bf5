"""Browser tests: Playwright drives Debian's chromium (browser downloads are impossible here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is missing: `make test` installs it, or apt-get install chromium")
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "args": ["--disable-gpu", "--disable-quic", "--disable-background-networking", "--no-first-run"],
    }


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# Reports every Content Security Policy violation back to the test. Playwright injects it through the
# DevTools protocol, so the page's own CSP does not block it.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__dliAdminCspViolation(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline code"}` +
    ` at ${event.sourceFile || event.documentURI}:${event.lineNumber}`
  );
});
"""


@pytest.fixture
def csp_violations(page) -> list[str]:
    """The CSP violations `page` meets: a list that fills in as the page runs; assert it is empty.

    Request it before the first page.goto(). It hears both the `securitypolicyviolation` DOM event and
    Chromium's console error, so expect a violation twice. Reports arrive asynchronously: read the list
    after the page has settled (e.g. after an expect(...) on the page or wait_for_load_state).
    """
    violations: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"console: {message.text}")

    page.on("console", on_console)
    page.expose_function("__dliAdminCspViolation", lambda text: violations.append(f"event: {text}"))
    page.add_init_script(CSP_LISTENER)
    return violations
