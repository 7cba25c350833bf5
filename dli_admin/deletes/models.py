"""A delete batch and its jobs, as persisted state that a background worker runs and resumes. A restore
(re-creating deleted jobs from their snapshots) is a batch of the same kind of state, kind "restore".

The audit log stays the record of truth: a job's outcome here is written in the same transaction as
its audit result, so the two never disagree. A partial unique index keeps a job in at most one live
batch (pending or sent), whatever the number of web and worker processes.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from dli_admin.audit.models import AuditOutcome


class BatchState(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    CANCELLING = "cancelling", "cancelling"
    ENDED = "ended", "ended"


LIVE_BATCH_STATES = (BatchState.QUEUED, BatchState.RUNNING, BatchState.CANCELLING)


class BatchKind(models.TextChoices):
    DELETE = "delete", "delete"
    RESTORE = "restore", "restore"  # re-create deleted jobs from their snapshots (restore.py)


class JobState(models.TextChoices):
    PENDING = "pending", "pending"  # not sent to DLI yet
    SENT = "sent", "sent"  # its delete may have reached DLI: only a read-back settles it
    SETTLED = "settled", "settled"  # outcome known and audited


class DeleteBatch(models.Model):
    """One confirmed delete: its jobs, who asked, and which worker holds it (the lease)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)  # the audit batch id
    kind = models.CharField(max_length=16, choices=BatchKind.choices, default=BatchKind.DELETE)
    # Owner-only, audited in the intent: jobs whose definition DLI did not give are deleted anyway.
    without_snapshot = models.BooleanField(default=False)
    project = models.ForeignKey("projects.DliProject", null=True, on_delete=models.SET_NULL)
    project_id_text = models.CharField("DLI project id", max_length=64)  # kept if the project is removed
    project_name = models.CharField(max_length=100)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    requested_by_username = models.CharField(max_length=150)
    via = models.CharField(max_length=32, default="web", help_text="web, command line, or a cleanup policy")
    state = models.CharField(max_length=16, choices=BatchState.choices, default=BatchState.QUEUED)
    total = models.PositiveIntegerField(default=0)
    # As confirmed: [job_id, name, status, excluded_because, job_type, user_name] per job (a restore adds
    # the snapshot digest). The worker turns
    # it into the audit intent and the job rows (a 10,000-job confirm then costs one INSERT), then empties it.
    selection = models.JSONField(default=list, blank=True)
    client_ip = models.CharField(max_length=64, blank=True)  # the requester's, for the audit intent
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The lease: the worker that runs the batch renews lease_until; once it lapses, another takes over.
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    resume_after = models.DateTimeField(null=True, blank=True, help_text="waiting for DLI until then")
    give_up_at = models.DateTimeField(null=True, blank=True, help_text="stop retrying an unreachable DLI")
    waiting_reason = models.CharField(max_length=300, blank=True)  # e.g. "throttled by DLI, waiting"
    cancel_requested_by_username = models.CharField(max_length=150, blank=True)
    end_message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "lease_until"], name="delete_batch_live")]
        verbose_name = "delete batch"
        verbose_name_plural = "delete batches"

    def __str__(self) -> str:
        return f"{self.kind} batch {self.id} of {self.total} jobs in {self.project_name} ({self.state})"

    @property
    def is_restore(self) -> bool:
        return self.kind == BatchKind.RESTORE

    @property
    def is_live(self) -> bool:
        return self.state != BatchState.ENDED


class DeleteBatchJob(models.Model):
    """One job of a batch: as confirmed, what DLI answered, and its settled outcome."""

    batch = models.ForeignKey(DeleteBatch, on_delete=models.CASCADE, related_name="jobs")
    position = models.PositiveIntegerField()
    project_id_text = models.CharField(max_length=64)  # the batch's, for the one-live-batch constraint
    job_id = models.BigIntegerField()
    name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=64, blank=True, help_text="DLI status when confirmed")
    job_type = models.CharField(max_length=64, blank=True)  # never changes: narrows DLI list reads
    user_name = models.CharField(max_length=128, blank=True)  # the job's DLI owner, likewise
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.PENDING)
    chunk = models.PositiveIntegerField(null=True, blank=True, help_text="the delete request that carried it")
    # What DLI's answer to its chunk said (empty before the answer came); settling reads it back.
    reply_problem = models.CharField(max_length=2000, blank=True)
    replied = models.BooleanField(default=False)
    reply_ambiguous = models.BooleanField(default=False)
    error_code = models.CharField(max_length=64, blank=True)
    dli_request_id = models.CharField(max_length=128, blank=True)
    attempts = models.IntegerField(default=0)
    duration_ms = models.BigIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=AuditOutcome.choices, blank=True)
    message = models.CharField(max_length=2000, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    # A delete: the digest of the snapshot kept before its chunk was sent. A restore: the one it restores.
    snapshot_digest = models.CharField(max_length=64, blank=True)
    new_job_id = models.BigIntegerField(null=True, blank=True, help_text="a restore: the job DLI created")
    # A restore: the ids of jobs bearing the name just before the create was sent, so that a create whose
    # reply was lost is told apart from a job that had the name already.
    same_name_before = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["batch", "position"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "position"], name="delete_batch_job_position"),
            models.UniqueConstraint(
                fields=["project_id_text", "job_id"],
                condition=models.Q(state__in=["pending", "sent"]),
                name="delete_job_in_one_live_batch",
            ),
        ]
        indexes = [
            models.Index(fields=["batch", "state"], name="delete_batch_job_state"),
            models.Index(fields=["batch", "settled_at"], name="delete_batch_job_settled"),
        ]
        verbose_name = "job of a delete batch"

    def __str__(self) -> str:
        return f"job {self.job_id} ({self.state}{': ' + self.outcome if self.outcome else ''})"
