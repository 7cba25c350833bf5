"""One generated test per cell of tests/authorization_matrix.py, and one that every URL is in the table.

For every refused mutating request, nothing reaches DLI (the simulator's request log stays empty) and the
refusal is in the audit log.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from dli_admin.audit.models import AuditRecord
from dli_admin.audit.services import audit_intent_record
from dli_admin.deletes import runner, services
from dli_admin.policies.models import CleanupPolicy
from dli_admin.projects.jobs import JobRef
from dli_admin.simulator.seed import DEMO_PROJECTS
from tests.authorization_matrix import ADMIN_LOGIN, ADMIN_SAMPLES, LOGIN, MATRIX, ROLES
from tests.helpers import make_project

pytestmark = pytest.mark.django_db

CELLS = [
    (name, scope, role)
    for name, (_method, _mutating, scopes) in MATRIX.items()
    for scope in scopes
    for role in ROLES
]


@pytest.fixture
def world(simulator, project_a, outsider, viewer, operator, owner, auditor, superuser):
    """Project "own" (project_a) and the conftest cast, one user per role; project "other"
    (DEMO_PROJECTS[2]), where the cast has no grant; and in each project a stopped job to select, and a
    job whose delete the audit log has no result for (to "check again")."""
    other = make_project(DEMO_PROJECTS[2].id, DEMO_PROJECTS[2].name)
    users = {
        "outsider": outsider,
        "viewer": viewer,
        "operator": operator,
        "owner": owner,
        "auditor": auditor,
        "superuser": superuser,
    }
    projects = {"own": project_a, "other": other}
    jobs, batches, delete_batches, policies, restorable = {}, {}, {}, {}, {}
    for scope, project in projects.items():
        policies[scope] = CleanupPolicy.objects.create(
            project=project,
            name=f"{scope}-policy",
            statuses=["job_finish"],
            queue_name="matrix_q",  # matches no job: a run only reports
            at_time="02:00",
            created_by=users["superuser"],
            schedule_from="2026-01-01T00:00Z",
        )
        jobs[scope] = simulator.add_job(project.project_id, name=f"{scope}-job", status="job_finish")
        unsettled = simulator.add_job(project.project_id, name=f"{scope}-unsettled", status="job_finish")
        batches[scope] = uuid.uuid4()
        audit_intent_record(
            batch_id=batches[scope],
            actor=users["superuser"],
            project_id=project.project_id,
            project_name=project.name,
            jobs=[JobRef(unsettled, f"{scope}-unsettled", "job_finish")],
            client_ip="127.0.0.1",
            user_agent="test",
        )
        jobs[f"{scope}-unsettled"] = unsettled
        queued = simulator.add_job(project.project_id, name=f"{scope}-queued", status="job_finish")
        requester = services.Requester(user=users["superuser"])
        plan = services.flink_jobs_delete_plan(requester=requester, project=project, job_ids=[str(queued)])
        delete_batches[scope] = services.flink_jobs_delete(
            requester=requester, project=project, token=plan.token
        )
        # A delete batch that ended with a snapshot kept of its deleted job: what restore works from.
        ended = simulator.add_job(project.project_id, name=f"{scope}-deleted", status="job_finish")
        plan = services.flink_jobs_delete_plan(requester=requester, project=project, job_ids=[str(ended)])
        restorable[scope] = services.flink_jobs_delete(requester=requester, project=project, token=plan.token)
        runner.batch_run(restorable[scope].pk)
        restorable[scope].refresh_from_db()
        jobs[f"{scope}-deleted"] = ended
    simulator.clear_requests()
    return {
        "users": users,
        "projects": projects,
        "jobs": jobs,
        "batches": batches,
        "delete_batches": delete_batches,
        "policies": policies,
        "restorable": restorable,
    }


def request_for(world, name: str, scope: str, role: str):
    """(url, data) for one cell; a delete gets a genuine confirmation when the role may make one."""
    project = world["projects"].get(scope)
    pid = project.project_id if project else None
    job = world["jobs"].get(scope)
    data = {}
    if name == "dli-job-list":
        url = reverse(name, args=[pid])
    elif name == "dli-job-delete-review":
        url, data = reverse(name, args=[pid]), {"job_ids": [str(job)]}
    elif name == "dli-job-delete":
        url, data = reverse(name, args=[pid]), {"token": "not-a-confirmation"}
        user = world["users"].get(role)
        if role in ("operator", "owner", "superuser") and (scope == "own" or role == "superuser"):
            plan = services.flink_jobs_delete_plan(
                requester=services.Requester(user=user),
                project=project,
                job_ids=[str(job)],
            )
            data = {"token": plan.token}
    elif name in ("dli-job-detail", "dli-job-definition"):
        url = reverse(name, args=[pid, job])
    elif name == "dli-job-check":
        url = reverse(name, args=[pid, world["jobs"][f"{scope}-unsettled"]])
    elif name in ("dli-batch-detail", "dli-batch-progress", "dli-batch-cancel", "dli-batch-check"):
        url = reverse(name, args=[pid, world["delete_batches"][scope].pk])
    elif name in ("dli-policy-list", "dli-policy-create", "dli-project-webhook"):
        url = reverse(name, args=[pid])
    elif name.startswith("dli-policy-"):
        url = reverse(name, args=[pid, world["policies"][scope].pk])
    elif name in ("dli-audit-batch", "dli-audit-batch-rows", "dli-audit-batch-snapshots"):
        url = reverse(name, args=[world["batches"][scope]])
    elif name == "dli-batch-snapshots":
        url = (
            reverse(name, args=[pid, world["restorable"][scope].pk])
            + f"?job={world['jobs'][f'{scope}-deleted']}"
        )
    elif name == "dli-batch-restore-review":
        url, data = reverse(name, args=[pid, world["restorable"][scope].pk]), {"scope": "all"}
    elif name == "dli-batch-restore":
        url, data = reverse(name, args=[pid, world["restorable"][scope].pk]), {"token": "not-a-confirmation"}
        if role in ("owner", "superuser") and (scope == "own" or role == "superuser"):
            plan = services.flink_jobs_restore_plan(
                requester=services.Requester(user=world["users"][role]),
                project=project,
                batch=world["restorable"][scope],
            )
            data = {"token": plan.token}
    else:
        url = reverse(name)
    return url, data


@pytest.mark.parametrize("name, scope, role", CELLS, ids=[f"{n}-{s}-{r}" for n, s, r in CELLS])
def test_cell(world, simulator, name, scope, role):
    method, mutating, scopes = MATRIX[name]
    expected = scopes[scope][role]
    client = Client()
    if role != "anonymous":
        client.force_login(world["users"][role])
    targets = [reverse(n) for n in ADMIN_SAMPLES] if name == "admin:*" else [None]
    refusals_before = AuditRecord.objects.filter(kind="refusal").count()
    simulator.clear_requests()

    for target in targets:
        url, data = (target, {}) if target else request_for(world, name, scope, role)
        headers = {"HX-Request": "true"} if name.endswith("-rows") else {}  # a fragment URL
        response = client.post(url, data) if method == "POST" else client.get(url, headers=headers)
        if expected == LOGIN and headers:
            # htmx cannot follow a redirect into a fragment: it is told to load the login page instead.
            assert response.status_code == 401 and response["HX-Redirect"].startswith("/accounts/login/"), url
        elif expected == LOGIN:
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
        elif expected == ADMIN_LOGIN:
            assert response.status_code == 302, url
            assert response["Location"].startswith(("/admin/login/", "/accounts/login/")), url
        else:
            assert response.status_code == expected, (url, response.content[:300])

    refused = expected in (403, 404)
    if mutating and name.startswith("dli-job") and (refused or expected == LOGIN):
        assert simulator.requests() == [], "a refused request must not reach DLI"
    if mutating and refused:
        assert AuditRecord.objects.filter(kind="refusal").count() == refusals_before + 1, (
            "refusal not audited"
        )


def _url_names(resolver: URLResolver, namespace: str = "") -> set[str]:
    names = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= _url_names(pattern, inner)
        elif isinstance(pattern, URLPattern):
            names.add(
                f"{namespace}{pattern.name}" if pattern.name else f"{namespace}<unnamed {pattern.pattern}>"
            )
    return names


def test_every_url_pattern_is_in_the_matrix():
    uncovered = {
        name
        for name in _url_names(get_resolver())
        if name not in MATRIX and not (name.startswith("admin:") and "admin:*" in MATRIX)
    }
    assert not uncovered, f"URL patterns missing from tests/authorization_matrix.py: {sorted(uncovered)}"


def test_the_matrix_names_only_urls_that_exist():
    existing = _url_names(get_resolver())
    assert {name for name in MATRIX if name != "admin:*"} <= existing
    assert set(ADMIN_SAMPLES) <= existing


def test_a_mixed_batch_of_two_projects_is_refused_whole(world, simulator):
    client = Client()
    client.force_login(world["users"]["operator"])
    mixed = [str(world["jobs"]["own"]), str(world["jobs"]["other"])]
    response = client.post(
        reverse("dli-job-delete-review", args=[world["projects"]["own"].project_id]), {"job_ids": mixed}
    )
    assert response.status_code == 400
    assert re.search("not jobs of", response.content.decode())
    assert simulator.requests(op="batch_delete") == []
    assert simulator.job(world["projects"]["own"].project_id, world["jobs"]["own"]) is not None
