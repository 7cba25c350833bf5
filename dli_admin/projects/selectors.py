"""A project's jobs read from DLI: one list call per page, a filter's every job, and job read-back."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from dli_admin.dli import PAGE_LIMIT, DliClient, DliError, ErrorCategory, Job, JobDefinition, JobPage

PAGE_SIZES = (10, 20, 50, 100)


@dataclass(frozen=True)
class JobFilters:
    status: str = ""
    name: str = ""
    queue_name: str = ""
    user_name: str = ""
    tags: str = ""
    job_type: str = ""
    order: str = "desc"

    def client_kwargs(self) -> dict[str, Any]:
        """The filters as DLI list parameters (empty ones left out)."""
        values = {
            "status": self.status,
            "name": self.name,
            "queue_name": self.queue_name,
            "user_name": self.user_name,
            "tags": self.tags,
            "job_type": self.job_type,
            "order": self.order,
        }
        return {key: value for key, value in values.items() if value}

    @property
    def active(self) -> bool:
        return any((self.status, self.name, self.queue_name, self.user_name, self.tags, self.job_type))


@dataclass(frozen=True)
class JobsPage:
    jobs: tuple[Job, ...]
    total_count: int
    page: int
    page_size: int

    @property
    def num_pages(self) -> int:
        return max(1, math.ceil(self.total_count / self.page_size))

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.jobs else 0

    @property
    def last_index(self) -> int:
        return (self.page - 1) * self.page_size + len(self.jobs)


def flink_jobs_page(*, client: DliClient, filters: JobFilters, page: int, page_size: int) -> JobsPage:
    """One page of the project's jobs: exactly one DLI list call."""
    result = client.list_jobs(offset=(page - 1) * page_size, limit=page_size, **filters.client_kwargs())
    return JobsPage(jobs=result.jobs, total_count=result.total_count, page=page, page_size=page_size)


class TooManyJobs(Exception):
    def __init__(self, total: int, ceiling: int):
        super().__init__(f"{total} jobs match; at most {ceiling} can be deleted at once.")
        self.total = total
        self.ceiling = ceiling


def flink_job_definition(*, client: DliClient, job_id: int) -> JobDefinition | None:
    """One job and its definition, as DLI's console shows it; None when DLI does not know the job."""
    try:
        return client.show_job_definition(job_id)
    except DliError as error:
        if error.category == ErrorCategory.NOT_FOUND:
            return None
        raise


def flink_jobs_matching(*, client: DliClient, filters: JobFilters, ceiling: int) -> list[Job]:
    """Every job matching the filter ("select all M"); refuses above the ceiling.

    The first page tells how many match; the other pages are then read a few at a time.
    """
    kwargs = filters.client_kwargs()
    first = client.list_jobs(offset=0, limit=PAGE_LIMIT, **kwargs)
    if first.total_count > ceiling:
        raise TooManyJobs(first.total_count, ceiling)
    pages = [first, *_pages_after(client, first, kwargs)]
    jobs = {job.job_id: job for page in pages for job in page.jobs}
    most = max(len(jobs), *(page.total_count for page in pages))
    if most > ceiling:  # jobs were created while we paged
        raise TooManyJobs(most, ceiling)
    return list(jobs.values())


def _pages_after(
    client: DliClient, first: JobPage, filters: Mapping[str, Any], *, detail: bool = False
) -> list[JobPage]:
    """The list pages after the first, a few at a time (DLI_CONCURRENCY): dli-admin's parallel pager."""
    offsets = range(PAGE_LIMIT, first.total_count, PAGE_LIMIT)
    with ThreadPoolExecutor(max_workers=settings.DLI_CONCURRENCY) as pool:
        return list(
            pool.map(
                lambda offset: client.list_jobs(
                    offset=offset, limit=PAGE_LIMIT, show_detail=detail, **filters
                ),
                offsets,
            )
        )


@dataclass
class ReadBack:
    """What DLI says now about some jobs: present, gone, or not known (the read failed)."""

    found: dict[int, Job] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)
    unknown: dict[int, str] = field(default_factory=dict)  # job id -> why it could not be read
    calls: int = 0


def flink_jobs_read(
    *,
    client: DliClient,
    job_ids: Iterable[int],
    narrow: Mapping[int, Mapping[str, str]] | None = None,
    detail: bool = False,
) -> ReadBack:
    """Read the jobs back in as few DLI calls as possible: one GET each, or list pages.

    `narrow` gives, per job, DLI list filters that the job is known to match whatever happened to it
    (its job type and owner never change), so that a list read covers only those jobs' group rather
    than the whole project, and a job absent from it is gone. Jobs without one are read against the
    unfiltered list. A GET per job costs one call each; listing a group costs ceil(group size / 100),
    which its first page tells, so choosing costs at most one call. Never called inside a transaction.
    `detail`: list with show_detail=true, so each found job carries its definition (a GET always does),
    at no extra call: what a delete's snapshot keeps.
    """
    groups: dict[tuple[tuple[str, str], ...], set[int]] = {}
    for job_id in job_ids:
        filters = tuple(sorted((narrow or {}).get(job_id, {}).items()))
        groups.setdefault(filters, set()).add(job_id)
    result = ReadBack()
    for filters, wanted in groups.items():
        _read_group(client, wanted, dict(filters), result, detail)
    return result


def _read_group(
    client: DliClient, wanted: set[int], filters: dict[str, str], result: ReadBack, detail: bool
) -> None:
    if len(wanted) > 2:
        try:
            first = client.list_jobs(offset=0, limit=PAGE_LIMIT, show_detail=detail, **filters)
            result.calls += 1
        except DliError:
            first = None  # fall back to one GET per job, which reports per-job failures
        if first is not None and math.ceil(first.total_count / PAGE_LIMIT) - 1 < len(wanted):
            _read_by_listing(client, wanted, first, filters, result, detail)
            return
    _read_one_by_one(client, wanted, result)


def _read_by_listing(
    client: DliClient,
    wanted: set[int],
    first: JobPage,
    filters: dict[str, str],
    result: ReadBack,
    detail: bool = False,
) -> None:
    try:
        pages = [first, *_pages_after(client, first, filters, detail=detail)]
    except DliError:
        _read_one_by_one(client, wanted, result)  # a page failed: settle each job on its own
        return
    result.calls += len(pages) - 1
    seen = {job.job_id: job for page in pages for job in page.jobs if job.job_id in wanted}
    result.found.update(seen)
    absent = wanted - seen.keys()
    if len({page.total_count for page in pages}) == 1:
        result.gone |= absent
    elif absent:
        # Jobs were created or deleted while we paged: offsets shifted, absence proves nothing.
        _read_one_by_one(client, absent, result)


def _read_one_by_one(client: DliClient, job_ids: set[int], result: ReadBack) -> None:
    def show(job_id: int) -> tuple[int, Job | None, str]:
        try:
            return job_id, client.show_job(job_id), ""
        except DliError as error:
            if error.category == ErrorCategory.NOT_FOUND:
                return job_id, None, ""
            return job_id, None, str(error)

    with ThreadPoolExecutor(max_workers=settings.DLI_CONCURRENCY) as pool:
        for job_id, job, problem in pool.map(show, sorted(job_ids)):
            result.calls += 1
            if job is not None:
                result.found[job_id] = job
            elif problem:
                result.unknown[job_id] = problem
            else:
                result.gone.add(job_id)
