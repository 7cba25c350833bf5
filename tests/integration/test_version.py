"""dli-admin's version: pyproject.toml's, read when the settings load, shown in the footer and /healthz."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def pyproject_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_version_setting_is_pyprojects(settings):
    version = settings.DLI_ADMIN_VERSION
    assert version == pyproject_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)


def test_the_changelog_has_a_section_for_it(settings):
    assert f"## {settings.DLI_ADMIN_VERSION} - " in (ROOT / "CHANGELOG.md").read_text()


def test_the_login_page_footer_shows_it(client, settings):
    body = client.get("/accounts/login/").content.decode()
    assert f'<footer class="site-footer">dli-admin {settings.DLI_ADMIN_VERSION}</footer>' in body


def test_a_logged_in_page_footer_shows_it(client, operator, settings):
    client.force_login(operator)
    body = client.get("/").content.decode()
    assert f"dli-admin {settings.DLI_ADMIN_VERSION}</footer>" in body


def test_healthz_reports_it(client):
    assert client.get("/healthz").json()["version"] == pyproject_version()
