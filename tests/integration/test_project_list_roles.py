"""The projects page names each user's role, the auditor's global one included."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_projects_page_tells_an_auditor_their_role(auditor, operator, simulator):
    html = login(auditor).get("/").content.decode()
    assert "auditor: read-only, every project" in html
    assert "You have no role" not in html
    assert "auditor: read-only" not in login(operator).get("/").content.decode()


def test_a_page_without_javascript_says_its_times_are_in_the_servers_time_zone(operator, simulator):
    assert '<span id="tz-label">times in UTC</span>' in login(operator).get("/").content.decode()
