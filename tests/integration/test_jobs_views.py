"""The projects and jobs pages through their URLs: full pages, htmx fragments, no JavaScript, CSRF, roles."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from dli_admin.deletes.models import DeleteBatch
from dli_admin.simulator.seed import DEMO_PROJECTS
from tests.helpers import run_queued_batches

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def progress_url(project, batch) -> str:
    return reverse("dli-batch-progress", args=[project.project_id, batch.pk])


def login(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def jobs_url(project):
    return reverse("dli-job-list", args=[project.project_id])


def review_url(project):
    return reverse("dli-job-delete-review", args=[project.project_id])


def delete_url(project):
    return reverse("dli-job-delete", args=[project.project_id])


def token_of(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def test_the_project_list_shows_only_projects_with_a_role(operator, project_a, project_b, simulator):
    html = login(operator).get("/").content.decode()
    assert project_a.name in html and "operator" in html
    assert project_b.name in html and "viewer" in html


def test_an_outsider_sees_no_project_and_gets_404_for_one(outsider, project_a, simulator):
    client = login(outsider)
    assert project_a.name not in client.get("/").content.decode()
    assert client.get(jobs_url(project_a)).status_code == 404
    assert client.post(review_url(project_a), {"job_ids": ["1"]}).status_code == 404
    assert simulator.requests() == []


def test_an_anonymous_user_is_sent_to_the_login_page(project_a, simulator):
    response = Client().get(jobs_url(project_a))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_jobs_page_makes_one_dli_list_call_and_keeps_filters_in_links(operator, project_a, simulator):
    response = login(operator).get(jobs_url(project_a), {"status": "job_finish", "page_size": 10, "page": 2})
    html = response.content.decode()
    assert response.status_code == 200
    assert len(simulator.requests()) == 1
    (listed,) = simulator.requests(op="list")
    assert listed.query["status"] == "job_finish" and listed.query["limit"] == "10"
    assert listed.query["offset"] == "10"
    assert "page 2 of" in html and "status=job_finish" in html
    assert html.count('name="job_ids"') == 10
    assert "Completed" in html  # a readable label, not the raw code


def test_a_viewer_gets_the_page_without_checkboxes(viewer, project_a, simulator):
    html = login(viewer).get(jobs_url(project_a)).content.decode()
    assert 'name="job_ids"' not in html and "Delete selected" not in html


def test_htmx_filtering_returns_only_the_jobs_region(operator, project_a, simulator):
    response = login(operator).get(jobs_url(project_a), headers={**HX, "HX-Target": "jobs-region"})
    html = response.content.decode()
    assert "<html" not in html and 'id="selection"' in html
    assert "HX-Request" in response["Vary"]


def test_a_page_past_the_end_says_so_and_links_to_the_last_page(operator, project_a, simulator):
    html = login(operator).get(jobs_url(project_a), {"page": 999, "page_size": 100}).content.decode()
    assert "Page 999 is past the end" in html and "page_size=100&amp;page=5" in html


def test_an_empty_filter_says_so(operator, project_a, simulator):
    html = login(operator).get(jobs_url(project_a), {"name": "no-such-job-anywhere"}).content.decode()
    assert "No job matches these filters." in html


def test_dli_down_shows_a_message_not_a_500(operator, project_a, simulator, settings):
    settings.DLI_ENDPOINT = "http://127.0.0.1:9"  # discard port: connection refused
    response = login(operator).get(jobs_url(project_a))
    assert response.status_code == 200
    assert "Could not list the jobs from DLI" in response.content.decode()


def test_a_dli_error_shows_a_message_not_a_500(operator, project_a, simulator):
    simulator.set_fault(project_a.project_id, "server_error", 503)
    response = login(operator).get(jobs_url(project_a))
    assert response.status_code == 200 and "Could not list the jobs from DLI" in response.content.decode()


def test_the_delete_flow_with_htmx_swaps_each_row_for_a_status_row(operator, project_a, simulator):
    ids = [simulator.add_job(project_a.project_id, name=f"old-{n}", status="job_finish") for n in range(3)]
    running = simulator.add_job(project_a.project_id, name="live", status="job_running")
    simulator.set_fault(project_a.project_id, "fail_ids", [ids[2]])
    client = login(operator)
    posted = {"job_ids": [str(i) for i in [*ids, running]], "page_ids": [str(i) for i in [*ids, running]]}

    review = client.post(review_url(project_a), posted, headers=HX)
    html = review.content.decode()
    assert review.status_code == 200 and "Delete 3 jobs" in html
    assert "needs owner" in html and "live" in html
    assert simulator.requests(op="batch_delete") == []

    confirmed = client.post(
        delete_url(project_a), {"token": token_of(html), "page_ids": posted["page_ids"]}, headers=HX
    )
    batch = DeleteBatch.objects.get()
    html = confirmed.content.decode()
    assert confirmed["HX-Push-Url"] == reverse("dli-batch-detail", args=[project_a.project_id, batch.pk])
    assert 'id="batch-progress"' in html and "<progress" in html and 'hx-trigger="every 1s"' in html
    assert simulator.requests(op="batch_delete") == [], "the confirm only hands the batch to a worker"

    run_queued_batches()
    rows = ",".join(posted["page_ids"])
    poll = client.get(
        progress_url(project_a, batch), {"rows": rows, "since": ""}, headers={**HX, "X-Dli-Admin-Poll": "1"}
    )
    html = poll.content.decode()
    assert "2 deleted, 1 failed, 1 skipped" in html
    assert "<progress" not in html and "every 1s" not in html, "an ended batch stops polling"
    assert 'hx-trigger="dli-job-checked from:body"' in html, "it re-reads its summary after a check"
    assert poll["HX-Trigger"] == "dli-batch-ended", "the jobs page then re-reads its counts"
    for job_id, outcome in [
        (ids[0], "deleted"),
        (ids[1], "deleted"),
        (ids[2], "failed"),
        (running, "skipped"),
    ]:
        row = re.search(
            rf'<tr id="job-{job_id}" class="status-row outcome-{outcome}" hx-swap-oob="outerHTML">', html
        )
        assert row, f"no {outcome} status row for job {job_id}"
    assert len(simulator.requests(op="batch_delete")) == 1


def test_the_delete_flow_works_without_javascript(operator, project_a, simulator):
    ids = [simulator.add_job(project_a.project_id, name=f"nojs-{n}", status="job_finish") for n in range(2)]
    client = login(operator)
    review = client.post(review_url(project_a), {"job_ids": [str(i) for i in ids]})
    html = review.content.decode()
    assert "<html" in html and "Delete 2 jobs" in html
    confirmed = client.post(delete_url(project_a), {"token": token_of(html)})
    batch = DeleteBatch.objects.get()
    assert confirmed.status_code == 302
    assert confirmed["Location"] == reverse("dli-batch-detail", args=[project_a.project_id, batch.pk])
    waiting = client.get(confirmed["Location"]).content.decode()
    assert '<meta http-equiv="refresh"' in waiting and "Waiting for a worker" in waiting

    run_queued_batches()
    html = client.get(confirmed["Location"]).content.decode()
    assert "<html" in html and "2 deleted" in html and 'http-equiv="refresh"' not in html
    assert all(f'id="job-{i}" class="status-row outcome-deleted"' in html for i in ids)
    again = client.get(confirmed["Location"])
    assert again.status_code == 200 and DeleteBatch.objects.count() == 1, "a reload never confirms again"


def test_csrf_is_enforced(operator, project_a, simulator):
    ids = [simulator.add_job(project_a.project_id, name="csrf", status="job_finish")]
    client = login(operator, enforce_csrf_checks=True)
    assert client.post(review_url(project_a), {"job_ids": [str(ids[0])]}).status_code == 403
    assert client.post(delete_url(project_a), {"token": "x"}).status_code == 403
    assert simulator.requests() == []


def test_a_viewer_may_not_review_or_delete(viewer, project_a, simulator):
    job = simulator.add_job(project_a.project_id, name="keep", status="job_finish")
    client = login(viewer)
    assert client.post(review_url(project_a), {"job_ids": [str(job)]}).status_code == 403
    assert client.post(delete_url(project_a), {"token": "x"}).status_code == 403
    assert simulator.requests() == []


def test_an_operator_who_only_views_project_b_may_not_delete_there(operator, project_b, simulator):
    job = simulator.add_job(project_b.project_id, name="b-job", status="job_finish")
    assert login(operator).post(review_url(project_b), {"job_ids": [str(job)]}).status_code == 403
    assert simulator.requests() == []


@pytest.mark.parametrize("bad", ["abc", "-1", "1e3", str(2**64), "", "\u0663"])
def test_a_malformed_id_gets_a_clear_message_and_sends_nothing(operator, project_a, simulator, bad):
    response = login(operator).post(review_url(project_a), {"job_ids": [bad]}, headers=HX)
    assert response.status_code == 400
    assert "Nothing was deleted" in response.content.decode()
    assert simulator.requests() == []


def test_a_job_of_another_project_is_refused(operator, project_a, simulator):
    foreign = simulator.add_job(DEMO_PROJECTS[2].id, name="elsewhere", status="job_finish")
    response = login(operator).post(review_url(project_a), {"job_ids": [str(foreign)]}, headers=HX)
    assert response.status_code == 400 and "not jobs of" in response.content.decode()
    assert simulator.requests(op="batch_delete") == []


def test_a_forged_token_is_refused(operator, project_a, simulator):
    response = login(operator).post(
        delete_url(project_a), {"token": "eyJmb3JnZWQiOnRydWV9:forged"}, headers=HX
    )
    assert response.status_code == 400 and "not valid" in response.content.decode()
    assert simulator.requests() == []


def test_a_wrong_project_name_shows_the_confirmation_again(owner, project_a, simulator):
    job = simulator.add_job(project_a.project_id, name="hot", status="job_running")
    client = login(owner)
    html = client.post(review_url(project_a), {"job_ids": [str(job)]}, headers=HX).content.decode()
    assert 'name="confirm_name"' in html and "it deletes active jobs" in html
    again = client.post(delete_url(project_a), {"token": token_of(html), "confirm_name": "nope"}, headers=HX)
    assert again.status_code == 400 and "exactly to confirm" in again.content.decode()
    assert simulator.requests(op="batch_delete") == []


def test_check_again_settles_an_unknown_row(operator, project_a, simulator):
    job = simulator.add_job(project_a.project_id, name="ambiguous", status="job_finish")
    client = login(operator)
    html = client.post(review_url(project_a), {"job_ids": [str(job)], "page_ids": [str(job)]}, headers=HX)
    simulator.set_fault(project_a.project_id, "server_error", 502, ops={"batch_delete"})
    client.post(
        delete_url(project_a), {"token": token_of(html.content.decode()), "page_ids": [str(job)]}, headers=HX
    )
    run_queued_batches()
    batch = DeleteBatch.objects.get()
    result = client.get(progress_url(project_a, batch), {"rows": str(job)}, headers=HX).content.decode()
    assert "outcome-unknown" in result and "Check again" in result
    simulator.clear_faults()
    check = client.post(reverse("dli-job-check", args=[project_a.project_id, job]), headers=HX)
    assert check.status_code == 200
    assert f'<tr id="job-{job}" class="status-row outcome-failed"' in check.content.decode()


def test_select_across_above_the_ceiling_says_so(operator, project_a, simulator, settings):
    settings.DLI_MAX_BATCH = 10
    response = login(operator).post(review_url(project_a), {"select_across": "1"}, headers=HX)
    assert response.status_code == 400 and "at most 10 can be deleted at once" in response.content.decode()


@pytest.mark.parametrize(
    "who, shown", [("auditor", True), ("owner", True), ("operator", False), ("viewer", False)]
)
def test_the_audit_log_link_shows_only_for_those_who_may_read_it(request, simulator, who, shown):
    html = login(request.getfixturevalue(who)).get("/").content.decode()
    assert ('href="/audit/"' in html) == shown
