"""The simulator's create SQL job and create jar job over raw HTTP: reply shapes as DLI documents them."""

from __future__ import annotations

import json

import pytest
import requests

from tests.helpers import PROJECT, sign


def create(simulator, kind: str, body: object, method: str = "POST") -> requests.Response:
    url = f"{simulator.url}/v1.0/{PROJECT.id}/streaming/{kind}"
    data = json.dumps(body).encode()
    url, headers = sign(method, url, body=data, project_id=PROJECT.id)
    return requests.request(method, url, headers=headers, data=data, timeout=5)


@pytest.mark.parametrize(("kind", "flag"), [("sql-jobs", "true"), ("flink-jobs", True)])
def test_a_create_answers_as_its_page_documents(simulator, kind, flag):
    response = create(simulator, kind, {"name": f"raw-{kind}", "entrypoint": "obs://b/a.jar"})

    assert response.status_code == 200
    reply = response.json()
    assert reply["is_success"] == flag, "a string for SQL jobs, a JSON boolean for jar jobs (§12)"
    assert reply["job"]["status_name"] == "job_init" and isinstance(reply["job"]["job_id"], int)
    assert simulator.job(PROJECT.id, reply["job"]["job_id"])["name"] == f"raw-{kind}"


def test_a_create_of_a_taken_name_and_of_a_missing_queue_are_dli_errors(simulator):
    create(simulator, "sql-jobs", {"name": "raw-taken"})

    taken = create(simulator, "sql-jobs", {"name": "raw-taken"})
    queue = create(simulator, "flink-jobs", {"name": "raw-queue", "queue_name": "no_such_queue"})

    assert (taken.status_code, taken.json()["error_code"]) == (400, "DLI.0006")
    assert (queue.status_code, queue.json()) == (
        400,
        {"error_code": "DLI.0002", "error_msg": "There is no queue named no_such_queue"},
    )


def test_a_body_that_is_not_a_json_object_is_a_parameter_error(simulator):
    response = create(simulator, "sql-jobs", ["not", "an", "object"])

    assert (response.status_code, response.json()["error_code"]) == (400, "DLI.0001")


def test_only_post_creates(simulator):
    response = create(simulator, "sql-jobs", {}, method="GET")

    assert (response.status_code, response.json()["error_code"]) == (404, "APIG.0101")


def test_the_control_api_removes_a_queue(simulator):
    removed = requests.post(
        f"{simulator.url}/_sim/queues/remove",
        data=json.dumps({"project_id": PROJECT.id, "queue": "flink_general"}),
        timeout=5,
    )

    assert removed.json() == {"removed": True}
    response = create(simulator, "sql-jobs", {"name": "raw-general", "queue_name": "flink_general"})
    assert response.json()["error_code"] == "DLI.0002"
    bad = requests.post(f"{simulator.url}/_sim/queues/remove", data=b"{}", timeout=5)
    assert bad.status_code == 400


def test_fault_switches_apply_to_creates(simulator):
    simulator.set_fault(PROJECT.id, "server_error", 503, ops={"create_sql_job"}, count=1)

    assert create(simulator, "sql-jobs", {"name": "raw-503"}).status_code == 503
    assert create(simulator, "sql-jobs", {"name": "raw-503"}).status_code == 200
