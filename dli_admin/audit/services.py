"""Audit writes: the only code that adds records to the chain. Nothing here updates or deletes.

What is never stored: credentials, tokens, cookies, session ids, raw request headers. The caller hands
over the client address and user agent as strings (see client_ip_for) and nothing else of the request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from dli_admin.accounts.ip import client_ip
from dli_admin.projects.jobs import JobRef

from .chain import GENESIS, record_hash
from .models import AuditIntentJob, AuditKind, AuditOutcome, AuditRecord, AuditSource

# pg_advisory_xact_lock key of the chain: the bytes "dliaudit" as a signed 64-bit integer.
CHAIN_LOCK_KEY = int.from_bytes(b"dliaudit", "big")
MAX_REFUSED_JOB_IDS = 200
USER_AGENT_LENGTH = 300


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


def _append(drafts: Sequence[tuple[AuditRecord, list[AuditIntentJob]]], *, durable: bool) -> None:
    """Number, time-stamp, chain and insert the records in one transaction, holding the chain lock."""
    with transaction.atomic(durable=durable):
        _chain_lock()
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
            for position, line in enumerate(jobs):
                # Only intents have job lines, and audit_intent_record always gives one its batch id.
                assert record.batch_id is not None
                line.record_id, line.position = seq, position
                line.batch_id, line.project_id = record.batch_id, record.project_id
            record.hash = prev_hash = record_hash(
                record.chain_values(), [(line.job_id, line.name, line.status) for line in jobs]
            )
            records.append(record)
            lines.extend(jobs)
        AuditRecord.objects.bulk_create(records, batch_size=500)
        AuditIntentJob.objects.bulk_create(lines, batch_size=500)


def audit_intent_record(
    *,
    batch_id: uuid.UUID,
    actor,
    project_id: str,
    project_name: str,
    jobs: Sequence[JobRef],
    client_ip: str,
    user_agent: str,
) -> None:
    """Record what is about to be deleted, and commit it before returning.

    Its own durable transaction: a crash after this call cannot erase the intent, and the caller must
    not be inside a transaction (RuntimeError if it is).
    """
    actor_id, username = _actor(actor)
    record = AuditRecord(
        kind=AuditKind.INTENT,
        batch_id=batch_id,
        actor_id=actor_id,
        actor_username=username,
        project_id=_clean(project_id, 64),
        project_name=_clean(project_name, 100),
        client_ip=_clean(client_ip, 64),
        user_agent=_clean(user_agent, USER_AGENT_LENGTH),
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
        )
        drafts.append((record, []))
    if drafts:
        _append(drafts, durable=False)


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

    Job ids are kept as the strings that were posted (they may be malformed), at most 200 of them.
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
    _append([(record, [])], durable=False)


def audit_cancel_record(
    *, batch_id: uuid.UUID, actor, project_id: str, client_ip: str, user_agent: str
) -> None:
    """Record that someone asked a running batch to stop (its unsent jobs then read skipped)."""
    actor_id, username = _actor(actor)
    record = AuditRecord(
        kind=AuditKind.CANCEL,
        batch_id=batch_id,
        actor_id=actor_id,
        actor_username=username,
        project_id=_clean(project_id, 64),
        client_ip=_clean(client_ip, 64),
        user_agent=_clean(user_agent, USER_AGENT_LENGTH),
        reason="cancel requested: jobs not yet sent will not be sent",
    )
    _append([(record, [])], durable=False)
