"""/metrics for Prometheus: what the database says at scrape time, plus this host's DLI calls and requests.

With PROMETHEUS_MULTIPROC_DIR set (a directory shared by the gunicorn workers and the `db_worker`
processes of one host), counters and histograms live in files there and any worker answers with the sum of
all of them (prometheus-client's multiprocess mode). Unset, each process counts for itself only: right for
one gunicorn worker, not for several. See docs/deployment.md, "Metrics".
"""

from __future__ import annotations

import os

# prometheus-client chooses its mode when first imported, from whether the variable exists at all; an empty
# one (as `.env.example` lists it) means "unset" here, as every other variable does. Before any import of it:
# dli_admin.metrics' modules import prometheus_client only after this package is initialised.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip():
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
