"""Runs a delete batch in a background worker, and resumes it after any crash.

A worker first takes the batch's lease (a conditional UPDATE: the database's clock decides) and renews
it from a heartbeat thread; a batch whose lease lapsed is taken over by the next worker. The batch then
goes in waves. Each wave makes one read of DLI that both settles the jobs sent in the wave before and
re-checks the jobs about to be sent (listing with show_detail=true, so the same read gives each job's
definition, kept as its snapshot before its chunk is sent); then it sends those in chunks, a few at a
time. A job is marked "sent" (committed) before its chunk leaves, so a worker that dies mid-chunk leaves
it "sent": the next worker reads it back and never sends it again. Results are written with their audit
records in one transaction, and only while the lease is still ours, so no job is settled twice.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import batched
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from dli_admin.audit.models import AuditKind, AuditOutcome, AuditRecord, AuditSource
from dli_admin.audit.services import (
    AuditJobResult,
    SnapshotDraft,
    audit_intent_record,
    audit_results_record,
    audit_snapshots_record,
)
from dli_admin.dli import ChunkOutcome, ChunkResult, DliClient, DliError, ErrorCategory
from dli_admin.projects.connections import DliNotConfigured, dli_client_for
from dli_admin.projects.jobs import JobRef
from dli_admin.projects.selectors import ReadBack, flink_jobs_read
from dli_admin.projects.statuses import status_label

from .models import LIVE_BATCH_STATES, BatchKind, BatchState, DeleteBatch, DeleteBatchJob, JobState
from .settling import Reply, gave_up_reading, provably_untouched, refusal_message, reply_of, settled_fate
from .signals import batch_ended

log = logging.getLogger("dli_admin.deletes")

DELETED, FAILED, UNKNOWN, SKIPPED = (
    AuditOutcome.DELETED,
    AuditOutcome.FAILED,
    AuditOutcome.UNKNOWN,
    AuditOutcome.SKIPPED,
)
RETRY_PAUSES = (2.0, 5.0, 15.0, 30.0, 60.0)  # seconds between tries while DLI is unreachable or throttles
DATABASE_PATIENCE = 120.0  # seconds a worker keeps retrying a database that went away
_ERRORS_TO_WAIT_OUT = frozenset(
    {ErrorCategory.NETWORK, ErrorCategory.TIMEOUT, ErrorCategory.THROTTLED, ErrorCategory.SERVER}
)
_ERRORS_THAT_STOP = frozenset({ErrorCategory.AUTH, ErrorCategory.FORBIDDEN})


NO_SNAPSHOT = (
    "not deleted: DLI did not give its definition, so no snapshot could be kept "
    "(an owner may confirm “delete without a snapshot”)"
)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaseLost(Exception):
    """Another worker holds the batch now: stop at once, write nothing more."""


@dataclass
class Outcome:
    """What a run of the batch came to: "ended", "waiting" (resumes later), "handed back", "busy"."""

    state: str
    detail: str = ""


def _lease_until() -> Any:
    return Now() + timedelta(seconds=settings.DLI_BATCH_LEASE)


def batch_lease_take(batch_id: uuid.UUID, worker_id: str) -> bool:
    """Take the batch if nobody holds it (or the holder's lease lapsed); True when it is ours now."""
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=Now()) | Q(lease_owner=worker_id)
    due = Q(resume_after__isnull=True) | Q(resume_after__lte=Now()) | Q(state=BatchState.CANCELLING)
    taken = (
        DeleteBatch.objects.filter(pk=batch_id, state__in=LIVE_BATCH_STATES)
        .filter(free, due)
        .update(lease_owner=worker_id, lease_until=_lease_until(), resume_after=None)
    )
    return taken == 1


class LeaseKeeper(threading.Thread):
    """Renews the lease every third of its length; flags `lost` when the renewal finds it gone."""

    def __init__(self, batch_id: uuid.UUID, worker_id: str) -> None:
        super().__init__(name=f"lease-{batch_id}", daemon=True)
        self.batch_id, self.worker_id = batch_id, worker_id
        self.lost = threading.Event()
        # Not `_stop`: threading.Thread has a method of that name, which join() calls on Python 3.12.
        self._stopping = threading.Event()

    def run(self) -> None:
        interval = settings.DLI_BATCH_LEASE / 3
        last_renewed = time.monotonic()
        try:
            while not self._stopping.wait(interval):
                try:
                    renewed = DeleteBatch.objects.filter(pk=self.batch_id, lease_owner=self.worker_id).update(
                        lease_until=_lease_until()
                    )
                except DatabaseError:
                    close_old_connections()
                    renewed = -1  # the database is away: the lease may still be ours, try again
                if renewed == 0 or (
                    renewed < 0 and time.monotonic() - last_renewed > settings.DLI_BATCH_LEASE
                ):
                    self.lost.set()
                    return
                if renewed > 0:
                    last_renewed = time.monotonic()
        finally:
            connection.close()

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"batch {self.batch_id}: another worker took it over")

    def stop(self) -> None:
        self._stopping.set()


def _patiently[T](step: Callable[[], T]) -> T:
    """Run a database step; if the database went away (restarted), reconnect and retry for a while."""
    waited, pause = 0.0, 0.5
    while True:
        try:
            return step()
        except (OperationalError, InterfaceError) as error:
            if waited >= DATABASE_PATIENCE or "is locked" in str(error):
                raise
            log.warning("database unavailable (%s); retrying in %.1fs", error, pause)
            close_old_connections()
            connection.close()
            time.sleep(pause)
            waited += pause
            pause = min(pause * 2, 10.0)


@dataclass
class _Run:
    batch: DeleteBatch
    worker_id: str
    keeper: LeaseKeeper
    stop: threading.Event
    client: DliClient | None = None
    narrow: bool = True  # DLI's job_type/user_name filters narrow reads, until they prove unreliable
    problems: list[str] = field(default_factory=list)  # this wave's reasons to wait and try again
    sent_chunks: int = 0
    answered_ok: bool = False  # a chunk came back with DLI acting on it: go concurrent

    # --- persistence ----------------------------------------------------------------------------

    def jobs(self, state: str, limit: int | None = None) -> list[DeleteBatchJob]:
        rows = DeleteBatchJob.objects.filter(batch=self.batch, state=state).order_by("position")
        return list(rows[:limit] if limit else rows)

    def settle(
        self,
        settled: Sequence[tuple[DeleteBatchJob, str, str]],
        *,
        actor: Any = None,
        source: str = AuditSource.DELETE,
    ) -> None:
        """Write outcomes and their audit results in one transaction, if the lease is still ours."""
        if not settled:
            return

        def write() -> None:
            now = timezone.now()
            with transaction.atomic():
                holder = DeleteBatch.objects.filter(pk=self.batch.pk).values_list("lease_owner", flat=True)
                if holder.first() != self.worker_id:
                    raise LeaseLost(f"batch {self.batch.pk}: another worker took it over")
                groups: dict[tuple[str, str], list[int]] = {}
                for row, outcome, message in settled:
                    row.state, row.outcome, row.message, row.settled_at = (
                        JobState.SETTLED,
                        outcome,
                        message,
                        now,
                    )
                    groups.setdefault((outcome, message), []).append(row.pk)
                # One UPDATE per distinct outcome and message (a few per wave), not one CASE per row.
                for (outcome, message), pks in groups.items():
                    DeleteBatchJob.objects.filter(pk__in=pks).update(
                        state=JobState.SETTLED, outcome=outcome, message=message, settled_at=now
                    )
                audit_results_record(
                    batch_id=self.batch.pk,
                    actor=actor if actor is not None else self.batch.requested_by,
                    project_id=self.batch.project_id_text,
                    source=source,
                    results=[
                        AuditJobResult(
                            job_id=row.job_id,
                            name=row.name,
                            outcome=outcome,
                            message=message,
                            error_code=row.error_code,
                            dli_request_id=row.dli_request_id,
                            attempts=row.attempts,
                            duration_ms=row.duration_ms,
                            snapshot_digest=row.snapshot_digest,
                        )
                        for row, outcome, message in settled
                    ],
                )

        _patiently(write)

    def note(self, **fields: Any) -> None:
        """Update the batch's own fields (state, waiting reason...) as the page shows them."""
        for name, value in fields.items():
            setattr(self.batch, name, value)
        _patiently(lambda: DeleteBatch.objects.filter(pk=self.batch.pk).update(**fields))

    def refresh_state(self) -> str:
        state = _patiently(lambda: DeleteBatch.objects.values_list("state", flat=True).get(pk=self.batch.pk))
        self.batch.state = state
        return state

    # --- the waves --------------------------------------------------------------------------------

    def run(self) -> Outcome:
        batch_expand(self.batch)
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
                self.settle(
                    [(row, SKIPPED, f"cancelled before sending (by {who})") for row in self.jobs("pending")]
                )
            sent = self.jobs(JobState.SENT)
            pending = [] if cancelling else self.jobs(JobState.PENDING, self.wave_size())
            if not sent and not pending:
                return self._end()
            if self.stop.is_set():
                return self._hand_back()
            self.problems = []
            ready = self._read_and_settle(sent, pending)
            if ready and not self.stop.is_set():
                self._send(ready)
            if self.problems:
                waited = self._wait_or_give_up()
                if waited is not None:
                    return waited
            else:
                self.note(give_up_at=None, waiting_reason="")

    def wave_size(self) -> int:
        """DLI_BATCH_WAVE jobs, or a quarter of what is left if that is more: each wave costs a read of
        the jobs' list pages, so a big batch goes in a few big waves (its progress still moves)."""
        left = DeleteBatchJob.objects.filter(batch=self.batch, state=JobState.PENDING).count()
        chunk: int = settings.DLI_BATCH_SIZE  # whole chunks only
        wave: int = settings.DLI_BATCH_WAVE
        return max(wave, math.ceil(left / 4 / chunk) * chunk)

    def _connect(self) -> bool:
        """The DLI client for the batch's project; without one, the batch ends with every job accounted."""
        project = self.batch.project
        reason = ""
        if project is None:
            reason = "the project was removed from dli-admin"
        else:
            try:
                self.client = dli_client_for(project)
            except DliNotConfigured as error:
                reason = str(error)
        if not reason:
            return True
        pending = [(row, SKIPPED, f"not sent: {reason}") for row in self.jobs(JobState.PENDING)]
        sent = [
            (row, UNKNOWN, f"its delete was sent, then {reason}; reconcile once DLI can be read")
            for row in self.jobs(JobState.SENT)
        ]
        self.settle(pending + sent)
        self.note(end_message=reason)
        return False

    def _read(self, rows: Sequence[DeleteBatchJob], *, detail: bool = False) -> ReadBack:
        assert self.client is not None  # set by _connect before any read
        narrow = (
            {
                row.job_id: {"job_type": row.job_type, "user_name": row.user_name}
                for row in rows
                if row.job_type and row.user_name
            }
            if self.narrow
            else None
        )
        return flink_jobs_read(
            client=self.client, job_ids=[row.job_id for row in rows], narrow=narrow, detail=detail
        )

    def _read_and_settle(
        self, sent: list[DeleteBatchJob], pending: list[DeleteBatchJob]
    ) -> list[DeleteBatchJob]:
        """One read for both: settle what was sent, re-check what is about to be; returns what may go,
        each with its snapshot kept (the read lists with show_detail=true when jobs are about to go)."""
        detail = bool(pending)
        read = self._read(sent + pending, detail=detail)
        if self.narrow and pending and read.gone.intersection(row.job_id for row in pending):
            # A job about to be deleted was absent from its narrowed list: make sure it is really gone
            # before trusting DLI's filters for the rest of this batch.
            absent = [row for row in pending if row.job_id in read.gone]
            check = flink_jobs_read(client=self.client, job_ids=[row.job_id for row in absent])  # type: ignore[arg-type]
            if check.found:
                log.warning(
                    "batch %s: DLI's job_type/user_name filters missed existing jobs; reading unfiltered",
                    self.batch.pk,
                )
                self.narrow = False
                read = self._read(sent + pending, detail=detail)
        settled: list[tuple[DeleteBatchJob, str, str]] = []
        deadline_passed = self._deadline_passed()
        for row in sent:
            reply = Reply(row.replied, row.reply_ambiguous, row.reply_problem)
            fate = settled_fate(read, row.job_id, reply)
            if fate is None:
                problem = read.unknown.get(row.job_id, "")
                if deadline_passed:
                    fate = gave_up_reading(reply, problem)
                else:
                    self.problems.append(f"reading jobs back from DLI failed: {problem}")
                    continue
            settled.append((row, *fate))
        ready = []
        for row in pending:
            current = read.found.get(row.job_id)
            if row.job_id in read.gone:
                settled.append((row, SKIPPED, "already gone from DLI"))
            elif current is None:
                problem = read.unknown.get(row.job_id, "")
                if deadline_passed:
                    settled.append((row, SKIPPED, f"could not be checked in DLI before deleting: {problem}"))
                else:
                    self.problems.append(f"checking jobs in DLI failed: {problem}")
            elif current.status != row.status:
                now = status_label(current.status)
                settled.append((row, SKIPPED, f"changed since you confirmed: now {now}; review it again"))
            else:
                ready.append(row)
        ready = self._snapshot(ready, read, settled)
        self.settle(settled)
        return ready

    def _snapshot(
        self, ready: list[DeleteBatchJob], read: ReadBack, settled: list[tuple[DeleteBatchJob, str, str]]
    ) -> list[DeleteBatchJob]:
        """Keep each ready job's definition (committed before any of them is sent); a job whose definition
        DLI did not give is not deleted, unless an owner confirmed "delete without a snapshot"."""
        drafts, going = [], []
        for row in ready:
            job = read.found[row.job_id]
            if job.has_definition:
                assert job.detail is not None
                drafts.append(SnapshotDraft(row.job_id, row.name, row.job_type, job.detail))
                going.append(row)
            elif self.batch.without_snapshot:
                going.append(row)
            else:
                settled.append((row, SKIPPED, NO_SNAPSHOT))
        if not drafts:
            return going

        def write() -> None:
            with transaction.atomic():
                digests = audit_snapshots_record(
                    batch_id=self.batch.pk, project_id=self.batch.project_id_text, snapshots=drafts
                )
                kept = [row for row in going if row.job_id in digests]
                for row in kept:
                    row.snapshot_digest = digests[row.job_id]
                DeleteBatchJob.objects.bulk_update(kept, ["snapshot_digest"], batch_size=500)

        _patiently(write)
        return going

    def _send(self, ready: list[DeleteBatchJob]) -> None:
        """Send the ready jobs in chunks, DLI_CONCURRENCY at a time; record each answer as it comes."""
        assert self.client is not None
        client = self.client
        chunks = [list(chunk) for chunk in batched(ready, client.batch_size)]
        stopped_by: DliError | None = None
        in_flight: dict[Future[ChunkResult], list[DeleteBatchJob]] = {}

        def collect(done: set[Future[ChunkResult]]) -> None:
            nonlocal stopped_by
            for future in done:
                rows = in_flight.pop(future)
                error = self._record(rows, future.result())
                stopped_by = stopped_by or error

        with ThreadPoolExecutor(max_workers=settings.DLI_CONCURRENCY) as pool:
            for rows in chunks:
                # The first chunk goes alone: if DLI refuses the credentials, nothing else was sent
                # (repeated signature failures lock the access key for minutes).
                while in_flight and len(in_flight) >= (settings.DLI_CONCURRENCY if self.answered_ok else 1):
                    done, _ = wait(in_flight, timeout=1.0, return_when=FIRST_COMPLETED)
                    collect(done)
                    self.keeper.check()
                if stopped_by is not None:
                    message = f"not sent, because DLI refused an earlier chunk: {refusal_message(stopped_by)}"
                    self.settle([(row, FAILED, message) for row in rows])
                    continue
                if self.stop.is_set() or self.refresh_state() == BatchState.CANCELLING or self.problems:
                    break  # what is left stays pending: cancelled, handed back, or retried later
                self._show_throttling(client)
                self._mark_sent(rows)
                in_flight[pool.submit(client.delete_chunk, [row.job_id for row in rows])] = rows
            while in_flight:
                done, _ = wait(in_flight, timeout=1.0, return_when=FIRST_COMPLETED)
                collect(done)

    def _mark_sent(self, rows: list[DeleteBatchJob]) -> None:
        """Committed before the chunk leaves: a worker that dies now leaves the jobs "sent", never resent."""
        self.keeper.check()
        self.sent_chunks += 1
        chunk = self.sent_chunks

        def write() -> int:
            return DeleteBatchJob.objects.filter(
                pk__in=[row.pk for row in rows], state=JobState.PENDING, batch__lease_owner=self.worker_id
            ).update(state=JobState.SENT, chunk=chunk)

        if _patiently(write) != len(rows):
            raise LeaseLost(f"batch {self.batch.pk}: its jobs changed hands before chunk {chunk} was sent")
        for row in rows:
            row.state, row.chunk = JobState.SENT, chunk

    def _record(self, rows: list[DeleteBatchJob], chunk: ChunkResult) -> DliError | None:
        """Keep DLI's answer on each job (settled by the next read), or act on a refusal that touched nothing.

        Returns the error when it must stop the batch (credentials refused: more would lock the AK).
        """
        error = chunk.error
        for row in rows:
            row.attempts, row.duration_ms = chunk.attempts, int(chunk.duration * 1000)
            row.error_code = (error.code or "") if error else ""
            row.dli_request_id = (
                chunk.request_id or (error.request_id if error and error.request_id else "") or ""
            )
        if chunk.outcome == ChunkOutcome.REFUSED and provably_untouched(chunk) and error is not None:
            if error.category in _ERRORS_THAT_STOP:
                self.settle([(row, FAILED, refusal_message(error)) for row in rows])
                return error
            if (error.category in _ERRORS_TO_WAIT_OUT or chunk.attempts == 0) and not self._deadline_passed():
                # DLI never acted on it (throttled, unreachable): back to pending, tried again later.
                self.problems.append(refusal_message(error))
                _patiently(
                    lambda: DeleteBatchJob.objects.filter(pk__in=[row.pk for row in rows]).update(
                        state=JobState.PENDING, chunk=None, attempts=rows[0].attempts
                    )
                )
                return None
            self.settle([(row, FAILED, refusal_message(error)) for row in rows])
            return None
        self.answered_ok = self.answered_ok or chunk.outcome == ChunkOutcome.REPLIED
        groups: dict[tuple[bool, str], list[int]] = {}
        for row in rows:
            reply = reply_of(chunk, row.job_id)
            row.replied, row.reply_ambiguous, row.reply_problem = True, reply.ambiguous, reply.problem[:2000]
            groups.setdefault((reply.ambiguous, row.reply_problem), []).append(row.pk)
        first = rows[0]

        def write() -> None:
            for (ambiguous, problem), pks in groups.items():
                DeleteBatchJob.objects.filter(pk__in=pks).update(
                    replied=True,
                    reply_ambiguous=ambiguous,
                    reply_problem=problem,
                    attempts=first.attempts,
                    duration_ms=first.duration_ms,
                    error_code=first.error_code,
                    dli_request_id=first.dli_request_id,
                )

        _patiently(write)
        return None

    def _show_throttling(self, client: DliClient) -> None:
        held = client.limiter.throttled_for() if client.limiter else 0.0
        reason = f"throttled by DLI, waiting {held:.0f}s" if held > 0.5 else ""
        if reason != self.batch.waiting_reason:
            self.note(waiting_reason=reason)

    # --- waiting, giving up, ending -------------------------------------------------------------

    def _deadline_passed(self) -> bool:
        give_up_at = self.batch.give_up_at
        return give_up_at is not None and timezone.now() >= give_up_at

    def _wait_or_give_up(self) -> Outcome | None:
        """DLI could not be read or refused to act for now: pause, or hand the batch to a later run."""
        if self.batch.give_up_at is None:
            self.note(give_up_at=timezone.now() + timedelta(seconds=settings.DLI_BATCH_RETRY_DEADLINE))
        tries = getattr(self, "_tries", 0)
        self._tries = tries + 1
        pause = RETRY_PAUSES[min(tries, len(RETRY_PAUSES) - 1)]
        reason = self.problems[-1]
        waiting = "throttled by DLI, waiting" if "throttled" in reason else f"waiting for DLI: {reason}"
        self.note(waiting_reason=waiting[:300])
        if pause < settings.DLI_BATCH_LEASE / 2:
            self._sleep(pause)
            return None
        # A long pause: free this worker for other batches; a task scheduled for then resumes it.
        resume_after = timezone.now() + timedelta(seconds=pause)
        self.note(resume_after=resume_after)
        return Outcome("waiting", resume_after.isoformat())

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and not self.stop.is_set():
            time.sleep(min(left, 0.5))
            self.keeper.check()
            if self.refresh_state() == BatchState.CANCELLING:
                return

    def _end(self) -> Outcome:
        counts = _counts(self.batch)
        summary = ", ".join(f"{n} {outcome}" for outcome, n in counts.items()) or "nothing to do"
        message = self.batch.end_message or summary
        self.note(
            state=BatchState.ENDED, ended_at=timezone.now(), waiting_reason="", end_message=message[:500]
        )
        log.info("batch %s ended: %s", self.batch.pk, summary)
        batch_ended.send_robust(sender=DeleteBatch, batch=self.batch)  # never fails the batch
        return Outcome("ended", summary)

    def _hand_back(self) -> Outcome:
        log.info("batch %s handed back: the worker is stopping", self.batch.pk)
        return Outcome("handed back")


def _counts(batch: DeleteBatch) -> dict[str, int]:
    rows = DeleteBatchJob.objects.filter(batch=batch, state=JobState.SETTLED).values_list(
        "outcome", flat=True
    )
    counts: dict[str, int] = {}
    for outcome in rows.iterator():
        counts[outcome] = counts.get(outcome, 0) + 1
    return {outcome: counts[outcome] for outcome in AuditOutcome.values if counts.get(outcome)}


def batch_run(
    batch_id: uuid.UUID, *, worker_id: str | None = None, stop: threading.Event | None = None
) -> Outcome:
    """Run the batch until it ends, waits for DLI, or this worker stops; safe to call any number of times."""
    worker_id = worker_id or new_worker_id()
    if not _patiently(lambda: batch_lease_take(batch_id, worker_id)):
        return Outcome("busy", "another worker holds it, it is waiting, or it ended")
    batch = DeleteBatch.objects.select_related("project", "requested_by").get(pk=batch_id)
    keeper = LeaseKeeper(batch_id, worker_id)
    keeper.start()
    outcome = Outcome("lost")
    try:
        run_class: type[_Run] = _Run
        if batch.kind == BatchKind.RESTORE:
            from .restore import RestoreRun  # it builds on _Run

            run_class = RestoreRun
        outcome = run_class(
            batch=batch, worker_id=worker_id, keeper=keeper, stop=stop or threading.Event()
        ).run()
        return outcome
    except LeaseLost as lost:
        log.warning("%s", lost)
        return Outcome("lost", str(lost))
    finally:
        keeper.stop()
        keeper.join(timeout=5)
        if outcome.state != "lost":
            # Let the next worker in at once (a handed-back or waiting batch), rather than after the lease.
            _patiently(
                lambda: DeleteBatch.objects.filter(pk=batch_id, lease_owner=worker_id).update(
                    lease_owner="", lease_until=None
                )
            )


def batches_stalled() -> Iterator[DeleteBatch]:
    """Live batches that no worker holds: their worker died, or they wait for a resume time that passed."""
    lapsed = Q(lease_until__lt=Now())
    unheld_and_due = Q(lease_until__isnull=True) & (Q(resume_after__isnull=True) | Q(resume_after__lte=Now()))
    return DeleteBatch.objects.filter(state__in=LIVE_BATCH_STATES).filter(lapsed | unheld_and_due).iterator()


def _created_before(seconds: float) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)


def batch_expand(batch: DeleteBatch) -> None:
    """The confirmation becomes the audit intent (first, before any DLI call) and the job rows.

    Safe to repeat after a crash at any line: the intent is written once, and the rows with the
    batch's flag in one transaction.
    """
    if batch.jobs.exists():
        return
    selection = batch.selection
    jobs = [JobRef(job_id, name, status) for job_id, name, status, *_ in selection]
    if not AuditRecord.objects.filter(kind=AuditKind.INTENT, batch_id=batch.pk).exists():
        audit_intent_record(
            batch_id=batch.pk,
            actor=batch.requested_by,
            project_id=batch.project_id_text,
            project_name=batch.project_name,
            jobs=jobs,
            client_ip=batch.client_ip,
            user_agent=batch.user_agent,
            reason=WITHOUT_SNAPSHOT_REASON if batch.without_snapshot else "",
        )
    now = timezone.now()
    rows = [
        DeleteBatchJob(
            batch=batch,
            position=position,
            project_id_text=batch.project_id_text,
            job_id=job_id,
            name=name,
            status=status,
            job_type=job_type,
            user_name=user_name,
        )
        for position, (job_id, name, status, _excluded, job_type, user_name) in enumerate(selection)
    ]
    skipped = []
    for row, (*_, excluded, _type, _owner) in zip(rows, selection, strict=True):
        if excluded:
            _settle_row(row, SKIPPED, excluded, now)
            skipped.append(AuditJobResult(row.job_id, row.name, SKIPPED, excluded))

    def write() -> None:
        with transaction.atomic():
            taken = _insert_claiming(rows, now)
            audit_results_record(
                batch_id=batch.pk,
                actor=batch.requested_by,
                project_id=batch.project_id_text,
                results=skipped + taken,
            )
            DeleteBatch.objects.filter(pk=batch.pk).update(selection=[])

    _patiently(write)


ALREADY_TAKEN = "already being deleted by another batch"
WITHOUT_SNAPSHOT_REASON = (
    "an owner confirmed: delete jobs whose definition DLI does not give, without a snapshot"
)


def _settle_row(row: DeleteBatchJob, outcome: str, message: str, now: datetime) -> None:
    row.state, row.outcome, row.message, row.settled_at = JobState.SETTLED, outcome, message, now


def _insert_claiming(
    rows: list[DeleteBatchJob], now: datetime, taken_message: str = ALREADY_TAKEN
) -> list[AuditJobResult]:
    """Insert the rows; a pending job that a live batch already holds is inserted settled, skipped."""
    pending = [row for row in rows if row.state == JobState.PENDING]
    held = set(
        DeleteBatchJob.objects.filter(
            project_id_text=rows[0].project_id_text if rows else "",
            job_id__in=[row.job_id for row in pending],
            state__in=[JobState.PENDING, JobState.SENT],
        ).values_list("job_id", flat=True)
    )
    taken: list[AuditJobResult] = []
    for row in pending:
        if row.job_id in held:
            _settle_row(row, SKIPPED, taken_message, now)
            taken.append(AuditJobResult(row.job_id, row.name, SKIPPED, taken_message))
    try:
        with transaction.atomic():
            DeleteBatchJob.objects.bulk_create(rows, batch_size=2000)
    except IntegrityError:
        # Another batch claimed some of the jobs between our look and our insert: insert one by one.
        for row in rows:
            row.pk = None
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                _settle_row(row, SKIPPED, taken_message, now)
                taken.append(AuditJobResult(row.job_id, row.name, SKIPPED, taken_message))
                row.pk = None
                row.save(force_insert=True)
    return taken
