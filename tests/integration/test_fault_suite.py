"""One row per DLI fault: what each job's row says, what the audit log keeps, how many deletes DLI got.

Every row goes through the real path: the jobs page's review and confirm URLs (as htmx posts), the
batch run as a worker runs it, the progress panel's poll, the client, and the simulator's fault switches
over a loopback socket. No page may be a 500.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import reverse

from dli_admin.audit.models import AuditRecord
from dli_admin.deletes import runner
from dli_admin.deletes.models import DeleteBatch
from dli_admin.dli import DliClient
from tests.helpers import run_queued_batches

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@dataclass(frozen=True)
class Row:
    name: str
    faults: list = field(default_factory=list)  # (name, value, kwargs) set after the review
    expected: str = "deleted"  # every job's outcome
    sends: int | None = 1  # batch-delete requests DLI receives (None: retried until the deadline)
    message: str = ""  # a phrase each status row must show


ROWS = [
    Row("no fault"),
    Row("read timeout after the delete was processed", [("slow_reply", 3.0, {"ops": {"batch_delete"}})]),
    Row(
        "connection dropped after the delete was processed", [("drop_after", True, {"ops": {"batch_delete"}})]
    ),
    Row(
        "500 before processing",
        [("server_error", 500, {"ops": {"batch_delete"}})],
        "unknown",
        1,
        "still exists",
    ),
    Row("500 after processing", [("server_error_after", 500, {"ops": {"batch_delete"}})]),
    Row("502", [("server_error", 502, {"ops": {"batch_delete"}})], "unknown", 1, "ambiguous"),
    Row("503", [("server_error", 503, {"ops": {"batch_delete"}})], "unknown", 1, "ambiguous"),
    Row("429 with Retry-After, once", [("throttle", 1, {"ops": {"batch_delete"}, "count": 1})], "deleted", 2),
    Row("429 for good", [("throttle", 1, {"ops": {"batch_delete"}})], "failed", None, "throttled by DLI"),
    Row(
        "APIG.0301 bad credentials",
        [("auth_fail", True, {"ops": {"batch_delete"}})],
        "failed",
        1,
        "credentials",
    ),
    Row("one reply element for many ids", [("single_reply", True, {"ops": {"batch_delete"}})]),
    Row("fewer reply elements", [("reply_count", 1, {"ops": {"batch_delete"}})]),
    Row("more reply elements", [("reply_count", 5, {"ops": {"batch_delete"}})]),
    Row("one object instead of an array", [("single_object", True, {"ops": {"batch_delete"}})]),
    Row("the documented invalid JSON", [("doc_invalid_json", True, {"ops": {"batch_delete"}})]),
    Row("empty body", [("empty_body", True, {"ops": {"batch_delete"}})]),
    Row("real booleans", [("bool_style", "bool", {"ops": {"batch_delete"}})]),
    Row("DLI says a job failed", [("fail_ids", "FIRST", {})], "mixed", 1, "locked"),
]


def review_and_confirm(client: Client, project, ids) -> tuple:
    posted = [str(i) for i in ids]
    review = client.post(
        reverse("dli-job-delete-review", args=[project.project_id]),
        {"job_ids": posted, "page_ids": posted},
        headers=HX,
    )
    assert review.status_code == 200, review.content
    token = re.search(r'name="token" value="([^"]+)"', review.content.decode()).group(1)
    return token, posted


def confirm(client: Client, project, token, posted):
    """Confirm, let a worker run the batch, and return the progress panel's last poll."""
    confirmed = client.post(
        reverse("dli-job-delete", args=[project.project_id]), {"token": token, "page_ids": posted}, headers=HX
    )
    assert confirmed.status_code == 200, confirmed.content
    run_queued_batches()
    batch = DeleteBatch.objects.latest("created_at")
    url = reverse("dli-batch-progress", args=[project.project_id, batch.pk])
    return client.get(url, {"rows": ",".join(posted)}, headers=HX)


def row_outcome(html: str, job_id: int) -> str:
    match = re.search(rf'<tr id="job-{job_id}" class="status-row outcome-(\w+)"', html)
    assert match, f"no status row for job {job_id}"
    return match.group(1)


def audited(job_id: int) -> list[str]:
    return list(
        AuditRecord.objects.filter(kind="result", job_id=job_id)
        .order_by("seq")
        .values_list("outcome", flat=True)
    )


@pytest.fixture
def setup(simulator, project_a, operator, settings, monkeypatch):
    settings.DLI_TIMEOUT = 1.5  # slow rows stay quick; a loaded CI machine still answers in time
    # A batch that DLI keeps refusing (throttling, unreachable) gives up after a second, not 15 minutes.
    settings.DLI_BATCH_RETRY_DEADLINE = 1.0
    monkeypatch.setattr(runner, "RETRY_PAUSES", (0.2,))
    client = Client()
    client.force_login(operator)
    ids = [simulator.add_job(project_a.project_id, name=f"fault-{n}", status="job_finish") for n in range(3)]
    return simulator, project_a, client, ids


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_fault_row(setup, row: Row, monkeypatch):
    simulator, project, client, ids = setup
    monkeypatch.setattr(DliClient, "__init__", _fast_backoff(DliClient.__init__))
    token, posted = review_and_confirm(client, project, ids)
    for name, value, kwargs in row.faults:
        simulator.set_fault(project.project_id, name, [ids[0]] if value == "FIRST" else value, **kwargs)

    response = confirm(client, project, token, posted)
    html = response.content.decode()

    assert response.status_code == 200
    expected = {i: row.expected for i in ids}
    if row.expected == "mixed":
        expected = {ids[0]: "failed", ids[1]: "deleted", ids[2]: "deleted"}
    assert {i: row_outcome(html, i) for i in ids} == expected
    assert {i: audited(i) for i in ids} == {i: [outcome] for i, outcome in expected.items()}
    assert AuditRecord.objects.filter(kind="intent").count() == 1
    if row.sends is None:
        assert len(simulator.requests(op="batch_delete")) >= 2
    else:
        assert len(simulator.requests(op="batch_delete")) == row.sends
    if row.message:
        assert row.message in html
    for job_id, outcome in expected.items():
        gone = simulator.job(project.project_id, job_id) is None
        assert gone == (outcome == "deleted")


def _fast_backoff(init):
    """Two attempts and short pauses: the retry rules are the same, the suite stays quick."""

    def patched(self, *args, **kwargs):
        kwargs.setdefault("max_attempts", 2)
        kwargs.setdefault("backoff_base", 0.05)
        init(self, *args, **kwargs)

    return patched


def test_connection_refused_sends_nothing_and_says_so(setup, settings):
    simulator, project, client, ids = setup
    token, posted = review_and_confirm(client, project, ids)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.DLI_ENDPOINT = f"http://127.0.0.1:{port}"
    response = confirm(client, project, token, posted)
    html = response.content.decode()
    assert response.status_code == 200
    assert {row_outcome(html, i) for i in ids} == {"skipped"}
    assert "could not be checked in DLI" in html
    assert simulator.requests(op="batch_delete") == []
    assert all(audited(i) == ["skipped"] for i in ids)


def test_a_job_that_vanished_between_confirm_and_delete_is_skipped(setup):
    simulator, project, client, ids = setup
    token, posted = review_and_confirm(client, project, ids)
    _delete_elsewhere(simulator, project, ids[1])
    simulator.clear_requests()
    html = confirm(client, project, token, posted).content.decode()
    assert [row_outcome(html, i) for i in ids] == ["deleted", "skipped", "deleted"]
    assert "already gone" in html
    (sent,) = simulator.requests(op="batch_delete")
    assert sorted(sent.job_ids) == sorted([ids[0], ids[2]])


def _delete_elsewhere(simulator, project, job_id):
    """Another tool deletes the job through DLI's API."""
    from dli_admin.dli import AkSkAuth
    from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    DliClient(simulator.url, project.project_id, auth=AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)).delete_job(
        job_id
    )


def test_dli_slow_beyond_the_read_timeout_on_the_read_back_leaves_rows_unknown(setup, monkeypatch):
    simulator, project, client, ids = setup
    token, posted = review_and_confirm(client, project, ids)
    deleting = DliClient.delete_chunk

    def then_slow_reads(self, job_ids):
        answer = deleting(self, job_ids)
        # Only the timing is arranged here: from now on the simulator really answers reads too slowly.
        simulator.set_fault(project.project_id, "slow_reply", 3.0, ops={"show", "list"})
        return answer

    monkeypatch.setattr(DliClient, "delete_chunk", then_slow_reads)
    monkeypatch.setattr(DliClient, "__init__", _fast_backoff(DliClient.__init__))
    response = confirm(client, project, token, posted)
    html = response.content.decode()
    assert response.status_code == 200
    assert {row_outcome(html, i) for i in ids} == {"unknown"}
    assert "reading it back failed" in html and "Check again" in html
    assert len(simulator.requests(op="batch_delete")) == 1
    assert all(audited(i) == ["unknown"] for i in ids)
