"""The policy pages: owners create, edit, disable, delete; readers look; every change audited."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from dli_admin.audit.models import AuditKind, AuditRecord
from dli_admin.policies.models import CleanupPolicy, ProjectWebhook
from tests.helpers import ms_ago

pytestmark = pytest.mark.django_db
QUEUE = "views_q"
FORM = {
    "name": "nightly",
    "statuses": ["job_finish", "job_cancel_success"],
    "queue_name": QUEUE,
    "tags_exclude": "keep=true",
    "min_age_days": "30",
    "max_jobs": "100",
    "schedule": "weekly",
    "weekday": "6",
    "at_time": "02:00",
    "zone": "Europe/Berlin",
    "mode": "delete",
    "enabled": "on",
}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def create(client, project, **overrides):
    return client.post(reverse("dli-policy-create", args=[project.project_id]), {**FORM, **overrides})


def test_an_owner_creates_a_policy_and_sees_it_listed_with_its_next_run(simulator, project_a, owner):
    client = signed_in(owner)
    response = create(client, project_a)
    policy = CleanupPolicy.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/policies/{policy.pk}/")
    assert policy.weekday == 6 and policy.created_by == owner
    page = client.get(reverse("dli-policy-list", args=[project_a.project_id])).content.decode()
    assert "nightly" in page and "weekly on Sunday at 02:00 Europe/Berlin" in page and "New policy" in page


def test_bad_input_is_shown_with_its_field_and_saves_nothing(project_a, owner):
    response = create(signed_in(owner), project_a, statuses=["job_running"], zone="Nowhere/Else")
    page = response.content.decode()
    assert response.status_code == 400 and 'role="alert"' in page
    assert "never deletes active jobs" in page and "is not an IANA time zone" in page
    assert (
        not CleanupPolicy.objects.exists() and not AuditRecord.objects.filter(kind=AuditKind.POLICY).exists()
    )


def test_viewers_and_operators_read_but_do_not_change(simulator, project_a, owner, viewer, operator):
    create(signed_in(owner), project_a)
    policy = CleanupPolicy.objects.get()
    for user in (viewer, operator):
        client = signed_in(user)
        page = client.get(
            reverse("dli-policy-detail", args=[project_a.project_id, policy.pk])
        ).content.decode()
        assert "Preview now" in page and "Run now" not in page and "Edit" not in page
        assert create(client, project_a, name="sneaky").status_code == 403
        url = reverse("dli-policy-edit", args=[project_a.project_id, policy.pk])
        assert client.post(url, {**FORM, "mode": "report"}).status_code == 403
    policy.refresh_from_db()
    assert policy.mode == "delete" and CleanupPolicy.objects.count() == 1
    # Audited, each user's repeat of the same refusal folded into its record (audit.services).
    refused = AuditRecord.objects.filter(kind=AuditKind.REFUSAL).values_list("actor_username", flat=True)
    assert sorted(refused) == ["olivia", "victor"]


def test_edit_disable_and_delete_are_audited(simulator, project_a, owner):
    client = signed_in(owner)
    create(client, project_a)
    policy = CleanupPolicy.objects.get()
    pid = project_a.project_id
    client.post(reverse("dli-policy-edit", args=[pid, policy.pk]), {**FORM, "max_jobs": "50"})
    client.post(reverse("dli-policy-disable", args=[pid, policy.pk]))
    response = client.post(
        reverse("dli-policy-delete", args=[pid, policy.pk]), headers={"HX-Request": "true"}
    )
    assert response["HX-Redirect"] == reverse("dli-policy-list", args=[pid])
    reasons = list(
        AuditRecord.objects.filter(kind=AuditKind.POLICY)
        .order_by("seq")
        .values_list("reason", "actor_username")
    )
    assert [who for _, who in reasons] == ["oscar"] * 4
    assert (
        "max_jobs: 100 -> 50" in reasons[1][0]
        and reasons[2][0].endswith("disabled")
        and reasons[3][0].endswith("removed")
    )


def test_the_preview_page_lists_what_it_would_delete_and_what_it_keeps(simulator, project_a, owner, viewer):
    pid = project_a.project_id
    old = simulator.add_job(
        pid, name="old-one", status="job_finish", queue_name=QUEUE, create_time=ms_ago(60)
    )
    simulator.add_job(
        pid,
        name="keeper",
        status="job_finish",
        queue_name=QUEUE,
        create_time=ms_ago(60),
        tags={"keep": "true"},
    )
    create(signed_in(owner), project_a)
    policy = CleanupPolicy.objects.get()
    url = reverse("dli-policy-preview", args=[pid, policy.pk])
    fragment = signed_in(viewer).get(url, headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section id="preview"')
    assert (
        "old-one" in fragment
        and str(old) in fragment
        and "keeper" in fragment
        and "has tag keep=true" in fragment
    )
    assert "<strong>1</strong> job would be deleted" in fragment
    assert simulator.requests(op="batch_delete") == []


def test_the_preview_says_so_when_dli_cannot_be_read(simulator, project_a, owner, settings):
    create(signed_in(owner), project_a)
    policy = CleanupPolicy.objects.get()
    settings.DLI_ENDPOINT = "http://127.0.0.1:9"  # nothing listens there
    settings.DLI_TIMEOUT = 1
    response = signed_in(owner).get(reverse("dli-policy-preview", args=[project_a.project_id, policy.pk]))
    assert response.status_code == 502 and 'role="alert"' in response.content.decode()


def test_the_webhook_is_owner_only_shown_by_its_host_and_audited_without_its_path(project_a, owner, viewer):
    url = reverse("dli-project-webhook", args=[project_a.project_id])
    secret = "https://hooks.example.com/services/T000/B000/XXXXSECRET"
    client = signed_in(owner)
    assert client.post(url, {"url": secret, "min_jobs": "50", "enabled": "on"}).status_code == 302
    assert ProjectWebhook.objects.get().url == secret
    page = client.get(url).content.decode()
    assert "https://hooks.example.com/…" in page and "XXXXSECRET" not in page
    # Saving again without a URL keeps it (it is never sent back to the browser).
    client.post(url, {"url": "", "min_jobs": "10", "enabled": "on"})
    assert ProjectWebhook.objects.get().url == secret and ProjectWebhook.objects.get().min_jobs == 10
    records = AuditRecord.objects.filter(kind=AuditKind.POLICY)
    assert records.count() == 2 and not records.filter(reason__contains="SECRET").exists()
    assert (
        signed_in(viewer).post(url, {"url": "https://evil.example.com/x", "min_jobs": "0"}).status_code == 403
    )
    client.post(url, {"url": "", "min_jobs": "10", "remove": "on"})
    assert not ProjectWebhook.objects.exists()
    assert (
        "webhook removed" in AuditRecord.objects.filter(kind=AuditKind.POLICY).order_by("-seq").first().reason
    )


def test_policy_changes_read_as_such_in_the_audit_log(simulator, project_a, owner):
    client = signed_in(owner)
    create(client, project_a)
    page = client.get(reverse("dli-audit-list")).content.decode()
    assert "cleanup policy or webhook" in page and "cleanup policy &#x27;nightly&#x27; created" in page
    assert "refused" not in page.split("audit-policy", 1)[1].split("</tbody>", 1)[0]


def test_run_now_on_the_page_claims_a_run_that_a_worker_carries_out(
    simulator, project_a, owner, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from dli_admin.policies.models import PolicyRun
    from dli_admin.policies.tasks import run_policy

    pid = project_a.project_id
    simulator.add_job(pid, name="old-one", status="job_finish", queue_name=QUEUE, create_time=ms_ago(60))
    client = signed_in(owner)
    create(client, project_a, mode="report")
    policy = CleanupPolicy.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dli-policy-run", args=[pid, policy.pk]), follow=True)
    page = response.content.decode()
    assert "The run has started" in page and 'hx-trigger="every 2s"' in page  # it refreshes until done
    run = PolicyRun.objects.get()
    assert run.manual and run.state == "running"
    assert DBTaskResult.objects.filter(task_path=run_policy.module_path, args_kwargs__args=[run.pk]).exists()
    assert run_policy.call(run.pk) == "reported"
    assert run_policy.call(run.pk) == "nothing to run"  # a second delivery of the task does nothing
    page = client.get(reverse("dli-policy-detail", args=[pid, policy.pk])).content.decode()
    assert "would delete 1 job(s)" in page and 'hx-trigger="every 2s"' not in page


def test_a_name_taken_in_the_project_is_refused_with_a_message(simulator, project_a, owner):
    client = signed_in(owner)
    create(client, project_a)
    create(client, project_a, name="second")
    response = create(client, project_a)
    assert (
        response.status_code == 400
        and "has a policy named &#x27;nightly&#x27; already" in response.content.decode()
    )
    second = CleanupPolicy.objects.get(name="second")
    response = client.post(
        reverse("dli-policy-edit", args=[project_a.project_id, second.pk]), {**FORM, "name": "nightly"}
    )
    assert response.status_code == 400 and CleanupPolicy.objects.filter(name="second").exists()
    assert (
        client.post(
            reverse("dli-policy-edit", args=[project_a.project_id, second.pk]), {**FORM, "name": "second"}
        ).status_code
        == 302
    )
