"""Audit writes: the only code that adds records to the chain. Nothing here updates or deletes.

What is never stored: credentials, tokens, cookies, session ids, raw request headers. The caller hands
over the client address and user agent as strings (see client_ip_for) and nothing else of the request.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from functools import partial

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dli_admin.accounts.ip import client_ip
from dli_admin.projects.jobs import JobRef

from .chain import GENESIS, SNAPSHOT, record_hash, snapshot_digest, snapshot_text
from .checkpoints import Checkpoint, audit_key, checkpoint_write
from .models import (
    AuditDatabase,
    AuditIntentJob,
    AuditKind,
    AuditOutcome,
    AuditRecord,
    AuditRefusalRepeat,
    AuditSource,
    AuditUnsettledJob,
    JobSnapshot,
)

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the chain: the bytes "dliaudit" as a signed 64-bit integer.
CHAIN_LOCK_KEY = int.from_bytes(b"dliaudit", "big")
MAX_REFUSED_JOB_IDS = 200
USER_AGENT_LENGTH = 300
REFUSAL_FOLD_WINDOW = timedelta(seconds=60)  # repeats of a refusal within this time add to its count


@dataclass(frozen=True)
class AuditJobResult:
    """What became of one job: outcome is "deleted", "failed", "unknown" or "skipped"."""

    job_id: int
    name: str
    outcome: str
    message: str = ""
    error_code: str = ""
    dli_request_id: str = ""
    attempts: int = 0
    duration_ms: int = 0
    snapshot_digest: str = ""  # the job's snapshot (kept before its delete, or restored from)


def client_ip_for(request) -> str:
    """The client's address for the audit log: the same rule as the login throttle's (accounts.ip)."""
    return _clean(client_ip(request), 64)


def _clean(value: object, limit: int) -> str:
    """Text the database accepts as-is (no NUL, no lone surrogates), cut to the column's length."""
    text = str(value if value is not None else "").replace("\x00", "")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


def _actor(actor) -> tuple[int | None, str]:
    """The actor's id and username as they are now; anonymous or no actor (a command) is (None, "")."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None, ""
    return actor.pk, _clean(actor.get_username(), 150)


def _chain_lock() -> None:
    """Serialise writers so each append reads the true head of the chain."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
    elif connection.vendor == "sqlite":
        # BEGIN IMMEDIATE takes the database's write lock when the transaction starts, before the
        # head is read; a deferred BEGIN would let two writers read the same head.
        if connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") != "IMMEDIATE":
            raise ImproperlyConfigured("The audit log needs SQLite's transaction_mode=IMMEDIATE.")
    else:
        raise ImproperlyConfigured(f"The audit log supports PostgreSQL and SQLite, not {connection.vendor}.")


def audit_database_id() -> uuid.UUID:
    """This database's identity (made by migration 0006; again only if a flushed test database lost it)."""
    database = AuditDatabase.objects.values_list("id", flat=True).first()
    if database is None:
        database = uuid.uuid4()
        AuditDatabase.objects.bulk_create([AuditDatabase(id=database, created_at=timezone.now())])
    return database


def _checkpoint_written(checkpoint: Checkpoint) -> None:
    try:
        checkpoint_write(checkpoint)
    except OSError:
        # The records are committed; a missing checkpoint only weakens the next audit_verify.
        logger.exception("audit checkpoint of record %s not written", checkpoint.seq)


def _append(drafts: Sequence[tuple[AuditRecord, list[AuditIntentJob]]], *, durable: bool) -> None:
    """Number, time-stamp, chain and insert the records in one transaction, holding the chain lock;
    once it commits, write a signed checkpoint of the new head outside the database."""
    key = audit_key()
    if not key:
        raise ImproperlyConfigured("DLI_ADMIN_AUDIT_KEY is not set: the audit log cannot be written.")
    with transaction.atomic(durable=durable):
        _chain_lock()
        database = audit_database_id()
        head = AuditRecord.objects.order_by("-seq").values_list("seq", "hash", "created_at").first()
        seq, prev_hash, prev_time = head if head else (0, GENESIS, None)
        # Time never runs backwards along the chain, even from a host whose clock is behind: the review
        # pages turn date ranges into seq ranges, and audit_verify checks it.
        now = max(timezone.now(), prev_time) if prev_time else timezone.now()
        records: list[AuditRecord] = []
        lines: list[AuditIntentJob] = []
        for record, jobs in drafts:
            seq += 1
            record.seq, record.created_at, record.prev_hash = seq, now, prev_hash
            record.hash_version = SNAPSHOT
            for position, line in enumerate(jobs):
                # Only intents have job lines, and audit_intent_record always gives one its batch id.
                assert record.batch_id is not None
                line.record_id, line.position = seq, position
                line.batch_id, line.project_id = record.batch_id, record.project_id
            record.hash = prev_hash = record_hash(
                record.chain_values(),
                [(line.job_id, line.name, line.status) for line in jobs],
                version=SNAPSHOT,
                key=key,
            )
            records.append(record)
            lines.extend(jobs)
        AuditRecord.objects.bulk_create(records, batch_size=500)
        AuditIntentJob.objects.bulk_create(lines, batch_size=500)
        _unsettled_keep(records, lines)
        at = now.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        checkpoint = Checkpoint(database=str(database), seq=seq, hash=prev_hash, at=at)
        transaction.on_commit(partial(_checkpoint_written, checkpoint))


def _unsettled_keep(records: Sequence[AuditRecord], lines: Sequence[AuditIntentJob]) -> None:
    """Keep AuditUnsettledJob in step with what was just appended: a new job line is unsettled until
    a result settles it; a job's latest result decides (an "unknown" one makes it unsettled again).
    Deletes only: a restore's job is settled by its own batch (found by name, dli_admin.deletes.restore)."""
    records = [record for record in records if record.source != AuditSource.RESTORE]
    kept = {record.seq for record in records}
    lines = [line for line in lines if line.record_id in kept]
    AuditUnsettledJob.objects.bulk_create(
        [
            AuditUnsettledJob(
                seq=line.record_id,
                position=line.position,
                batch_id=line.batch_id,
                project_id=line.project_id,
                job_id=line.job_id,
                name=line.name,
            )
            for line in lines
        ],
        batch_size=500,
    )
    latest: dict[uuid.UUID, dict[int, str]] = {}  # batch -> job -> outcome of its newest result here
    for record in records:
        if record.kind == AuditKind.RESULT and record.batch_id is not None and record.job_id is not None:
            latest.setdefault(record.batch_id, {})[record.job_id] = record.outcome
    for batch_id, outcomes in latest.items():
        settled = [job_id for job_id, outcome in outcomes.items() if outcome != AuditOutcome.UNKNOWN]
        unknown = [job_id for job_id, outcome in outcomes.items() if outcome == AuditOutcome.UNKNOWN]
        if settled:
            AuditUnsettledJob.objects.filter(batch_id=batch_id, job_id__in=settled).delete()
        if unknown:
            again = AuditIntentJob.objects.filter(batch_id=batch_id, job_id__in=unknown).values_list(
                "record_id", "position", "project_id", "job_id", "name"
            )
            AuditUnsettledJob.objects.bulk_create(
                [
                    AuditUnsettledJob(
                        seq=seq,
                        position=position,
                        batch_id=batch_id,
                        project_id=project,
                        job_id=job,
                        name=name,
                    )
                    for seq, position, project, job, name in again
                ],
                ignore_conflicts=True,  # still unsettled from before: the row is there
            )


def audit_intent_record(
    *,
    batch_id: uuid.UUID,
    actor,
    project_id: str,
    project_name: str,
    jobs: Sequence[JobRef],
    client_ip: str,
    user_agent: str,
    source: str = "",
    reason: str = "",
) -> None:
    """Record what is about to be deleted (source "restore": re-created), and commit it before returning.

    Its own durable transaction: a crash after this call cannot erase the intent, and the caller must
    not be inside a transaction (RuntimeError if it is).
    """
    actor_id, username = _actor(actor)
    if source not in ("", AuditSource.RESTORE):
        raise ValueError(f"unknown audit intent source {source!r}")
    record = AuditRecord(
        kind=AuditKind.INTENT,
        source=source,
        batch_id=batch_id,
        actor_id=actor_id,
        actor_username=username,
        project_id=_clean(project_id, 64),
        project_name=_clean(project_name, 100),
        client_ip=_clean(client_ip, 64),
        user_agent=_clean(user_agent, USER_AGENT_LENGTH),
        reason=_clean(reason, 500),
    )
    lines = [
        AuditIntentJob(job_id=int(job.job_id), name=_clean(job.name, 255), status=_clean(job.status, 64))
        for job in jobs
    ]
    _append([(record, lines)], durable=True)


def audit_results_record(
    *,
    batch_id: uuid.UUID,
    actor,
    project_id: str,
    results: Sequence[AuditJobResult],
    source: str = AuditSource.DELETE,
) -> None:
    """Record one result per job: source "delete" at the end of a batch, "reconcile" when settled later.

    Commits at once, or with the caller's transaction if there is one.
    """
    if source not in AuditSource.values:
        raise ValueError(f"unknown audit result source {source!r}")
    actor_id, username = _actor(actor)
    drafts: list[tuple[AuditRecord, list[AuditIntentJob]]] = []
    for result in results:
        if result.outcome not in AuditOutcome.values:
            raise ValueError(f"unknown audit outcome {result.outcome!r} for job {result.job_id}")
        record = AuditRecord(
            kind=AuditKind.RESULT,
            source=source,
            batch_id=batch_id,
            actor_id=actor_id,
            actor_username=username,
            project_id=_clean(project_id, 64),
            job_id=int(result.job_id),
            job_name=_clean(result.name, 255),
            outcome=result.outcome,
            message=_clean(result.message, 2000),
            error_code=_clean(result.error_code, 64),
            dli_request_id=_clean(result.dli_request_id, 128),
            attempts=int(result.attempts),
            duration_ms=int(result.duration_ms),
            snapshot_digest=_clean(result.snapshot_digest, 64),
        )
        drafts.append((record, []))
    if drafts:
        _append(drafts, durable=False)


@dataclass(frozen=True)
class SnapshotDraft:
    """A job's definition as DLI gave it (the raw job object of a list with show_detail=true, or a show)."""

    job_id: int
    name: str
    job_type: str
    definition: Mapping[str, object]


def audit_snapshots_record(
    *, batch_id: uuid.UUID, project_id: str, snapshots: Sequence[SnapshotDraft]
) -> dict[int, str]:
    """Keep each job's definition before its delete is sent; returns job id -> digest.

    A job whose newest snapshot in this batch has the same digest is not stored again (a wave retried
    after DLI refused to act). The digests reach the chain with the jobs' result records.
    """
    now = timezone.now()
    drafts = []
    for draft in snapshots:
        text = snapshot_text(draft.definition)
        drafts.append((draft, text, snapshot_digest(text)))
    newest: dict[int, str] = {}
    for job_id, digest in (
        JobSnapshot.objects.filter(batch_id=batch_id, job_id__in=[d.job_id for d, _, _ in drafts])
        .order_by("id")
        .values_list("job_id", "digest")
    ):
        newest[job_id] = digest
    rows = [
        JobSnapshot(
            taken_at=now,
            batch_id=batch_id,
            project_id=_clean(project_id, 64),
            job_id=int(draft.job_id),
            job_name=_clean(draft.name, 255),
            job_type=_clean(draft.job_type, 64),
            digest=digest,
            definition=text,
        )
        for draft, text, digest in drafts
        if newest.get(draft.job_id) != digest
    ]
    JobSnapshot.objects.bulk_create(rows, batch_size=500)
    return {draft.job_id: digest for draft, _text, digest in drafts}


def audit_refusal_record(
    *,
    actor,
    project_id: str,
    job_ids: Sequence[str],
    reason: str,
    client_ip: str,
    user_agent: str,
) -> None:
    """Record a delete refused for role, project or bad input (ASVS 16.3.2); the actor may be anonymous.

    Job ids are kept as the strings that were posted (they may be malformed), at most 200 of them. A
    repeat of a refusal recorded less than a minute ago (same actor, project and reason; for anonymous
    posts, the same client address) adds one to that record's count instead of a record, so a flood of
    refused posts cannot bury the log. The repeats' own job ids are not kept.
    """
    actor_id, username = _actor(actor)
    kept = [_clean(job_id, 64) for job_id in list(job_ids)[:MAX_REFUSED_JOB_IDS]]
    reason = _clean(reason, 440)
    if len(job_ids) > MAX_REFUSED_JOB_IDS:
        reason += f" [{len(job_ids)} job ids posted, the first {MAX_REFUSED_JOB_IDS} kept]"
    record = AuditRecord(
        kind=AuditKind.REFUSAL,
        actor_id=actor_id,
        actor_username=username,
        project_id=_clean(project_id, 64),
        client_ip=_clean(client_ip, 64),
        user_agent=_clean(user_agent, USER_AGENT_LENGTH),
        reason=_clean(reason, 500),
        refused_job_ids=kept,
    )
    with transaction.atomic():
        _chain_lock()
        now = timezone.now()
        same = AuditRecord.objects.filter(
            kind=AuditKind.REFUSAL,
            actor_id=actor_id,
            actor_username=username,
            project_id=record.project_id,
            reason=record.reason,
            created_at__gte=now - REFUSAL_FOLD_WINDOW,
        )
        if actor_id is None:
            same = same.filter(client_ip=record.client_ip)
        earlier = same.order_by("-seq").values_list("seq", flat=True).first()
        if earlier is None:
            _append([(record, [])], durable=False)
            return
        repeat, created = AuditRefusalRepeat.objects.get_or_create(
            seq=earlier, defaults={"count": 1, "last_at": now}
        )
        if not created:
            AuditRefusalRepeat.objects.filter(pk=repeat.pk).update(count=F("count") + 1, last_at=now)


def _append_one(
    *,
    kind: str,
    actor,
    project_id: str,
    project_name: str = "",
    client_ip: str = "",
    user_agent: str = "",
    reason: str = "",
    **fields,
) -> None:
    """Append one record that has no job lines (a cancel, an access or a policy change), inside the
    caller's transaction, with who made it and the text fields cut to their columns."""
    actor_id, username = _actor(actor)
    record = AuditRecord(
        kind=kind,
        actor_id=actor_id,
        actor_username=username,
        project_id=_clean(project_id, 64),
        project_name=_clean(project_name, 100),
        client_ip=_clean(client_ip, 64),
        user_agent=_clean(user_agent, USER_AGENT_LENGTH),
        reason=_clean(reason, 500),
        **fields,
    )
    _append([(record, [])], durable=False)


def audit_cancel_record(
    *, batch_id: uuid.UUID, actor, project_id: str, client_ip: str, user_agent: str
) -> None:
    """Record that someone asked a running batch to stop (its unsent jobs then read skipped)."""
    _append_one(
        kind=AuditKind.CANCEL,
        batch_id=batch_id,
        actor=actor,
        project_id=project_id,
        client_ip=client_ip,
        user_agent=user_agent,
        reason="cancel requested: jobs not yet sent will not be sent",
    )


ACCESS_SOURCES = (AuditSource.COMMAND, AuditSource.ADMIN, AuditSource.SSO)


def audit_access_record(
    *,
    actor,
    source: str,
    project_id: str,
    project_name: str,
    summary: str,
    change: dict,
    client_ip: str = "",
    user_agent: str = "",
) -> None:
    """Record a change of who may do what: a grant, revoke, project or user flag change.

    Inside the caller's transaction, which also makes the change (dli_admin.access.services): the change
    and its record commit together or not at all. `summary` is the sentence the audit page shows;
    `change` the same as data (kind of change, subject user, role, before and after), kept as JSON in
    the record's message. A command has no actor; `change["by"]` then says which account ran it.
    """
    if source not in ACCESS_SOURCES:
        raise ValueError(f"unknown access change source {source!r}")
    _append_one(
        kind=AuditKind.ACCESS,
        source=source,
        actor=actor,
        project_id=project_id,
        project_name=project_name,
        client_ip=client_ip,
        user_agent=user_agent,
        reason=summary,
        message=_clean(json.dumps(change, sort_keys=True, separators=(",", ":"), default=str), 2000),
    )


def audit_policy_record(
    *, actor, project_id: str, project_name: str, reason: str, client_ip: str = "", user_agent: str = ""
) -> None:
    """Record a change of a cleanup policy or of a project's webhook: who, and what changed (no secrets)."""
    _append_one(
        kind=AuditKind.POLICY,
        actor=actor,
        project_id=project_id,
        project_name=project_name,
        client_ip=client_ip,
        user_agent=user_agent,
        reason=reason,
    )
