"""PostgreSQL with two roles (docs/deployment.md): the application's role may only append to the audit log.

The role is made inside the test's transaction (rolled back after it) and the test's connection acts as
it with SET LOCAL ROLE: a second connection could not see the uncommitted role. Privileges are checked
against the current role, so a superuser's session that has set a role has none of its own rights.
"""

from __future__ import annotations

import re
import secrets
import uuid
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction

from dli_admin.access import services
from dli_admin.audit.models import AuditRecord
from dli_admin.audit.services import AuditJobResult, audit_refusal_record, audit_results_record

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
DEPLOYMENT = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
AUDIT_TABLES = ("audit_auditrecord", "audit_auditintentjob", "audit_auditdatabase", "audit_jobsnapshot")


def app_role_grants() -> list[str]:
    """The app role's GRANT and REVOKE statements in docs/deployment.md: the docs are what is tested."""
    text = DEPLOYMENT.read_text()
    block = text[text.index("-- the application's role") :]
    block = block[: block.index("```")]
    return [s.strip() for s in block.split(";") if re.match(r"\s*(GRANT|REVOKE)", s)]


@pytest.fixture
def as_app_role():
    if connection.vendor != "postgresql":
        pytest.skip("roles and privileges are PostgreSQL's")
    role = f"dli_admin_app_{secrets.token_hex(4)}"  # roles are cluster-wide: never two runs' names alike
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        for statement in app_role_grants():
            cursor.execute(statement.replace("dli_admin_app", role))
        cursor.execute(f"SET LOCAL ROLE {role}")
    return role


def test_the_docs_grant_the_app_role_no_change_to_the_audit_tables():
    statements = " ".join(app_role_grants())
    for table in AUDIT_TABLES:
        assert re.search(rf"REVOKE UPDATE, DELETE, TRUNCATE ON [^;]*\b{table}\b", statements)


def test_the_app_role_appends_through_the_services(as_app_role):
    audit_refusal_record(actor=None, project_id="p", job_ids=["1"], reason="r", client_ip="", user_agent="")
    audit_results_record(
        batch_id=uuid.uuid4(), actor=None, project_id="p", results=[AuditJobResult(1, "j", "deleted")]
    )

    assert AuditRecord.objects.count() == 2


def test_the_app_role_changes_grants_only_with_their_audit_records(as_app_role, project_a, outsider):
    origin = services.command_origin()
    grant = services.grant_set(origin, user=outsider, role="operator", project=project_a)
    services.grant_revoke(origin, grant)

    assert (
        list(AuditRecord.objects.order_by("seq").values_list("kind", "source")) == [("access", "command")] * 2
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditrecord SET reason = 'x'",
        "DELETE FROM audit_auditrecord",
        "TRUNCATE audit_auditrecord CASCADE",
        "UPDATE audit_auditintentjob SET name = 'x'",
        "DELETE FROM audit_auditintentjob",
        "TRUNCATE audit_auditintentjob",
        "DELETE FROM audit_auditdatabase",
        "ALTER TABLE audit_auditrecord DISABLE TRIGGER USER",
        "ALTER TABLE audit_auditintentjob DISABLE TRIGGER audit_auditintentjob_no_change",
        "DROP TRIGGER audit_auditrecord_no_change ON audit_auditrecord",
        "DROP TRIGGER audit_auditrecord_no_truncate ON audit_auditrecord",
    ],
)
def test_the_app_role_cannot_change_or_unprotect_the_audit_tables(as_app_role, statement):
    audit_refusal_record(actor=None, project_id="p", job_ids=["1"], reason="r", client_ip="", user_agent="")

    with (
        pytest.raises(DatabaseError, match="permission denied|must be owner"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL dli_admin.audit_truncate = 'allow'")  # no help without ownership
        cursor.execute(statement)
    assert AuditRecord.objects.get().reason == "r"


def test_the_refusal_no_longer_teaches_the_way_around_it():
    if connection.vendor != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = 'audit_refuse_change'")
        (source,) = cursor.fetchone()
    assert "HINT" not in source and "options=" not in source
