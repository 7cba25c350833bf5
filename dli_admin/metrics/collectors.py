"""Metrics read from the database at each scrape, so every gunicorn worker (and host) answers the same."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client import Metric
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dli_admin.audit.models import AuditOutcome, AuditRecord
from dli_admin.deletes.models import BatchState, DeleteBatch, DeleteBatchJob, JobState

log = logging.getLogger("dli_admin.metrics")


class DatabaseCollector(Collector):
    """Delete batches and their jobs, the task queue, the audit log's newest record.

    A database that cannot answer gives dli_admin_metrics_database_up 0 and none of these, rather than a
    failed scrape: the DLI and request metrics are worth most during an outage.
    """

    def collect(self) -> Iterable[Metric]:
        up = True
        try:
            families = list(self._families())
        except DatabaseError:
            log.exception("metrics: the database did not answer")
            up, families = False, []
        yield GaugeMetricFamily(
            "dli_admin_metrics_database_up",
            "1 if the database answered this scrape's queries, else 0 (and no database metrics).",
            value=1 if up else 0,
        )
        yield from families

    def _families(self) -> Iterator[Metric]:
        now = timezone.now()

        jobs = GaugeMetricFamily(
            "dli_admin_batch_jobs",
            "Jobs of delete batches whose outcome is settled, by outcome (every batch, ended or not).",
            labels=["outcome"],
        )
        settled = dict(
            DeleteBatchJob.objects.filter(state=JobState.SETTLED)
            .order_by()
            .values_list("outcome")
            .annotate(n=Count("pk"))
        )
        for outcome in AuditOutcome.values:
            jobs.add_metric([outcome], settled.get(outcome, 0))
        yield jobs

        batches = GaugeMetricFamily("dli_admin_batches", "Delete batches by state.", labels=["state"])
        states = dict(DeleteBatch.objects.order_by().values_list("state").annotate(n=Count("pk")))
        for state in BatchState.values:
            batches.add_metric([state], states.get(state, 0))
        yield batches

        yield GaugeMetricFamily(
            "dli_admin_task_queue_depth",
            "Background tasks ready to run now (django-tasks-db READY rows whose run_after has passed).",
            value=DBTaskResult.objects.ready().count(),
        )

        oldest = DeleteBatch.objects.filter(state=BatchState.QUEUED).aggregate(at=Min("created_at"))["at"]
        yield GaugeMetricFamily(
            "dli_admin_oldest_queued_batch_age_seconds",
            "Seconds since the oldest batch still waiting for a worker was confirmed (0: none waits).",
            value=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        )

        newest = AuditRecord.objects.order_by("-seq").values_list("created_at", flat=True).first()
        last_record = GaugeMetricFamily(
            "dli_admin_audit_last_record_age_seconds",
            "Seconds since the newest audit record was written (no sample while the audit log is empty).",
        )
        if newest is not None:
            last_record.add_metric([], max((now - newest).total_seconds(), 0.0))
        yield last_record
