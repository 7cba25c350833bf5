"""Typed results of DLI calls: frozen dataclasses the rest of dli-admin codes against."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dli_admin.dli.errors import DliError


@dataclass(frozen=True, slots=True)
class Job:
    """One Flink job as DLI lists or shows it."""

    job_id: int
    name: str = ""
    status: str = ""
    status_desc: str = ""
    job_type: str = ""
    queue_name: str = ""
    user_name: str = ""
    desc: str = ""
    create_time: datetime | None = None  # aware UTC
    start_time: datetime | None = None  # None: never started (DLI sends 0 or null)
    duration: timedelta | None = None
    root_id: int | None = None  # None: no parent (DLI sends -1)
    # The job object exactly as DLI sent it (decoded JSON): with show_detail=true, or from show, it holds the
    # definition (sql_body, job_config, main_class, ...) that a snapshot keeps. Not compared.
    detail: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def has_definition(self) -> bool:
        """DLI sent the job's definition: job_config comes only with show_detail=true or from show (§2)."""
        return self.detail is not None and isinstance(self.detail.get("job_config"), dict)


@dataclass(frozen=True, slots=True)
class CreatedJob:
    """DLI's answer to a create (SQL or jar job): the new job's id and its status (job_init)."""

    job_id: int
    status_name: str
    request_id: str | None
    attempts: int  # sends of the request (a create is never sent again once it may have reached DLI)


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """One job as DLI's show call describes it: the summary, and what the job runs and how."""

    job: Job
    sql_body: str = ""
    run_mode: str = ""  # shared_cluster, exclusive_cluster or edge_node
    main_class: str = ""  # a jar job's entry point
    entrypoint_args: str = ""
    update_time: datetime | None = None
    job_config: Mapping[str, Any] = field(default_factory=dict)  # as DLI sent it (SDK FlinkJobConfig)
    tags: tuple[tuple[str, str], ...] = ()  # only if DLI sends them (no source documents it)
    detail: Mapping[str, Any] = field(default_factory=dict)  # the whole job_detail object, for a download

    @property
    def config_items(self) -> list[tuple[str, str]]:
        """job_config as sorted (name, text) pairs; values that are not text are shown as JSON."""
        return [
            (name, value if isinstance(value, str) else json.dumps(value))
            for name, value in sorted(self.job_config.items())
        ]

    @property
    def cu_number(self) -> object:
        return self.job_config.get("cu_number")

    @property
    def parallel_number(self) -> object:
        return self.job_config.get("parallel_number")


@dataclass(frozen=True, slots=True)
class JobPage:
    total_count: int  # every job matching the filters, not just this page
    jobs: tuple[Job, ...]
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class DeleteReply:
    """One element of a delete (or stop) reply."""

    is_success: bool
    message: str


class ReplyShape(StrEnum):
    """What a 2xx batch reply looked like. Only PER_ID lets a reply be matched to an id, by position."""

    PER_ID = "per_id"  # an array with one element per requested id
    COUNT_MISMATCH = "count_mismatch"  # an array of another length
    SINGLE_OBJECT = "single_object"  # one {is_success, message} object for the whole chunk
    EMPTY = "empty"  # no body at all
    NOT_JSON = "not_json"  # e.g. the documented example, which has a trailing comma
    UNPARSEABLE = "unparseable"  # JSON, but not the elements DLI documents


class ChunkOutcome(StrEnum):
    REPLIED = "replied"  # DLI answered 2xx: see the shape
    REFUSED = "refused"  # DLI provably did nothing (or the chunk was never sent)
    AMBIGUOUS = "ambiguous"  # the request may have reached DLI; only reading the jobs back can tell


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """The fate of one batch call. Deciding what happened to each job is the caller's job."""

    job_ids: tuple[int, ...]
    outcome: ChunkOutcome
    shape: ReplyShape | None
    replies: tuple[DeleteReply, ...]
    error: DliError | None
    attempts: int  # how many times the request was sent (0: it never left this machine)
    request_id: str | None
    http_status: int | None
    duration: float  # seconds, pauses between attempts included

    def reply_for(self, job_id: int) -> DeleteReply | None:
        """The element at this id's position; only when the reply has exactly one element per id."""
        if self.shape is not ReplyShape.PER_ID or job_id not in self.job_ids:
            return None
        return self.replies[self.job_ids.index(job_id)]


@dataclass(frozen=True, slots=True)
class DliCall:
    """One attempt of a DLI call, as DliClient's observer sees it (for metrics): never ids or secrets.

    operation: list, show, delete, batch_delete or batch_stop. status: DLI's HTTP status, or None when no
    reply came (then `failure` says why: network, timeout, ...; or not_sent when the IAM login failed).
    """

    operation: str
    method: str
    status: int | None
    failure: str
    attempt: int
    duration: float  # seconds, this attempt only
