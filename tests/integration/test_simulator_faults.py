"""Every fault switch of the simulator, over a real socket, with its project, ops and count scoping."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.helpers import OTHER, PROJECT, Dli, issue_token, seeded_jobs

DELETED = {"is_success": "true", "message": "The job is successfully deleted."}


@pytest.fixture
def dli(simulator):
    return Dli(simulator)


@pytest.fixture
def ids():
    return [job["job_id"] for job in seeded_jobs()[:3]]


def gone(simulator, job_ids) -> bool:
    return all(simulator.job(PROJECT.id, job_id) is None for job_id in job_ids)


def untouched(simulator, job_ids) -> bool:
    return all(simulator.job(PROJECT.id, job_id) is not None for job_id in job_ids)


def test_latency_delays_only_the_chosen_ops(dli, simulator):
    simulator.set_fault(PROJECT.id, "latency", 0.2, ops={"list"})

    started = time.perf_counter()
    assert dli.list().status_code == 200
    assert time.perf_counter() - started >= 0.2
    started = time.perf_counter()
    assert dli.show(seeded_jobs()[0]["job_id"]).status_code == 200
    assert time.perf_counter() - started < 0.2  # not delayed: the fault is for list only


def test_fail_ids_refuses_those_jobs_in_a_batch(dli, simulator, ids):
    simulator.set_fault(PROJECT.id, "fail_ids", [ids[1]])

    reply = dli.batch_delete(ids)

    assert reply.json() == [
        DELETED,
        {
            "is_success": "false",
            "message": f"Job {ids[1]} cannot be deleted: it is locked by another operation.",
        },
        DELETED,
    ]
    assert gone(simulator, [ids[0], ids[2]])
    assert untouched(simulator, [ids[1]])


def test_fail_ids_refuses_a_single_delete(dli, simulator, ids):
    simulator.set_fault(PROJECT.id, "fail_ids", {ids[0]})

    reply = dli.delete(ids[0])

    assert reply.status_code == 200
    assert reply.json()["is_success"] == "false"
    assert "locked by another operation" in reply.json()["message"]
    assert untouched(simulator, ids[:1])
    assert dli.delete(ids[1]).json() == DELETED


def test_single_reply_answers_one_element_for_the_whole_batch(dli, simulator, ids):
    simulator.set_fault(PROJECT.id, "single_reply")

    assert dli.batch_delete(ids).json() == [DELETED]
    assert gone(simulator, ids)
    assert dli.batch_delete([ids[0], 12]).json() == [
        {"is_success": "false", "message": f"The job {ids[0]} does not exist."}
    ]


@pytest.mark.parametrize("count", [0, 1, 5])
def test_reply_count_answers_that_many_elements(dli, simulator, ids, count):
    simulator.set_fault(PROJECT.id, "reply_count", count)

    reply = dli.batch_delete(ids)

    assert len(reply.json()) == count
    assert gone(simulator, ids)


def test_single_object_answers_an_object_not_an_array(dli, simulator, ids):
    simulator.set_fault(PROJECT.id, "single_object")

    assert dli.batch_delete(ids).json() == DELETED
    assert gone(simulator, ids)


@pytest.mark.parametrize("op", ["batch_delete", "delete"])
def test_doc_invalid_json_answers_the_documented_example_verbatim(dli, simulator, ids, op):
    simulator.set_fault(PROJECT.id, "doc_invalid_json")

    reply = dli.batch_delete(ids) if op == "batch_delete" else dli.delete(ids[0])

    example = '{\n    "is_success": "true",\n    "message": "The job is successfully deleted.",\n}'
    assert reply.text == (f"[{example}]" if op == "batch_delete" else example)
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.text)
    assert gone(simulator, ids if op == "batch_delete" else ids[:1])


def test_doc_invalid_json_for_a_stop(dli, simulator):
    simulator.set_fault(PROJECT.id, "doc_invalid_json")
    job_id = dli.list(status="job_running", limit=1).json()["job_list"]["jobs"][0]["job_id"]

    reply = dli.batch_stop([job_id])

    assert 'The request for stopping DLI jobs is successfully delivered.",\n}]' in reply.text
    assert simulator.job(PROJECT.id, job_id)["status"] in ("job_canceling", "job_cancel_success")


@pytest.mark.parametrize("op", ["batch_delete", "list", "show"])
def test_empty_body_answers_200_with_nothing(dli, simulator, ids, op):
    simulator.set_fault(PROJECT.id, "empty_body")

    reply = {
        "batch_delete": lambda: dli.batch_delete(ids),
        "list": dli.list,
        "show": lambda: dli.show(ids[0]),
    }[op]()

    assert reply.status_code == 200
    assert reply.content == b""
    assert reply.headers["Content-Length"] == "0"
    if op == "batch_delete":
        assert gone(simulator, ids)


@pytest.mark.parametrize(
    ("style", "true", "false"),
    [("string", "true", "false"), ("bool", True, False), ("capital", "True", "False")],
)
def test_bool_style_writes_is_success_in_that_style(dli, simulator, ids, style, true, false):
    simulator.set_fault(PROJECT.id, "bool_style", style)

    assert [e["is_success"] for e in dli.batch_delete([ids[0], 12]).json()] == [true, false]
    assert dli.list().json()["is_success"] == true
    assert dli.show(ids[1]).json()["is_success"] == true
    assert dli.delete(ids[2]).json()["is_success"] == true


def test_throttle_refuses_the_next_requests_and_does_nothing(dli, simulator, ids):
    simulator.set_fault(PROJECT.id, "throttle", 1.5, count=2)

    first, second = dli.batch_delete(ids), dli.batch_delete(ids)

    for reply in (first, second):
        assert reply.status_code == 429
        assert reply.headers["Retry-After"] == "2"
        body = reply.json()
        assert body["error_code"] == "APIG.0308"
        assert body["error_msg"].startswith("The throttling threshold has been reached")
        assert body["request_id"] == reply.headers["X-Request-Id"]
    assert untouched(simulator, ids)
    assert dli.batch_delete(ids).status_code == 200
    assert gone(simulator, ids)
    assert [r.status for r in simulator.requests(op="batch_delete")] == [429, 429, 200]
    assert simulator.faults() == []  # a counted fault expires once spent


def test_throttle_can_hit_the_token_endpoint(simulator):
    simulator.set_fault(PROJECT.id, "throttle", 1, ops={"iam_token"}, count=1)

    assert issue_token(simulator).status_code == 429
    assert issue_token(simulator).status_code == 201


@pytest.mark.parametrize(
    ("status", "code"), [(500, "DLI.0999"), (502, "APIG.0201"), (503, "APIG.0201"), (504, "APIG.0201")]
)
def test_server_error_answers_without_doing_anything(dli, simulator, ids, status, code):
    simulator.set_fault(PROJECT.id, "server_error", status)

    reply = dli.batch_delete(ids)

    assert reply.status_code == status
    assert reply.json()["error_code"] == code
    assert reply.headers.get("Retry-After") == ("1" if status == 503 else None)
    assert untouched(simulator, ids)
    assert simulator.requests()[-1].status == status


@pytest.mark.parametrize("status", [500, 502, 504])
def test_server_error_after_does_the_work_then_fails(dli, simulator, ids, status):
    simulator.set_fault(PROJECT.id, "server_error_after", status, ops={"batch_delete"})

    reply = dli.batch_delete(ids)

    assert reply.status_code == status
    assert gone(simulator, ids)
    assert dli.show(ids[0]).json()["error_code"] == "DLI.16001"  # read-backs are not affected


def test_slow_reply_does_the_work_then_answers_too_late(dli, simulator, ids):
    simulator.set_fault(PROJECT.id, "slow_reply", 0.4, ops={"batch_delete"})

    with pytest.raises(requests.ReadTimeout):
        dli.batch_delete(ids, timeout=0.15)

    assert gone(simulator, ids)
    assert [r.status for r in simulator.requests(op="batch_delete")] == [200]
    fresh = Dli(simulator)  # the old pooled connection is still busy with the slow reply
    assert fresh.list().json()["job_list"]["total_count"] == PROJECT.job_count - 3


def test_drop_after_does_the_work_then_hangs_up(dli, simulator, ids):
    simulator.set_fault(PROJECT.id, "drop_after", ops={"batch_delete"}, count=1)

    with pytest.raises(requests.ConnectionError):
        dli.batch_delete(ids)

    assert gone(simulator, ids)
    assert [r.status for r in simulator.requests(op="batch_delete")] == [None]  # once: never re-sent
    assert dli.list().status_code == 200  # the client's pool recovers with a new connection


def test_auth_fail_refuses_good_credentials(dli, simulator, ids):
    simulator.set_fault(PROJECT.id, "auth_fail", ops={"batch_delete", "iam_token"})

    reply = dli.batch_delete(ids)

    assert reply.status_code == 401
    assert reply.json()["error_code"] == "APIG.0301"
    assert untouched(simulator, ids)
    assert dli.list().status_code == 200
    iam = issue_token(simulator)
    assert iam.status_code == 401
    assert iam.json()["error"]["message"] == "The username or password is wrong."


def test_a_fault_stays_in_its_project(simulator, ids):
    simulator.set_fault(PROJECT.id, "server_error", 500)

    assert Dli(simulator).list().status_code == 500
    assert Dli(simulator, OTHER.id).list().status_code == 200


def test_a_fault_without_project_hits_every_project(simulator):
    simulator.set_fault(None, "server_error", 503, count=2)

    assert Dli(simulator).list().status_code == 503
    assert Dli(simulator, OTHER.id).list().status_code == 503
    assert Dli(simulator).list().status_code == 200


def test_a_project_fault_wins_over_an_every_project_one(simulator):
    simulator.set_fault(None, "server_error", 503)
    simulator.set_fault(PROJECT.id, "server_error", 500)

    assert Dli(simulator).list().status_code == 500
    assert Dli(simulator, OTHER.id).list().status_code == 503


def test_count_spends_only_on_matching_requests(dli, simulator, ids):
    simulator.set_fault(PROJECT.id, "server_error", 500, ops={"batch_delete"}, count=1)

    assert dli.list().status_code == 200  # not a batch delete: the count is kept
    assert dli.batch_delete(ids).status_code == 500
    assert dli.batch_delete(ids).status_code == 200


def test_setting_a_fault_again_replaces_it(dli, simulator):
    simulator.set_fault(PROJECT.id, "server_error", 500)
    simulator.set_fault(PROJECT.id, "server_error", 502)

    assert dli.list().status_code == 502
    assert len(simulator.faults()) == 1


def test_clear_faults_by_project_and_all(simulator):
    simulator.set_fault(PROJECT.id, "server_error", 500)
    simulator.set_fault(OTHER.id, "server_error", 500)

    simulator.clear_faults(PROJECT.id)
    assert Dli(simulator).list().status_code == 200
    assert Dli(simulator, OTHER.id).list().status_code == 500
    simulator.clear_faults()
    assert Dli(simulator, OTHER.id).list().status_code == 200


@pytest.mark.parametrize(
    ("name", "value", "kwargs"),
    [
        ("gremlins", True, {}),
        ("latency", True, {}),
        ("latency", -1, {}),
        ("throttle", 0, {}),
        ("bool_style", "yes", {}),
        ("server_error", 404, {}),
        ("server_error_after", "oops", {}),
        ("reply_count", -1, {}),
        ("reply_count", 1.5, {}),
        ("fail_ids", 5, {}),
        ("fail_ids", ["a"], {}),
        ("single_reply", "maybe", {}),
        ("empty_body", True, {"ops": {"bogus"}}),
        ("empty_body", True, {"count": -1}),
    ],
)
def test_a_bad_fault_is_refused(simulator, name, value, kwargs):
    with pytest.raises(ValueError):
        simulator.set_fault(PROJECT.id, name, value, **kwargs)
    assert simulator.faults() == []
