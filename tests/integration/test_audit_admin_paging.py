"""The audit records' admin changelist stays bounded at any size: no full COUNT, no deep OFFSET."""

from __future__ import annotations

import uuid

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dli_admin.audit.admin import NewestPaginator
from dli_admin.audit.models import AuditRecord
from dli_admin.audit.services import AuditJobResult, audit_intent_record, audit_results_record
from dli_admin.projects.jobs import JobRef

CHANGELIST = reverse("admin:audit_auditrecord_changelist")


@pytest.fixture
def seven_records():
    batch_id = uuid.uuid4()
    audit_intent_record(
        batch_id=batch_id,
        actor=None,
        project_id="a" * 32,
        project_name="alpha",
        jobs=[JobRef(i, f"job-{i}", "job_finished") for i in range(6)],
        client_ip="192.0.2.1",
        user_agent="pytest",
    )
    audit_results_record(
        batch_id=batch_id,
        actor=None,
        project_id="a" * 32,
        results=[AuditJobResult(i, f"job-{i}", "deleted") for i in range(6)],
    )


@pytest.mark.django_db
def test_the_changelist_counts_and_pages_only_the_newest_records(
    client, superuser, seven_records, monkeypatch
):
    monkeypatch.setattr(NewestPaginator, "LIMIT", 4)
    monkeypatch.setattr(admin.site._registry[AuditRecord], "list_per_page", 2)
    client.force_login(superuser)

    with CaptureQueriesContext(connection) as queries:
        first = client.get(CHANGELIST, {"p": 2})
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    deeper = client.get(CHANGELIST, {"p": 3})  # past the newest four: not offered

    assert first.status_code == 200
    assert first.context["cl"].result_count == 4
    assert [record.seq for record in first.context["cl"].result_list] == [5, 4]
    record_counts = [sql for sql in counts if "audit_auditrecord" in sql]
    assert record_counts and all("LIMIT 4" in sql for sql in record_counts), record_counts
    assert deeper.status_code == 302 and "e=1" in deeper["Location"]
