"""Cleanup policies: who may change them (owners), what a policy selects now (the preview), and a run.

A run claims its (policy, slot) row first, in its own transaction: a second worker on the same slot
finds the row taken and does nothing. Then it previews, and either reports (report only, nothing to
do, or a safety rule stops it) or confirms the preview as a normal delete batch of the policy's owner,
through the same plan and confirm services as the jobs page, so the batch machinery (audit intent,
claims, re-checks before sending, reconcile) applies unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from dli_admin.audit.services import audit_policy_record
from dli_admin.deletes import services as deletes
from dli_admin.deletes.services import Requester
from dli_admin.dli import DliClient, DliError, Job
from dli_admin.projects.connections import DliNotConfigured, dli_client_for
from dli_admin.projects.models import DliProject, Role
from dli_admin.projects.permissions import project_role
from dli_admin.projects.selectors import JobFilters, TooManyJobs, flink_jobs_matching
from dli_admin.projects.statuses import ACTIVE_STATUSES, status_label

from .models import CleanupPolicy, PolicyRun, ProjectWebhook, RunState
from .schedule import due_slot
from .webhooks import redacted

log = logging.getLogger("dli_admin.policies")

AUDITED_FIELDS = [
    "name",
    "statuses",
    "name_contains",
    "queue_name",
    "user_name",
    "tags_include",
    "tags_exclude",
    "min_age_days",
    "max_jobs",
    "schedule",
    "weekday",
    "at_time",
    "zone",
    "mode",
    "enabled",
]
SCHEDULE_FIELDS = {"schedule", "weekday", "at_time", "zone"}


class PolicyRefused(Exception):
    """The policy may not run as it stands (its owner left, or lost the owner role)."""


# --- who may change policies ------------------------------------------------------------------


def require_owner(requester: Requester, project: DliProject, action: str) -> None:
    """Owners change policies and webhooks; anyone else is audited and refused."""
    role = project_role(requester.user, project)
    if role != Role.OWNER:
        deletes.flink_jobs_refusal_record(
            requester, project.project_id, [], f"role {role or 'none'} may not {action}"
        )
        raise PermissionDenied(f"Only an owner of the project may {action}.")


def _describe(policy: CleanupPolicy, name: str) -> str:
    value = getattr(policy, name)
    if name == "at_time":
        return value.strftime("%H:%M")
    if name == "statuses":
        return ",".join(value)
    return str(value) if value not in ("", None) else "-"


def _audit(requester: Requester, project: DliProject, reason: str) -> None:
    audit_policy_record(
        actor=requester.user,
        project_id=project.project_id,
        project_name=project.name,
        reason=reason,
        client_ip=requester.client_ip,
        user_agent=requester.user_agent,
    )


def policy_save(
    *, requester: Requester, project: DliProject, form: Any, policy: CleanupPolicy | None = None
) -> CleanupPolicy:
    """Create (policy None) or change a policy from a valid PolicyForm; audited with what changed."""
    require_owner(requester, project, "change cleanup policies")
    # As stored: a validated ModelForm has already written the new values into its instance.
    stored = CleanupPolicy.objects.filter(pk=policy.pk).first() if policy else None
    before = {name: _describe(stored, name) for name in AUDITED_FIELDS} if stored else {}
    with transaction.atomic():
        saved: CleanupPolicy = form.save(commit=False)
        saved.project = project
        now = timezone.now()
        if policy is None:
            saved.created_by = requester.user
            saved.schedule_from = now
        changed = [name for name in AUDITED_FIELDS if before and before[name] != _describe(saved, name)]
        if policy is not None and (SCHEDULE_FIELDS.intersection(changed) or "enabled" in changed):
            saved.schedule_from = now  # a new schedule, or re-enabling, does not run for the past
        saved.save()
        if policy is None:
            fields = "; ".join(f"{name}={_describe(saved, name)}" for name in AUDITED_FIELDS[1:])
            _audit(requester, project, f"cleanup policy {saved.name!r} created: {fields}")
        elif changed:
            diff = "; ".join(f"{name}: {before[name]} -> {_describe(saved, name)}" for name in changed)
            _audit(requester, project, f"cleanup policy {saved.name!r} changed: {diff}")
        transaction.on_commit(_tick_schedule)
    return saved


def policy_disable(*, requester: Requester, policy: CleanupPolicy) -> CleanupPolicy:
    require_owner(requester, policy.project, "change cleanup policies")
    with transaction.atomic():
        if policy.enabled:
            CleanupPolicy.objects.filter(pk=policy.pk).update(enabled=False)
            policy.enabled = False
            _audit(requester, policy.project, f"cleanup policy {policy.name!r} disabled")
    return policy


def policy_remove(*, requester: Requester, policy: CleanupPolicy) -> None:
    """Remove a policy and its history of runs; their batches (and the audit log) stay."""
    require_owner(requester, policy.project, "remove cleanup policies")
    with transaction.atomic():
        name = policy.name
        policy.delete()
        _audit(requester, policy.project, f"cleanup policy {name!r} removed")


def webhook_save(
    *, requester: Requester, project: DliProject, url: str, min_jobs: int, enabled: bool
) -> ProjectWebhook | None:
    """Set the project's webhook (an empty URL removes it); audited without its secret part."""
    require_owner(requester, project, "change the project's webhook")
    with transaction.atomic():
        current = ProjectWebhook.objects.filter(project=project).first()
        if not url:
            if current is not None:
                current.delete()
                _audit(requester, project, "webhook removed")
            return None
        hook = current or ProjectWebhook(project=project)
        changes = []
        if hook.url != url:
            changes.append(f"url {redacted(url)} (its path is not recorded)")
        if current is None or hook.min_jobs != min_jobs:
            changes.append(f"manual batches above {min_jobs} jobs")
        if current is None or hook.enabled != enabled:
            changes.append("enabled" if enabled else "disabled")
        hook.url, hook.min_jobs, hook.enabled = url, min_jobs, enabled
        hook.save()
        if changes:
            verb = "set" if current is None else "changed"
            _audit(requester, project, f"webhook {verb}: {', '.join(changes)}")
    return hook


# --- what a policy selects ----------------------------------------------------------------------


@dataclass
class Preview:
    """What the policy would delete now (oldest first), and what it keeps and why."""

    policy: CleanupPolicy
    eligible: list[Job] = field(default_factory=list)
    kept: list[tuple[Job, str]] = field(default_factory=list)
    too_many: str = ""  # DLI lists more jobs than a run may read

    @property
    def over_limit(self) -> bool:
        return bool(self.too_many) or len(self.eligible) > self.policy.max_jobs

    @property
    def counts_by_status(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for job in self.eligible:
            counts[status_label(job.status)] = counts.get(status_label(job.status), 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    @property
    def stop_reason(self) -> str:
        if self.too_many:
            return self.too_many
        if len(self.eligible) > self.policy.max_jobs:
            return (
                f"It would delete {len(self.eligible)} jobs, more than its maximum of "
                f"{self.policy.max_jobs} a run: it stops and reports instead. Nothing was deleted."
            )
        return ""


def _tag_pairs(text: str) -> list[str]:
    return [pair.strip() for pair in text.split(",") if pair.strip()]


def policy_preview(
    policy: CleanupPolicy, *, now: datetime | None = None, client: DliClient | None = None
) -> Preview:
    """Read DLI as it is now and apply the policy's rules. Sends nothing but reads.

    DLI filters by status, name, queue, owner and the tags to include; a job with any tag to exclude is
    found by listing with that tag too (DLI does not return a job's tags). Age is the job's create time.
    """
    now = now or timezone.now()
    client = client or dli_client_for(policy.project)
    preview = Preview(policy=policy)
    include = _tag_pairs(policy.tags_include)
    found: dict[int, Job] = {}
    excluded_by_tag: dict[int, str] = {}

    def listing(status: str, tags: list[str]) -> list[Job]:
        filters = JobFilters(
            status=status,
            name=policy.name_contains,
            queue_name=policy.queue_name,
            user_name=policy.user_name,
            tags=",".join(tags),
        )
        # DLI filters by status, not age: a project with years of finished jobs lists many more than one
        # run deletes, so the listing has a ceiling of its own.
        return flink_jobs_matching(client=client, filters=filters, ceiling=settings.DLI_POLICY_LIST_CEILING)

    try:
        for status in policy.statuses:
            found.update((job.job_id, job) for job in listing(status, include))
            for pair in _tag_pairs(policy.tags_exclude):
                for job in listing(status, [*include, pair]):
                    excluded_by_tag.setdefault(job.job_id, f"has tag {pair}")
    except TooManyJobs as error:
        preview.too_many = (
            f"DLI lists {error.total} jobs for this policy's filters, more than the {error.ceiling} a run "
            "reads (DLI_POLICY_LIST_CEILING): narrow its filters. Nothing was deleted."
        )
        return preview
    cutoff = now - timedelta(days=policy.min_age_days)
    for job in sorted(found.values(), key=lambda job: (job.create_time or now, job.job_id)):
        if job.status in ACTIVE_STATUSES or job.status not in policy.statuses:
            preview.kept.append((job, f"{status_label(job.status)}: a policy never deletes active jobs"))
        elif job.job_id in excluded_by_tag:
            preview.kept.append((job, excluded_by_tag[job.job_id]))
        elif job.create_time is None:
            preview.kept.append((job, "DLI gives no create time: its age is unknown"))
        elif job.create_time >= cutoff:
            preview.kept.append((job, f"younger than {policy.min_age_days} days"))
        else:
            preview.eligible.append(job)
    return preview


# --- runs -----------------------------------------------------------------------------------------


def _owner_for_run(policy: CleanupPolicy) -> Any:
    owner = policy.created_by
    if owner is None or not owner.is_active:
        raise PolicyRefused("its owner's account is disabled or removed: the policy does not run")
    if project_role(owner, policy.project) != Role.OWNER:
        raise PolicyRefused(f"{owner.get_username()} is no longer an owner of the project: it does not run")
    return owner


def run_requester(policy: CleanupPolicy, owner: Any) -> Requester:
    """The policy's owner, with the policy named as the client in the audit log."""
    return Requester(user=owner, user_agent=f"dli-admin cleanup policy {policy.name!r} (#{policy.pk})")


def run_claim(policy: CleanupPolicy, slot: datetime, *, manual: bool = False) -> PolicyRun | None:
    """Take the (policy, slot) row; None when another worker (or an earlier tick) has it."""
    try:
        with transaction.atomic():
            return PolicyRun.objects.create(policy=policy, slot=slot, manual=manual)
    except IntegrityError:
        return None


def _finish(run: PolicyRun, state: str, message: str, **fields: Any) -> PolicyRun:
    run.state, run.message, run.ended_at = state, message[:500], timezone.now()
    for name, value in fields.items():
        setattr(run, name, value)
    run.save()
    if state != RunState.QUEUED:  # a queued batch is notified when it ends
        from .webhooks import run_notify

        run_notify(run)
    return run


def policy_run(run: PolicyRun, *, now: datetime | None = None) -> PolicyRun:
    """Carry out a claimed run: report, stop, or hand the policy's jobs to a delete batch."""
    policy = run.policy
    try:
        owner = _owner_for_run(policy)
        preview = policy_preview(policy, now=now)
    except PolicyRefused as refused:
        return _finish(run, RunState.FAILED, str(refused))
    except (DliError, DliNotConfigured) as error:
        return _finish(run, RunState.FAILED, f"DLI could not be read: {error}")
    matched = len(preview.eligible)
    if preview.over_limit:
        return _finish(run, RunState.STOPPED, preview.stop_reason, matched=matched)
    if not preview.eligible:
        return _finish(run, RunState.NOTHING, "no job matches the policy now", matched=0)
    if policy.mode != "delete":
        message = f"would delete {matched} job(s): {_counts(preview)} (report only: nothing deleted)"
        return _finish(run, RunState.REPORTED, message, matched=matched)
    requester = run_requester(policy, owner)
    try:
        plan = deletes.flink_jobs_delete_plan(
            requester=requester, project=policy.project, job_ids=[str(job.job_id) for job in preview.eligible]
        )
        # Between the preview and the plan's own read a job may have started: it is left alone.
        if any(job.status in ACTIVE_STATUSES for job in plan.eligible):
            keep = [str(job.job_id) for job in plan.eligible if job.status not in ACTIVE_STATUSES]
            if not keep:
                return _finish(run, RunState.NOTHING, "every selected job became active", matched=0)
            plan = deletes.flink_jobs_delete_plan(requester=requester, project=policy.project, job_ids=keep)
        with transaction.atomic():  # the batch and its link to the run, or neither
            batch = deletes.flink_jobs_delete(
                requester=requester,
                project=policy.project,
                token=plan.token,
                confirm_name=policy.project.name,  # an owner confirmed this policy when saving it
                via=f"policy {policy.name}"[:32],
            )
            return _finish(
                run,
                RunState.QUEUED,
                f"batch of {len(plan.eligible)} job(s): {_counts(preview)}",
                matched=matched,
                batch=batch,
            )
    except (PermissionDenied, deletes.SelectionError, DliError, DliNotConfigured) as error:
        return _finish(run, RunState.FAILED, f"not deleted: {error}", matched=matched)


def _counts(preview: Preview) -> str:
    return ", ".join(f"{n} {label}" for label, n in preview.counts_by_status)


def policy_run_now(*, requester: Requester, policy: CleanupPolicy, background: bool = False) -> PolicyRun:
    """A run outside the schedule, asked for by an owner: here and now (the command line), or by a
    worker (the page: reading a big project's jobs takes longer than a request should)."""
    require_owner(requester, policy.project, "run cleanup policies")
    run = run_claim(policy, timezone.now(), manual=True)
    if run is None:
        raise deletes.SelectionError("This policy was started a moment ago: wait a second and try again.")
    _audit(requester, policy.project, f"cleanup policy {policy.name!r} run by hand")
    if background:
        from .tasks import run_policy

        transaction.on_commit(lambda: run_policy.enqueue(run.pk))
        return run
    return policy_run(run)


def claimed_run(run_id: int) -> PolicyRun | None:
    """A claimed run that has not started its work yet (for the worker's task), or None."""
    return (
        PolicyRun.objects.filter(pk=run_id, state=RunState.RUNNING, batch__isnull=True)
        .select_related("policy__project", "policy__created_by")
        .first()
    )


def policies_due(now: datetime) -> list[tuple[CleanupPolicy, datetime]]:
    """Enabled policies of active owners with a slot due and not yet claimed (only the latest slot)."""
    due = []
    policies = CleanupPolicy.objects.filter(enabled=True, created_by__is_active=True).select_related(
        "project", "created_by"
    )
    for policy in policies:
        slot = due_slot(policy, now)
        if slot is not None and not PolicyRun.objects.filter(policy=policy, slot=slot).exists():
            due.append((policy, slot))
    return due


def policies_tick(now: datetime | None = None) -> list[PolicyRun]:
    """Run every due policy once for its latest slot; what cron's `cleanup_policy tick` and the task do."""
    now = now or timezone.now()
    runs_abandoned()
    runs = []
    for policy, slot in policies_due(now):
        run = run_claim(policy, slot)
        if run is None:
            continue  # another worker has this slot
        log.info("cleanup policy %s (#%s): running the slot of %s", policy.name, policy.pk, slot.isoformat())
        try:
            runs.append(policy_run(run, now=now))
        except Exception:  # one policy's fault (the database, say) must not keep the others from running
            log.exception("cleanup policy %s (#%s): the run failed", policy.name, policy.pk)
            runs.append(_finish(run, RunState.FAILED, "the run failed: see the worker's log"))
    return runs


RUN_PATIENCE = timedelta(minutes=15)  # far longer than a run's DLI reads take


def runs_abandoned() -> int:
    """Runs whose worker died before they ended (a batch, once made, carries on by itself): they read
    failed. Their slot is not run again: the next slot is."""
    return PolicyRun.objects.filter(
        state=RunState.RUNNING, batch__isnull=True, started_at__lt=timezone.now() - RUN_PATIENCE
    ).update(state=RunState.FAILED, ended_at=timezone.now(), message="its worker stopped during the run")


def _tick_schedule() -> None:
    from .tasks import tick_schedule

    tick_schedule()
