"""DliClient's create SQL and jar job calls, and list with show_detail, against the simulator on loopback."""

from __future__ import annotations

import pytest

from dli_admin.dli import AkSkAuth, DliClient, DliError, ErrorCategory
from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
from dli_admin.simulator.seed import DEMO_PROJECTS

PID = DEMO_PROJECTS[0].id
FAST = {
    "connect_timeout": 0.5,
    "read_timeout": 0.5,
    "deadline": 5.0,
    "backoff_base": 0.01,
    "backoff_cap": 0.05,
}
QUEUE = "analytics_shared"  # one of the seeded project's queues


@pytest.fixture
def client(simulator) -> DliClient:
    return DliClient(simulator.url, PID, auth=AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY), **FAST)


def test_show_detail_gives_each_listed_job_its_definition_in_the_same_call(client, simulator):
    simulator.clear_requests()

    plain = client.list_jobs(limit=5)
    detailed = client.list_jobs(limit=5, show_detail=True)

    assert [r.query.get("show_detail") for r in simulator.requests(op="list")] == [None, "true"]
    assert not any(job.has_definition for job in plain.jobs)
    assert all(job.has_definition for job in detailed.jobs)
    assert {"sql_body", "job_config", "run_mode", "main_class"} <= set(detailed.jobs[0].detail or {})
    assert plain.jobs == detailed.jobs, "the detail is not part of a job's identity"


def test_a_sql_job_is_created_in_job_init_and_appears_in_list_and_show(client, simulator):
    created = client.create_sql_job(
        {
            "name": "client-create-sql",
            "queue_name": QUEUE,
            "sql_body": "SELECT 1",
            "checkpoint_enabled": True,
            "cu_number": 4,
            "tags": [{"key": "team", "value": "data"}],
        }
    )

    assert created.status_name == "job_init" and created.attempts == 1 and created.request_id
    shown = client.show_job(created.job_id)
    assert (shown.name, shown.status, shown.queue_name) == ("client-create-sql", "job_init", QUEUE)
    assert shown.detail["job_config"]["cu_number"] == 4 and shown.detail["sql_body"] == "SELECT 1"
    assert [job.job_id for job in client.list_jobs(name="client-create-sql").jobs] == [created.job_id]
    (request,) = simulator.requests(op="create_sql_job")
    assert request.path.endswith("/streaming/sql-jobs")


def test_a_jar_job_is_created_and_its_boolean_reply_is_read(client, simulator):
    created = client.create_jar_job(
        {
            "name": "client-create-jar",
            "entrypoint": "obs://bucket/a.jar",
            "main_class": "a.Main",
            "cu_number": 2,
        }
    )

    shown = client.show_job(created.job_id)
    assert shown.job_type == "flink_jar_job" and shown.detail["main_class"] == "a.Main"
    assert shown.detail["job_config"]["entrypoint"] == "obs://bucket/a.jar"


@pytest.mark.parametrize("style", ["string", "bool", "capital"])
def test_every_form_of_is_success_is_read(client, simulator, style):
    simulator.set_fault(PID, "bool_style", style, ops="create_sql_job")

    assert client.create_sql_job({"name": f"client-style-{style}"}).job_id


def test_a_taken_name_is_dlis_refusal_with_its_code_and_words(client, simulator):
    client.create_sql_job({"name": "client-taken"})

    with pytest.raises(DliError) as refused:
        client.create_sql_job({"name": "client-taken"})

    assert refused.value.status == 400 and refused.value.code == "DLI.0006"
    assert "already exists" in refused.value.message
    assert len(client.list_jobs(name="client-taken").jobs) == 1


def test_a_missing_queue_is_dlis_refusal(client, simulator):
    simulator.remove_queue(PID, QUEUE)

    with pytest.raises(DliError) as refused:
        client.create_sql_job({"name": "client-no-queue", "queue_name": QUEUE})

    assert refused.value.code == "DLI.0002" and f"no queue named {QUEUE}" in refused.value.message


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 58},
        {"name": "ok", "cu_number": True},
        {"name": "ok", "checkpoint_enabled": "true"},
        {"name": "ok", "job_type": "flink_jar_job"},
        {"name": "ok", "tags": {"team": "data"}},
    ],
)
def test_a_body_dli_would_refuse_is_refused_as_invalid(client, simulator, body):
    if not body["name"]:
        with pytest.raises(ValueError, match="needs a name"):
            client.create_sql_job(body)
        return
    with pytest.raises(DliError) as refused:
        client.create_sql_job(body)

    assert refused.value.code == "DLI.0001" and refused.value.category == ErrorCategory.INVALID


@pytest.mark.parametrize(
    ("fault", "value"), [("drop_after", True), ("server_error_after", 502), ("slow_reply", 2.0)]
)
def test_a_create_whose_answer_is_lost_is_ambiguous_and_never_sent_twice(client, simulator, fault, value):
    simulator.set_fault(PID, fault, value, ops="create_jar_job", count=1)

    with pytest.raises(DliError) as lost:
        client.create_jar_job({"name": f"client-lost-{fault}", "entrypoint": "obs://b/a.jar"})

    assert lost.value.category == ErrorCategory.AMBIGUOUS
    assert len(simulator.requests(op="create_jar_job")) == 1
    assert [job.name for job in client.list_jobs(name=f"client-lost-{fault}").jobs] == [
        f"client-lost-{fault}"
    ]


def test_a_throttled_create_is_sent_again_and_creates_one_job(client, simulator):
    simulator.set_fault(PID, "throttle", 0.01, ops="create_sql_job", count=1)

    created = client.create_sql_job({"name": "client-throttled"})

    assert created.attempts == 2
    assert [r.status for r in simulator.requests(op="create_sql_job")] == [429, 200]


def test_a_server_error_before_any_work_creates_nothing_and_says_so(client, simulator):
    simulator.set_fault(PID, "server_error", 500, ops="create_sql_job", count=1)

    with pytest.raises(DliError) as failed:
        client.create_sql_job({"name": "client-500"})

    assert failed.value.category == ErrorCategory.AMBIGUOUS, "a 5xx after sending: the client cannot tell"
    assert client.list_jobs(name="client-500").jobs == ()


def test_non_ascii_text_arrives_as_it_was(client, simulator):
    created = client.create_sql_job({"name": "client-ü", "desc": "Zürich"})

    shown = client.show_job(created.job_id)
    assert (shown.name, shown.desc) == ("client-ü", "Zürich")
