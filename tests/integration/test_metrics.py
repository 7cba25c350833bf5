"""GET /metrics: the bearer token, values that match the database after a batch, DLI and request counters,
and several gunicorn workers that answer the same sums (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client.parser import text_string_to_metric_families

from dli_admin.audit.models import AuditRecord
from dli_admin.deletes import runner, services
from dli_admin.deletes.models import BatchState, DeleteBatch, DeleteBatchJob, JobState
from dli_admin.dli import AkSkAuth, DliCall, DliClient
from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
from tests.helpers import PROJECT, run

ROOT = Path(__file__).resolve().parents[2]
TOKEN = secrets.token_urlsafe(32)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(client: Client | None = None) -> Samples:
    response = (client or Client()).get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content[:300]
    return parse(response.content.decode())


@pytest.fixture
def enabled(settings):
    settings.DLI_ADMIN_METRICS_TOKEN = TOKEN


# --- the token --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_disabled_without_a_token_it_is_not_there(settings):
    settings.DLI_ADMIN_METRICS_TOKEN = ""
    assert Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    assert Client().get("/metrics").status_code == 404


@pytest.mark.django_db
def test_the_right_token_gets_the_text_format(enabled):
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    samples = parse(response.content.decode())
    assert value(samples, "dli_admin_metrics_database_up") == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        (None, ""),
        ("", ""),
        ("Bearer", ""),
        ("Basic " + TOKEN, ""),
        ("Bearer wrong-" + TOKEN, ', error="invalid_token"'),
        ("Bearer " + TOKEN[:-1], ', error="invalid_token"'),
    ],
    ids=["missing", "empty", "no-token", "basic", "wrong", "prefix"],
)
def test_a_missing_or_wrong_token_is_401_and_shows_nothing(enabled, authorization, error):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = Client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="dli-admin metrics"' + error
    assert b"dli_admin" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["operator", "auditor", "superuser"])
def test_a_session_is_not_enough(enabled, request, role):
    client = Client()
    client.force_login(request.getfixturevalue(role))
    assert client.get("/metrics").status_code == 401


def test_a_short_token_stops_the_start(production_env):
    result = run(["-c", "import dli_admin.settings"], production_env | {"DLI_ADMIN_METRICS_TOKEN": "short"})
    assert result.returncode != 0
    assert "DLI_ADMIN_METRICS_TOKEN must be at least 24 characters" in result.stderr
    assert "short" not in result.stderr.replace("DLI_ADMIN_METRICS_TOKEN must be", "")


# --- values --------------------------------------------------------------------------------------------


def confirm(user, project, ids):
    requester = services.Requester(user=user, client_ip="127.0.0.1")
    plan = services.flink_jobs_delete_plan(
        requester=requester, project=project, job_ids=[str(i) for i in ids]
    )
    return services.flink_jobs_delete(
        requester=requester, project=project, token=plan.token, confirm_name=project.name
    )


@pytest.mark.django_db(transaction=True)
def test_the_values_match_the_database_before_and_after_a_batch(enabled, simulator, project_a, operator):
    assert not AuditRecord.objects.exists()
    empty = scrape()
    assert not any(name == "dli_admin_audit_last_record_age_seconds" for name, _ in empty), "no sample"
    assert value(empty, "dli_admin_oldest_queued_batch_age_seconds") == 0

    ids = [simulator.add_job(project_a.project_id, name=f"m-{n}", status="job_finish") for n in range(5)]
    changed = simulator.add_job(project_a.project_id, name="m-changed", status="job_finish")
    batch = confirm(operator, project_a, [*ids, changed])
    DeleteBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(seconds=30))

    queued = scrape()
    assert value(queued, "dli_admin_batches", state="queued") == 1
    assert value(queued, "dli_admin_batches", state="ended") == 0
    assert value(queued, "dli_admin_task_queue_depth") == DBTaskResult.objects.ready().count() >= 1
    assert 30 <= value(queued, "dli_admin_oldest_queued_batch_age_seconds") < 60

    simulator.set_job_status(project_a.project_id, changed, "job_running")  # skipped: it runs again
    simulator.set_fault(project_a.project_id, "throttle", 0.01, ops={"batch_delete"}, count=1)
    simulator.clear_requests()
    assert runner.batch_run(batch.pk).state == "ended"

    after = scrape()
    settled = DeleteBatchJob.objects.filter(state=JobState.SETTLED)
    assert settled.count() == 6
    for outcome in ("deleted", "failed", "unknown", "skipped"):
        assert (
            value(after, "dli_admin_batch_jobs", outcome=outcome) == settled.filter(outcome=outcome).count()
        )
    assert value(after, "dli_admin_batch_jobs", outcome="deleted") == 5
    assert value(after, "dli_admin_batch_jobs", outcome="skipped") == 1
    for state in BatchState.values:
        assert (
            value(after, "dli_admin_batches", state=state) == DeleteBatch.objects.filter(state=state).count()
        )
    assert value(after, "dli_admin_batches", state="ended") == 1
    assert value(after, "dli_admin_oldest_queued_batch_age_seconds") == 0
    assert value(after, "dli_admin_task_queue_depth") == DBTaskResult.objects.ready().count()
    newest = AuditRecord.objects.order_by("-seq").first()
    age = (timezone.now() - newest.created_at).total_seconds()
    assert 0 <= value(after, "dli_admin_audit_last_record_age_seconds") <= age

    # DLI calls, counted per attempt, as the simulator saw them.
    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(queued, name, **labels)

    sent = simulator.requests(op="batch_delete")
    assert [r.status for r in sent].count(429) == 1
    assert (
        delta("dli_admin_dli_calls_total", connection="default", operation="batch_delete", status="429") == 1
    )
    assert delta(
        "dli_admin_dli_calls_total", connection="default", operation="batch_delete", status="200"
    ) == sum(r.status == 200 for r in sent)
    assert delta("dli_admin_dli_throttled_total", connection="default", operation="batch_delete") == 1
    assert delta("dli_admin_dli_call_duration_seconds_count", operation="batch_delete") == len(sent)
    reads = simulator.requests(op="list")
    assert delta("dli_admin_dli_calls_total", connection="default", operation="list", status="200") == sum(
        r.status == 200 for r in reads
    )


@pytest.mark.django_db
def test_requests_are_counted_by_url_name_method_and_status(enabled):
    client = Client()
    before = scrape(client)
    client.get("/healthz")
    client.get("/healthz")
    client.post("/healthz")
    client.get("/no-such-page/")
    after = scrape(client)

    def delta(**labels: str) -> float:
        return value(after, "dli_admin_http_requests_total", **labels) - value(
            before, "dli_admin_http_requests_total", **labels
        )

    assert delta(view="dli-healthz", method="GET", status="200") == 2
    assert delta(view="dli-healthz", method="POST", status="405") == 1
    assert delta(view="dli-metrics", method="GET", status="200") == 1  # the first scrape; not this one
    assert (
        delta(view="unresolved", method="GET", status="302")
        + delta(view="unresolved", method="GET", status="404")
        == 1
    )
    count = "dli_admin_http_request_duration_seconds_count"
    assert value(after, count, view="dli-healthz") - value(before, count, view="dli-healthz") == 3


@pytest.mark.django_db
def test_an_odd_method_does_not_make_a_new_label(enabled):
    client = Client()
    client.generic("BREW", "/healthz")
    assert not any(dict(labels).get("method") == "BREW" for _, labels in scrape(client))


def test_the_observer_sees_each_attempt_and_cannot_break_a_call(simulator):
    seen: list[DliCall] = []

    def observer(call: DliCall) -> None:
        seen.append(call)
        raise RuntimeError("a broken metric")

    project = PROJECT.id
    simulator.set_fault(project, "server_error", 503, ops={"list"}, count=1)
    client = DliClient(
        simulator.url,
        project,
        auth=AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY),
        observer=observer,
        backoff_base=0.01,
    )
    assert client.list_jobs(limit=1).total_count > 0
    assert [(c.operation, c.method, c.status, c.attempt) for c in seen] == [
        ("list", "GET", 503, 1),
        ("list", "GET", 200, 2),
    ]
    assert all(c.duration >= 0 and c.failure == "" for c in seen)


# --- several gunicorn workers ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gunicorn_workers_answer_the_same_sums(tmp_path):
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dli_admin.settings",
        "DJANGO_DEBUG": "1",
        "DLI_ADMIN_ENV_FILE": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DLI_ADMIN_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "dli_admin.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    healthy = 0

    def healthz() -> int:
        return requests.get(f"{url}/healthz", timeout=10).status_code

    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                if healthz() == 200:
                    healthy += 1
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
            time.sleep(0.2)

        # Requests side by side, until both workers have answered some (each writes its own files).
        def pids() -> set[str]:
            return {
                m.group(1) for p in multiproc.iterdir() if (m := re.fullmatch(r"counter_(\d+)\.db", p.name))
            }

        with ThreadPoolExecutor(8) as pool:
            for _ in range(20):
                statuses = list(pool.map(lambda _: healthz(), range(24)))
                assert statuses == [200] * 24
                healthy += 24
                if len(pids()) >= 2:
                    break
        assert len(pids()) == 2, "both workers must have counted requests"

        def scrape_over_http() -> Samples:
            response = requests.get(
                f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
            )
            assert response.status_code == 200, response.text[:300]
            return parse(response.text)

        # A process that is no web worker (as a db_worker is) counts a DLI call in the same directory.
        worker_code = (
            "import django; django.setup(); from dli_admin.dli import DliCall; "
            "from dli_admin.metrics.instruments import dli_call_observed; "
            "dli_call_observed(DliCall('batch_delete', 'POST', 429, '', 1, 0.2), connection='default')"
        )
        assert run(["-c", worker_code], env).returncode == 0

        counted = {"view": "dli-healthz", "method": "GET", "status": "200"}
        # Scrapes side by side land on both workers: each answers with the sum over both.
        with ThreadPoolExecutor(4) as pool:
            for samples in pool.map(lambda _: scrape_over_http(), range(8)):
                assert value(samples, "dli_admin_http_requests_total", **counted) == healthy
        # One at a time: each sees every scrape before it, whichever worker answered those.
        scraped = 8
        for _ in range(5):
            samples = scrape_over_http()
            assert value(samples, "dli_admin_http_requests_total", **counted) == healthy
            assert (
                value(
                    samples, "dli_admin_http_requests_total", view="dli-metrics", method="GET", status="200"
                )
                == scraped
            )
            assert (
                value(samples, "dli_admin_http_request_duration_seconds_count", view="dli-healthz") == healthy
            )
            assert value(samples, "dli_admin_batches", state="queued") == 0
            assert (
                value(
                    samples,
                    "dli_admin_dli_calls_total",
                    connection="default",
                    operation="batch_delete",
                    status="429",
                )
                == 1
            )
            assert (
                value(
                    samples, "dli_admin_dli_throttled_total", connection="default", operation="batch_delete"
                )
                == 1
            )
            scraped += 1
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
