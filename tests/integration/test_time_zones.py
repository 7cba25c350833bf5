"""Each user's time zone: their setting, else their browser's cookie, else TIME_ZONE; one format."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from dli_admin.accounts.models import UserPreference
from dli_admin.audit.services import audit_intent_record
from dli_admin.projects.jobs import JobRef

pytestmark = pytest.mark.django_db


def login(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_saving_a_zone_redirects_and_every_page_then_uses_it(operator, project_a, simulator):
    client = login(operator)
    response = client.post(reverse("dli-account"), {"time_zone": "Asia/Kolkata"})
    assert response.status_code == 302 and response["Location"] == reverse("dli-account")
    assert UserPreference.objects.get(user=operator).time_zone == "Asia/Kolkata"
    html = client.get("/").content.decode()
    assert '<span id="tz-label">times in Asia/Kolkata</span> (your setting)' in html


def test_an_unknown_zone_is_refused_and_changes_nothing(operator):
    client = login(operator)
    response = client.post(reverse("dli-account"), {"time_zone": "Mars/Olympus"})
    assert response.status_code == 400 and 'role="alert"' in response.content.decode()
    assert not UserPreference.objects.exists()


def test_without_a_setting_the_browsers_zone_is_used_if_it_is_a_real_one(operator, settings):
    settings.TIME_ZONE = "UTC"
    client = login(operator)
    client.cookies["dli_admin_tz"] = "America/Sao_Paulo"
    assert "times in America/Sao_Paulo</span> (your browser's)" in client.get("/").content.decode()
    client.cookies["dli_admin_tz"] = "<script>"
    assert '<span id="tz-label">times in UTC</span>' in client.get("/").content.decode()


def test_a_setting_wins_over_the_browser(operator):
    UserPreference.objects.create(user=operator, time_zone="Europe/Berlin")
    client = login(operator)
    client.cookies["dli_admin_tz"] = "America/Sao_Paulo"
    html = client.get(reverse("dli-account")).content.decode()
    assert "times in Europe/Berlin" in html and '<option value="Europe/Berlin" selected>' in html


def test_the_audit_list_and_the_admin_show_the_same_format_in_the_users_zone(auditor, superuser, project_a):
    batch_id = uuid.uuid4()
    audit_intent_record(
        batch_id=batch_id,
        actor=superuser,
        project_id=project_a.project_id,
        project_name=project_a.name,
        jobs=[JobRef(1, "tz-job", "job_finish")],
        client_ip="127.0.0.1",
        user_agent="test",
    )
    for user in (auditor, superuser):
        UserPreference.objects.create(user=user, time_zone="Asia/Tokyo")
    audit = login(auditor).get(reverse("dli-audit-list")).content.decode()
    admin = login(superuser).get(reverse("admin:audit_auditrecord_changelist")).content.decode()
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST"
    assert re.search(pattern, audit), "the audit list"
    assert re.search(pattern, admin), "the admin"
    assert "Dates are in Asia/Tokyo" in audit
    assert '<p class="help" id="tz-label">times in Asia/Tokyo</p>' in admin


def test_the_password_page_is_in_the_apps_style_and_linked_from_the_user_menu(operator):
    client = login(operator)
    assert f'href="{reverse("password_change")}"' in client.get("/").content.decode()
    html = client.get(reverse("password_change")).content.decode()
    assert "Change your password" in html and 'class="topbar"' in html
    assert "/admin/" not in html
