"""Every change of who may do what is an audit record with who made it: by command, by the admin, and
never without one (grants and projects refuse to be written outside dli_admin.access.services)."""

from __future__ import annotations

import csv
import io
import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse

from dli_admin.access import services
from dli_admin.audit.models import AuditKind, AuditRecord
from dli_admin.projects.models import DliProject, Grant, GrantSource, UnrecordedAccessChange, recorded_change
from tests.helpers import make_user

pytestmark = pytest.mark.django_db
PID = "0123456789abcdef0123456789abcdef"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def access_records() -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(kind=AuditKind.ACCESS).order_by("seq"))


def changes() -> list[dict]:
    return [json.loads(record.message) for record in access_records()]


def verified() -> str:
    return run("audit_verify")


# --- Commands ---------------------------------------------------------------------------------------


def test_commands_record_project_add_rename_grant_change_revoke_and_remove(outsider):
    run("dli_project", "add", PID, "--name", "Analytics")
    run("dli_project", "add", PID, "--name", "Analytics")  # unchanged: nothing to record
    run("dli_project", "add", PID, "--name", "Analytics prod")
    run("grant", "mallory", "viewer", "--project", PID)
    run("grant", "mallory", "operator", "--project", PID)
    run("grant", "mallory", "auditor")
    run("revoke", "mallory", "auditor")
    run("dli_project", "remove", PID)

    records = access_records()
    assert [record.reason for record in records] == [
        f"added project Analytics ({PID})",
        f"renamed project Analytics to Analytics prod ({PID})",
        f"granted viewer of project Analytics prod ({PID}) to mallory",
        f"changed mallory's role in project Analytics prod ({PID}) from viewer to operator",
        "granted auditor of all projects to mallory",
        "revoked auditor of all projects from mallory",
        f"revoked operator of project Analytics prod ({PID}) from mallory",
        f"removed project Analytics prod ({PID})",
    ]
    assert {record.source for record in records} == {"command"}
    assert [record.project_id for record in records] == [PID] * 4 + ["", ""] + [PID] * 2
    # A command has no signed-in actor: the record names the account that ran it.
    assert all(record.actor_id is None and "@" in json.loads(record.message)["by"] for record in records)
    change = changes()[3]
    assert (change["change"], change["subject"], change["role"], change["before"]) == (
        "grant",
        "mallory",
        "operator",
        "viewer",
    )
    assert changes()[1]["before"]["name"] == "Analytics" and changes()[1]["after"]["name"] == "Analytics prod"
    assert not Grant.objects.exists() and not DliProject.objects.exists()
    assert "OK" in verified()


def test_demo_setup_records_its_projects_users_and_grants(tmp_path):
    run("demo_setup", "--logins-file", str(tmp_path / "logins.txt"))
    summaries = [record.reason for record in access_records()]
    assert any(summary.startswith("added user admin (active, staff, superuser)") for summary in summaries)
    assert sum(summary.startswith("granted ") for summary in summaries) == Grant.objects.count()
    assert sum(summary.startswith("added project") for summary in summaries) == DliProject.objects.count()

    run("demo_setup", "--logins-file", str(tmp_path / "logins.txt"))  # again: nothing changes
    assert [record.reason for record in access_records()] == summaries


# --- Nothing changes without a record -------------------------------------------------------------


def test_grants_and_projects_cannot_be_written_past_the_service(project_a, operator):
    grant = Grant.objects.get(user=operator, project=project_a)
    attempts = {
        "create": lambda: Grant.objects.create(user=operator, role="auditor"),
        "save": lambda: (setattr(grant, "role", "owner"), grant.save()),
        "delete": grant.delete,
        "queryset delete": lambda: Grant.objects.filter(user=operator).delete(),
        "update": lambda: Grant.objects.filter(user=operator).update(role="owner"),
        "bulk_create": lambda: Grant.objects.bulk_create([Grant(user=operator, role="auditor")]),
        "update_or_create": lambda: Grant.objects.update_or_create(
            user=operator, project=project_a, defaults={"role": "owner"}
        ),
        "a project renamed": lambda: (setattr(project_a, "name", "x"), project_a.save()),
        "a project deleted": project_a.delete,
        "a user deleted with its grants": operator.delete,
    }
    for what, attempt in attempts.items():
        with pytest.raises(UnrecordedAccessChange), transaction.atomic():
            attempt()
            pytest.fail(f"{what} was allowed")
    assert sorted(Grant.objects.filter(user=operator).values_list("role", flat=True)) == [
        "operator",
        "viewer",
    ]
    assert DliProject.objects.get(pk=project_a.pk).name != "x"
    assert get_user_model().objects.filter(pk=operator.pk).exists()
    assert not access_records()


def test_a_change_whose_record_cannot_be_written_is_not_made(settings, outsider, project_a):
    settings.DLI_ADMIN_AUDIT_KEY = ""
    with pytest.raises(ImproperlyConfigured):
        services.grant_set(services.command_origin(), user=outsider, role="owner", project=project_a)
    with pytest.raises(ImproperlyConfigured):
        services.project_delete(services.command_origin(), project_a)
    assert not Grant.objects.filter(user=outsider).exists()
    assert DliProject.objects.filter(pk=project_a.pk).exists()


# --- The admin ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def test_the_admin_records_grants_given_changed_and_deleted_one_by_one_and_in_bulk(
    admin_client, project_a, project_b, outsider
):
    add = admin_client.post(
        reverse("admin:projects_grant_add"),
        {"user": outsider.pk, "project": project_a.pk, "role": "viewer"},
        REMOTE_ADDR="192.0.2.7",
        HTTP_USER_AGENT="Firefox",
    )
    assert add.status_code == 302, add.content.decode()[:2000]
    grant = Grant.objects.get(user=outsider)
    change = reverse("admin:projects_grant_change", args=[grant.pk])
    assert (
        admin_client.post(change, {"user": outsider.pk, "project": project_a.pk, "role": "owner"}).status_code
        == 302
    )
    assert (
        admin_client.post(change, {"user": outsider.pk, "project": project_b.pk, "role": "owner"}).status_code
        == 302
    )
    delete = reverse("admin:projects_grant_delete", args=[grant.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    services.grant_set(services.command_origin(), user=outsider, role="viewer", project=project_a)
    services.grant_set(services.command_origin(), user=outsider, role="auditor", project=None)
    bulk = admin_client.post(
        reverse("admin:projects_grant_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": list(Grant.objects.filter(user=outsider).values_list("pk", flat=True)),
            "post": "yes",
        },
    )
    assert bulk.status_code == 302
    assert not Grant.objects.filter(user=outsider).exists()

    by_admin = [record for record in access_records() if record.source == "admin"]
    assert [record.reason for record in by_admin] == [
        f"granted viewer of project {project_a.name} ({project_a.project_id}) to mallory",
        f"changed mallory's role in project {project_a.name} ({project_a.project_id}) from viewer to owner",
        f"revoked owner of project {project_a.name} ({project_a.project_id}) from mallory",
        f"granted owner of project {project_b.name} ({project_b.project_id}) to mallory",
        f"revoked owner of project {project_b.name} ({project_b.project_id}) from mallory",
        f"revoked viewer of project {project_a.name} ({project_a.project_id}) from mallory",
        "revoked auditor of all projects from mallory",
    ]
    assert {(record.actor_username, record.actor_id) for record in by_admin} == {
        ("root", by_admin[0].actor_id)
    }
    assert (by_admin[0].client_ip, by_admin[0].user_agent) == ("192.0.2.7", "Firefox")
    assert "OK" in verified()


def test_the_admin_records_a_project_added_given_a_grant_renamed_and_deleted(admin_client, outsider):
    form = {
        "project_id": PID,
        "name": "Lake",
        "connection": "default",
        "endpoint": "",
        "region": "",
        "grants-TOTAL_FORMS": "0",
        "grants-INITIAL_FORMS": "0",
    }
    assert admin_client.post(reverse("admin:projects_dliproject_add"), form).status_code == 302
    project = DliProject.objects.get(project_id=PID)
    change = reverse("admin:projects_dliproject_change", args=[project.pk])
    inline = {"grants-TOTAL_FORMS": "1", "grants-0-project": project.pk}
    inline |= {"grants-0-user": outsider.pk, "grants-0-role": "operator"}
    assert admin_client.post(change, form | inline).status_code == 302
    grant = Grant.objects.get(user=outsider, project=project)
    inline |= {"grants-INITIAL_FORMS": "1", "grants-0-id": grant.pk, "grants-0-DELETE": "on"}
    assert admin_client.post(change, form | inline | {"name": "Lake prod"}).status_code == 302
    assert not Grant.objects.filter(user=outsider).exists()
    project.refresh_from_db()
    services.grant_set(services.command_origin(), user=outsider, role="viewer", project=project)
    delete = reverse("admin:projects_dliproject_delete", args=[project.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302

    assert [(record.source, record.reason) for record in access_records()] == [
        ("admin", f"added project Lake ({PID})"),
        ("admin", f"granted operator of project Lake ({PID}) to mallory"),
        ("admin", f"renamed project Lake to Lake prod ({PID})"),
        ("admin", f"revoked operator of project Lake prod ({PID}) from mallory"),
        ("command", f"granted viewer of project Lake prod ({PID}) to mallory"),
        ("admin", f"revoked viewer of project Lake prod ({PID}) from mallory"),
        ("admin", f"removed project Lake prod ({PID})"),
    ]


def user_form(user, **flags) -> dict:
    form = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    for flag in ("is_active", "is_staff", "is_superuser"):
        if flags.get(flag, getattr(user, flag)):
            form[flag] = "on"
    return form


def test_the_admin_records_user_flags_permissions_and_deletes(admin_client, project_a, outsider, viewer):
    change = reverse("admin:auth_user_change", args=[outsider.pk])
    assert admin_client.post(change, user_form(outsider, is_staff=True, is_superuser=True)).status_code == 302
    assert admin_client.post(change, user_form(outsider, is_staff=True, is_active=False)).status_code == 302
    permission = Permission.objects.get(codename="change_grant")
    form = user_form(outsider, is_staff=True) | {"user_permissions": [permission.pk]}
    assert admin_client.post(change, form).status_code == 302
    bulk = admin_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [viewer.pk], "post": "yes"},
    )
    assert bulk.status_code == 302
    assert not get_user_model().objects.filter(pk=viewer.pk).exists()

    assert [record.reason for record in access_records()] == [
        "user mallory: now staff, now superuser",
        "user mallory: no longer active, no longer superuser",
        "user mallory: now active",
        "user mallory: admin groups or permissions changed",
        f"revoked viewer of project {project_a.name} ({project_a.project_id}) from victor",
        "removed user victor",
    ]
    assert changes()[3]["after"]["permissions"] == ["projects.change_grant"]
    assert changes()[0]["before"]["is_superuser"] is False and changes()[0]["after"]["is_superuser"] is True
    assert "OK" in verified()


def test_the_admin_offers_no_django_groups():
    from django.contrib import admin
    from django.contrib.auth.models import Group

    assert Group not in admin.site._registry


# --- Single sign-on's part of the service -----------------------------------------------------------


def test_group_grants_follow_the_wanted_roles_and_leave_manual_grants_alone(project_a, project_b):
    user = make_user("sam")
    origin = services.Origin(source="sso", actor=user)
    services.grant_set(services.command_origin(), user=user, role="viewer", project=project_b)  # manual

    services.grants_follow_groups(origin, user, {project_a: "operator", project_b: "owner", None: "auditor"})
    held = {(g.project_id, g.role, g.source) for g in Grant.objects.filter(user=user)}
    assert held == {
        (project_a.pk, "operator", GrantSource.SSO),
        (project_b.pk, "viewer", GrantSource.MANUAL),  # a manual grant is never changed by a login
        (None, "auditor", GrantSource.SSO),
    }
    services.grants_follow_groups(origin, user, {project_a: "viewer"})
    held = {(g.project_id, g.role, g.source) for g in Grant.objects.filter(user=user)}
    assert held == {(project_a.pk, "viewer", GrantSource.SSO), (project_b.pk, "viewer", GrantSource.MANUAL)}
    assert [r.reason for r in access_records() if r.source == "sso"][-2:] == [
        "revoked auditor of all projects from sam",
        f"changed sam's role in project {project_a.name} ({project_a.project_id}) from operator to viewer"
        " (single sign-on group)",
    ]


# --- The audit page and CSV -----------------------------------------------------------------------


def test_the_audit_page_and_csv_show_access_changes_readably(client, auditor, owner, project_a, outsider):
    services.grant_set(services.command_origin(), user=outsider, role="operator", project=project_a)
    services.grant_set(services.command_origin(), user=outsider, role="auditor", project=None)
    client.force_login(auditor)

    page = client.get(reverse("dli-audit-list"), {"outcome": "access"}).content.decode()
    assert f"granted operator of project {project_a.name} ({project_a.project_id}) to mallory" in page
    assert "granted auditor of all projects to mallory" in page
    assert "access change" in page and "command line" in page

    rows = list(
        csv.DictReader(
            io.StringIO(b"".join(client.get(reverse("dli-audit-export")).streaming_content).decode())
        )
    )
    access = [row for row in rows if row["kind"] == "access"]
    assert [(row["subject"], row["role"], row["source"]) for row in access] == [
        ("mallory", "operator", "command"),
        ("mallory", "auditor", "command"),
    ]
    assert json.loads(access[0]["change"])["change"] == "grant"

    # An owner reads the changes in their own project, not the global ones.
    client.force_login(owner)
    page = client.get(reverse("dli-audit-list"), {"outcome": "access"}).content.decode()
    assert "granted operator of project" in page and "granted auditor" not in page


def test_createsuperuser_is_recorded(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long and unusual password 42")
    run("createsuperuser", "--noinput", "--username", "boss", "--email", "boss@example.com")

    assert get_user_model().objects.get(username="boss").is_superuser
    assert [(record.source, record.reason) for record in access_records()] == [
        ("command", "added user boss (active, staff, superuser)")
    ]


# --- Written around dli-admin: access_verify -------------------------------------------------------


def access_verify(*args) -> tuple[bool, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("access_verify", *args, stdout=out, stderr=err)
    except CommandError as error:
        return False, err.getvalue() + str(error)
    return True, out.getvalue()


def test_access_verify_finds_what_was_written_around_the_services(project_a, outsider, viewer, superuser):
    # The cast was set up without records, as a database from before grants were audited.
    ok, report = access_verify()
    assert not ok
    assert "victor's role in project" in report and "viewer here, none in the audit log" in report
    assert "root's flags" in report
    assert "mallory" not in report  # a plain account without flags or grants gives no rights
    ok, report = access_verify("--baseline")
    assert ok and "recorded 2 difference(s) as found" in report
    assert any(
        r.reason.startswith("found in the database, not in the audit log: victor is viewer")
        for r in access_records()
    )

    services.grant_set(services.command_origin(), user=outsider, role="operator", project=project_a)
    assert access_verify()[0]

    # Whoever holds the database account writes around dli-admin: every change is named.
    with recorded_change():
        Grant.objects.filter(user=outsider).update(role="owner")
        Grant.objects.create(user=outsider, role="auditor")
        Grant.objects.filter(user=viewer).delete()
    get_user_model().objects.filter(pk=outsider.pk).update(is_superuser=True)
    ok, report = access_verify()
    assert not ok
    assert "mallory's role in project" in report and "owner here, operator in the audit log" in report
    assert "mallory's role in all projects: auditor here, none in the audit log" in report
    assert "victor's role in project" in report and "none here, viewer in the audit log" in report
    assert "mallory's flags" in report
    assert "4 grant(s) or user flag(s) differ" in report


def test_access_verify_follows_commands_admin_renames_and_removals(admin_client, project_a, outsider):
    access_verify("--baseline")  # the cast
    run("grant", "mallory", "owner", "--project", project_a.project_id)
    form = user_form(outsider, is_staff=True)
    assert admin_client.post(reverse("admin:auth_user_change", args=[outsider.pk]), form).status_code == 302
    project_a.refresh_from_db()
    project_a.project_id = "ffff0000ffff0000"
    services.project_save(services.command_origin(), project_a)
    result = access_verify()
    assert result == (
        True,
        "OK: every grant and superuser, staff and active flag is as the audit log says\n",
    ), result
    run("dli_project", "remove", "ffff0000ffff0000")
    services.user_delete(services.command_origin(), outsider)
    assert access_verify()[0]
