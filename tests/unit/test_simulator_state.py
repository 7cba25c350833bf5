"""The simulator's job store: list query parsing, copy-on-write reset, lazy stop transitions."""

from __future__ import annotations

import pytest

from dli_admin.simulator.seed import DEMO_PROJECTS, build_seed
from dli_admin.simulator.state import JobStore, ListQuery, ParameterError, StopOutcome, parse_list_query

PROJECT = DEMO_PROJECTS[0].id


def test_list_query_defaults():
    assert parse_list_query({}) == ListQuery(descending=True, offset=0, limit=10, show_detail=False)


def test_list_query_reads_every_parameter():
    query = parse_list_query(
        {
            "status": "job_running",
            "name": "Orders",
            "queue_name": "q",
            "user_name": "u",
            "job_type": "flink_jar_job",
            "tags": "team=sre, env=prod",
            "order": "ASC",
            "offset": "20",
            "limit": "100",
            "show_detail": "true",
        }
    )

    assert query.tags == (("team", "sre"), ("env", "prod"))
    assert (query.descending, query.offset, query.limit, query.show_detail) == (False, 20, 100, True)
    assert query.filtered


@pytest.mark.parametrize("params", [{"limit": "101"}, {"limit": "x"}, {"offset": "-3"}, {"tags": "=v"}])
def test_list_query_refuses_bad_values(params):
    with pytest.raises(ParameterError):
        parse_list_query(params)


def test_reset_never_touches_the_seed():
    store = JobStore(build_seed())
    job_id = build_seed().order[PROJECT][0]
    store.set_status(PROJECT, job_id, "job_running", now=0, now_ms=1)
    store.delete(PROJECT, build_seed().order[PROJECT][1], now=0)

    store.reset()

    assert build_seed().jobs[PROJECT][job_id]["status"] == store.get(PROJECT, job_id, now=0)["status"]
    assert len(store.projects[PROJECT].jobs) == DEMO_PROJECTS[0].job_count


def test_a_stop_finishes_lazily_when_due():
    store = JobStore(build_seed())
    job_id = store.add(PROJECT, {"status": "job_running"}, now_ms=1)

    assert store.stop(PROJECT, job_id, now=100.0, delay=0.5, savepoint=False) is StopOutcome.DELIVERED
    assert store.get(PROJECT, job_id, now=100.4)["status"] == "job_canceling"
    assert store.get(PROJECT, job_id, now=100.5)["status"] == "job_cancel_success"
    assert store.stop(PROJECT, job_id, now=101, delay=0, savepoint=False) is StopOutcome.NOT_STOPPABLE
    assert store.stop(PROJECT, 12, now=101, delay=0, savepoint=False) is StopOutcome.MISSING


def test_deleted_jobs_leave_the_time_order():
    store = JobStore(build_seed())
    first, second = build_seed().order[PROJECT][:2]
    store.delete(PROJECT, first, now=0)

    total, jobs = store.list(PROJECT, ListQuery(descending=False, limit=1), now=0)

    assert total == DEMO_PROJECTS[0].job_count - 1
    assert jobs[0]["job_id"] == second
