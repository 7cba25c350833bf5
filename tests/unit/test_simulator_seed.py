"""The simulator's demo data is realistic, complete and identical on every run."""

from __future__ import annotations

import re
from collections import Counter

from dli_admin.simulator import seed
from dli_admin.simulator.seed import DEMO_PROJECTS, NEVER_STARTED, STATUSES, build_seed

NORMAL = [p for p in DEMO_PROJECTS if p.name != "scale-10k"]


def test_the_demo_projects_are_pinned():
    # Other code (demo setup, docs, tests) may quote these ids: they must never drift.
    assert [(p.id, p.name, p.job_count) for p in DEMO_PROJECTS] == [
        ("bfe33c146582d0bc97ee104e93226f18", "analytics-prod", 412),
        ("b82ff99ee8e7b1f5dc3b45812cb8f3fa", "streaming-staging", 318),
        ("2a41548f2cd2bdd868eb6f3ccf1617d5", "ml-features", 247),
        ("5bf867d0b7f3659f76191a11d21f864b", "iot-telemetry", 289),
        ("6abb9501eac07c6ae27be420c60c52bd", "scale-10k", 10_000),
    ]
    assert all(re.fullmatch(r"[0-9a-f]{32}", p.id) for p in DEMO_PROJECTS)
    assert all(p.id == seed.project_id_for(p.name) for p in DEMO_PROJECTS)


def test_every_project_has_its_job_count():
    jobs = build_seed().jobs
    for project in DEMO_PROJECTS:
        assert len(jobs[project.id]) == project.job_count
        assert len(build_seed().order[project.id]) == project.job_count


def test_every_status_is_in_every_project_with_realistic_weights():
    assert len(STATUSES) == 14
    for project in DEMO_PROJECTS:
        counts = Counter(job["status"] for job in build_seed().jobs[project.id].values())
        assert set(counts) == set(STATUSES), project.name
    big = Counter(job["status"] for job in build_seed().jobs[DEMO_PROJECTS[-1].id].values())
    assert big["job_cancel_success"] > big["job_running"] > big["job_arrearage_stopped"]
    assert big["job_arrearage_recovering"] < big["job_submit_fail"]


def test_job_ids_are_unique_across_projects():
    ids = [job_id for jobs in build_seed().jobs.values() for job_id in jobs]

    assert len(ids) == len(set(ids)) == sum(p.job_count for p in DEMO_PROJECTS)
    assert min(ids) > seed.FIRST_JOB_ID
    assert build_seed().next_job_id > max(ids)


def test_jobs_look_like_dli_jobs():
    for project in NORMAL:
        jobs = list(build_seed().jobs[project.id].values())
        names = [job["name"] for job in jobs]
        assert len(set(names)) == len(names)
        for job in jobs:
            assert seed.REFERENCE_MS - seed.SPAN_MS <= job["create_time"] <= seed.REFERENCE_MS
            assert len(job["name"]) <= 57
            assert job["job_type"] in ("flink_sql_job", "flink_jar_job", "flink_opensource_sql_job")
            assert job["project_id"] == project.id
            assert job["root_id"] == -1
            assert isinstance(job["tags"], dict)
            if job["status"] in NEVER_STARTED:
                assert job["start_time"] == job["duration"] == 0
            else:
                assert job["create_time"] < job["start_time"] < seed.REFERENCE_MS
                assert job["duration"] > 0
        assert len({job["user_name"] for job in jobs}) > 3
        assert len({job["queue_name"] for job in jobs}) > 1
        assert any(job["tags"].get("team") for job in jobs)


def test_time_order_is_create_time_then_id():
    for project in DEMO_PROJECTS:
        jobs = build_seed().jobs[project.id]
        keys = [(jobs[i]["create_time"], i) for i in build_seed().order[project.id]]
        assert keys == sorted(keys)


def test_the_seed_is_deterministic():
    flavour = seed._FLAVOURS[0]
    again, order, _ = seed._project_jobs(flavour, DEMO_PROJECTS[0].id, seed.FIRST_JOB_ID)

    assert again == dict(build_seed().jobs[DEMO_PROJECTS[0].id])
    assert order == build_seed().order[DEMO_PROJECTS[0].id]
