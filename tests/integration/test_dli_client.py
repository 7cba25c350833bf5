"""DliClient against the embedded simulator over a real loopback socket: every operation and every fault.

For a delete, what matters is how many times it reached DLI (the simulator's request log), what the
client reported, and what really happened to the jobs (the simulator's state).
"""

from __future__ import annotations

import gc
import math
import socket
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dli_admin.dli import (
    AkSkAuth,
    ChunkOutcome,
    DeleteReply,
    DliClient,
    DliError,
    ErrorCategory,
    IamPasswordAuth,
    Job,
    ReplyShape,
    TokenAuth,
)
from dli_admin.simulator.credentials import (
    DEMO_ACCESS_KEY,
    DEMO_IAM_DOMAIN,
    DEMO_IAM_PASSWORD,
    DEMO_IAM_USER,
    DEMO_SECRET_KEY,
    DEMO_TOKEN,
)
from dli_admin.simulator.seed import DEMO_PROJECTS

PROJECT = DEMO_PROJECTS[0]
PID = PROJECT.id
BIG = next(p for p in DEMO_PROJECTS if p.job_count == 10_000)
FAST = {
    "connect_timeout": 0.5,
    "read_timeout": 0.5,
    "deadline": 5.0,
    "backoff_base": 0.01,
    "backoff_cap": 0.05,
}


def make(sim, project_id: str = PID, auth=None, **options) -> DliClient:
    return DliClient(
        sim.url,
        project_id,
        auth=auth or AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY),
        **{**FAST, **options},
    )


def iam(sim, password: str = DEMO_IAM_PASSWORD, **options) -> IamPasswordAuth:
    return IamPasswordAuth(
        sim.url, DEMO_IAM_USER, password, DEMO_IAM_DOMAIN, PID, timeout=(0.5, 0.5), **options
    )


def some_jobs(sim, n: int, project_id: str = PID) -> list[int]:
    return [job.job_id for job in make(sim, project_id).list_jobs(limit=n).jobs]


def sent(sim, op: str) -> int:
    return len(sim.requests(project_id=PID if op != "iam_token" else None, op=op))


def gone(sim, ids) -> list[bool]:
    return [sim.job(PID, job_id) is None for job_id in ids]


def eventually(check, timeout: float = 3.0) -> None:
    """Wait for the simulator to finish work the client stopped waiting for."""
    until = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < until, "the simulator never got there"
        time.sleep(0.02)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- reads ---------------------------------------------------------------------------------------


def test_it_lists_a_page_of_jobs(simulator):
    page = make(simulator).list_jobs(limit=10)

    assert page.total_count == PROJECT.job_count
    assert (page.offset, page.limit, len(page.jobs)) == (0, 10, 10)
    job = page.jobs[0]
    assert isinstance(job, Job) and isinstance(job.job_id, int)
    assert job.create_time.tzinfo is UTC and job.create_time < datetime.now(UTC)
    (logged,) = simulator.requests(op="list")
    assert logged.query == {"limit": "10", "offset": "0"}
    assert logged.status == 200


def test_it_lists_with_filters(simulator):
    running = make(simulator).list_jobs(status="job_running", order="asc", limit=100)

    assert running.total_count > 0
    assert {job.status for job in running.jobs} == {"job_running"}


def test_odd_filter_values_are_signed_and_accepted(simulator):
    name = "nightly etl, v2 = ümlaut & 100% +"

    page = make(simulator).list_jobs(name=name, user_name="a b", tags={"team": "data x"})

    assert page.total_count == 0
    (logged,) = simulator.requests(op="list")
    assert (logged.status, logged.query["name"], logged.query["tags"]) == (200, name, "team=data x")


def test_iter_jobs_walks_ten_thousand_jobs_a_page_at_a_time(simulator):
    client = make(simulator, BIG.id)
    gc.collect()
    baseline = sum(isinstance(o, Job) for o in gc.get_objects())
    seen = set()

    for n, job in enumerate(client.iter_jobs(), 1):
        seen.add(job.job_id)
        if n % 100 == 1:  # the page holding job n was fetched just now, not earlier
            assert len(simulator.requests(project_id=BIG.id, op="list")) == n // 100 + 1
        if n in (150, 5050, 9950):
            del job
            gc.collect()
            assert sum(isinstance(o, Job) for o in gc.get_objects()) - baseline <= 100

    assert len(seen) == BIG.job_count
    calls = simulator.requests(project_id=BIG.id, op="list")
    assert len(calls) == math.ceil(BIG.job_count / 100)
    assert [c.query["offset"] for c in calls[:3]] == ["0", "100", "200"]
    assert {c.query["limit"] for c in calls} == {"100"}


def test_iter_jobs_stops_at_an_empty_page(simulator):
    assert list(make(simulator).iter_jobs(name="no job has this name")) == []
    assert sent(simulator, "list") == 1


def test_it_shows_a_job(simulator):
    (job_id,) = some_jobs(simulator, 1)

    job = make(simulator).show_job(job_id)

    assert job.job_id == job_id
    assert job.name == simulator.job(PID, job_id)["name"]


def test_a_gone_job_is_not_found(simulator):
    (job_id,) = some_jobs(simulator, 1)
    make(simulator).delete_job(job_id)

    with pytest.raises(DliError) as caught:
        make(simulator).show_job(job_id)

    assert caught.value.category is ErrorCategory.NOT_FOUND
    assert caught.value.code == "DLI.16001"
    assert caught.value.request_id


@pytest.mark.parametrize("auth", [TokenAuth(DEMO_TOKEN), None], ids=["token", "ak-sk"])
def test_each_auth_is_accepted(simulator, auth):
    assert make(simulator, auth=auth).list_jobs(limit=1).total_count == PROJECT.job_count


# --- reads under faults ------------------------------------------------------------------------------


def test_a_read_is_retried_through_server_errors(simulator):
    simulator.set_fault(PID, "server_error", 502, ops="list", count=2)

    assert make(simulator).list_jobs(limit=1).total_count == PROJECT.job_count
    assert [r.status for r in simulator.requests(op="list")] == [502, 502, 200]


def test_a_read_waits_out_throttling(simulator):
    simulator.set_fault(PID, "throttle", 1, ops="list", count=1)
    started = time.monotonic()

    make(simulator).list_jobs(limit=1)

    assert time.monotonic() - started >= 0.95  # Retry-After: 1
    assert [r.status for r in simulator.requests(op="list")] == [429, 200]


def test_a_slow_read_times_out_within_the_read_timeout(simulator):
    simulator.set_fault(PID, "slow_reply", 3, ops="list")
    started = time.monotonic()

    with pytest.raises(DliError) as caught:
        make(simulator, max_attempts=1).list_jobs(limit=1)

    assert caught.value.category is ErrorCategory.TIMEOUT
    assert 0.45 < time.monotonic() - started < 1.2


def test_a_slow_read_is_tried_again(simulator):
    simulator.set_fault(PID, "slow_reply", 3, ops="list", count=1)

    assert make(simulator).list_jobs(limit=1).jobs
    assert sent(simulator, "list") == 2


def test_a_dropped_read_is_tried_again(simulator):
    simulator.set_fault(PID, "drop_after", ops="list", count=1)

    assert make(simulator).list_jobs(limit=1).jobs
    assert sent(simulator, "list") == 2


def test_latency_below_the_read_timeout_is_fine(simulator):
    simulator.set_fault(PID, "latency", 0.2, ops="list")

    assert make(simulator).list_jobs(limit=1).jobs


@pytest.mark.parametrize("style", ["string", "bool", "capital"])
def test_every_is_success_style_reads(simulator, style):
    simulator.set_fault(PID, "bool_style", style)
    (job_id,) = some_jobs(simulator, 1)

    assert make(simulator).show_job(job_id).job_id == job_id


def test_an_empty_list_reply_is_unparseable(simulator):
    simulator.set_fault(PID, "empty_body", ops="list")

    with pytest.raises(DliError) as caught:
        make(simulator).list_jobs()
    assert caught.value.category is ErrorCategory.UNPARSEABLE
    assert caught.value.request_id


def test_a_500_on_a_read_is_not_retried(simulator):
    simulator.set_fault(PID, "server_error", 500, ops="show")

    with pytest.raises(DliError) as caught:
        make(simulator).show_job(1)
    assert caught.value.category is ErrorCategory.SERVER
    assert sent(simulator, "show") == 1


def test_refused_credentials_on_a_read(simulator):
    simulator.set_fault(PID, "auth_fail", ops="list")

    with pytest.raises(DliError) as caught:
        make(simulator).list_jobs()
    assert caught.value.category is ErrorCategory.AUTH
    assert "check DLI_AK/DLI_SK or the token" in str(caught.value)
    assert sent(simulator, "list") == 1


def test_a_closed_port_is_a_network_error(simulator):
    client = DliClient(f"http://127.0.0.1:{closed_port()}", PID, auth=TokenAuth(DEMO_TOKEN), **FAST)
    started = time.monotonic()

    with pytest.raises(DliError) as caught:
        client.list_jobs()

    assert caught.value.category is ErrorCategory.NETWORK
    assert "gave up after 4 tries" in str(caught.value)
    assert time.monotonic() - started < 1.0


# --- deletes --------------------------------------------------------------------------------------


def test_it_deletes_in_chunks_of_batch_size(simulator):
    ids = some_jobs(simulator, 100)[:60]

    results = make(simulator, batch_size=25).batch_delete(ids)

    assert [len(r.job_ids) for r in results] == [25, 25, 10]
    assert [job_id for r in results for job_id in r.job_ids] == ids
    for result in results:
        assert (result.outcome, result.shape, result.attempts, result.error) == (
            ChunkOutcome.REPLIED,
            ReplyShape.PER_ID,
            1,
            None,
        )
        assert all(reply.is_success for reply in result.replies)
        assert result.http_status == 200 and result.request_id and result.duration > 0
    assert [r.job_ids for r in simulator.requests(op="batch_delete")] == [r.job_ids for r in results]
    assert all(gone(simulator, ids))


def test_iter_batch_delete_reports_chunk_by_chunk(simulator):
    ids = some_jobs(simulator, 4)
    chunks = make(simulator, batch_size=2).iter_batch_delete(ids)

    first = next(chunks)
    assert sent(simulator, "batch_delete") == 1
    assert gone(simulator, ids) == [True, True, False, False]
    assert first.job_ids == tuple(ids[:2])
    assert len(list(chunks)) == 1


def test_a_missing_id_gets_its_own_false_element(simulator):
    ids = some_jobs(simulator, 1) + [999_999_999]

    (result,) = make(simulator).batch_delete(ids)

    assert result.shape is ReplyShape.PER_ID
    assert [reply.is_success for reply in result.replies] == [True, False]
    assert result.reply_for(999_999_999).message


def test_it_stops_running_jobs(simulator):
    ids = [job.job_id for job in make(simulator).list_jobs(status="job_running", limit=2).jobs]

    (result,) = make(simulator).batch_stop(ids, trigger_savepoint=True)

    assert (result.outcome, result.shape) == (ChunkOutcome.REPLIED, ReplyShape.PER_ID)
    assert all(reply.is_success for reply in result.replies)
    assert {simulator.job(PID, job_id)["status"] for job_id in ids} <= {"job_canceling", "job_cancel_success"}
    assert sent(simulator, "batch_stop") == 1


def test_delete_job_deletes_and_reports(simulator):
    (job_id,) = some_jobs(simulator, 1)

    assert make(simulator).delete_job(job_id).is_success
    assert gone(simulator, [job_id]) == [True]
    with pytest.raises(DliError) as caught:
        make(simulator).delete_job(job_id)
    assert caught.value.category is ErrorCategory.NOT_FOUND


def test_delete_job_reports_a_refusal_per_job(simulator):
    (job_id,) = some_jobs(simulator, 1)
    simulator.set_fault(PID, "fail_ids", [job_id], ops="delete")

    assert make(simulator).delete_job(job_id) == DeleteReply(
        False, f"Job {job_id} cannot be deleted: it is locked by another operation."
    )
    assert gone(simulator, [job_id]) == [False]


@pytest.mark.parametrize(
    ("fault", "value", "category"),
    [
        ("drop_after", True, ErrorCategory.AMBIGUOUS),
        ("server_error_after", 502, ErrorCategory.AMBIGUOUS),
        ("doc_invalid_json", True, ErrorCategory.UNPARSEABLE),
    ],
)
def test_delete_job_never_sends_twice_when_the_fate_is_unknown(simulator, fault, value, category):
    (job_id,) = some_jobs(simulator, 1)
    simulator.set_fault(PID, fault, value, ops="delete")

    with pytest.raises(DliError) as caught:
        make(simulator).delete_job(job_id)

    assert caught.value.category is category
    assert "read" in str(caught.value)
    assert sent(simulator, "delete") == 1
    assert gone(simulator, [job_id]) == [True]  # it did happen: only a read-back can tell


# Each fault switched on for batch_delete: what the client reports, how often the chunk reached DLI,
# and whether the jobs were really deleted (the caller's read-back must find that out).
@pytest.mark.parametrize(
    ("fault", "value", "outcome", "shape", "category", "sends", "deleted"),
    [
        ("latency", 0.2, ChunkOutcome.REPLIED, ReplyShape.PER_ID, None, 1, True),
        ("single_reply", True, ChunkOutcome.REPLIED, ReplyShape.COUNT_MISMATCH, None, 1, True),
        ("reply_count", 1, ChunkOutcome.REPLIED, ReplyShape.COUNT_MISMATCH, None, 1, True),
        ("reply_count", 5, ChunkOutcome.REPLIED, ReplyShape.COUNT_MISMATCH, None, 1, True),
        ("single_object", True, ChunkOutcome.REPLIED, ReplyShape.SINGLE_OBJECT, None, 1, True),
        ("doc_invalid_json", True, ChunkOutcome.REPLIED, ReplyShape.NOT_JSON, None, 1, True),
        ("empty_body", True, ChunkOutcome.REPLIED, ReplyShape.EMPTY, None, 1, True),
        ("bool_style", "string", ChunkOutcome.REPLIED, ReplyShape.PER_ID, None, 1, True),
        ("bool_style", "bool", ChunkOutcome.REPLIED, ReplyShape.PER_ID, None, 1, True),
        ("bool_style", "capital", ChunkOutcome.REPLIED, ReplyShape.PER_ID, None, 1, True),
        ("server_error", 503, ChunkOutcome.AMBIGUOUS, None, ErrorCategory.AMBIGUOUS, 1, False),
        ("server_error", 500, ChunkOutcome.AMBIGUOUS, None, ErrorCategory.AMBIGUOUS, 1, False),
        ("server_error_after", 500, ChunkOutcome.AMBIGUOUS, None, ErrorCategory.AMBIGUOUS, 1, True),
        ("server_error_after", 504, ChunkOutcome.AMBIGUOUS, None, ErrorCategory.AMBIGUOUS, 1, True),
        ("slow_reply", 2, ChunkOutcome.AMBIGUOUS, None, ErrorCategory.AMBIGUOUS, 1, True),
        ("drop_after", True, ChunkOutcome.AMBIGUOUS, None, ErrorCategory.AMBIGUOUS, 1, True),
        ("auth_fail", True, ChunkOutcome.REFUSED, None, ErrorCategory.AUTH, 1, False),
    ],
)
def test_each_fault_on_a_batch_delete(simulator, fault, value, outcome, shape, category, sends, deleted):
    ids = some_jobs(simulator, 3)
    simulator.set_fault(PID, fault, value, ops="batch_delete")
    started = time.monotonic()

    (result,) = make(simulator).batch_delete(ids)

    assert time.monotonic() - started < 1.0  # a slow reply costs the read timeout, not its 2 s
    assert (result.outcome, result.shape, result.attempts) == (outcome, shape, sends)
    assert (result.error.category if result.error else None) is category
    assert sent(simulator, "batch_delete") == sends
    assert gone(simulator, ids) == [deleted] * 3


def test_a_delete_slower_than_the_read_timeout_is_ambiguous_and_still_happens(simulator):
    ids = some_jobs(simulator, 2)
    simulator.set_fault(PID, "latency", 1.0, ops="batch_delete")

    (result,) = make(simulator).batch_delete(ids)

    assert result.outcome is ChunkOutcome.AMBIGUOUS
    assert result.error.category is ErrorCategory.AMBIGUOUS
    assert result.duration < 0.9
    eventually(lambda: all(gone(simulator, ids)))  # DLI carried on after the client gave up
    assert sent(simulator, "batch_delete") == 1


def test_a_refused_id_is_reported_by_position(simulator):
    ids = some_jobs(simulator, 3)
    simulator.set_fault(PID, "fail_ids", [ids[1]], ops="batch_delete")

    (result,) = make(simulator).batch_delete(ids)

    assert result.shape is ReplyShape.PER_ID
    assert [result.reply_for(job_id).is_success for job_id in ids] == [True, False, True]
    assert gone(simulator, ids) == [True, False, True]


def test_a_single_reply_for_one_id_is_per_id(simulator):
    # single_reply answers one element for the whole chunk: for a chunk of one, that is per id.
    ids = some_jobs(simulator, 1)
    simulator.set_fault(PID, "single_reply", ops="batch_delete")

    (result,) = make(simulator).batch_delete(ids)

    assert result.shape is ReplyShape.PER_ID


def test_a_throttled_delete_is_sent_again_after_the_pause(simulator):
    ids = some_jobs(simulator, 2)
    simulator.set_fault(PID, "throttle", 1, ops="batch_delete", count=1)
    started = time.monotonic()

    (result,) = make(simulator).batch_delete(ids)

    assert time.monotonic() - started >= 0.95
    assert (result.outcome, result.shape, result.attempts) == (ChunkOutcome.REPLIED, ReplyShape.PER_ID, 2)
    assert [r.status for r in simulator.requests(op="batch_delete")] == [429, 200]
    assert all(gone(simulator, ids))


def test_a_delete_throttled_to_the_end_is_refused(simulator):
    ids = some_jobs(simulator, 2)
    simulator.set_fault(PID, "throttle", 1, ops="batch_delete")

    (result,) = make(simulator, max_attempts=2).batch_delete(ids)

    assert (result.outcome, result.attempts) == (ChunkOutcome.REFUSED, 2)
    assert (result.error.category, result.error.code) == (ErrorCategory.THROTTLED, "APIG.0308")
    assert sent(simulator, "batch_delete") == 2
    assert gone(simulator, ids) == [False, False]


def test_a_throttle_longer_than_the_deadline_is_not_waited_for(simulator):
    simulator.set_fault(PID, "throttle", 5, ops="batch_delete")
    started = time.monotonic()

    (result,) = make(simulator, deadline=2.0).batch_delete(some_jobs(simulator, 1))

    assert time.monotonic() - started < 1.0
    assert (result.outcome, result.attempts) == (ChunkOutcome.REFUSED, 1)


def test_a_credentials_refusal_stops_the_batch(simulator):
    ids = some_jobs(simulator, 6)
    simulator.set_fault(PID, "auth_fail", ops="batch_delete")

    results = make(simulator, batch_size=2).batch_delete(ids)

    assert [(r.outcome, r.attempts) for r in results] == [(ChunkOutcome.REFUSED, 1)] + [
        (ChunkOutcome.REFUSED, 0)
    ] * 2
    assert sent(simulator, "batch_delete") == 1


def test_a_wrong_secret_key_is_refused_and_not_retried(simulator):
    auth = AkSkAuth(DEMO_ACCESS_KEY, "not-the-secret-key-at-all-0000000000000")

    (result,) = make(simulator, auth=auth).batch_delete(some_jobs(simulator, 1))

    assert (result.outcome, result.error.category, result.error.code) == (
        ChunkOutcome.REFUSED,
        ErrorCategory.AUTH,
        "APIG.0301",
    )
    assert sent(simulator, "batch_delete") == 1


def test_a_delete_to_a_closed_port_is_refused_and_never_sent(simulator):
    client = DliClient(f"http://127.0.0.1:{closed_port()}", PID, auth=TokenAuth(DEMO_TOKEN), **FAST)

    (result,) = client.batch_delete([1, 2])

    assert (result.outcome, result.attempts, result.http_status) == (ChunkOutcome.REFUSED, 0, None)
    assert result.error.category is ErrorCategory.NETWORK


# --- IAM tokens ----------------------------------------------------------------------------------


def test_it_logs_in_once_and_reuses_the_token(simulator):
    client = make(simulator, auth=iam(simulator))

    for _ in range(3):
        client.list_jobs(limit=1)

    assert sent(simulator, "iam_token") == 1
    assert [r.status for r in simulator.requests(op="list")] == [200, 200, 200]


def test_a_revoked_token_is_renewed_once(simulator):
    client = make(simulator, auth=iam(simulator))
    ids = some_jobs(simulator, 2)
    client.list_jobs(limit=1)
    simulator.revoke_tokens()

    (result,) = client.batch_delete(ids)

    assert (result.outcome, result.attempts) == (ChunkOutcome.REPLIED, 2)
    assert [r.status for r in simulator.requests(op="batch_delete")] == [401, 200]
    assert sent(simulator, "iam_token") == 2
    assert all(gone(simulator, ids))


def test_a_token_refused_twice_is_an_auth_error(simulator):
    simulator.set_fault(PID, "auth_fail", ops="list")

    with pytest.raises(DliError) as caught:
        make(simulator, auth=iam(simulator)).list_jobs()

    assert caught.value.category is ErrorCategory.AUTH
    assert sent(simulator, "list") == 2
    assert sent(simulator, "iam_token") == 2


def test_a_short_lived_token_is_renewed_before_it_expires(simulator):
    simulator.token_ttl = 1.0
    client = make(simulator, auth=iam(simulator, refresh_margin=300))

    client.list_jobs(limit=1)
    time.sleep(0.6)  # past half its life
    client.list_jobs(limit=1)

    assert sent(simulator, "iam_token") == 2
    assert [r.status for r in simulator.requests(op="list")] == [200, 200]


def test_a_wrong_iam_password_is_an_auth_error_and_nothing_reaches_dli(simulator):
    client = make(simulator, auth=iam(simulator, password="wrong-password"), batch_size=1)

    with pytest.raises(DliError) as caught:
        client.list_jobs()
    results = client.batch_delete([1, 2])

    assert caught.value.category is ErrorCategory.AUTH
    assert str(caught.value).startswith("IAM rejected the credentials")
    assert "DLI_IAM_PASSWORD" in str(caught.value)
    assert [(r.outcome, r.attempts) for r in results] == [(ChunkOutcome.REFUSED, 0)] * 2
    assert sent(simulator, "list") == sent(simulator, "batch_delete") == 0
    assert sent(simulator, "iam_token") == 2  # one per call: a refused login is never repeated


def test_an_iam_outage_is_retried(simulator):
    simulator.set_fault(None, "server_error", 503, ops="iam_token", count=1)

    make(simulator, auth=iam(simulator)).list_jobs(limit=1)

    assert [r.status for r in simulator.requests(op="iam_token")] == [503, 201]


# --- the signed query is what arrives -----------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(value=st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40))
def test_any_filter_value_is_signed_as_sent(dli_simulator_server, value):
    client = make(dli_simulator_server)
    dli_simulator_server.clear_requests()

    try:
        client.list_jobs(name=value, queue_name=value, limit=1)
    except DliError as err:  # DLI may refuse a value (e.g. a too-long name), never the signature
        assert err.category is ErrorCategory.INVALID

    (logged,) = dli_simulator_server.requests(op="list")
    assert logged.status != 401
    assert (logged.query["name"], logged.query["queue_name"]) == (value, value)
