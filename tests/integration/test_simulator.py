"""The embedded DLI simulator over a real loopback socket: the Flink-job API, the log, the control API.

The helpers (Dli, sign, in tests/helpers.py) are a deliberately tiny signed client: the tests must not
depend on the dashboard's DLI client, which is tested against the simulator elsewhere.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest
import requests

from dli_admin.simulator.credentials import DEMO_TOKEN
from dli_admin.simulator.seed import DEMO_PROJECTS, NEVER_STARTED
from dli_admin.simulator.server import Simulator, embedded
from tests.helpers import OTHER, PROJECT, Dli, seeded_jobs

SCALE = DEMO_PROJECTS[-1]
UNKNOWN_PROJECT = "f" * 32
SUMMARY_FIELDS = {
    "job_id",
    "name",
    "desc",
    "user_name",
    "job_type",
    "status",
    "status_desc",
    "create_time",
    "start_time",
    "duration",
    "root_id",
    "graph_editor_enabled",
    "has_savepoint",
    "queue_name",
    "edge_group_ids",
    "restart_times",
    "savepoint_path",
}


@pytest.fixture
def dli(simulator):
    return Dli(simulator)


# --- list ------------------------------------------------------------------------------------------


def test_it_lists_newest_first_with_the_documented_shape(dli):
    reply = dli.list()

    assert reply.status_code == 200
    body = reply.json()
    assert body["is_success"] == "true"
    assert body["message"] == ""
    assert body["job_list"]["total_count"] == PROJECT.job_count
    jobs = body["job_list"]["jobs"]
    assert len(jobs) == 10  # the default limit
    assert all(set(job) == SUMMARY_FIELDS for job in jobs)
    times = [(job["create_time"], job["job_id"]) for job in jobs]
    assert times == sorted(times, reverse=True)
    assert all(job["root_id"] == -1 for job in jobs)
    assert all(isinstance(job["create_time"], int) and job["create_time"] > 1_700_000_000_000 for job in jobs)


def test_it_pages_by_record_offset_through_every_job(dli):
    ids = dli.all_ids()

    assert len(ids) == len(set(ids)) == PROJECT.job_count
    assert set(ids) == {job["job_id"] for job in seeded_jobs()}


def test_it_pages_the_10k_project_in_100_calls(simulator):
    started = time.perf_counter()
    ids = Dli(simulator, SCALE.id).all_ids()

    assert len(set(ids)) == 10_000
    assert time.perf_counter() - started < 5


def test_it_orders_oldest_first_on_request(dli):
    jobs = dli.list(order="asc", limit=100).json()["job_list"]["jobs"]

    times = [(job["create_time"], job["job_id"]) for job in jobs]
    assert times == sorted(times)
    assert jobs[0]["job_id"] == min(seeded_jobs(), key=lambda j: (j["create_time"], j["job_id"]))["job_id"]


@pytest.mark.parametrize(
    ("params", "expected_len"),
    [
        ({"offset": 10_000}, 0),
        ({"offset": PROJECT.job_count - 3, "limit": 10}, 3),
        ({"limit": 0}, 0),
        ({"limit": 100}, 100),
        ({"limit": 1}, 1),
    ],
)
def test_page_edges_keep_the_total(dli, params, expected_len):
    body = dli.list(**params).json()

    assert body["job_list"]["total_count"] == PROJECT.job_count
    assert len(body["job_list"]["jobs"]) == expected_len


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 101},
        {"limit": -1},
        {"limit": "ten"},
        {"offset": -1},
        {"offset": "1.5"},
        {"order": "newest"},
        {"status": "running"},
        {"show_detail": "yes"},
        {"tags": "team"},
    ],
)
def test_it_refuses_bad_list_parameters(dli, params):
    reply = dli.list(**params)

    assert reply.status_code == 400
    assert reply.json()["error_code"] == "DLI.0001"
    assert reply.json()["error_msg"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", "job_running"),
        ("status", "job_arrearage_recovering"),
        ("queue_name", "analytics_prio"),
        ("user_name", "etl-bot"),
        ("job_type", "flink_jar_job"),
    ],
)
def test_it_filters_by_exact_fields(dli, name, value):
    expected = {job["job_id"] for job in seeded_jobs() if job[name] == value}

    ids = dli.all_ids(**{name: value})

    assert expected
    assert set(ids) == expected
    assert dli.list(**{name: value}).json()["job_list"]["total_count"] == len(expected)


def test_the_name_filter_is_a_case_insensitive_substring(dli):
    expected = {job["job_id"] for job in seeded_jobs() if "orders-enrich" in job["name"]}

    assert set(dli.all_ids(name="ORDERS-Enrich")) == expected
    assert expected


def test_the_tags_filter_needs_every_pair(dli):
    both = {
        j["job_id"]
        for j in seeded_jobs()
        if j["tags"].get("team") == "sre" and j["tags"].get("env") == "prod"
    }
    team = {j["job_id"] for j in seeded_jobs() if j["tags"].get("team") == "sre"}

    assert set(dli.all_ids(tags="team=sre,env=prod")) == both
    assert set(dli.all_ids(tags="team=sre")) == team
    assert dli.all_ids(tags="team=sre,env=staging") == []
    assert both


def test_filters_combine(dli):
    expected = {
        j["job_id"] for j in seeded_jobs() if j["status"] == "job_finish" and j["user_name"] == "chen.wei"
    }

    assert set(dli.all_ids(status="job_finish", user_name="chen.wei")) == expected


def test_show_detail_adds_the_detail_fields(dli):
    job = dli.list(show_detail="true", limit=1).json()["job_list"]["jobs"][0]

    assert {"user_id", "project_id", "sql_body", "run_mode", "job_config", "update_time"} <= set(job)
    assert job["project_id"] == PROJECT.id
    assert "tags" not in job


def test_never_started_jobs_have_start_time_zero(dli):
    for status in sorted(NEVER_STARTED):
        jobs = dli.list(status=status, limit=100).json()["job_list"]["jobs"]
        assert jobs
        assert all(job["start_time"] == 0 and job["duration"] == 0 for job in jobs)
    running = dli.list(status="job_running", limit=5).json()["job_list"]["jobs"]
    assert all(job["start_time"] >= job["create_time"] > 0 and job["duration"] > 0 for job in running)


def test_an_unknown_project_has_no_jobs(simulator):
    body = Dli(simulator, UNKNOWN_PROJECT).list().json()

    assert body["job_list"] == {"total_count": 0, "jobs": []}


# --- show, delete one, batch delete, batch stop ----------------------------------------------------


def test_show_answers_the_job_detail(dli):
    job_id = seeded_jobs()[0]["job_id"]

    reply = dli.show(job_id)

    assert reply.status_code == 200
    body = reply.json()
    assert body["is_success"] == "true"
    assert body["message"] == "Job detail query succeeds."
    assert body["job_detail"]["job_id"] == job_id
    assert body["job_detail"]["job_config"]["cu_number"] >= 2


@pytest.mark.parametrize(("job_ref", "code"), [(99, "DLI.16001"), ("abc", "DLI.0001"), ("1.5", "DLI.0001")])
def test_show_refuses_unknown_and_malformed_ids(dli, job_ref, code):
    reply = dli.show(job_ref)

    assert reply.status_code == 400
    assert reply.json()["error_code"] == code


def test_a_job_of_another_project_does_not_exist_here(dli):
    other_job = seeded_jobs(OTHER.id)[0]["job_id"]

    assert dli.show(other_job).json()["error_code"] == "DLI.16001"
    assert dli.batch_delete([other_job]).json() == [
        {"is_success": "false", "message": f"The job {other_job} does not exist."}
    ]


def test_delete_one_removes_the_job_everywhere(dli, simulator):
    job_id = seeded_jobs()[5]["job_id"]

    reply = dli.delete(job_id)

    assert reply.status_code == 200
    assert reply.json() == {"is_success": "true", "message": "The job is successfully deleted."}
    assert dli.show(job_id).json()["error_code"] == "DLI.16001"
    assert job_id not in dli.all_ids()
    assert dli.list().json()["job_list"]["total_count"] == PROJECT.job_count - 1
    assert simulator.job(PROJECT.id, job_id) is None
    again = dli.delete(job_id)
    assert again.status_code == 400
    assert again.json()["error_code"] == "DLI.16001"


def test_batch_delete_answers_one_element_per_id_in_request_order(dli):
    a, b = seeded_jobs()[0]["job_id"], seeded_jobs()[1]["job_id"]

    reply = dli.batch_delete([a, 12, b, a])

    assert reply.status_code == 200
    assert reply.json() == [
        {"is_success": "true", "message": "The job is successfully deleted."},
        {"is_success": "false", "message": "The job 12 does not exist."},
        {"is_success": "true", "message": "The job is successfully deleted."},
        {"is_success": "false", "message": f"The job {a} does not exist."},
    ]
    assert dli.show(a).status_code == dli.show(b).status_code == 400
    assert dli.list().json()["job_list"]["total_count"] == PROJECT.job_count - 2


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"{}",
        b'{"job_ids": []}',
        b'{"job_ids": ["100001"]}',
        b'{"job_ids": [true]}',
        b'{"job_ids": [1.5]}',
        b'{"job_ids": 100001}',
        b"[100001]",
        b"",
    ],
)
def test_batch_delete_refuses_a_bad_body(dli, raw):
    reply = dli.call("POST", "/delete", raw=raw)

    assert reply.status_code == 400
    assert reply.json()["error_code"] == "DLI.0001"
    assert dli.list().json()["job_list"]["total_count"] == PROJECT.job_count


def test_batch_stop_is_asynchronous(dli, simulator):
    simulator.stop_delay = 0.3
    running = dli.list(status="job_running", limit=2).json()["job_list"]["jobs"]
    finished = dli.list(status="job_finish", limit=1).json()["job_list"]["jobs"][0]["job_id"]
    ids = [job["job_id"] for job in running]

    reply = dli.batch_stop([*ids, finished, 12], savepoint=True)

    assert reply.status_code == 200
    message = "The request for stopping DLI jobs is successfully delivered."
    assert reply.json()[:2] == [{"is_success": "true", "message": message}] * 2
    assert reply.json()[2] == {
        "is_success": "false",
        "message": f"The job {finished} cannot be stopped in status job_finish.",
    }
    assert reply.json()[3]["is_success"] == "false"
    assert {dli.show(i).json()["job_detail"]["status"] for i in ids} == {"job_canceling"}
    time.sleep(0.35)
    details = [dli.show(i).json()["job_detail"] for i in ids]
    assert {d["status"] for d in details} == {"job_cancel_success"}
    assert all(d["has_savepoint"] and d["savepoint_path"] for d in details)
    assert set(dli.all_ids(status="job_cancel_success")) >= set(ids)


def test_a_stopping_job_can_still_be_deleted(dli, simulator):
    simulator.stop_delay = 5
    job_id = dli.list(status="job_running", limit=1).json()["job_list"]["jobs"][0]["job_id"]
    dli.batch_stop([job_id])

    assert dli.batch_delete([job_id]).json()[0]["is_success"] == "true"
    assert simulator.job(PROJECT.id, job_id) is None


def test_an_unknown_path_is_the_gateways_404(simulator):
    for method, path in [
        ("GET", "/v1.0/nope"),
        ("GET", f"/v1.0/{PROJECT.id}/streaming/jobs/1/extra"),
        ("PUT", f"/v1.0/{PROJECT.id}/streaming/jobs"),
        ("GET", "/v3/auth/tokens"),
    ]:
        reply = requests.request(
            method, simulator.url + path, headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5
        )

        assert reply.status_code == 404
        body = reply.json()
        assert body["error_code"] == "APIG.0101"
        assert body["request_id"] == reply.headers["X-Request-Id"]


def test_every_reply_carries_a_request_id(dli):
    replies = [dli.list(), dli.show(1), dli.list(limit=500), dli.batch_delete([1])]

    ids = [reply.headers["X-Request-Id"] for reply in replies]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == len(ids)


def test_keep_alive_serves_many_requests_on_one_connection(simulator):
    port = urlsplit(simulator.url).port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    path = f"/v1.0/{PROJECT.id}/streaming/jobs"
    try:
        for body in (b"", b'{"job_ids": [1]}', b"not json", b""):
            method = "POST" if body else "GET"
            connection.request(
                method, path + ("/delete" if body else ""), body=body, headers={"X-Auth-Token": DEMO_TOKEN}
            )
            reply = connection.getresponse()
            payload = reply.read()
            assert int(reply.headers["Content-Length"]) == len(payload)
            assert reply.status in (200, 400)
        # One socket for all four: the connection was never closed underneath the client.
        assert connection.sock is not None
    finally:
        connection.close()


# --- the Python control API ------------------------------------------------------------------------


def test_reset_restores_the_seed_quickly(dli, simulator):
    dli.batch_delete([job["job_id"] for job in seeded_jobs()[:50]])
    Dli(simulator, SCALE.id).batch_delete([job["job_id"] for job in seeded_jobs(SCALE.id)[:500]])
    simulator.set_fault(PROJECT.id, "throttle", 1)
    simulator.stop_delay = 9

    started = time.perf_counter()
    simulator.reset()
    elapsed = time.perf_counter() - started

    assert elapsed < 0.05
    assert simulator.requests() == []
    assert simulator.faults() == []
    assert simulator.stop_delay == 0.5
    assert dli.list().json()["job_list"]["total_count"] == PROJECT.job_count
    assert Dli(simulator, SCALE.id).list().json()["job_list"]["total_count"] == 10_000


def test_add_job_appears_in_list_and_show(dli, simulator):
    job_id = simulator.add_job(
        PROJECT.id, name="hand-made", status="job_running", tags={"team": "qa"}, queue_name="q1"
    )

    assert simulator.job(PROJECT.id, job_id)["name"] == "hand-made"
    newest = dli.list(limit=1).json()["job_list"]["jobs"][0]
    assert newest["job_id"] == job_id
    assert newest["start_time"] > 0
    assert dli.all_ids(tags="team=qa") == [job_id]
    assert dli.show(job_id).json()["job_detail"]["queue_name"] == "q1"
    assert dli.list().json()["job_list"]["total_count"] == PROJECT.job_count + 1
    assert job_id not in {job["job_id"] for p in DEMO_PROJECTS for job in seeded_jobs(p.id)}


def test_add_job_keeps_time_order_and_refuses_taken_ids(dli, simulator):
    oldest = simulator.add_job(PROJECT.id, job_id=12, create_time=1_600_000_000_000)

    assert dli.list(order="asc", limit=1).json()["job_list"]["jobs"][0]["job_id"] == oldest == 12
    with pytest.raises(ValueError, match="taken"):
        simulator.add_job(OTHER.id, job_id=12)
    with pytest.raises(TypeError):
        simulator.add_job(PROJECT.id, colour="blue")


def test_add_job_creates_a_project_on_demand(simulator):
    job_id = simulator.add_job(UNKNOWN_PROJECT, name="lonely")

    assert Dli(simulator, UNKNOWN_PROJECT).all_ids() == [job_id]


def test_set_job_status_and_job(dli, simulator):
    job_id = dli.list(status="job_init", limit=1).json()["job_list"]["jobs"][0]["job_id"]

    simulator.set_job_status(PROJECT.id, job_id, "job_running")

    assert dli.show(job_id).json()["job_detail"]["status"] == "job_running"
    job = simulator.job(PROJECT.id, job_id)
    job["status"] = "mutated by a caller"
    assert simulator.job(PROJECT.id, job_id)["status"] == "job_running"
    with pytest.raises(ValueError):
        simulator.set_job_status(PROJECT.id, job_id, "job_deleted")
    with pytest.raises(KeyError):
        simulator.set_job_status(PROJECT.id, 12, "job_running")


def test_the_request_log_records_every_dli_request(dli, simulator):
    job_id = seeded_jobs()[0]["job_id"]
    dli.list(limit=5, status="job_running")
    dli.show(job_id)
    dli.batch_delete([job_id, 12])
    dli.delete(job_id)
    Dli(simulator, OTHER.id).list()
    requests.get(f"{simulator.url}/_sim/projects", timeout=5)  # control calls are not logged

    log = simulator.requests(project_id=PROJECT.id)
    assert [(r.method, r.op, r.job_ids, r.status) for r in log] == [
        ("GET", "list", (), 200),
        ("GET", "show", (job_id,), 200),
        ("POST", "batch_delete", (job_id, 12), 200),
        ("DELETE", "delete", (job_id,), 400),
    ]
    assert log[0].query == {"limit": "5", "status": "job_running"}
    assert log[0].path == f"/v1.0/{PROJECT.id}/streaming/jobs"
    assert log[0].at <= log[-1].at
    assert len(simulator.requests()) == 5
    assert [r.op for r in simulator.requests(op="batch_delete")] == ["batch_delete"]
    simulator.clear_requests()
    assert simulator.requests() == []


def test_it_is_safe_under_concurrent_overlapping_batch_deletes(simulator):
    ids = [job["job_id"] for job in seeded_jobs()[:120]]
    barrier = threading.Barrier(8)
    results: list[list[tuple[int, str]]] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        client = Dli(simulator)
        mine = ids[n * 10 : n * 10 + 50]  # every id is asked for by several threads
        barrier.wait()
        reply = client.batch_delete(mine)
        with lock:
            results.append(list(zip(mine, [e["is_success"] for e in reply.json()], strict=True)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    successes = Counter(job_id for result in results for job_id, ok in result if ok == "true")
    asked = {job_id for result in results for job_id, _ in result}
    assert set(successes) == asked
    assert set(successes.values()) == {1}
    assert all(simulator.job(PROJECT.id, job_id) is None for job_id in asked)
    assert Dli(simulator).list().json()["job_list"]["total_count"] == PROJECT.job_count - len(asked)
    assert len(simulator.requests(op="batch_delete")) == 8


def test_the_embedded_simulator_is_one_per_process():
    first = embedded()

    assert embedded() is first
    assert first.url.startswith("http://127.0.0.1:")
    reply = requests.get(
        f"{first.url}/v1.0/{PROJECT.id}/streaming/jobs", headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5
    )
    assert reply.status_code == 200


def test_a_simulator_is_a_context_manager():
    with Simulator(port=0) as simulator:
        url = simulator.url
        assert requests.get(f"{url}/_sim/projects", timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_sim/projects", timeout=2)


# --- the HTTP control API ---------------------------------------------------------------------------


def test_the_control_api(dli, simulator):
    base = f"{simulator.url}/_sim"
    job_id = seeded_jobs()[0]["job_id"]
    dli.batch_delete([job_id])

    projects = requests.get(f"{base}/projects", timeout=5).json()["projects"]
    assert [(p["id"], p["name"]) for p in projects] == [(p.id, p.name) for p in DEMO_PROJECTS]
    assert projects[0]["job_count"] == PROJECT.job_count - 1

    logged = requests.get(f"{base}/requests", params={"op": "batch_delete"}, timeout=5).json()["requests"]
    assert [(r["op"], r["job_ids"], r["status"]) for r in logged] == [("batch_delete", [job_id], 200)]
    assert requests.delete(f"{base}/requests", timeout=5).status_code == 200
    assert simulator.requests() == []

    spec = {
        "project_id": PROJECT.id,
        "name": "fail_ids",
        "value": [job_id],
        "ops": ["batch_delete"],
        "count": 2,
    }
    assert requests.post(f"{base}/faults", json=spec, timeout=5).status_code == 201
    assert requests.get(f"{base}/faults", timeout=5).json()["faults"] == [
        {"project_id": PROJECT.id, "name": "fail_ids", "value": [job_id], "ops": ["batch_delete"], "count": 2}
    ]
    bad = requests.post(f"{base}/faults", json={"project_id": PROJECT.id, "name": "gremlins"}, timeout=5)
    assert bad.status_code == 400
    assert "gremlins" in bad.json()["error"]
    assert requests.delete(f"{base}/faults", params={"project_id": OTHER.id}, timeout=5).status_code == 200
    assert len(simulator.faults()) == 1
    requests.delete(f"{base}/faults", timeout=5)
    assert simulator.faults() == []

    assert requests.post(f"{base}/reset", timeout=5).json() == {"reset": True}
    assert simulator.job(PROJECT.id, job_id) is not None
    assert requests.get(f"{base}/nothing", timeout=5).status_code == 404
