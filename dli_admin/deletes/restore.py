"""Restore: re-create deleted jobs from their snapshots, as a background batch of kind "restore".

It reuses the delete batch's machinery (lease, heartbeat, waves, audited settling, waiting out DLI), and
differs only in what a wave sends: one create call per job, never a start (docs/dli-api.md §12). A create
is a write that carries no idempotency key, so the rules are the delete's: a job is marked "sent"
(committed, with the ids of jobs bearing its name just before) before its create leaves; a create whose
reply was lost, or whose worker died, is looked up by name before anything is sent again: a job of that
name that was not there before is the restored one; none means DLI did not create it, and it goes again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from dli_admin.audit.models import AuditKind, AuditOutcome, AuditRecord, AuditSource
from dli_admin.audit.services import AuditJobResult, audit_intent_record, audit_results_record
from dli_admin.dli import CreatedJob, DliError, ErrorCategory
from dli_admin.projects.jobs import JobRef

from .models import BatchState, DeleteBatch, DeleteBatchJob, JobState
from .runner import (
    _ERRORS_TO_WAIT_OUT,
    SKIPPED,
    UNKNOWN,
    Outcome,
    _insert_claiming,
    _patiently,
    _Run,
    _settle_row,
)

log = logging.getLogger("dli_admin.deletes")

RESTORED, FAILED = AuditOutcome.RESTORED, AuditOutcome.FAILED
ALREADY_RESTORING = "already being restored by another batch"
SQL_TYPES = ("flink_sql_job", "flink_opensource_sql_job")
JAR_TYPE = "flink_jar_job"

# What each create call takes from a snapshot (docs/dli-api.md §12): the job's own fields, then the
# job_config fields that the create page documents. State (checkpoints, savepoints) is not among them.
_SQL_TOP = ("name", "desc", "queue_name", "sql_body", "run_mode", "job_type")
_SQL_CONFIG = (
    "cu_number",
    "manager_cu_number",
    "parallel_number",
    "checkpoint_enabled",
    "checkpoint_mode",
    "checkpoint_interval",
    "obs_bucket",
    "log_enabled",
    "smn_topic",
    "restart_when_exception",
    "idle_state_retention",
    "dirty_data_strategy",
    "udf_jar_url",
    "tm_cus",
    "tm_slot_num",
    "resume_checkpoint",
    "resume_max_num",
    "runtime_config",
    "flink_version",
    "execution_agency_urn",
    "resource_config_version",
    "resource_config",
)
_JAR_TOP = ("name", "desc", "queue_name", "main_class", "entrypoint_args")
_JAR_CONFIG = (
    "cu_number",
    "manager_cu_number",
    "parallel_number",
    "checkpoint_enabled",
    "checkpoint_mode",
    "checkpoint_interval",
    "log_enabled",
    "obs_bucket",
    "smn_topic",
    "restart_when_exception",
    "entrypoint",
    "dependency_jars",
    "dependency_files",
    "tm_cus",
    "tm_slot_num",
    "execution_agency_urn",
    "resume_checkpoint",
    "resume_max_num",
    "checkpoint_path",
    "runtime_config",
    "resource_config_version",
    "resource_config",
)


class NotRestorable(Exception):
    """The snapshot lacks what DLI's create call needs; the message says what."""


@dataclass(frozen=True)
class CreateRequest:
    kind: str  # "sql" or "jar"
    body: dict[str, Any]


def _present(value: object) -> bool:
    """A value worth sending: DLI's empty strings and nulls mean "not set", so they are left out."""
    return value is not None and value != ""


def restore_request(definition: Mapping[str, Any]) -> CreateRequest:
    """The create call that re-creates the job a snapshot describes; NotRestorable says why not."""
    job_type = definition.get("job_type") or ""
    config = definition.get("job_config")
    if not isinstance(config, Mapping):
        raise NotRestorable("the snapshot holds no job_config")
    if definition.get("run_mode") == "edge_node" or job_type == "flink_sql_edge_job":
        raise NotRestorable("an edge job needs its edge groups, which dli-admin does not re-create")
    top: tuple[str, ...]
    keys: tuple[str, ...]
    if job_type in SQL_TYPES:
        if not _present(definition.get("sql_body")):
            raise NotRestorable("the snapshot holds no SQL body")
        top, keys, kind = _SQL_TOP, _SQL_CONFIG, "sql"
    elif job_type == JAR_TYPE:
        if not _present(config.get("entrypoint")):
            raise NotRestorable("the snapshot names no jar (job_config.entrypoint), which the create needs")
        top, keys, kind = _JAR_TOP, _JAR_CONFIG, "jar"
    else:
        raise NotRestorable(f"DLI has no create call dli-admin uses for {job_type or 'untyped'} jobs")
    if not _present(definition.get("name")):
        raise NotRestorable("the snapshot holds no job name")
    body = {key: definition[key] for key in top if _present(definition.get(key))}
    body |= {key: config[key] for key in keys if _present(config.get(key))}
    tags = definition.get("tags")  # UNCERTAIN: list and show do not document tags (§12)
    if isinstance(tags, Mapping) and tags:
        body["tags"] = [{"key": str(key), "value": str(value)} for key, value in tags.items()]
    elif isinstance(tags, list) and tags:
        body["tags"] = tags
    return CreateRequest(kind, body)


def definition_of(text: str) -> dict[str, Any]:
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def refused_message(error: DliError) -> str:
    """DLI's own words for a refused create (a taken name, a missing queue, ...)."""
    said = error.message or str(error)
    return f"DLI refused to create it{f' ({error.code})' if error.code else ''}: {said}"


def restore_expand(batch: DeleteBatch) -> None:
    """The confirmed restore becomes its audit intent (source "restore") and its job rows; repeatable."""
    if batch.jobs.exists():
        return
    selection = batch.selection
    if not AuditRecord.objects.filter(kind=AuditKind.INTENT, batch_id=batch.pk).exists():
        audit_intent_record(
            batch_id=batch.pk,
            actor=batch.requested_by,
            project_id=batch.project_id_text,
            project_name=batch.project_name,
            jobs=[JobRef(job_id, name, "") for job_id, name, *_ in selection],
            client_ip=batch.client_ip,
            user_agent=batch.user_agent,
            source=AuditSource.RESTORE,
            reason="restore: re-create deleted jobs from their snapshots (never started)",
        )
    now = timezone.now()
    rows, skipped = [], []
    for position, (job_id, name, excluded, job_type, digest) in enumerate(selection):
        row = DeleteBatchJob(
            batch=batch,
            position=position,
            project_id_text=batch.project_id_text,
            job_id=job_id,
            name=name,
            job_type=job_type,
            snapshot_digest=digest,
        )
        if excluded:
            _settle_row(row, SKIPPED, excluded, now)
            skipped.append(AuditJobResult(job_id, name, SKIPPED, excluded, snapshot_digest=digest))
        rows.append(row)

    def write() -> None:
        with transaction.atomic():
            # A job another live restore holds reads skipped here (the one-live-batch index decides).
            taken = _insert_claiming(rows, now, ALREADY_RESTORING)
            for result in taken:
                digests = {row.job_id: row.snapshot_digest for row in rows}
                skipped.append(
                    AuditJobResult(**{**result.__dict__, "snapshot_digest": digests[result.job_id]})
                )
            audit_results_record(
                batch_id=batch.pk,
                actor=batch.requested_by,
                project_id=batch.project_id_text,
                results=skipped,
                source=AuditSource.RESTORE,
            )
            DeleteBatch.objects.filter(pk=batch.pk).update(selection=[])

    _patiently(write)


class RestoreRun(_Run):
    """A restore batch's run: the delete's lease, waves, waiting and ending; one create per job."""

    def run(self) -> Outcome:
        restore_expand(self.batch)
        if self.batch.started_at is None:
            self.note(started_at=timezone.now())
        if self.batch.state == BatchState.QUEUED:
            self.note(state=BatchState.RUNNING)
        if not self._connect():
            return self._end()
        while True:
            self.keeper.check()
            cancelling = self.refresh_state() == BatchState.CANCELLING
            if cancelling:
                who = self.batch.cancel_requested_by_username or "someone"
                self._restore_settle(
                    [
                        (row, SKIPPED, f"cancelled before its create was sent (by {who})")
                        for row in self.jobs("pending")
                    ]
                )
            if self.stop.is_set():
                return self._hand_back()
            self.problems = []
            for row in self.jobs(JobState.SENT):
                self._look_up(row)
            pending = [] if cancelling else self.jobs(JobState.PENDING, self.wave_size())
            for row in pending:
                if self.problems or self.stop.is_set() or self.refresh_state() == BatchState.CANCELLING:
                    break
                self._create(row)
            if not self.problems and not self.jobs(JobState.SENT) and not self.jobs(JobState.PENDING, 1):
                return self._end()
            if self.problems:
                waited = self._wait_or_give_up()
                if waited is not None:
                    return waited
            else:
                self.note(give_up_at=None, waiting_reason="")

    # --- one job ------------------------------------------------------------------------------------

    def _same_name(self, name: str) -> list[int]:
        """Ids of the jobs named exactly `name` now (DLI's name filter may match more: UNCERTAIN, §2)."""
        assert self.client is not None
        return sorted(job.job_id for job in self.client.iter_jobs(name=name) if job.name == name)

    def _create(self, row: DeleteBatchJob) -> None:
        snapshot = self._snapshot_text(row)
        try:
            request = restore_request(definition_of(snapshot))
        except (NotRestorable, ValueError) as why:
            self._restore_settle([(row, SKIPPED, f"cannot be re-created: {why}")])
            return
        try:
            before = self._same_name(row.name)
        except DliError as error:
            self._problem(row, error, f"could not check the name in DLI before creating it: {error}")
            return
        # Committed before the create leaves: a worker that dies now leaves it "sent", looked up by name.
        self.keeper.check()
        marked = _patiently(
            lambda: DeleteBatchJob.objects.filter(
                pk=row.pk, state=JobState.PENDING, batch__lease_owner=self.worker_id
            ).update(state=JobState.SENT, same_name_before=before)
        )
        if marked != 1:
            from .runner import LeaseLost

            raise LeaseLost(f"batch {self.batch.pk}: job {row.job_id} changed hands before its create")
        row.state, row.same_name_before = JobState.SENT, before
        assert self.client is not None
        create = self.client.create_sql_job if request.kind == "sql" else self.client.create_jar_job
        started = timezone.now()
        try:
            created: CreatedJob = create(request.body)
        except DliError as error:
            row.attempts += 1
            row.duration_ms = int((timezone.now() - started).total_seconds() * 1000)
            row.error_code, row.dli_request_id = error.code or "", error.request_id or ""
            if error.category in (ErrorCategory.AMBIGUOUS, ErrorCategory.UNPARSEABLE):
                self._note_ambiguous(row, str(error))  # the next wave looks it up by name
                self.problems.append(f"a create's answer was lost: {error}")
            elif error.category in _ERRORS_TO_WAIT_OUT and not 200 <= (error.status or 0) < 300:
                self._problem(row, error, f"DLI did not take the create: {error}", back_to_pending=True)
            else:
                self._restore_settle([(row, FAILED, refused_message(error))])
            return
        row.attempts += created.attempts
        row.dli_request_id = created.request_id or ""
        row.duration_ms = int((timezone.now() - started).total_seconds() * 1000)
        self._restored(
            row,
            created.job_id,
            f"restored as job {created.job_id} (in {created.status_name or 'job_init'}, not started)",
        )

    def _look_up(self, row: DeleteBatchJob) -> None:
        """A create that may have reached DLI: find it by name before anything is sent again."""
        try:
            now = self._same_name(row.name)
        except DliError as error:
            if self._deadline_passed():
                self._restore_settle(
                    [(row, UNKNOWN, f"its create may have reached DLI, and looking it up failed: {error}")]
                )
            else:
                self.problems.append(f"looking a create up by name failed: {error}")
            return
        new = [job_id for job_id in now if job_id not in set(row.same_name_before)]
        if len(new) == 1:
            self._restored(
                row, new[0], f"restored as job {new[0]}: its create's reply was lost, found by name"
            )
        elif len(new) > 1:
            shown = ", ".join(str(job_id) for job_id in new[:5])
            self._restore_settle(
                [(row, UNKNOWN, f"its create's reply was lost; jobs {shown} now bear its name")]
            )
        else:
            # Not created: it goes again in this wave, with a fresh look at the name first.
            _patiently(
                lambda: DeleteBatchJob.objects.filter(pk=row.pk).update(
                    state=JobState.PENDING, reply_ambiguous=False, reply_problem=""
                )
            )

    # --- bookkeeping --------------------------------------------------------------------------------

    def _snapshot_text(self, row: DeleteBatchJob) -> str:
        from dli_admin.audit.models import JobSnapshot

        text = (
            JobSnapshot.objects.filter(
                project_id=self.batch.project_id_text, job_id=row.job_id, digest=row.snapshot_digest
            )
            .values_list("definition", flat=True)
            .first()
        )
        return text or "{}"

    def _note_ambiguous(self, row: DeleteBatchJob, problem: str) -> None:
        _patiently(
            lambda: DeleteBatchJob.objects.filter(pk=row.pk).update(
                reply_ambiguous=True,
                reply_problem=problem[:2000],
                attempts=row.attempts,
                error_code=row.error_code,
                dli_request_id=row.dli_request_id,
            )
        )

    def _problem(
        self, row: DeleteBatchJob, error: DliError, message: str, *, back_to_pending: bool = False
    ) -> None:
        if self._deadline_passed():
            self._restore_settle([(row, FAILED, message)])
            return
        self.problems.append(message)
        if back_to_pending:
            _patiently(lambda: DeleteBatchJob.objects.filter(pk=row.pk).update(state=JobState.PENDING))

    def _restored(self, row: DeleteBatchJob, new_id: int, message: str) -> None:
        row.new_job_id = new_id
        _patiently(lambda: DeleteBatchJob.objects.filter(pk=row.pk).update(new_job_id=new_id))
        self._restore_settle([(row, RESTORED, message)])

    def _restore_settle(self, settled: list[tuple[DeleteBatchJob, str, str]]) -> None:
        self.settle(settled, source=AuditSource.RESTORE)
