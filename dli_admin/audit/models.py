"""The audit log: append-only records in one hash chain (HMAC-SHA256 keyed by DLI_ADMIN_AUDIT_KEY since
hash version 2, SHA-256 before), and the job definitions kept before each delete (their digests are in
the chain since version 3), written only by audit.services."""

from __future__ import annotations

import json

from django.db import models

from .chain import RECORD_FIELDS


class AuditImmutableError(Exception):
    """Raised when code tries to change or remove an audit record: the log is append-only."""


class AuditQuerySet(models.QuerySet):
    """No bulk update or delete: the database trigger (PostgreSQL) is the second line, this the first."""

    def update(self, **kwargs):
        raise AuditImmutableError("Audit records are append-only: they cannot be updated.")

    def _update(self, values):
        raise AuditImmutableError("Audit records are append-only: they cannot be updated.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditImmutableError("Audit records are append-only: they cannot be updated.")

    def delete(self):
        raise AuditImmutableError("Audit records are append-only: they cannot be deleted.")

    # As on Django's QuerySet.delete: templates may not call it, managers do not copy it. Attributes
    # on a function are fine at run time; mypy does not know Django's two.
    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def _raw_delete(self, using):
        raise AuditImmutableError("Audit records are append-only: they cannot be deleted.")


class AppendOnlyModel(models.Model):
    """save() and delete() refuse: audit.services inserts rows with bulk_create, under the chain lock."""

    objects = AuditQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        raise AuditImmutableError(
            "Audit records are append-only and written only by dli_admin.audit.services."
        )

    def delete(self, *args, **kwargs):
        raise AuditImmutableError("Audit records are append-only: they cannot be deleted.")


class AuditKind(models.TextChoices):
    INTENT = "intent", "intent"
    RESULT = "result", "result"
    REFUSAL = "refusal", "refusal"
    CANCEL = "cancel", "cancel"  # someone asked a running batch to stop
    ACCESS = "access", "access change"  # a change of who may do what (dli_admin.access.services)
    POLICY = "policy", "policy"  # a cleanup policy or a project's webhook was created, changed or removed


def access_change(message: str) -> dict:
    """An access record's change as data ({} when the message is not the JSON object one holds)."""
    try:
        change = json.loads(message)
    except ValueError:
        return {}
    return change if isinstance(change, dict) else {}


class AuditOutcome(models.TextChoices):
    DELETED = "deleted", "deleted"
    FAILED = "failed", "failed"
    UNKNOWN = "unknown", "unknown"
    SKIPPED = "skipped", "skipped"
    RESTORED = "restored", "restored"  # re-created from its snapshot (a restore batch)


class AuditSource(models.TextChoices):
    DELETE = "delete", "delete"
    RECONCILE = "reconcile", "reconcile"
    # Where an access change came from: a management command, the Django admin, a single sign-on login.
    COMMAND = "command", "command"
    ADMIN = "admin", "admin"
    SSO = "sso", "single sign-on"
    RESTORE = "restore", "restore"  # a restore batch's intent and results


class AuditRecord(AppendOnlyModel):
    """One link of the chain: a batch's intent, one job's result, a refused delete, a cancel, or an access
    change (a grant, revoke, project or user flag change: `reason` says it in words, `message` holds it as
    JSON, `source` where it came from).

    The actor is stored as id and username as they were (no foreign key), so deleting or renaming a
    user changes nothing here. Result fields (job_id ... duration_ms) are empty for other kinds.
    """

    seq = models.BigIntegerField(primary_key=True, help_text="1, 2, 3, ... without gaps: the chain order.")
    created_at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=AuditKind.choices)
    source = models.CharField(max_length=16, choices=AuditSource.choices, blank=True)
    batch_id = models.UUIDField(null=True, blank=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    project_id = models.CharField(max_length=64)
    project_name = models.CharField(max_length=100, blank=True)
    client_ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    refused_job_ids = models.JSONField(default=list, blank=True)
    job_id = models.BigIntegerField(null=True, blank=True)
    job_name = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=AuditOutcome.choices, blank=True)
    message = models.CharField(max_length=2000, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    dli_request_id = models.CharField(max_length=128, blank=True)
    attempts = models.IntegerField(default=0)
    duration_ms = models.BigIntegerField(default=0)
    prev_hash = models.CharField(max_length=64)
    # The digest of the job's snapshot (JobSnapshot) a result is about: the definition kept before its
    # delete, or the one a restore re-created it from; "" when none. Hashed from version 3 on.
    snapshot_digest = models.CharField(max_length=64, blank=True, default="", db_default="")
    # 1: SHA-256 (records from before the audit key); 2: HMAC-SHA256 with the audit key; 3: the same with
    # snapshot_digest (chain.py). The
    # database default is what existing rows read when the column is added: no UPDATE of any row.
    hash_version = models.PositiveSmallIntegerField(db_default=1)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            # The review list walks records newest first (the primary key), alone or by kind, project or
            # actor. Not partial indexes on kind: SQLite cannot match them against bound parameters.
            models.Index(fields=["kind", "seq"], name="audit_kind_seq"),
            models.Index(fields=["project_id", "seq"], name="audit_project_seq"),
            models.Index(fields=["actor_username", "seq"], name="audit_actor_seq"),
            models.Index(fields=["created_at"], name="audit_created"),
            # A batch's results, the latest result of a job in a batch, unsettled jobs.
            models.Index(fields=["batch_id", "job_id", "seq"], name="audit_batch_job"),
            models.Index(fields=["job_id", "seq"], name="audit_job"),
        ]
        verbose_name = "audit record"

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.project_id} by {self.actor_username or 'anonymous'}"

    @property
    def access_by(self) -> str:
        """For an access change made by a command: the operating system account that ran it."""
        by = access_change(self.message).get("by", "") if self.kind == AuditKind.ACCESS else ""
        return by if isinstance(by, str) else ""

    def chain_values(self) -> tuple:
        return tuple(getattr(self, name) for name in RECORD_FIELDS)


class AuditIntentJob(AppendOnlyModel):
    """One selected job of an intent, as seen at confirm time; hashed into its intent record."""

    # No index of its own: the (record, position) constraint leads with it.
    record = models.ForeignKey(AuditRecord, on_delete=models.DO_NOTHING, related_name="jobs", db_index=False)
    position = models.PositiveIntegerField()
    # Copies of the record's values so unsettled-job queries need no join; audit_verify checks them.
    batch_id = models.UUIDField()
    project_id = models.CharField(max_length=64)
    job_id = models.BigIntegerField()
    name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["record", "position"]
        constraints = [
            models.UniqueConstraint(fields=["record", "position"], name="audit_intent_job_position"),
        ]
        indexes = [
            models.Index(fields=["job_id"], name="audit_intent_job_id"),
            models.Index(fields=["project_id", "job_id"], name="audit_intent_project_job"),
        ]
        verbose_name = "audit intent job"

    def __str__(self) -> str:
        return f"job {self.job_id} ({self.name}) in batch {self.batch_id}"


class JobSnapshot(AppendOnlyModel):
    """A job's definition as DLI gave it, kept before the job's delete was sent: what a restore re-creates.

    `definition` is the JSON text exactly as stored; `digest` its SHA-256 (chain.snapshot_digest), which the
    job's result record carries into the hash chain. Kept as long as the audit log: it is part of it.
    """

    taken_at = models.DateTimeField()
    batch_id = models.UUIDField(help_text="the delete batch that took it")
    project_id = models.CharField(max_length=64)
    job_id = models.BigIntegerField()
    job_name = models.CharField(max_length=255, blank=True)
    job_type = models.CharField(max_length=64, blank=True)
    digest = models.CharField(max_length=64)
    definition = models.TextField()

    class Meta:
        ordering = ["batch_id", "job_id", "id"]
        indexes = [
            models.Index(fields=["batch_id", "job_id"], name="audit_snapshot_batch_job"),
            models.Index(fields=["digest"], name="audit_snapshot_digest"),
        ]
        verbose_name = "job snapshot"

    def __str__(self) -> str:
        return f"snapshot {self.digest[:12]} of job {self.job_id} ({self.job_name})"

    def as_document(self) -> dict:
        """The snapshot as a download shows it: what was kept, and the definition as DLI gave it."""
        return {
            "job_id": self.job_id,
            "name": self.job_name,
            "job_type": self.job_type,
            "delete_batch_id": str(self.batch_id),
            "taken_at": self.taken_at.isoformat(),
            "digest": self.digest,
            "definition": json.loads(self.definition),
        }

    @property
    def pretty(self) -> str:
        return json.dumps(json.loads(self.definition), indent=2, ensure_ascii=False, sort_keys=True)


class AuditDatabase(AppendOnlyModel):
    """This database's identity, made once by a migration: checkpoints name it, so a new database beside
    old checkpoints is told apart from an emptied one."""

    id = models.UUIDField(primary_key=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "audit database"

    def __str__(self) -> str:
        return str(self.id)


class AuditRefusalRepeat(models.Model):
    """How often a refusal was repeated (same actor, project and reason within a minute) after the record
    that holds it: not part of the chain, updated in place, so a flood of refused posts is one record."""

    # The record's seq, not a foreign key: nothing outside the chain's tables refers to them.
    seq = models.BigIntegerField(primary_key=True)
    count = models.PositiveIntegerField(default=0, help_text="repeats after the record itself")
    last_at = models.DateTimeField()

    class Meta:
        verbose_name = "audit refusal repeat"

    def __str__(self) -> str:
        return f"#{self.seq} repeated {self.count} times"


class AuditUnsettledJob(models.Model):
    """A selected job whose fate the log does not know yet: no result, or its latest result "unknown".

    Derived from the chain, not part of it: audit.services adds a row per intent job line and removes it
    when a settling result is appended (an "unknown" result puts it back), under the chain lock, in the
    same transaction. Reconcile and the batch pages read this short table instead of the whole log.
    """

    seq = models.BigIntegerField(help_text="the intent record's seq")
    position = models.PositiveIntegerField()
    batch_id = models.UUIDField()
    project_id = models.CharField(max_length=64)
    job_id = models.BigIntegerField()
    name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["seq", "position"]
        constraints = [
            models.UniqueConstraint(fields=["seq", "position"], name="audit_unsettled_line"),
        ]
        indexes = [
            models.Index(fields=["batch_id", "job_id"], name="audit_unsettled_batch_job"),
            models.Index(fields=["project_id", "job_id"], name="audit_unsettled_project_job"),
        ]
        verbose_name = "audit unsettled job"

    def __str__(self) -> str:
        return f"job {self.job_id} of batch {self.batch_id}: unsettled"
