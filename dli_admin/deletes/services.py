"""The batch delete: rules, roles, claims, audit and orchestration of DLI calls.

Flow: plan (validate the selection against DLI, decide who may delete what, sign what the operator
saw) -> confirm (check the signature, write the audit intent, re-read, claim, delete in chunks,
settle each job by reading it back (settling.py), write the results, release the claims).
Every entry point finds the caller's role itself, from the user and the project.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from dli_admin.audit.models import AuditOutcome
from dli_admin.audit.services import (
    AuditJobResult,
    audit_intent_record,
    audit_refusal_record,
    audit_results_record,
)
from dli_admin.dli import DliClient, DliError
from dli_admin.projects.connections import dli_client_for
from dli_admin.projects.jobs import JobRef, parse_job_id
from dli_admin.projects.models import DliProject, Role
from dli_admin.projects.permissions import can_delete, may_delete_any, project_role
from dli_admin.projects.selectors import JobFilters, TooManyJobs, flink_jobs_matching, flink_jobs_read
from dli_admin.projects.statuses import ACTIVE_STATUSES, status_label

from .models import CLAIM_TTL, JobClaim
from .settling import flink_jobs_delete_and_settle, flink_jobs_reconcile

CONFIRMATION_SALT = "dli-admin.flink-jobs-delete"
CONFIRMATION_MAX_AGE = 15 * 60  # seconds a confirmation stays valid
SKIPPED, UNKNOWN = AuditOutcome.SKIPPED, AuditOutcome.UNKNOWN


class SelectionError(Exception):
    """The selection cannot be deleted as posted; the message says why. Nothing was sent to DLI."""


class NameMismatch(SelectionError):
    """A large or risky batch needs the project's name typed; it was not. The plan is shown again."""

    def __init__(self, message: str, plan: DeletePlan):
        super().__init__(message)
        self.plan = plan


@dataclass(frozen=True)
class Requester:
    """Who asks, and from where (for the audit log)."""

    user: object
    client_ip: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class PlannedJob(JobRef):
    excluded_because: str = ""  # empty: will be deleted


@dataclass(frozen=True)
class DeletePlan:
    """What a confirmation will delete, shown to the operator and signed into `token`."""

    jobs: tuple[PlannedJob, ...]
    token: str
    needs_name: bool

    @property
    def eligible(self) -> list[PlannedJob]:
        return [job for job in self.jobs if not job.excluded_because]

    @property
    def excluded(self) -> list[PlannedJob]:
        return [job for job in self.jobs if job.excluded_because]

    @property
    def name_reasons(self) -> list[str]:
        return _name_reasons(self.jobs)

    @property
    def counts_by_status(self) -> list[tuple[str, int]]:
        counts = Counter(job.status_label for job in self.eligible)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class DeleteResult:
    batch_id: uuid.UUID
    results: tuple[AuditJobResult, ...]

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(result.outcome for result in self.results)
        return {outcome: counts[outcome] for outcome in AuditOutcome.values if counts[outcome]}

    @property
    def summary(self) -> str:
        return ", ".join(f"{count} {outcome}" for outcome, count in self.counts.items()) or "nothing selected"


def parse_job_ids(values: Sequence[str], *, ceiling: int | None = None) -> list[int]:
    """Job ids from a form: ASCII digits within a Java long, each once, at most `ceiling` of them."""
    ceiling = ceiling or settings.DLI_MAX_BATCH
    if not values:
        raise SelectionError("Select at least one job.")
    if len(values) > ceiling:
        raise SelectionError(f"{len(values)} jobs were selected; at most {ceiling} can be deleted at once.")
    parsed = [parse_job_id(value) for value in values]
    malformed = [value for value, job_id in zip(values, parsed, strict=True) if job_id is None]
    if malformed:
        shown = ", ".join(repr(str(value)[:24]) for value in malformed[:5])
        raise SelectionError(f"These are not DLI job ids: {shown}. Nothing was deleted.")
    ids = [job_id for job_id in parsed if job_id is not None]
    repeated = sorted(job_id for job_id, count in Counter(ids).items() if count > 1)
    if repeated:
        shown = ", ".join(str(job_id) for job_id in repeated[:5])
        raise SelectionError(f"Job ids selected more than once: {shown}. Nothing was deleted.")
    return ids


def flink_jobs_refusal_record(
    requester: Requester, project_id: str, job_ids: Iterable[object], reason: str
) -> None:
    audit_refusal_record(
        actor=requester.user,
        project_id=project_id,
        job_ids=[str(job_id) for job_id in job_ids],
        reason=reason,
        client_ip=requester.client_ip,
        user_agent=requester.user_agent,
    )


def _require_delete_role(
    requester: Requester, project: DliProject, job_ids, action: str = "delete jobs in this project"
) -> Role:
    """The requester's role in the project, if it may delete there; otherwise audited and refused."""
    role = project_role(requester.user, project)
    if role is None or not may_delete_any(role):
        flink_jobs_refusal_record(
            requester, project.project_id, job_ids, f"role {role or 'none'} may not {action}"
        )
        raise PermissionDenied(f"Your role in this project does not allow this: {action}.")
    return role


def _name_reasons(jobs: Iterable[PlannedJob]) -> list[str]:
    """Why the operator must type the project's name to confirm (nothing: a click is enough)."""
    eligible = [job for job in jobs if not job.excluded_because]
    reasons = []
    if len(eligible) > settings.DLI_CONFIRM_NAME_THRESHOLD:
        reasons.append(f"it deletes more than {settings.DLI_CONFIRM_NAME_THRESHOLD} jobs")
    if any(job.status in ACTIVE_STATUSES for job in eligible):
        reasons.append("it deletes active jobs")
    return reasons


def _needs_name(jobs: Iterable[PlannedJob]) -> bool:
    return bool(_name_reasons(jobs))


def flink_jobs_delete_plan(
    *,
    requester: Requester,
    project: DliProject,
    job_ids: Sequence[str] = (),
    select_across: JobFilters | None = None,
    client: DliClient | None = None,
) -> DeletePlan:
    """Check a selection against DLI as it is now and say what a confirmation would delete.

    `job_ids` are the raw form values; `select_across` instead takes every job matching a filter.
    Raises PermissionDenied, SelectionError or DliError; sends nothing but reads to DLI.
    """
    role = _require_delete_role(requester, project, job_ids)
    client = client or dli_client_for(project)
    if select_across is not None:
        try:
            jobs = flink_jobs_matching(client=client, filters=select_across, ceiling=settings.DLI_MAX_BATCH)
        except TooManyJobs as error:
            raise SelectionError(f"{error} Narrow the filter, then select again.") from None
        if not jobs:
            raise SelectionError("No job matches this filter any more. Nothing was deleted.")
    else:
        try:
            ids = parse_job_ids(job_ids)
        except SelectionError as error:
            flink_jobs_refusal_record(requester, project.project_id, job_ids[:200], f"bad selection: {error}")
            raise
        read = flink_jobs_read(client=client, job_ids=ids)
        if read.unknown:
            problem = next(iter(read.unknown.values()))
            raise SelectionError(f"Could not read {len(read.unknown)} of the jobs from DLI: {problem}")
        if read.gone:
            # Another project's ids and already-deleted ids look the same from here: refuse the whole batch.
            shown = ", ".join(str(job_id) for job_id in sorted(read.gone)[:10])
            flink_jobs_refusal_record(
                requester, project.project_id, ids, f"not jobs of this project in DLI: {shown}"
            )
            raise SelectionError(
                f"{len(read.gone)} selected id(s) are not jobs of {project.name} in DLI: {shown}. They may "
                "belong to another project or be deleted already. Reload the list and select again. "
                "Nothing was deleted."
            )
        jobs = [read.found[job_id] for job_id in ids]
    planned = tuple(
        PlannedJob(
            job_id=job.job_id,
            name=job.name,
            status=job.status,
            excluded_because=_exclusion(role, job.status),
        )
        for job in jobs
    )
    token = signing.dumps(
        {
            "p": project.project_id,
            "u": requester.user.pk,
            "j": [[j.job_id, j.name, j.status] for j in planned],
        },
        salt=CONFIRMATION_SALT,
        compress=True,
    )
    return DeletePlan(jobs=planned, token=token, needs_name=_needs_name(planned))


def _exclusion(role: Role, status: str) -> str:
    return "" if can_delete(role, status) else "needs owner: the job is active"


def _load_confirmation(requester: Requester, project: DliProject, role: Role, token: str) -> list[PlannedJob]:
    try:
        payload = signing.loads(token, salt=CONFIRMATION_SALT, max_age=CONFIRMATION_MAX_AGE)
    except signing.SignatureExpired:
        raise SelectionError(
            "This confirmation has expired (15 minutes). Select the jobs again. Nothing was deleted."
        ) from None
    except signing.BadSignature:
        flink_jobs_refusal_record(requester, project.project_id, [], "forged or damaged confirmation")
        raise SelectionError(
            "This confirmation is not valid. Select the jobs again. Nothing was deleted."
        ) from None
    if payload.get("p") != project.project_id or payload.get("u") != requester.user.pk:
        flink_jobs_refusal_record(
            requester, project.project_id, [], "confirmation made for another project or user"
        )
        raise SelectionError("This confirmation was made for another project or user. Nothing was deleted.")
    return [
        PlannedJob(job_id=job_id, name=name, status=status, excluded_because=_exclusion(role, status))
        for job_id, name, status in payload["j"]
    ]


def flink_jobs_delete(
    *,
    requester: Requester,
    project: DliProject,
    token: str,
    confirm_name: str = "",
    client: DliClient | None = None,
) -> DeleteResult:
    """Delete the jobs of a signed confirmation and settle the fate of each one."""
    role = _require_delete_role(requester, project, [])
    confirmed = _load_confirmation(requester, project, role, token)
    if _needs_name(confirmed) and confirm_name.strip() != project.name:
        plan = DeletePlan(jobs=tuple(confirmed), token=token, needs_name=True)
        message = f"Type the project name “{project.name}” exactly to confirm. Nothing was deleted."
        raise NameMismatch(message, plan)
    client = client or dli_client_for(project)
    batch_id = uuid.uuid4()
    audit_intent_record(
        batch_id=batch_id,
        actor=requester.user,
        project_id=project.project_id,
        project_name=project.name,
        jobs=confirmed,
        client_ip=requester.client_ip,
        user_agent=requester.user_agent,
    )
    results: dict[int, AuditJobResult] = {}

    def skip(job: PlannedJob, reason: str) -> None:
        results[job.job_id] = AuditJobResult(
            job_id=job.job_id, name=job.name, outcome=SKIPPED, message=reason
        )

    # Claim first, then re-check against DLI while holding the claims: a batch that ran just before us
    # has either released its claims after deleting (we then read the jobs as gone) or still holds them.
    for job in confirmed:
        if job.excluded_because:
            skip(job, job.excluded_because)
    wanted = [job for job in confirmed if not job.excluded_because]
    claimed = _claim(project, [job.job_id for job in wanted], batch_id) if wanted else set()
    try:
        for job in wanted:
            if job.job_id not in claimed:
                skip(job, "already being deleted by another batch")
        to_check = [job for job in wanted if job.job_id in claimed]
        to_delete = _recheck(client, role, to_check, skip) if to_check else []
        if to_delete:
            results.update(flink_jobs_delete_and_settle(client, to_delete))
    except Exception as error:
        # Whatever broke, the audit must say these jobs' fate is unknown (reconcile settles them later).
        interrupted = [
            results.get(job.job_id)
            or AuditJobResult(
                job_id=job.job_id, name=job.name, outcome=UNKNOWN, message=f"interrupted: {error!r}"
            )
            for job in confirmed
        ]
        audit_results_record(
            batch_id=batch_id, actor=requester.user, project_id=project.project_id, results=interrupted
        )
        raise
    finally:
        JobClaim.objects.filter(batch_id=batch_id).delete()

    ordered = tuple(results[job.job_id] for job in confirmed)
    audit_results_record(
        batch_id=batch_id, actor=requester.user, project_id=project.project_id, results=ordered
    )
    return DeleteResult(batch_id=batch_id, results=ordered)


def _recheck(client: DliClient, role: Role, jobs: list[PlannedJob], skip) -> list[PlannedJob]:
    """The jobs that are still as the operator confirmed them; the others are skipped with the reason."""
    try:
        now = flink_jobs_read(client=client, job_ids=[job.job_id for job in jobs])
    except DliError as error:
        for job in jobs:
            skip(job, f"could not be checked in DLI before deleting: {error}")
        return []
    ready = []
    for job in jobs:
        current = now.found.get(job.job_id)
        if job.job_id in now.gone:
            skip(job, "already gone from DLI")
        elif current is None:
            skip(job, f"could not be checked in DLI before deleting: {now.unknown.get(job.job_id, '')}")
        elif current.status != job.status:
            skip(job, f"changed since you confirmed: now {status_label(current.status)}; review it again")
        elif not can_delete(role, current.status):
            skip(job, _exclusion(role, current.status))
        else:
            ready.append(job)
    return ready


def _claim(project: DliProject, job_ids: list[int], batch_id: uuid.UUID) -> set[int]:
    """Claim the jobs for this batch; returns those we got. A job claimed by another batch is not ours."""
    JobClaim.objects.filter(project=project, claimed_at__lt=timezone.now() - CLAIM_TTL).delete()
    with transaction.atomic():
        JobClaim.objects.bulk_create(
            [JobClaim(project=project, job_id=job_id, batch_id=batch_id) for job_id in job_ids],
            ignore_conflicts=True,
        )
    return set(JobClaim.objects.filter(batch_id=batch_id).values_list("job_id", flat=True))


def flink_job_check(*, requester: Requester, project: DliProject, job_id: str) -> list[AuditJobResult]:
    """ "Check again" on an unknown job: read it back from DLI and record what is learnt.

    Empty when there is nothing to check: its delete is settled, or a running batch still holds it.
    """
    _require_delete_role(requester, project, [job_id], action="check jobs in this project")
    (job,) = parse_job_ids([job_id])
    return flink_jobs_reconcile(project_id=project.project_id, job_ids=[job], actor=requester.user)
