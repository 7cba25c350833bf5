"""Named DLI connections: several accounts and regions, chosen per project.

Two more simulators on their own ports stand in for two DLI accounts, each accepting only its own
credentials; the `simulator` fixture is the default connection's DLI. Each project's jobs are listed and
deleted (through a real worker) on its own simulator, and no simulator ever sees another's credentials
(it would answer 401) or another connection's project.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from dli_admin.accounts.logs import _secret_values
from dli_admin.accounts.reporting import secret_values
from dli_admin.deletes import services
from dli_admin.deletes.models import BatchState, DeleteBatch, DeleteBatchJob
from dli_admin.deletes.services import Requester
from dli_admin.environment import Env, dli_connections
from dli_admin.projects.connections import DliNotConfigured, dli_client_for
from dli_admin.projects.models import DliProject
from dli_admin.simulator.credentials import Credentials
from dli_admin.simulator.seed import DEMO_PROJECTS
from tests.helpers import make_project, make_user, start_worker, stop, wait_for

pytestmark = pytest.mark.django_db

EU_AK = "PRODEUACCESSKEY00001"
EU_SK = "ProdEuSecretKey0000000000000000000000001"
STAGING_TOKEN = "MIIstaging-account-token-000000000000001"  # noqa: S105  a test value
EU_PROJECT, STAGING_PROJECT = DEMO_PROJECTS[0], DEMO_PROJECTS[1]


@pytest.fixture(scope="module")
def accounts() -> Iterator[dict]:
    """prod-eu (AK/SK) and staging (a token): two simulators, each accepting only its own credentials."""
    from dli_admin.simulator.server import Simulator

    eu = Simulator(port=0, credentials=Credentials(access_key=EU_AK, secret_key=EU_SK)).start()
    staging = Simulator(port=0, credentials=Credentials(token=STAGING_TOKEN)).start()
    yield {"prod-eu": eu, "staging": staging}
    eu.stop()
    staging.stop()


def environment(accounts, tmp_path) -> dict[str, str]:
    """The variables an operator sets for the two connections; the secret key comes from a file."""
    sk_file = tmp_path / "prod-eu-sk"
    sk_file.write_text(EU_SK + "\n")
    return {
        "DLI_CONNECTIONS": "prod-eu,staging",
        "DLI_CONNECTION_PROD_EU_ENDPOINT": accounts["prod-eu"].url,
        "DLI_CONNECTION_PROD_EU_AUTH": "aksk",
        "DLI_CONNECTION_PROD_EU_AK": EU_AK,
        "DLI_CONNECTION_PROD_EU_SK_FILE": str(sk_file),
        "DLI_CONNECTION_STAGING_ENDPOINT": accounts["staging"].url + "/",
        "DLI_CONNECTION_STAGING_AUTH": "token",
        "DLI_CONNECTION_STAGING_TOKEN": STAGING_TOKEN,
    }


@pytest.fixture
def connected(accounts, simulator, settings, tmp_path) -> dict[str, str]:
    """Fresh simulators, settings as the environment makes them; returns that environment."""
    for account in accounts.values():
        account.reset()
    variables = environment(accounts, tmp_path)
    settings.DLI_CONNECTIONS = dli_connections(Env(variables))
    return variables


def add_project(seed, connection_name: str) -> DliProject:
    call_command(
        "dli_project", "add", seed.id, "--name", seed.name, "--connection", connection_name, stdout=StringIO()
    )
    return DliProject.objects.get(project_id=seed.id)


def refusals(simulator) -> list:
    return [request for request in simulator.requests() if request.status == 401]


# --- settings ---------------------------------------------------------------------------------------


def test_the_environment_makes_each_connection_with_its_credentials_from_a_variable_or_a_file(
    accounts, tmp_path
):
    connections = dli_connections(Env(environment(accounts, tmp_path)))
    assert connections == {
        "prod-eu": {
            "ENDPOINT": accounts["prod-eu"].url,
            "AUTH": "aksk",
            "CREDENTIALS": {"DLI_CONNECTION_PROD_EU_AK": EU_AK, "DLI_CONNECTION_PROD_EU_SK": EU_SK},
        },
        "staging": {
            "ENDPOINT": accounts["staging"].url,
            "AUTH": "token",
            "CREDENTIALS": {"DLI_CONNECTION_STAGING_TOKEN": STAGING_TOKEN},
        },
    }
    assert dli_connections(Env({})) == {}


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"DLI_CONNECTIONS": "Prod_EU"}, "'Prod_EU' is not a connection name"),
        ({"DLI_CONNECTIONS": "default"}, "'default' is the connection that DLI_ENDPOINT"),
        ({"DLI_CONNECTIONS": "a,a"}, "'a' is listed twice"),
        ({"DLI_CONNECTIONS": "eu"}, "DLI_CONNECTION_EU_ENDPOINT is not set"),
        (
            {"DLI_CONNECTIONS": "eu", "DLI_CONNECTION_EU_ENDPOINT": "dli.example.com"},
            "DLI_CONNECTION_EU_ENDPOINT must be an http(s) URL",
        ),
        (
            {"DLI_CONNECTIONS": "eu", "DLI_CONNECTION_EU_ENDPOINT": "https://dli.example.com"},
            "DLI_CONNECTION_EU_AUTH is not set",
        ),
        (
            {
                "DLI_CONNECTIONS": "eu",
                "DLI_CONNECTION_EU_ENDPOINT": "https://dli.example.com",
                "DLI_CONNECTION_EU_AUTH": "password",
            },
            "DLI_CONNECTION_EU_AUTH must be aksk, token or iam, not 'password'",
        ),
    ],
)
def test_a_malformed_connection_stops_the_start_naming_the_variable(variables, message):
    with pytest.raises(ImproperlyConfigured) as error:
        dli_connections(Env(variables))
    assert message in str(error.value)


def test_the_credentials_of_connections_are_hidden_in_error_reports_and_logs(connected):
    for values in (secret_values(), _secret_values()):
        assert {EU_SK, EU_AK, STAGING_TOKEN} <= set(values)


# --- each project on its own connection -----------------------------------------------------------


def test_each_project_lists_its_jobs_on_its_own_connection_only(connected, accounts, simulator, client):
    eu, staging = add_project(EU_PROJECT, "prod-eu"), add_project(STAGING_PROJECT, "staging")
    on_default = add_project(DEMO_PROJECTS[2], "default")
    client.force_login(make_user("conn-viewer", ("viewer", eu), ("viewer", staging), ("viewer", on_default)))

    for project, seed in ((eu, EU_PROJECT), (staging, STAGING_PROJECT), (on_default, DEMO_PROJECTS[2])):
        assert dli_client_for(project).list_jobs(limit=1).total_count == seed.job_count
        page = client.get(f"/projects/{project.project_id}/jobs/")
        assert page.status_code == 200 and page.context["error"] is None
        assert page.context["page"].total_count == seed.job_count

    assert {r.project_id for r in accounts["prod-eu"].requests()} == {EU_PROJECT.id}
    assert {r.project_id for r in accounts["staging"].requests()} == {STAGING_PROJECT.id}
    assert {r.project_id for r in simulator.requests()} == {DEMO_PROJECTS[2].id}
    assert not any(refusals(s) for s in (*accounts.values(), simulator))


def test_dli_calls_are_counted_by_connection(connected, settings, client):
    from prometheus_client.parser import text_string_to_metric_families

    settings.DLI_ADMIN_METRICS_TOKEN = token = "connections-metrics-token-0123456789"  # noqa: S105

    def calls() -> float:
        text = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).content.decode()
        wanted = {"connection": "staging", "operation": "list", "status": "200"}
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "dli_admin_dli_calls_total" and sample.labels == wanted
        )

    before = calls()
    dli_client_for(add_project(STAGING_PROJECT, "staging")).list_jobs(limit=1)
    assert calls() == before + 1


def confirm(user, project, ids) -> DeleteBatch:
    requester = Requester(user=user, client_ip="127.0.0.1")
    plan = services.flink_jobs_delete_plan(
        requester=requester, project=project, job_ids=[str(i) for i in ids]
    )
    return services.flink_jobs_delete(
        requester=requester, project=project, token=plan.token, confirm_name=project.name
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_a_worker_deletes_each_projects_jobs_on_its_own_connection(connected, accounts, simulator, settings):
    settings.DLI_BATCH_SWEEP = 1
    eu, staging = add_project(EU_PROJECT, "prod-eu"), add_project(STAGING_PROJECT, "staging")
    operator = make_user("conn-operator", ("operator", eu), ("operator", staging))
    chosen = {
        name: [
            accounts[name].add_job(project.project_id, name=f"old-{n}", status="job_finish") for n in range(7)
        ]
        for name, project in (("prod-eu", eu), ("staging", staging))
    }
    batches = {
        "prod-eu": confirm(operator, eu, chosen["prod-eu"]),
        "staging": confirm(operator, staging, chosen["staging"]),
    }

    worker = start_worker(simulator, "connections-worker", DLI_BATCH_SIZE="5", **connected)
    try:
        wait_for(
            lambda: DeleteBatch.objects.filter(state=BatchState.ENDED).count() == 2,
            what="both batches to end",
        )
    finally:
        log = stop(worker)
    for name, batch in batches.items():
        outcomes = dict(DeleteBatchJob.objects.filter(batch=batch).values_list("job_id", "outcome"))
        assert outcomes == dict.fromkeys(chosen[name], "deleted"), log
        sent = [job for request in accounts[name].requests(op="batch_delete") for job in request.job_ids]
        assert sorted(sent) == sorted(chosen[name])
        assert all(accounts[name].job(batch.project.project_id, job) is None for job in chosen[name])
    assert {r.project_id for r in accounts["prod-eu"].requests()} == {EU_PROJECT.id}
    assert {r.project_id for r in accounts["staging"].requests()} == {STAGING_PROJECT.id}
    assert not simulator.requests(op="batch_delete")
    assert not any(refusals(s) for s in (*accounts.values(), simulator))


def test_the_command_line_plans_on_the_projects_own_connection(connected, accounts, simulator):
    staging = add_project(STAGING_PROJECT, "staging")
    make_user("conn-cli", ("operator", staging))
    ids = [
        accounts["staging"].add_job(staging.project_id, name=f"cli-conn-{n}", status="job_finish")
        for n in range(3)
    ]
    out = StringIO()
    call_command(
        "flink_jobs_delete",
        "--project",
        staging.project_id,
        "--as",
        "conn-cli",
        "--name",
        "cli-conn-",
        "--dry-run",
        "--json",
        stdout=out,
        stderr=StringIO(),
    )
    assert json.loads(out.getvalue())["eligible"] == len(ids)
    assert {r.project_id for r in accounts["staging"].requests()} == {STAGING_PROJECT.id}
    assert not simulator.requests() and not refusals(accounts["staging"])


def test_a_project_whose_connection_is_gone_says_so_and_calls_nothing(connected, accounts, settings):
    eu = add_project(EU_PROJECT, "prod-eu")
    settings.DLI_CONNECTIONS = {}
    with pytest.raises(
        DliNotConfigured, match=r"DLI connection 'prod-eu' is not configured \(known: default\)"
    ):
        dli_client_for(eu)
    assert not accounts["prod-eu"].requests()


# --- the command line, the admin, the checks --------------------------------------------------------


def test_dli_project_refuses_an_unknown_connection_and_changes_nothing(connected):
    with pytest.raises(
        CommandError, match=r"No DLI connection is named 'prod-us': known are default, prod-eu, staging"
    ):
        call_command("dli_project", "add", EU_PROJECT.id, "--name", "x", "--connection", "prod-us")
    assert not DliProject.objects.exists()


def test_dli_project_list_shows_each_projects_connection(connected):
    add_project(EU_PROJECT, "prod-eu")
    call_command("dli_project", "add", STAGING_PROJECT.id, "--name", STAGING_PROJECT.name, stdout=StringIO())
    out = StringIO()
    call_command("dli_project", "list", stdout=out)
    lines = out.getvalue().splitlines()
    assert f"{EU_PROJECT.id}  {EU_PROJECT.name}  prod-eu  (the connection's endpoint)" in lines
    assert f"{STAGING_PROJECT.id}  {STAGING_PROJECT.name}  default  (the connection's endpoint)" in lines


def test_the_admin_shows_the_connection_and_refuses_an_unknown_one(connected, client):
    eu = add_project(EU_PROJECT, "prod-eu")
    client.force_login(make_user("conn-root", superuser=True))
    listing = client.get("/admin/projects/dliproject/")
    assert listing.status_code == 200 and "prod-eu" in listing.content.decode()
    change = client.post(
        f"/admin/projects/dliproject/{eu.pk}/change/",
        {
            "project_id": eu.project_id,
            "name": eu.name,
            "connection": "nowhere",
            "endpoint": "",
            "region": "",
            "grants-TOTAL_FORMS": "0",
            "grants-INITIAL_FORMS": "0",
        },
    )
    assert change.status_code == 200
    assert "No DLI connection is named" in change.content.decode()
    eu.refresh_from_db()
    assert eu.connection == "prod-eu"


def connection_errors() -> list:
    return [message for message in run_checks() if message.id.startswith("projects.")]


def test_the_checks_pass_when_every_connection_is_configured(connected):
    add_project(EU_PROJECT, "prod-eu")
    assert connection_errors() == []


def test_the_checks_name_a_missing_credential_and_an_unknown_connection_never_a_secret(
    connected, accounts, settings, tmp_path
):
    variables = environment(accounts, tmp_path)
    del variables["DLI_CONNECTION_PROD_EU_SK_FILE"]
    settings.DLI_CONNECTIONS = dli_connections(Env(variables))
    make_project(EU_PROJECT.id, "eu", connection="prod-us")

    errors = {message.id: message for message in connection_errors()}
    assert set(errors) == {"projects.W011", "projects.E012"}
    assert "DLI connection 'prod-us', which is not configured" in errors["projects.W011"].msg
    assert "prod-eu (aksk) has no credentials in DLI_CONNECTION_PROD_EU_SK" in errors["projects.E012"].msg
    shown = " ".join(f"{m.msg} {m.hint}" for m in errors.values())
    assert EU_AK not in shown and STAGING_TOKEN not in shown


def test_the_default_connection_with_an_endpoint_and_no_credentials_fails_the_checks(db, settings):
    settings.DLI_ENDPOINT = "https://dli.eu-de.otc.t-systems.com"
    settings.DLI_AK = settings.DLI_SK = settings.DLI_AUTH_TOKEN = settings.DLI_IAM_PASSWORD = ""
    assert [m.id for m in connection_errors()] == ["projects.E012"]
    settings.DLI_ENDPOINT = ""  # the embedded simulator (development) or nothing in use: nothing to check
    assert connection_errors() == []


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_every_project_on_the_default_connection():
    executor = MigrationExecutor(connection)
    executor.migrate([("projects", "0001_initial")])
    old = executor.loader.project_state([("projects", "0001_initial")]).apps.get_model(
        "projects", "DliProject"
    )
    old.objects.create(project_id="a" * 32, name="alpha", endpoint="https://dli.eu-de.otc.t-systems.com")
    old.objects.create(project_id="b" * 32, name="beta")

    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    assert sorted(DliProject.objects.values_list("name", "connection", "endpoint")) == [
        ("alpha", "default", "https://dli.eu-de.otc.t-systems.com"),
        ("beta", "default", ""),
    ]
