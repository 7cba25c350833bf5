"""The simulator's demo data: a few DLI projects full of realistic Flink jobs, identical on every run.

Everything derives from fixed seeds and a fixed reference moment (never now()), so a demo, a screenshot
and a test see the same jobs. The seed is built once per process and shared read-only: the simulator
copies only the per-project maps on reset and replaces a job dict instead of mutating it.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# The 14 status values of DLI's Flink job API (docs/dli-api.md §4), each with a realistic weight.
STATUS_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "job_init": 12,
        "job_submitting": 2,
        "job_submit_fail": 9,
        "job_running": 14,
        "job_running_exception": 10,
        "job_downloading": 1,
        "job_idle": 3,
        "job_canceling": 1.5,
        "job_cancel_success": 19,
        "job_cancel_fail": 2,
        "job_savepointing": 1,
        "job_arrearage_stopped": 1,
        "job_arrearage_recovering": 0.5,
        "job_finish": 16,
    }
)
STATUSES: tuple[str, ...] = tuple(STATUS_WEIGHTS)
# Statuses of a job that never ran: DLI reports start_time 0 and duration 0 for them.
NEVER_STARTED = frozenset({"job_init", "job_submitting", "job_submit_fail", "job_downloading"})
# Statuses whose duration still grows (measured up to the reference moment).
STILL_RUNNING = frozenset({"job_running", "job_idle", "job_savepointing", "job_arrearage_recovering"})
JOB_TYPES = ("flink_sql_job", "flink_jar_job", "flink_opensource_sql_job", "flink_sql_edge_job")

# "Now" for the demo data: create times spread over the ~9 months before it.
REFERENCE_TIME = datetime(2026, 11, 15, 8, 0, 0, tzinfo=UTC)
REFERENCE_MS = int(REFERENCE_TIME.timestamp() * 1000)
SPAN_MS = 270 * 24 * 3600 * 1000
FIRST_JOB_ID = 100_000


@dataclass(frozen=True)
class SeedProject:
    id: str
    name: str
    job_count: int


def project_id_for(name: str) -> str:
    """A DLI-looking project id (32 lowercase hex), the same for a name on every machine."""
    return hashlib.sha256(f"dli-admin demo project {name}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class _Flavour:
    name: str
    job_count: int
    env: str
    queues: tuple[str, ...]
    domains: tuple[str, ...]


_FLAVOURS = (
    _Flavour(
        "analytics-prod",
        412,
        "prod",
        ("analytics_shared", "analytics_prio", "flink_general"),
        ("orders", "payments", "clickstream", "inventory", "shipments", "search-log", "ledger", "pricing"),
    ),
    _Flavour(
        "streaming-staging",
        318,
        "staging",
        ("staging_shared", "staging_canary"),
        ("orders", "clickstream", "sessions", "ad-impressions", "cdc-mysql", "cdc-postgres", "user-profile"),
    ),
    _Flavour(
        "ml-features",
        247,
        "prod",
        ("ml_realtime", "ml_batch"),
        ("fraud-score", "recommendations", "user-profile", "feature", "clickstream", "embeddings"),
    ),
    _Flavour(
        "iot-telemetry",
        289,
        "prod",
        ("iot_ingest", "iot_rollup", "flink_general"),
        ("sensor", "telemetry", "iot-gateway", "device-state", "cdc-mysql", "alerts"),
    ),
    # One big project for paging, read-back and bulk-delete work at scale.
    _Flavour(
        "scale-10k",
        10_000,
        "perf",
        ("perf_shared", "perf_dedicated_a", "perf_dedicated_b", "perf_dedicated_c"),
        (
            "orders",
            "payments",
            "clickstream",
            "sessions",
            "sensor",
            "telemetry",
            "cdc-mysql",
            "cdc-postgres",
            "billing",
            "pricing",
            "fraud-score",
            "ledger",
        ),
    ),
)

DEMO_PROJECTS: list[SeedProject] = [
    SeedProject(project_id_for(f.name), f.name, f.job_count) for f in _FLAVOURS
]

_ACTIONS = (
    "enrich",
    "sessionize",
    "dedup",
    "aggregate",
    "to-obs",
    "to-dws",
    "to-kafka",
    "join-users",
    "window-5m",
    "rollup-hourly",
    "alerts",
    "sink-es",
    "mirror",
    "backfill",
    "validate",
    "features",
)
_SUFFIXES = (
    "",
    "",
    "",
    "-v2",
    "-v3",
    "-v4",
    "-2025q4",
    "-2026q1",
    "-2026q2",
    "-2026q3",
    "-nightly",
    "-canary",
)
_USERS = (
    "alice.meyer",
    "bob.schulz",
    "chen.wei",
    "dana.kowalski",
    "emre.yilmaz",
    "fatima.haddad",
    "etl-bot",
    "ci-deployer",
)
_TEAMS = ("data-eng", "analytics", "ml-platform", "sre", "finance-data")
_FAILURE_DESC = {
    "job_submit_fail": (
        "Submission failed: queue has insufficient CUs.",
        "Submission failed: SQL validation error.",
    ),
    "job_running_exception": (
        "TaskManager lost: heartbeat timed out.",
        "Checkpoint expired before completing.",
        "Sink connection refused.",
    ),
    "job_cancel_fail": ("Stop failed: savepoint could not be written.",),
    "job_arrearage_stopped": ("The account is in arrears.",),
}
_MAX_NAME = 57  # DLI's limit on a job name


@dataclass(frozen=True)
class Seed:
    """The demo jobs, read-only: jobs[project][job_id] -> job dict; order[project] ascending by time."""

    jobs: Mapping[str, Mapping[int, dict[str, Any]]]
    order: Mapping[str, tuple[int, ...]]
    next_job_id: int


def _job_configs(rng: random.Random, project: str) -> list[dict[str, Any]]:
    # A small pool of configurations shared by many jobs keeps 11k jobs cheap in memory.
    configs: list[dict[str, Any]] = []
    for _ in range(24):
        cu = rng.choice((2, 2, 4, 4, 8, 16))
        configs.append(
            {
                "checkpoint_enabled": rng.random() < 0.8,
                "checkpoint_mode": rng.choice(("exactly_once", "exactly_once", "at_least_once")),
                "checkpoint_interval": rng.choice((10, 30, 60, 300)),
                "log_enabled": True,
                "obs_bucket": f"dli-{project}-logs",
                "smn_topic": "",
                "edge_group_ids": [],
                "root_id": -1,
                "manager_cu_number": 1,
                "cu_number": cu,
                "parallel_number": rng.choice((1, 2, 4, cu)),
                "restart_when_exception": rng.random() < 0.6,
                "idle_state_retention": 3600,
                "udf_jar_url": "",
                "dirty_data_strategy": rng.choice(("0", "0", "1")),
                "entrypoint": "",
                "dependency_jars": [],
                "dependency_files": [],
                "executor_number": max(1, cu // 2),
                "executor_cu_number": 1,
                "resume_checkpoint": False,
                "resume_max_num": -1,
                "checkpoint_path": "",
                "runtime_config": "",
                "graph_editor_enabled": False,
                "tm_cus": 1,
                "tm_slot_num": max(1, cu // 2),
                "feature": "basic",
                "flink_version": rng.choice(("1.12", "1.15", "1.15", "1.17")),
                "image": "",
            }
        )
    return configs


def _project_jobs(
    flavour: _Flavour, project_id: str, first_id: int
) -> tuple[dict[int, dict[str, Any]], tuple[int, ...], int]:
    rng = random.Random(f"dli-admin demo jobs {flavour.name}")
    count = flavour.job_count
    # Every status appears at least once, the rest follow the weights; then shuffle which job gets which.
    statuses = list(STATUSES) + rng.choices(STATUSES, weights=list(STATUS_WEIGHTS.values()), k=count - 14)
    rng.shuffle(statuses)
    create_times = sorted(REFERENCE_MS - rng.randint(0, SPAN_MS) for _ in range(count))
    configs = _job_configs(rng, flavour.name)
    taken: set[str] = set()
    jobs: dict[int, dict[str, Any]] = {}
    job_id = first_id
    for status, created in zip(statuses, create_times, strict=True):
        job_id += rng.choice((1, 1, 1, 2, 3, 7))  # ids grow with time, with gaps like a shared sequence
        domain = rng.choice(flavour.domains)
        action = rng.choice(_ACTIONS)
        name = f"{domain}-{action}{rng.choice(_SUFFIXES)}"
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name}-{n}"
        taken.add(unique)
        job_type = rng.choices(JOB_TYPES[:3], weights=(20, 25, 55))[0]
        user = rng.choice(_USERS)
        if status in NEVER_STARTED:
            start, duration = 0, 0
        else:
            start = min(created + rng.randint(20_000, 2 * 24 * 3600 * 1000), REFERENCE_MS - 1000)
            lived = REFERENCE_MS - start
            duration = lived if status in STILL_RUNNING else rng.randint(60_000, max(60_000, lived))
        has_savepoint = status in ("job_cancel_success", "job_running") and rng.random() < 0.35
        tags = {} if rng.random() < 0.15 else {"team": rng.choice(_TEAMS), "env": flavour.env}
        if tags and rng.random() < 0.3:
            tags["owner"] = user.replace(".", "-")
        is_jar = job_type == "flink_jar_job"
        sql = f"INSERT INTO {domain.replace('-', '_')}_sink SELECT * FROM source;"  # noqa: S608  demo text
        camel = "".join(part.capitalize() for part in f"{domain}-{action}".split("-"))
        jobs[job_id] = {
            "job_id": job_id,
            "name": unique[:_MAX_NAME],
            "desc": "" if rng.random() < 0.4 else f"{domain.replace('-', ' ')} {action.replace('-', ' ')}",
            "user_name": user,
            "job_type": job_type,
            "status": status,
            "status_desc": rng.choice(_FAILURE_DESC[status]) if status in _FAILURE_DESC else "",
            "create_time": created,
            "start_time": start,
            "duration": duration,
            "root_id": -1,
            "graph_editor_enabled": False,
            "has_savepoint": has_savepoint,
            "queue_name": rng.choice(flavour.queues),
            "edge_group_ids": [],
            "restart_times": rng.randint(1, 9)
            if status == "job_running_exception"
            else rng.choice((0, 0, 0, 1)),
            "savepoint_path": f"obs://dli-{flavour.name}-savepoints/flink/{job_id}/" if has_savepoint else "",
            # Returned only with show_detail=true and by show:
            "user_id": hashlib.sha256(user.encode()).hexdigest()[:32],
            "project_id": project_id,
            "sql_body": "" if is_jar else sql,
            "run_mode": rng.choice(("shared_cluster", "shared_cluster", "exclusive_cluster")),
            "job_config": rng.choice(configs),
            "main_class": f"com.example.flink.{camel}Job" if is_jar else "",
            "entrypoint_args": "",
            "execution_graph": "",
            "update_time": max(created, start) + rng.randint(0, 3600_000),
            # Not a field DLI returns in a job (UNCERTAIN); kept so the list's `tags` filter has data.
            "tags": tags,
        }
        if is_jar:  # a jar job's config names its jar (what a restore needs); SQL jobs share pooled configs
            job = jobs[job_id]
            job["job_config"] = {
                **job["job_config"],
                "entrypoint": f"obs://dli-{flavour.name}-jars/{camel}.jar",
            }
    order = tuple(sorted(jobs, key=lambda i: (jobs[i]["create_time"], i)))
    return jobs, order, job_id


@functools.cache
def build_seed() -> Seed:
    """The demo jobs of every DEMO_PROJECTS entry (built once per process, then shared)."""
    jobs: dict[str, Mapping[int, dict[str, Any]]] = {}
    order: dict[str, tuple[int, ...]] = {}
    last_id = FIRST_JOB_ID
    for flavour, project in zip(_FLAVOURS, DEMO_PROJECTS, strict=True):
        project_jobs, project_order, last_id = _project_jobs(flavour, project.id, last_id)
        jobs[project.id] = MappingProxyType(project_jobs)
        order[project.id] = project_order
        last_id += 1000  # a gap between projects, as a shared id sequence would leave
    return Seed(jobs=MappingProxyType(jobs), order=MappingProxyType(order), next_job_id=last_id + 1)
