"""The simulator's jobs in memory: what DLI would hold for each project, and the operations on it.

Not thread-safe by itself: the Simulator calls every method under its one state lock.
Job dicts are shared with the seed and never mutated: a change replaces the dict (copy on write), which is
what lets reset() copy a 10,000-job project in about a millisecond.
"""

from __future__ import annotations

import bisect
import copy
import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .seed import JOB_TYPES, NEVER_STARTED, STATUSES, Seed

# The fields of a jobs[] entry in a list reply (show_detail=false), docs/dli-api.md §2.
# UNCERTAIN: the doc says user_name, duration and root_id are "valid only when show_detail=false";
# whether DLI then omits them is not known, so they are always sent.
SUMMARY_FIELDS = (
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
)
# show_detail=true and show add these. `tags` is never sent: no source lists it as a job field (UNCERTAIN).
DETAIL_FIELDS = (
    *SUMMARY_FIELDS,
    "user_id",
    "project_id",
    "sql_body",
    "run_mode",
    "job_config",
    "main_class",
    "entrypoint_args",
    "execution_graph",
    "update_time",
)
ALL_FIELDS = frozenset((*DETAIL_FIELDS, "tags"))
STOPPABLE = frozenset({"job_running", "job_submitting"})
MAX_LIMIT = 100
MAX_NAME, MAX_DESC = 57, 512  # create: name and desc lengths (docs/dli-api.md §12)
# Create request fields (docs/dli-api.md §12): where each goes in the stored job, and its JSON type.
# Top-level job fields; everything else documented goes into job_config.
CREATE_TOP_FIELDS = {
    "name": str,
    "desc": str,
    "queue_name": str,
    "sql_body": str,
    "run_mode": str,
    "job_type": str,
    "main_class": str,
    "entrypoint_args": str,
}
CREATE_CONFIG_FIELDS: dict[str, type | tuple[type, ...]] = {
    "cu_number": int,
    "manager_cu_number": int,
    "parallel_number": int,
    "checkpoint_enabled": bool,
    # UNCERTAIN: the create tables type checkpoint_mode as Integer (1, 2) while the example and the job
    # detail use "exactly_once"/"at_least_once"; both are accepted.
    "checkpoint_mode": (str, int),
    "checkpoint_interval": int,
    "obs_bucket": str,
    "log_enabled": bool,
    "smn_topic": str,
    "restart_when_exception": bool,
    "idle_state_retention": int,
    "dirty_data_strategy": str,
    "udf_jar_url": str,
    "tm_cus": int,
    "tm_slot_num": int,
    "resume_checkpoint": bool,
    "resume_max_num": int,
    "checkpoint_path": str,
    "runtime_config": str,
    "flink_version": str,
    "execution_agency_urn": str,
    "resource_config_version": str,
    "resource_config": dict,
    "entrypoint": str,
    "dependency_jars": list,
    "dependency_files": list,
    "feature": str,
    "image": str,
    "template_id": int,
}
SQL_CREATE_TYPES = ("flink_sql_job", "flink_opensource_sql_job")


class ParameterError(ValueError):
    """A request DLI refuses with 400 DLI.0001 (parameter check error)."""


class NameTaken(ValueError):
    """A create with the name of an existing job: 400 DLI.0006 "object exists" (UNCERTAIN, §12)."""


class NoSuchQueue(ValueError):
    """A create naming a queue the project does not have: 400 DLI.0002 "object does not exist" (§5)."""


@dataclass(frozen=True)
class ListQuery:
    status: str | None = None
    name: str | None = None
    queue_name: str | None = None
    user_name: str | None = None
    job_type: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    root_job_id: int | None = None
    descending: bool = True
    offset: int = 0
    limit: int = 10
    show_detail: bool = False

    @property
    def filtered(self) -> bool:
        return any(
            value is not None
            for value in (
                self.status,
                self.name,
                self.queue_name,
                self.user_name,
                self.job_type,
                self.root_job_id,
            )
        ) or bool(self.tags)

    def matches(self, job: Mapping[str, Any]) -> bool:
        return (
            (self.status is None or job["status"] == self.status)
            # UNCERTAIN: DLI documents `name` without saying exact or fuzzy; a case-insensitive substring
            # match is the forgiving guess (a client that sends the exact name still finds the job).
            and (self.name is None or self.name.lower() in job["name"].lower())
            and (self.queue_name is None or job["queue_name"] == self.queue_name)
            and (self.user_name is None or job["user_name"] == self.user_name)
            and (self.job_type is None or job["job_type"] == self.job_type)
            and (self.root_job_id is None or job["root_id"] == self.root_job_id)
            and all(job["tags"].get(key) == value for key, value in self.tags)
        )


def _int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ParameterError(f"Parameter check error: {name} must be an integer, not {raw!r}.") from None
    if value < low or (high is not None and value > high):
        limits = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ParameterError(f"Parameter check error: {name} must be {limits}, not {value}.")
    return value


def parse_list_query(query: Mapping[str, str]) -> ListQuery:
    """The list call's query string, checked as DLI checks it (ParameterError -> 400 DLI.0001)."""
    status = query.get("status") or None
    # UNCERTAIN: whether DLI refuses an unknown status/job_type or returns nothing; refusing shows bugs.
    if status is not None and status not in STATUSES:
        raise ParameterError(f"Parameter check error: unknown status {status!r}.")
    job_type = query.get("job_type") or None
    if job_type is not None and job_type not in JOB_TYPES:
        raise ParameterError(f"Parameter check error: unknown job_type {job_type!r}.")
    order = (query.get("order") or "desc").lower()
    if order not in ("asc", "desc"):
        raise ParameterError(f"Parameter check error: order must be asc or desc, not {order!r}.")
    show_detail = (query.get("show_detail") or "false").lower()
    if show_detail not in ("true", "false"):
        raise ParameterError(
            f"Parameter check error: show_detail must be true or false, not {show_detail!r}."
        )
    tags: list[tuple[str, str]] = []
    for pair in (query.get("tags") or "").split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"Parameter check error: tags must look like k=v,k2=v2, not {pair!r}.")
        tags.append((key.strip(), value.strip()))
    root = query.get("root_job_id")
    return ListQuery(
        status=status,
        name=query.get("name") or None,
        queue_name=query.get("queue_name") or None,
        user_name=query.get("user_name") or None,
        job_type=job_type,
        tags=tuple(tags),
        root_job_id=_int_param(query, "root_job_id", 0, -1, None) if root else None,
        descending=order == "desc",
        offset=_int_param(query, "offset", 0, 0, None),
        limit=_int_param(query, "limit", 10, 0, MAX_LIMIT),
        show_detail=show_detail == "true",
    )


def render(job: Mapping[str, Any], detail: bool) -> dict[str, Any]:
    """A job as DLI sends it. Nested values are shared, which is safe: stored jobs are never mutated."""
    return {name: job[name] for name in (DETAIL_FIELDS if detail else SUMMARY_FIELDS)}


class StopOutcome(enum.Enum):
    DELIVERED = "delivered"
    MISSING = "missing"
    NOT_STOPPABLE = "not_stoppable"


@dataclass(frozen=True)
class _Stopping:
    due: float  # monotonic time at which job_canceling becomes job_cancel_success
    savepoint: bool


class ProjectJobs:
    """One project's jobs: id -> job dict, the ids in time order, and the stops in flight."""

    def __init__(self, jobs: dict[int, dict[str, Any]], order: list[int]) -> None:
        self.jobs = jobs
        self.order = order  # ascending (create_time, job_id); may hold deleted ids until compacted
        self.stopping: dict[int, _Stopping] = {}
        self._stale = False

    def _key(self, job_id: int) -> tuple[int, int]:
        return (self.jobs[job_id]["create_time"], job_id)

    def live_order(self) -> list[int]:
        if self._stale:
            self.order = [job_id for job_id in self.order if job_id in self.jobs]
            self._stale = False
        return self.order

    def settle(self, now: float) -> None:
        """Finish the stops that are due (evaluated lazily on every access: no timers)."""
        for job_id, stopping in list(self.stopping.items()):
            if stopping.due > now:
                continue
            del self.stopping[job_id]
            job = self.jobs.get(job_id)
            if job is None or job["status"] != "job_canceling":
                continue
            changes: dict[str, Any] = {"status": "job_cancel_success"}
            if stopping.savepoint:
                changes |= {"has_savepoint": True, "savepoint_path": f"obs://dli-savepoints/flink/{job_id}/"}
            self.jobs[job_id] = {**job, **changes}

    def delete(self, job_id: int) -> bool:
        if self.jobs.pop(job_id, None) is None:
            return False
        self.stopping.pop(job_id, None)
        self._stale = True
        return True

    def insert(self, job: dict[str, Any]) -> None:
        self.jobs[job["job_id"]] = job
        order = self.live_order()
        bisect.insort(order, job["job_id"], key=self._key)


class JobStore:
    """Every project's jobs; reset() goes back to the seed."""

    def __init__(self, seed: Seed) -> None:
        self._seed = seed
        self.projects: dict[str, ProjectJobs] = {}
        self.next_job_id = seed.next_job_id
        self.reset()

    def reset(self) -> None:
        self.projects = {
            project_id: ProjectJobs(dict(jobs), list(self._seed.order[project_id]))
            for project_id, jobs in self._seed.jobs.items()
        }
        self.next_job_id = self._seed.next_job_id
        if not hasattr(self, "_seed_queues"):
            self._seed_queues = {
                project_id: frozenset(job["queue_name"] for job in jobs.values())
                for project_id, jobs in self._seed.jobs.items()
            }
        # A project's queues: those its seeded jobs run on, plus any an added job names, minus removed ones.
        self.queues: dict[str, set[str]] = {pid: set(queues) for pid, queues in self._seed_queues.items()}

    def queue_exists(self, project_id: str, queue: str) -> bool:
        return queue in self.queues.get(project_id, set())

    def remove_queue(self, project_id: str, queue: str) -> None:
        self.queues.get(project_id, set()).discard(queue)

    def create(self, project_id: str, kind: str, body: object, now: float, now_ms: int) -> dict[str, Any]:
        """A create SQL job (kind "sql") or create jar job ("jar") request: the new job, in job_init.

        ParameterError for a body DLI refuses as invalid (DLI.0001); NameTaken and NoSuchQueue for the
        other refusals the create path documents (UNCERTAIN: their exact codes, see docs/dli-api.md §12).
        """
        if not isinstance(body, dict):
            raise ParameterError("Parameter check error: the request body must be a JSON object.")
        for name, value in body.items():
            wanted = CREATE_TOP_FIELDS.get(name) or CREATE_CONFIG_FIELDS.get(name)
            if name == "tags":
                if not isinstance(value, list) or not all(
                    isinstance(tag, dict)
                    and isinstance(tag.get("key"), str)
                    and isinstance(tag.get("value"), str)
                    for tag in value
                ):
                    raise ParameterError("Parameter check error: tags must be an array of {key, value}.")
                continue
            if wanted is None:
                continue  # UNCERTAIN: DLI's handling of unknown fields; ignoring them is the lenient guess
            allowed = wanted if isinstance(wanted, tuple) else (wanted,)
            # A JSON boolean where a number is documented is refused (Python's bool is an int).
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                raise ParameterError(f"Parameter check error: {name} has the wrong type.")
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
            raise ParameterError(f"Parameter check error: name must be 1 to {MAX_NAME} characters.")
        if len(body.get("desc", "")) > MAX_DESC:
            raise ParameterError(f"Parameter check error: desc must be at most {MAX_DESC} characters.")
        job_type = (body.get("job_type") or "flink_opensource_sql_job") if kind == "sql" else "flink_jar_job"
        if kind == "sql" and job_type not in SQL_CREATE_TYPES:
            raise ParameterError(f"Parameter check error: unknown job_type {job_type!r}.")
        queue = body.get("queue_name") or ""
        if queue and not self.queue_exists(project_id, queue):
            raise NoSuchQueue(f"There is no queue named {queue}")
        project = self._project(project_id, now)
        if project is not None and any(job["name"] == name for job in project.jobs.values()):
            raise NameTaken(f"The job name {name} already exists.")
        config: dict[str, Any] = {"checkpoint_enabled": False, "cu_number": 2, "parallel_number": 1}
        config |= {key: copy.deepcopy(value) for key, value in body.items() if key in CREATE_CONFIG_FIELDS}
        fields = {key: value for key, value in body.items() if key in CREATE_TOP_FIELDS}
        tags = {tag["key"]: tag["value"] for tag in body.get("tags", [])}
        job_id = self.add(
            project_id,
            {**fields, "job_type": job_type, "status": "job_init", "job_config": config, "tags": tags},
            now_ms,
        )
        return self.projects[project_id].jobs[job_id]

    def seeded(self, project_id: str) -> bool:
        return project_id in self._seed.jobs

    def _project(self, project_id: str, now: float) -> ProjectJobs | None:
        # UNCERTAIN: DLI has no per-project existence check that we know of; an unknown project simply
        # has no jobs (list is empty, every job id is unknown).
        project = self.projects.get(project_id)
        if project is not None:
            project.settle(now)
        return project

    def list(self, project_id: str, query: ListQuery, now: float) -> tuple[int, list[dict[str, Any]]]:
        project = self._project(project_id, now)
        if project is None:
            return 0, []
        order = project.live_order()
        ids = reversed(order) if query.descending else iter(order)
        if query.filtered:
            matching = [job_id for job_id in ids if query.matches(project.jobs[job_id])]
        else:
            matching = list(ids)
        page = matching[query.offset : query.offset + query.limit]
        return len(matching), [render(project.jobs[job_id], query.show_detail) for job_id in page]

    def get(self, project_id: str, job_id: int, now: float) -> dict[str, Any] | None:
        project = self._project(project_id, now)
        job = project.jobs.get(job_id) if project else None
        return copy.deepcopy(job) if job is not None else None

    def exists(self, project_id: str, job_id: int, now: float) -> bool:
        project = self._project(project_id, now)
        return project is not None and job_id in project.jobs

    def delete(self, project_id: str, job_id: int, now: float) -> bool:
        project = self._project(project_id, now)
        return project is not None and project.delete(job_id)

    def stop(self, project_id: str, job_id: int, *, now: float, delay: float, savepoint: bool) -> StopOutcome:
        project = self._project(project_id, now)
        job = project.jobs.get(job_id) if project else None
        if project is None or job is None:
            return StopOutcome.MISSING
        if job["status"] not in STOPPABLE:
            # UNCERTAIN: DLI might accept the request anyway; a per-element false is the honest guess.
            return StopOutcome.NOT_STOPPABLE
        project.jobs[job_id] = {**job, "status": "job_canceling"}
        project.stopping[job_id] = _Stopping(due=now + delay, savepoint=savepoint)
        project.settle(now)  # stop_delay 0 finishes at once
        return StopOutcome.DELIVERED

    def add(self, project_id: str, fields: Mapping[str, Any], now_ms: int) -> int:
        if unknown := set(fields) - ALL_FIELDS:
            raise TypeError(f"unknown job field(s): {', '.join(sorted(unknown))}")
        job_id = fields.get("job_id", self.next_job_id)
        if isinstance(job_id, bool) or not isinstance(job_id, int):
            raise TypeError(f"job_id must be an int, not {job_id!r}")
        if any(job_id in project.jobs for project in self.projects.values()):
            raise ValueError(f"job id {job_id} is taken")
        status = fields.get("status", "job_init")
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        created = fields.get("create_time", now_ms)
        job: dict[str, Any] = {
            "job_id": job_id,
            "name": f"job-{job_id}",
            "desc": "",
            "user_name": "dli-demo-operator",
            "job_type": "flink_opensource_sql_job",
            "status": status,
            "status_desc": "",
            "create_time": created,
            "start_time": 0 if status in NEVER_STARTED else created,
            "duration": 0,
            "root_id": -1,
            "graph_editor_enabled": False,
            "has_savepoint": False,
            "queue_name": "flink_general",
            "edge_group_ids": [],
            "restart_times": 0,
            "savepoint_path": "",
            "user_id": hashlib.sha256(b"dli-demo-operator").hexdigest()[:32],
            "project_id": project_id,
            "sql_body": "",
            "run_mode": "shared_cluster",
            "job_config": {"checkpoint_enabled": False, "cu_number": 2, "parallel_number": 1},
            "main_class": "",
            "entrypoint_args": "",
            "execution_graph": "",
            "update_time": created,
            "tags": {},
        }
        job |= copy.deepcopy(dict(fields))
        self.queues.setdefault(project_id, set()).add(job["queue_name"])
        project = self.projects.setdefault(project_id, ProjectJobs({}, []))
        project.insert(job)
        self.next_job_id = max(self.next_job_id, job_id + 1)
        return job_id

    def set_status(self, project_id: str, job_id: int, status: str, now: float, now_ms: int) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        project = self._project(project_id, now)
        job = project.jobs.get(job_id) if project else None
        if project is None or job is None:
            raise KeyError(f"no job {job_id} in project {project_id}")
        changes: dict[str, Any] = {"status": status}
        if status not in NEVER_STARTED and not job["start_time"]:
            changes["start_time"] = now_ms
        project.jobs[job_id] = {**job, **changes}
        project.stopping.pop(job_id, None)

    def counts(self) -> dict[str, int]:
        return {project_id: len(project.jobs) for project_id, project in self.projects.items()}
