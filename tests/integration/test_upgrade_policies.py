"""A database from before cleanup policies (no policies app) upgrades without losing a record."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dli_admin.audit.models import AuditKind, AuditRecord
from dli_admin.audit.services import audit_intent_record, audit_policy_record
from dli_admin.projects.jobs import JobRef
from dli_admin.projects.models import DliProject
from tests.helpers import make_project


@pytest.mark.django_db(transaction=True)
def test_records_and_batches_of_before_policies_stay_and_the_chain_verifies(django_user_model):
    # Only the policies app is taken away: records are written below with today's audit model.
    MigrationExecutor(connection).migrate([("policies", None)])
    alice = django_user_model.objects.create_user("alice")
    project = make_project("c" * 32, "gamma")
    audit_intent_record(
        batch_id=uuid.uuid4(),
        actor=alice,
        project_id=project.project_id,
        project_name=project.name,
        jobs=[JobRef(7, "etl", "job_finish")],
        client_ip="127.0.0.1",
        user_agent="test",
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert AuditRecord.objects.count() == 1 and DliProject.objects.get().name == "gamma"
    audit_policy_record(actor=alice, project_id=project.project_id, project_name="gamma", reason="created")
    assert list(AuditRecord.objects.order_by("seq").values_list("kind", flat=True)) == [
        AuditKind.INTENT,
        AuditKind.POLICY,
    ]
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "audit chain OK: 2 records" in out.getvalue()
