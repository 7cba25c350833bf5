"""The hash chain: one canonical serialisation shared by the writer, `audit_verify` and the benchmarks.

Pure Python, no Django: a record is a dict of its stored fields (all but `hash`) plus `jobs`, the
intent's job lines as [job_id, name, status] in position order. Changing this format breaks every
existing chain, so it is versioned by nothing but this file: change it only with a migration plan.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

GENESIS = "0" * 64  # the prev_hash of the first record

# Every stored field of AuditRecord except `hash`, in the order `audit_verify` reads them.
RECORD_FIELDS = (
    "seq",
    "created_at",
    "kind",
    "source",
    "batch_id",
    "actor_id",
    "actor_username",
    "project_id",
    "project_name",
    "client_ip",
    "user_agent",
    "reason",
    "refused_job_ids",
    "job_id",
    "job_name",
    "outcome",
    "message",
    "error_code",
    "dli_request_id",
    "attempts",
    "duration_ms",
    "prev_hash",
)


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        # UTC with microseconds, whatever time zone the database driver handed us.
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"audit records hold no {type(value).__name__}")


def canonical(values: Sequence[object], jobs: Sequence[Sequence[object]]) -> bytes:
    """The bytes that are hashed: JSON with sorted keys, no whitespace, ASCII only."""
    content = dict(zip(RECORD_FIELDS, values, strict=True))
    content["jobs"] = [list(job) for job in jobs]
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=_encode).encode("ascii")


def record_hash(values: Sequence[object], jobs: Sequence[Sequence[object]] = ()) -> str:
    """SHA-256 over the canonical content; `values` follow RECORD_FIELDS and include prev_hash."""
    return hashlib.sha256(canonical(values, jobs)).hexdigest()
