"""Fixtures shared by every test: the embedded DLI simulator on a real loopback socket, and a cast of users.

One fixed cast, used by every test: a username means the same roles everywhere. Project A is `project_a`
(DEMO_PROJECTS[0]), project B is `project_b` (DEMO_PROJECTS[1]). Every user's password is
tests.helpers.PASSWORD.

    fixture     username  roles
    ----------  --------  ---------------------------------------
    operator    olivia    operator of A, viewer of B
    viewer      victor    viewer of A
    owner       oscar     owner of A, viewer of B
    owner_b     bob       owner of B
    auditor     aud       auditor (reads every project's audit log)
    outsider    mallory   no role
    superuser   root      superuser (and staff)

A test that needs some other set of roles makes its own user under a name that is not in this table,
and says why.
"""

from __future__ import annotations

import os

import pytest

from tests.helpers import make_project, make_user

# Playwright's sync API runs an event loop in the test thread; Django must still allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_configure(config):
    """Let the test runner's flush (after transactional tests) empty the audit tables on PostgreSQL.

    The audit log's trigger refuses TRUNCATE unless the session says `dli_admin.audit_truncate = allow`;
    SET LOCAL scopes that to the flush's own transaction, so every test still sees a strict trigger.
    """
    from django.db.backends.postgresql.operations import DatabaseOperations

    flush = DatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        return flush(self, ["SET LOCAL dli_admin.audit_truncate = 'allow'", *sql_list])

    DatabaseOperations.execute_sql_flush = execute_sql_flush


@pytest.fixture(autouse=True)
def audit_checkpoints(tmp_path, settings, monkeypatch):
    """Each test its own checkpoint file, and so each worker it starts (through the environment): a
    checkpoint that one test's worker signed must not make another test's chain look rewritten."""
    path = str(tmp_path / "audit-checkpoints.jsonl")
    settings.DLI_ADMIN_AUDIT_CHECKPOINTS = path
    monkeypatch.setenv("DLI_ADMIN_AUDIT_CHECKPOINTS", path)
    return path


@pytest.fixture(scope="session")
def dli_simulator_server():
    """One simulator for the whole run, on a free loopback port with the built-in demo credentials."""
    from dli_admin.simulator.server import Simulator

    simulator = Simulator(port=0).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def simulator(dli_simulator_server, settings):
    """The simulator, freshly seeded with no faults and an empty request log; the dashboard talks to it."""
    from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

    dli_simulator_server.reset()
    settings.DLI_ENDPOINT = dli_simulator_server.url
    settings.DLI_AK = DEMO_ACCESS_KEY
    settings.DLI_SK = DEMO_SECRET_KEY
    yield dli_simulator_server
    dli_simulator_server.reset()


@pytest.fixture
def project_a(db):
    from dli_admin.simulator.seed import DEMO_PROJECTS

    return make_project(DEMO_PROJECTS[0].id, DEMO_PROJECTS[0].name)


@pytest.fixture
def project_b(db):
    from dli_admin.simulator.seed import DEMO_PROJECTS

    return make_project(DEMO_PROJECTS[1].id, DEMO_PROJECTS[1].name)


@pytest.fixture
def operator(project_a, project_b):
    return make_user("olivia", ("operator", project_a), ("viewer", project_b))


@pytest.fixture
def viewer(project_a):
    return make_user("victor", ("viewer", project_a))


@pytest.fixture
def owner(project_a, project_b):
    return make_user("oscar", ("owner", project_a), ("viewer", project_b))


@pytest.fixture
def owner_b(project_b):
    return make_user("bob", ("owner", project_b))


@pytest.fixture
def auditor(db):
    return make_user("aud", ("auditor", None))


@pytest.fixture
def outsider(db):
    return make_user("mallory")


@pytest.fixture
def superuser(db):
    return make_user("root", superuser=True)


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    """The environment of a production process (DEBUG off), for settings tested in a fresh process."""
    from tests.helpers import production_environment

    return production_environment(tmp_path)


@pytest.fixture
def worker(simulator, transactional_db, settings):
    """A real background worker (`manage.py db_worker`) for the test's committed data and its simulator.

    Small chunks and waves, so that a page sees a batch's progress move."""
    from tests.helpers import start_worker, stop

    settings.DLI_BATCH_SWEEP = 1
    process = start_worker(simulator, "test-worker", DLI_BATCH_SIZE="5", DLI_BATCH_WAVE="5")
    yield process
    stop(process)
