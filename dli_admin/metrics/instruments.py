"""The counters and histograms of DLI calls and HTTP requests, in this process or in the multiprocess files.

DLI calls are counted per attempt (a retried call counts each send), at DliClient's one call site: the
client calls `dli_call_observed` (settings.DLI_ADMIN_DLI_OBSERVER) after every attempt.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from prometheus_client import CollectorRegistry, Counter, Histogram, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from dli_admin.dli import DliCall

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROCESS_DIR and not Path(MULTIPROCESS_DIR).is_dir():
    raise ImproperlyConfigured(
        f"PROMETHEUS_MULTIPROC_DIR={MULTIPROCESS_DIR}: no such directory (create it, writable by the "
        "web and worker processes, and empty it before they start)"
    )

# This process's metrics. In multiprocess mode their values go to the files, and a scrape reads those instead.
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)

DLI_CALLS = Counter(
    "dli_admin_dli_calls",
    "Attempts of DLI calls (each send of a retried call counts), by operation and HTTP status, or by why "
    "no reply came (network, timeout, not_sent, ...), and DLI connection (DLI_CONNECTIONS).",
    ["connection", "operation", "status"],
    registry=PROCESS_REGISTRY,
)
DLI_THROTTLED = Counter(
    "dli_admin_dli_throttled",
    "DLI replies with HTTP 429 (throttled): the per-endpoint limiter halves the calls in flight on each.",
    ["connection", "operation"],
    registry=PROCESS_REGISTRY,
)
DLI_DURATION = Histogram(
    "dli_admin_dli_call_duration_seconds",
    "Duration of one attempt of a DLI call that was sent, until its reply was read or it failed.",
    ["operation"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0),
    registry=PROCESS_REGISTRY,
)
HTTP_REQUESTS = Counter(
    "dli_admin_http_requests",
    "HTTP requests answered, by URL name (unresolved: no URL matched, or refused before routing), "
    "method and status.",
    ["view", "method", "status"],
    registry=PROCESS_REGISTRY,
)
HTTP_DURATION = Histogram(
    "dli_admin_http_request_duration_seconds",
    "Time to answer an HTTP request (to the start of a streamed response), by URL name.",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=PROCESS_REGISTRY,
)


def dli_call_observed(call: DliCall, *, connection: str) -> None:
    """DliClient's observer (the connection given by dli_admin.projects.connections): counts one attempt."""
    status = str(call.status) if call.status is not None else call.failure or "error"
    DLI_CALLS.labels(connection=connection, operation=call.operation, status=status).inc()
    if call.status == 429:
        DLI_THROTTLED.labels(connection=connection, operation=call.operation).inc()
    if call.failure != "not_sent":  # an IAM login that failed sent nothing to DLI
        DLI_DURATION.labels(operation=call.operation).observe(call.duration)


class _ThisProcess(Collector):
    def collect(self) -> Iterable[Metric]:
        return PROCESS_REGISTRY.collect()


def process_metrics(registry: CollectorRegistry) -> None:
    """Add the counters and histograms to `registry`: every process's of this host in multiprocess mode."""
    if MULTIPROCESS_DIR:
        MultiProcessCollector(registry, path=MULTIPROCESS_DIR)
    else:
        registry.register(_ThisProcess())
