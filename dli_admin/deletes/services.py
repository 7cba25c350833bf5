"""The batch delete: rules, roles, audit, and the hand-over to a background worker.

Flow: plan (validate the selection against DLI, decide who may delete what, sign what the operator
saw) -> confirm (check the signature, write the audit intent, persist the batch and its jobs, enqueue
it; a worker then runs it: runner.py) -> cancel. Every entry point finds the caller's role itself,
from the user and the project.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction

from dli_admin.audit.models import AuditOutcome
from dli_admin.audit.services import (
    AuditJobResult,
    audit_cancel_record,
    audit_refusal_record,
)
from dli_admin.dli import DliClient
from dli_admin.projects.connections import dli_client_for
from dli_admin.projects.jobs import JobRef, parse_job_id
from dli_admin.projects.models import DliProject, Role
from dli_admin.projects.permissions import can_delete, may_delete_any, project_role
from dli_admin.projects.selectors import JobFilters, TooManyJobs, flink_jobs_matching, flink_jobs_read
from dli_admin.projects.statuses import ACTIVE_STATUSES

from .models import BatchKind, BatchState, DeleteBatch, DeleteBatchJob
from .settling import flink_jobs_reconcile

CONFIRMATION_SALT = "dli-admin.flink-jobs-delete"
CONFIRMATION_MAX_AGE = 15 * 60  # seconds a confirmation stays valid
SKIPPED = AuditOutcome.SKIPPED
REVIEW_ROWS = 50  # rows the confirmation lists one by one


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

    user: Any  # a Django user (or AnonymousUser)
    client_ip: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class PlannedJob(JobRef):
    excluded_because: str = ""  # empty: will be deleted
    job_type: str = ""  # these two never change, so they narrow the worker's DLI reads
    user_name: str = ""


@dataclass(frozen=True)
class DeletePlan:
    """What a confirmation will delete, shown to the operator and signed into `token`."""

    jobs: tuple[PlannedJob, ...]
    token: str
    needs_name: bool
    owner: bool = False  # the requester may choose "delete without a snapshot"

    @property
    def eligible(self) -> list[PlannedJob]:
        return [job for job in self.jobs if not job.excluded_because]

    @property
    def first_eligible(self) -> list[PlannedJob]:
        """What the confirmation lists row by row; a big batch is shown by its counts."""
        return self.eligible[:REVIEW_ROWS]

    @property
    def more_eligible(self) -> int:
        return max(len(self.eligible) - REVIEW_ROWS, 0)

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
    requester: Requester,
    project: DliProject,
    job_ids: Sequence[object],
    action: str = "delete jobs in this project",
) -> Role:
    """The requester's role in the project, if it may delete there; otherwise audited and refused."""
    role = project_role(requester.user, project)
    if role is None or not may_delete_any(role):
        flink_jobs_refusal_record(
            requester, project.project_id, job_ids, f"role {role or 'none'} may not {action}"
        )
        raise PermissionDenied(f"Your role in this project does not allow this: {action}.")
    return role


def flink_jobs_delete_allowed(*, requester: Requester, project: DliProject) -> Role:
    """The requester's role, if it may delete in the project; otherwise audited and refused.

    For a caller that reads DLI before it plans (the command line's filters), so a refusal comes first.
    """
    return _require_delete_role(requester, project, [])


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
            job_type=job.job_type,
            user_name=job.user_name,
        )
        for job in jobs
    )
    token = signing.dumps(
        {
            "p": project.project_id,
            "u": requester.user.pk,
            "j": [[j.job_id, j.name, j.status, j.job_type, j.user_name] for j in planned],
        },
        salt=CONFIRMATION_SALT,
        compress=True,
    )
    return DeletePlan(jobs=planned, token=token, needs_name=_needs_name(planned), owner=role == Role.OWNER)


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
        PlannedJob(job_id, name, status, _exclusion(role, status), job_type, user_name)
        for job_id, name, status, job_type, user_name in payload["j"]
    ]


def flink_jobs_delete(
    *,
    requester: Requester,
    project: DliProject,
    token: str,
    confirm_name: str = "",
    via: str = "web",
    without_snapshot: bool = False,
) -> DeleteBatch:
    """Hand the jobs of a signed confirmation to a worker as a batch; returns at once, whatever the size.

    The worker writes the audit intent before anything else, then claims the jobs (a job that another
    live batch holds reads skipped in this one: the partial unique index decides) and deletes them,
    each after keeping its definition as a snapshot. `without_snapshot` (owners only, audited in the
    intent): a job whose definition DLI does not give is deleted anyway, rather than skipped.
    """
    role = _require_delete_role(requester, project, [])
    if without_snapshot and role != Role.OWNER:
        flink_jobs_refusal_record(
            requester, project.project_id, [], f"role {role} may not delete jobs without a snapshot"
        )
        raise PermissionDenied("Only an owner may delete jobs without keeping a snapshot of them.")
    confirmed = _load_confirmation(requester, project, role, token)
    if _needs_name(confirmed) and confirm_name.strip() != project.name:
        plan = DeletePlan(jobs=tuple(confirmed), token=token, needs_name=True, owner=role == Role.OWNER)
        message = f"Type the project name “{project.name}” exactly to confirm. Nothing was deleted."
        raise NameMismatch(message, plan)
    user: Any = requester.user
    known = getattr(user, "pk", None) is not None
    batch = DeleteBatch(
        project=project,
        project_id_text=project.project_id,
        project_name=project.name,
        requested_by=user if known else None,
        requested_by_username=user.get_username() if known else "",
        via=via,
        without_snapshot=without_snapshot,
        total=len(confirmed),
        client_ip=requester.client_ip[:64],
        user_agent=requester.user_agent[:300],
        selection=[
            [job.job_id, job.name, job.status, job.excluded_because, job.job_type, job.user_name]
            for job in confirmed
        ],
    )
    from .tasks import batch_enqueue  # the tasks module imports the runner, which imports this one

    with transaction.atomic():
        batch.save(force_insert=True)
        transaction.on_commit(lambda: batch_enqueue(batch.pk))
    return batch


def may_cancel(user: Any, batch: DeleteBatch) -> bool:
    """The requester or an owner of the project may stop a running batch."""
    if not batch.is_live or batch.project is None:
        return False
    if batch.requested_by_id is not None and batch.requested_by_id == getattr(user, "pk", None):
        return True
    return project_role(user, batch.project) == Role.OWNER


def flink_jobs_batch_cancel(*, requester: Requester, batch: DeleteBatch) -> DeleteBatch:
    """Ask a live batch to stop: chunks not yet sent are not sent; a chunk in flight settles normally."""
    if not may_cancel(requester.user, batch):
        flink_jobs_refusal_record(
            requester,
            batch.project_id_text,
            [],
            f"may not cancel batch {batch.id} (not its requester or an owner)",
        )
        raise PermissionDenied("Only the requester of this batch or an owner of the project may cancel it.")
    user: Any = requester.user
    with transaction.atomic():
        updated = DeleteBatch.objects.filter(
            pk=batch.pk, state__in=[BatchState.QUEUED, BatchState.RUNNING]
        ).update(state=BatchState.CANCELLING, cancel_requested_by_username=user.get_username())
        if updated:
            audit_cancel_record(
                batch_id=batch.id,
                actor=requester.user,
                project_id=batch.project_id_text,
                client_ip=requester.client_ip,
                user_agent=requester.user_agent,
            )
    batch.refresh_from_db()
    if updated:
        from .tasks import batch_enqueue

        batch_enqueue(batch.id)  # a queued batch that no worker holds ends now rather than when one comes
    return batch


def flink_job_check(*, requester: Requester, project: DliProject, job_id: str) -> list[AuditJobResult]:
    """ "Check again" on an unknown job: read it back from DLI and record what is learnt.

    Empty when there is nothing to check: its delete is settled, or a running batch still holds it.
    """
    _require_delete_role(requester, project, [job_id], action="check jobs in this project")
    (job,) = parse_job_ids([job_id])
    return flink_jobs_reconcile(project_id=project.project_id, job_ids=[job], actor=requester.user)


# --- Restore: re-create deleted jobs from their snapshots --------------------------------------------

RESTORE_SALT = "dli-admin.flink-jobs-restore"


class RestoreAgain(SelectionError):
    """Some jobs were restored before; the owner must confirm restoring them again. Nothing was sent."""

    def __init__(self, message: str, plan: RestorePlan):
        super().__init__(message)
        self.plan = plan


@dataclass(frozen=True)
class RestoreItem:
    job_id: int  # the deleted job's id
    name: str
    job_type: str
    digest: str  # the snapshot it is re-created from
    excluded_because: str = ""  # empty: will be re-created
    restored_before: str = ""  # the first restore of this snapshot, when there was one


@dataclass(frozen=True)
class RestorePlan:
    """What a restore confirmation will re-create, shown to the owner and signed into `token`."""

    source: DeleteBatch
    items: tuple[RestoreItem, ...]
    token: str

    @property
    def eligible(self) -> list[RestoreItem]:
        return [item for item in self.items if not item.excluded_because]

    @property
    def excluded(self) -> list[RestoreItem]:
        return [item for item in self.items if item.excluded_because]

    @property
    def again(self) -> list[RestoreItem]:
        return [item for item in self.eligible if item.restored_before]


def _require_owner(requester: Requester, project: DliProject, job_ids: Sequence[object]) -> None:
    role = project_role(requester.user, project)
    if role != Role.OWNER:
        flink_jobs_refusal_record(
            requester,
            project.project_id,
            job_ids,
            f"role {role or 'none'} may not restore jobs in this project",
        )
        raise PermissionDenied("Only an owner of this project may restore deleted jobs.")


def may_restore(user: Any, batch: DeleteBatch) -> bool:
    """An owner of the project, once the delete batch has ended."""
    return (
        batch.kind == BatchKind.DELETE
        and not batch.is_live
        and batch.project is not None
        and project_role(user, batch.project) == Role.OWNER
    )


def restorable_rows(batch: DeleteBatch) -> list[DeleteBatchJob]:
    """The jobs this delete batch deleted with a snapshot kept: what a restore can re-create."""
    return list(
        DeleteBatchJob.objects.filter(batch=batch, outcome=AuditOutcome.DELETED)
        .exclude(snapshot_digest="")
        .order_by("position")
    )


def earlier_restores(project_id: str, digests: Iterable[str]) -> dict[str, str]:
    """Snapshot digest -> the first restore batch that re-created it (or is re-creating it), in words."""
    rows = (
        DeleteBatchJob.objects.filter(
            batch__kind=BatchKind.RESTORE, project_id_text=project_id, snapshot_digest__in=list(digests)
        )
        .exclude(outcome__in=[AuditOutcome.SKIPPED, AuditOutcome.FAILED])
        .select_related("batch")
        .order_by("batch__created_at", "position")
    )
    first: dict[str, str] = {}
    for row in rows:
        if row.snapshot_digest in first:
            continue
        batch = row.batch
        when = batch.created_at.strftime("%Y-%m-%d %H:%M UTC")
        done = f"as job {row.new_job_id}" if row.new_job_id else "(still running or unknown)"
        who = batch.requested_by_username or "a removed user"
        first[row.snapshot_digest] = f"restored {done} by restore batch {batch.pk} ({who}, {when})"
    return first


def flink_jobs_restore_plan(
    *, requester: Requester, project: DliProject, batch: DeleteBatch, job_ids: Sequence[str] = ()
) -> RestorePlan:
    """What a restore of these deleted jobs (none given: every restorable one) would re-create.

    Raises PermissionDenied (audited) for anyone but an owner, SelectionError for a bad selection.
    Sends nothing to DLI.
    """
    from dli_admin.audit.models import JobSnapshot

    from .restore import NotRestorable, definition_of, restore_request

    _require_owner(requester, project, job_ids)
    if batch.kind != BatchKind.DELETE:
        raise SelectionError("Only the jobs of a delete batch can be restored.")
    if batch.is_live:
        raise SelectionError("This batch is still running: restore its jobs once it has ended.")
    rows = restorable_rows(batch)
    if job_ids:
        ids = parse_job_ids(job_ids)
        by_id = {row.job_id: row for row in rows}
        missing = [job_id for job_id in ids if job_id not in by_id]
        if missing:
            shown = ", ".join(str(job_id) for job_id in missing[:5])
            raise SelectionError(
                f"Not deleted by this batch with a snapshot kept, so not restorable: {shown}. "
                "Nothing was restored."
            )
        rows = [by_id[job_id] for job_id in ids]
    if not rows:
        raise SelectionError("This batch deleted no job with a snapshot kept: there is nothing to restore.")
    texts = dict(
        JobSnapshot.objects.filter(
            batch_id=batch.pk, digest__in=[row.snapshot_digest for row in rows]
        ).values_list("digest", "definition")
    )
    before = earlier_restores(project.project_id, texts)
    items = []
    for row in rows:
        reason = ""
        try:
            restore_request(definition_of(texts.get(row.snapshot_digest, "{}")))
        except (NotRestorable, ValueError) as why:
            reason = f"cannot be re-created: {why}"
        items.append(
            RestoreItem(
                row.job_id,
                row.name,
                row.job_type,
                row.snapshot_digest,
                reason,
                before.get(row.snapshot_digest, ""),
            )
        )
    token = signing.dumps(
        {
            "p": project.project_id,
            "u": requester.user.pk,
            "b": str(batch.pk),
            "j": [[i.job_id, i.name, i.job_type, i.digest, i.excluded_because] for i in items],
        },
        salt=RESTORE_SALT,
        compress=True,
    )
    return RestorePlan(source=batch, items=tuple(items), token=token)


def flink_jobs_restore(
    *, requester: Requester, project: DliProject, batch: DeleteBatch, token: str, again: bool = False
) -> DeleteBatch:
    """Hand the jobs of a signed restore confirmation to a worker as a restore batch; returns at once.

    A snapshot restored before is re-created again only with `again` (RestoreAgain names the first
    restore otherwise). The new jobs are created, never started.
    """
    _require_owner(requester, project, [])
    try:
        payload = signing.loads(token, salt=RESTORE_SALT, max_age=CONFIRMATION_MAX_AGE)
    except signing.SignatureExpired:
        raise SelectionError(
            "This confirmation has expired (15 minutes). Review the restore again."
        ) from None
    except signing.BadSignature:
        flink_jobs_refusal_record(requester, project.project_id, [], "forged or damaged restore confirmation")
        raise SelectionError(
            "This confirmation is not valid. Review the restore again. Nothing was restored."
        ) from None
    if (
        payload.get("p") != project.project_id
        or payload.get("u") != requester.user.pk
        or payload.get("b") != str(batch.pk)
    ):
        flink_jobs_refusal_record(
            requester, project.project_id, [], "restore confirmation made for another batch, project or user"
        )
        raise SelectionError(
            "This confirmation was made for another batch, project or user. Nothing was restored."
        )
    before = earlier_restores(project.project_id, [digest for *_, digest, _excluded in payload["j"]])
    items = tuple(
        RestoreItem(job_id, name, job_type, digest, excluded, before.get(digest, ""))
        for job_id, name, job_type, digest, excluded in payload["j"]
    )
    plan = RestorePlan(source=batch, items=items, token=token)
    if plan.again and not again:
        first = plan.again[0]
        raise RestoreAgain(
            f"Job {first.name} ({first.job_id}) was {first.restored_before}. Tick “restore again” to create "
            "another copy. Nothing was restored.",
            plan,
        )
    user: Any = requester.user
    restore = DeleteBatch(
        kind=BatchKind.RESTORE,
        project=project,
        project_id_text=project.project_id,
        project_name=project.name,
        requested_by=user,
        requested_by_username=user.get_username(),
        total=len(items),
        client_ip=requester.client_ip[:64],
        user_agent=requester.user_agent[:300],
        selection=[[i.job_id, i.name, i.excluded_because, i.job_type, i.digest] for i in items],
        end_message="",
    )
    from .tasks import batch_enqueue

    with transaction.atomic():
        restore.save(force_insert=True)
        transaction.on_commit(lambda: batch_enqueue(restore.pk))
    return restore


def flink_jobs_batch_check(*, requester: Requester, batch: DeleteBatch) -> list[AuditJobResult]:
    """ "Check all unknown" on a batch's page: read every job of it whose fate is unknown back from DLI."""
    if batch.kind != BatchKind.DELETE:
        raise SelectionError("A restore batch's jobs are checked by the restore itself (found by name).")
    project = batch.project
    if project is None:
        raise SelectionError("This batch's project was removed from dli-admin: its jobs cannot be read.")
    unknown = list(
        DeleteBatchJob.objects.filter(batch=batch, outcome=AuditOutcome.UNKNOWN).values_list(
            "job_id", flat=True
        )
    )
    _require_delete_role(
        requester, project, [str(job_id) for job_id in unknown], action="check jobs in this project"
    )
    if not unknown:
        return []
    return flink_jobs_reconcile(project_id=project.project_id, job_ids=unknown, actor=requester.user)
