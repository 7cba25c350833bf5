"""The batch page's kept definitions, their JSON downloads, and the restore review and confirmation."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client
from django.urls import reverse

from dli_admin.audit.models import AuditKind, AuditRecord
from dli_admin.deletes import runner, services
from dli_admin.deletes.models import BatchKind, DeleteBatch, DeleteBatchJob

pytestmark = pytest.mark.django_db

SQL = "INSERT INTO sink SELECT * FROM source;"


def deleted_batch(simulator, project, user, names=("view-a", "view-b")) -> tuple[DeleteBatch, list[int]]:
    ids = [
        simulator.add_job(
            project.project_id, name=name, status="job_finish", job_type="flink_sql_job", sql_body=SQL
        )
        for name in names
    ]
    requester = services.Requester(user=user)
    plan = services.flink_jobs_delete_plan(
        requester=requester, project=project, job_ids=[str(i) for i in ids]
    )
    batch = services.flink_jobs_delete(requester=requester, project=project, token=plan.token)
    runner.batch_run(batch.pk)
    batch.refresh_from_db()
    return batch, ids


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_batch_page_shows_each_definition_and_offers_json(simulator, project_a, owner, viewer):
    batch, ids = deleted_batch(simulator, project_a, owner)
    page = reverse("dli-batch-detail", args=[project_a.project_id, batch.pk])

    html = client_for(viewer).get(page).content.decode()

    assert "Definitions kept before delete" in html and SQL in html
    assert "Restore selected" not in html, "a viewer is offered no restore"
    owner_html = client_for(owner).get(page).content.decode()
    assert "Restore selected" in owner_html and "never starts it" in owner_html
    assert "Checkpoints and savepoints are not part of a snapshot" in owner_html

    url = reverse("dli-batch-snapshots", args=[project_a.project_id, batch.pk])
    whole = client_for(viewer).get(url)
    assert whole["Content-Disposition"].startswith("attachment")
    document = json.loads(whole.content)
    assert [job["job_id"] for job in document["jobs"]] == ids
    assert document["jobs"][0]["definition"]["sql_body"] == SQL
    digest = DeleteBatchJob.objects.get(batch=batch, job_id=ids[0]).snapshot_digest
    one = json.loads(client_for(viewer).get(url, {"job": ids[1]}).content)
    assert [job["job_id"] for job in one["jobs"]] == [ids[1]]
    assert document["jobs"][0]["digest"] == digest
    assert client_for(viewer).get(url, {"job": "123"}).status_code == 404
    assert client_for(viewer).get(url, {"job": "x"}).status_code == 404


def test_the_audit_detail_shows_the_definition_and_offers_json(simulator, project_a, owner, auditor):
    batch, ids = deleted_batch(simulator, project_a, owner)

    html = client_for(auditor).get(reverse("dli-audit-batch", args=[batch.pk])).content.decode()
    assert SQL in html

    url = reverse("dli-audit-batch-snapshots", args=[batch.pk])
    assert [j["job_id"] for j in json.loads(client_for(auditor).get(url).content)["jobs"]] == ids
    assert [
        j["job_id"] for j in json.loads(client_for(auditor).get(url, {"job": ids[0]}).content)["jobs"]
    ] == [ids[0]]


def test_the_csv_export_carries_the_digest(simulator, project_a, owner, auditor):
    batch, ids = deleted_batch(simulator, project_a, owner)
    digest = DeleteBatchJob.objects.get(batch=batch, job_id=ids[0]).snapshot_digest

    response = client_for(auditor).get(reverse("dli-audit-export"))
    text = b"".join(response.streaming_content).decode()

    rows = list(csv.DictReader(io.StringIO(text)))
    assert "snapshot digest" in rows[0]
    assert any(row["job id"] == str(ids[0]) and row["snapshot digest"] == digest for row in rows)


def test_an_owner_reviews_then_confirms_a_restore_of_one_job(simulator, project_a, owner):
    batch, ids = deleted_batch(simulator, project_a, owner)
    client = client_for(owner)
    review = client.post(
        reverse("dli-batch-restore-review", args=[project_a.project_id, batch.pk]),
        {"scope": "selected", "job_ids": [str(ids[0])]},
    )
    html = review.content.decode()
    assert review.status_code == 200 and "Re-create 1 job" in html and "not started" in html
    assert simulator.requests(op="create_sql_job") == [], "a review sends nothing"
    token = review.context["plan"].token

    response = client.post(
        reverse("dli-batch-restore", args=[project_a.project_id, batch.pk]), {"token": token}
    )

    restore = DeleteBatch.objects.get(kind=BatchKind.RESTORE)
    assert response.status_code == 302 and str(restore.pk) in response["Location"]
    runner.batch_run(restore.pk)
    row = DeleteBatchJob.objects.get(batch=restore)
    assert (row.job_id, row.outcome) == (ids[0], "restored")
    page = client.get(response["Location"]).content.decode()
    assert "Restore batch" in page and f"restored as job {row.new_job_id}" in page


def test_a_second_restore_asks_and_names_the_first(simulator, project_a, owner):
    batch, ids = deleted_batch(simulator, project_a, owner, names=("again-a",))
    client = client_for(owner)
    review_url = reverse("dli-batch-restore-review", args=[project_a.project_id, batch.pk])
    restore_url = reverse("dli-batch-restore", args=[project_a.project_id, batch.pk])
    client.post(restore_url, {"token": client.post(review_url, {"scope": "all"}).context["plan"].token})
    first = DeleteBatch.objects.get(kind=BatchKind.RESTORE)
    runner.batch_run(first.pk)

    review = client.post(review_url, {"scope": "all"})
    assert str(first.pk) in review.content.decode() and "Restore again" in review.content.decode()
    refused = client.post(restore_url, {"token": review.context["plan"].token})

    assert refused.status_code == 400 and str(first.pk) in refused.content.decode()
    assert 'role="alert"' in refused.content.decode()
    assert DeleteBatch.objects.filter(kind=BatchKind.RESTORE).count() == 1


@pytest.mark.parametrize("who", ["viewer", "operator"])
def test_a_viewer_or_operator_gets_403_and_the_try_is_audited(simulator, project_a, owner, who, request):
    batch, ids = deleted_batch(simulator, project_a, owner)
    user = request.getfixturevalue(who)

    response = client_for(user).post(
        reverse("dli-batch-restore-review", args=[project_a.project_id, batch.pk]), {"scope": "all"}
    )

    assert response.status_code == 403
    refusal = AuditRecord.objects.filter(kind=AuditKind.REFUSAL).latest("seq")
    assert refusal.actor_username == user.username and "may not restore" in refusal.reason


def test_restoring_nothing_selected_says_what_to_do(simulator, project_a, owner):
    batch, _ids = deleted_batch(simulator, project_a, owner)

    response = client_for(owner).post(
        reverse("dli-batch-restore-review", args=[project_a.project_id, batch.pk]), {"scope": "selected"}
    )

    assert response.status_code == 400 and "Tick the jobs to restore" in response.content.decode()


def test_only_an_owner_is_offered_delete_without_a_snapshot_and_a_forged_tick_is_refused(
    simulator, project_a, owner, operator
):
    job = simulator.add_job(project_a.project_id, name="tick-nosnap", status="job_finish")
    review_url = reverse("dli-job-delete-review", args=[project_a.project_id])
    delete_url = reverse("dli-job-delete", args=[project_a.project_id])

    owner_review = client_for(owner).post(review_url, {"job_ids": [str(job)]})
    operator_client = client_for(operator)
    operator_review = operator_client.post(review_url, {"job_ids": [str(job)]})

    assert 'name="without_snapshot"' in owner_review.content.decode()
    assert 'name="without_snapshot"' not in operator_review.content.decode()
    token = operator_review.context["plan"].token
    forged = operator_client.post(delete_url, {"token": token, "without_snapshot": "on"})
    assert forged.status_code == 403
    assert "without a snapshot" in AuditRecord.objects.filter(kind=AuditKind.REFUSAL).latest("seq").reason
    assert not DeleteBatch.objects.exists()

    ticked = client_for(owner).post(
        delete_url, {"token": owner_review.context["plan"].token, "without_snapshot": "on"}
    )
    assert ticked.status_code == 302 and DeleteBatch.objects.get().without_snapshot
