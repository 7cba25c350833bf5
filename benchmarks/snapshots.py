"""What snapshots cost: extra DLI calls for a 1,000-job delete's recheck, and bytes stored per snapshot.

    .venv/bin/python benchmarks/snapshots.py [N]

Against the embedded simulator on loopback: N jobs (default 1,000) are read back the way a delete batch's
recheck reads them (narrowed by job type and owner, list pages of 100), once without and once with
show_detail=true, and the DLI calls of each are counted. Then the stored size of a snapshot (its JSON text,
UTF-8) for the seeded demo jobs and for realistic Flink SQL bodies.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A streaming job as teams write them: a Kafka source, a dimension lookup, a windowed aggregate, a JDBC sink.
REALISTIC_SQL = """
CREATE TABLE orders_source (
  order_id STRING, customer_id STRING, merchant_id STRING, amount DECIMAL(18, 2), currency STRING,
  status STRING, channel STRING, country STRING, created_at TIMESTAMP(3), updated_at TIMESTAMP(3),
  payload STRING, WATERMARK FOR created_at AS created_at - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka', 'topic' = 'prod.orders.v3',
  'properties.bootstrap.servers' = '10.0.1.11:9092,10.0.1.12:9092',
  'properties.group.id' = 'dli-orders-enrich', 'scan.startup.mode' = 'group-offsets', 'format' = 'json',
  'json.ignore-parse-errors' = 'true'
);
CREATE TABLE merchants_dim (
  merchant_id STRING, merchant_name STRING, segment STRING, region STRING,
  PRIMARY KEY (merchant_id) NOT ENFORCED
) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://10.0.2.20:5432/catalog', 'table-name' = 'merchants',
  'lookup.cache.max-rows' = '50000', 'lookup.cache.ttl' = '10min'
);
CREATE TABLE revenue_sink (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), merchant_id STRING, merchant_name STRING,
  segment STRING, region STRING, currency STRING, orders BIGINT, revenue DECIMAL(20, 2),
  PRIMARY KEY (window_start, merchant_id, currency) NOT ENFORCED
) WITH (
  'connector' = 'jdbc', 'url' = 'jdbc:postgresql://10.0.2.21:5432/reporting', 'table-name' = 'revenue_5m',
  'sink.buffer-flush.max-rows' = '500', 'sink.buffer-flush.interval' = '2s'
);
INSERT INTO revenue_sink
SELECT w.window_start, w.window_end, w.merchant_id, m.merchant_name, m.segment, m.region, w.currency,
       w.orders, w.revenue
FROM (
  SELECT window_start, window_end, merchant_id, currency, COUNT(*) AS orders, SUM(amount) AS revenue
  FROM TABLE(TUMBLE(TABLE orders_source, DESCRIPTOR(created_at), INTERVAL '5' MINUTES))
  WHERE status IN ('paid', 'captured') AND amount > 0
  GROUP BY window_start, window_end, merchant_id, currency
) AS w
LEFT JOIN merchants_dim FOR SYSTEM_TIME AS OF PROCTIME() AS m ON w.merchant_id = m.merchant_id;
""".strip()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    sys.path.insert(0, str(ROOT))
    # Checkpoints of its own: the working copy's var/audit-checkpoints.jsonl holds those of `make run`, signed
    # with another key, which audit_verify would rightly call broken.
    os.environ["DLI_ADMIN_AUDIT_CHECKPOINTS"] = str(ROOT / "var" / "bench-snapshots-checkpoints.jsonl")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DLI_ADMIN_AUDIT_KEY", "benchmark-only-audit-key-0123456789abcdef")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dli_admin.settings")
    import django

    django.setup()
    from dli_admin.audit.chain import snapshot_text
    from dli_admin.dli import AkSkAuth, DliClient
    from dli_admin.projects.selectors import flink_jobs_read
    from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
    from dli_admin.simulator.seed import DEMO_PROJECTS
    from dli_admin.simulator.server import Simulator

    with Simulator() as simulator:
        project = DEMO_PROJECTS[0].id
        ids = [
            simulator.add_job(project, name=f"bench-{n}", job_type="flink_sql_job", sql_body=REALISTIC_SQL)
            for n in range(count)
        ]
        client = DliClient(simulator.url, project, auth=AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY))
        narrow = {job_id: {"job_type": "flink_sql_job", "user_name": "dli-demo-operator"} for job_id in ids}
        plain = flink_jobs_read(client=client, job_ids=ids, narrow=narrow)
        detailed = flink_jobs_read(client=client, job_ids=ids, narrow=narrow, detail=True)
        with_definition = sum(1 for job in detailed.found.values() if job.has_definition)
        print(
            f"recheck of {count} jobs: {plain.calls} DLI calls without show_detail, {detailed.calls} with it"
        )
        extra = detailed.calls - plain.calls
        print(f"  extra DLI calls for snapshots: {extra} ({with_definition} definitions read)")
        seeded = [
            len(snapshot_text(job.detail).encode())
            for job in client.list_jobs(limit=100, show_detail=True, order="asc").jobs
        ]
        realistic = len(snapshot_text(detailed.found[ids[0]].detail).encode())
        large = dict(detailed.found[ids[0]].detail or {}, sql_body=REALISTIC_SQL * 8)
        print("bytes per snapshot (definition text, UTF-8; plus ~200 bytes of row and index per job):")
        median = statistics.median(seeded)
        print(f"  seeded demo jobs (one-line SQL): median {median:.0f}, max {max(seeded)}")
        print(f"  realistic SQL job ({len(REALISTIC_SQL)}-character body): {realistic}")
        print(
            f"  large SQL job ({len(REALISTIC_SQL) * 8}-character body): {len(snapshot_text(large).encode())}"
        )
        print(f"  per 1,000 realistic jobs: {realistic * 1000 / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
