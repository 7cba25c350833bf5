"""`manage.py user add|list|deactivate`: plain users without the admin, each change in the audit chain."""

from __future__ import annotations

import io
import sys
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from dli_admin.audit.models import AuditKind, AuditRecord
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db


def user(*args: str, stdin: str = "") -> str:
    out = StringIO()
    saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        call_command("user", *args, stdout=out)
    finally:
        sys.stdin = saved
    return out.getvalue()


def user_records() -> list[str]:
    return list(
        AuditRecord.objects.filter(kind=AuditKind.ACCESS).order_by("seq").values_list("reason", flat=True)
    )


def test_add_makes_a_user_who_is_no_admin_and_logs_in_with_the_password(client):
    out = user("add", "alice", "--email", "alice@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert "added user alice (with a password)" in out
    alice = get_user_model().objects.get(username="alice")
    assert alice.is_active and not alice.is_staff and not alice.is_superuser
    assert alice.email == "alice@example.com"
    assert client.login(username="alice", password=PASSWORD)
    assert user_records() == ["added user alice (active)"]
    record = AuditRecord.objects.get(kind=AuditKind.ACCESS)
    assert record.source == "command" and record.project_id == ""


def test_add_without_a_password_makes_a_user_who_cannot_log_in_with_one(client):
    user("add", "sso-only", "--no-password")
    assert not get_user_model().objects.get(username="sso-only").has_usable_password()
    assert not client.login(username="sso-only", password="")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("add", "alice", "--password-stdin"), "short\n", "password refused"),
        (("add", "alice", "--password-stdin"), "\n", "the password is empty"),
        (("add", "alice"), "", "give --password-stdin or --no-password"),
        (("add", "no spaces allowed", "--no-password"), "", "username 'no spaces allowed'"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(args, stdin, message):
    with pytest.raises(CommandError, match=message):
        user(*args, stdin=stdin)
    assert not get_user_model().objects.exists()
    assert user_records() == []


def test_add_refuses_an_existing_username(viewer):
    with pytest.raises(CommandError, match="a user named 'victor' exists already"):
        user("add", "victor", "--no-password")
    assert user_records() == []


def test_deactivate_stops_logins_and_open_sessions_and_keeps_the_roles(viewer, client, project_a):
    client.force_login(viewer)
    assert client.get("/").status_code == 200
    assert "deactivated user victor" in user("deactivate", "victor")
    assert client.get("/").status_code == 302  # the open session no longer counts
    assert not client.login(username="victor", password=PASSWORD)
    assert get_user_model().objects.get(username="victor").dli_grants.count() == 1
    assert "inactive already" in user("deactivate", "victor")
    assert user_records() == ["user victor: no longer active"]


def test_deactivate_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        user("deactivate", "nobody")


def test_list_shows_each_user_with_state_rights_and_roles(
    operator, auditor, superuser, outsider, project_a, project_b
):
    lines = user("list").splitlines()
    assert lines == [
        "aud  active  auditor",
        "mallory  active  no role",
        f"olivia  active  operator of {project_a.project_id}, viewer of {project_b.project_id}",
        "root  active  superuser  no role",
    ]


def test_the_chain_with_user_records_verifies():
    user("add", "alice", "--no-password")
    user("deactivate", "alice")
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "audit chain OK: 2 records" in out.getvalue()


def test_an_auditor_reads_user_records_in_the_audit_log_and_an_owner_does_not(auditor, owner, client):
    user("add", "alice", "--no-password")
    client.force_login(auditor)
    page = client.get("/audit/")
    assert page.status_code == 200 and "added user alice (active)" in page.content.decode()
    client.force_login(owner)
    assert "added user alice" not in client.get("/audit/").content.decode()
