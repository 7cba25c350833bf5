"""Job names and messages with bidi controls or zero-width characters, from DLI through every page that
shows them: the characters appear as marked escapes, and the confirmation says which names hold them."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from dli_admin.audit.services import AuditJobResult, audit_results_record
from tests.helpers import run_queued_batches

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "invoice\u202egnp.exe" reads "invoiceexe.png"
NAME = f"invoice{RLO}gnp.exe"
SHOWN = 'invoice<span class="invisible-char" title="U+202E RIGHT-TO-LEFT OVERRIDE">\\u202e</span>gnp.exe'
MARKER = "name contains invisible characters"


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def review(client: Client, project, job_ids, **kwargs):
    url = reverse("dli-job-delete-review", args=[project.project_id])
    return client.post(url, {"job_ids": [str(j) for j in job_ids]}, **kwargs)


def test_the_jobs_page_shows_the_escape_instead_of_the_character(operator, project_a, simulator):
    simulator.add_job(project_a.project_id, name=NAME, status="job_finish")
    html = login(operator).get(reverse("dli-job-list", args=[project_a.project_id])).content.decode()
    assert f">{SHOWN}</a></td>" in html  # the name cell, a link to the job's page
    assert RLO not in html.replace(f'aria-label="Select {NAME}"', "")  # an attribute is not displayed


@pytest.mark.parametrize("headers", [HX, {}], ids=["htmx", "no-javascript"])
def test_the_confirmation_marks_the_job_whose_name_holds_invisible_characters(
    operator, project_a, simulator, headers
):
    tricky = simulator.add_job(project_a.project_id, name=NAME, status="job_finish")
    plain = simulator.add_job(project_a.project_id, name="nightly-etl", status="job_finish")
    hidden = simulator.add_job(project_a.project_id, name="etl\u200b-live", status="job_running")
    response = review(login(operator), project_a, [tricky, plain, hidden], headers=headers)
    html = response.content.decode()
    assert response.status_code == 200 and "Delete 2 jobs" in html
    assert RLO not in html and "\u200b" not in html
    assert re.search(
        rf'<tr><td>{re.escape(SHOWN)} <strong class="invisible-warning">{MARKER}</strong></td>'
        rf'<td class="mono">{tricky}</td>',
        html,
    )
    assert f'<tr><td>nightly-etl</td><td class="mono">{plain}</td>' in html
    # The excluded running job is marked too.
    assert re.search(rf"<li>etl<span [^>]*>\\u200b</span>-live <strong [^>]*>{MARKER}</strong> ", html)
    assert html.count(MARKER) == 2


def test_the_result_and_the_audit_log_show_the_escapes(operator, auditor, project_a, simulator):
    job = simulator.add_job(project_a.project_id, name=NAME, status="job_finish")
    client = login(operator)
    html = review(client, project_a, [job], headers=HX).content.decode()
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    url = reverse("dli-job-delete", args=[project_a.project_id])
    confirmed = client.post(url, {"token": token, "page_ids": [str(job)]})
    run_queued_batches()
    result = client.get(confirmed["Location"]).content.decode()
    assert "1 deleted" in result and SHOWN in result and RLO not in result

    batch_id = re.search(r"Batch <span class=\"mono\">([0-9a-f-]{36})</span>", result).group(1)
    audit_results_record(
        batch_id=batch_id,
        actor=None,
        project_id=project_a.project_id,
        results=[AuditJobResult(job, NAME, "deleted", message="checked \u2066again\u2069")],
        source="reconcile",
    )
    page = login(auditor).get(reverse("dli-audit-batch", args=[batch_id])).content.decode()
    assert f"<td>{SHOWN}</td>" in page
    assert ">\\u2066</span>again<span" in page
    assert RLO not in page and "\u2066" not in page
