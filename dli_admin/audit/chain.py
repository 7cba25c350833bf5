"""The hash chain: one canonical serialisation shared by the writer, `audit_verify` and the benchmarks.

Pure Python, no Django: a record is a dict of its stored fields (all but `hash`) plus `jobs`, the
intent's job lines as [job_id, name, status] in position order. Changing this format invalidates every
stored hash, so it must not change without a plan for the existing chain.
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


_KEYS = sorted((*RECORD_FIELDS, "jobs"))  # JSON object keys in sorted order
_ORDER = [(*RECORD_FIELDS, "jobs").index(key) for key in _KEYS]
_CREATED_AT = RECORD_FIELDS.index("created_at")
_BATCH_ID = RECORD_FIELDS.index("batch_id")
_ENCODER = json.JSONEncoder(separators=(",", ":"))  # ASCII only: non-ASCII text as \uXXXX escapes


def canonical(values: Sequence[object], jobs: Sequence[Sequence[object]]) -> bytes:
    """The bytes that are hashed: a JSON object with sorted keys, no whitespace, ASCII only.

    Times are UTC with microseconds ("2026-01-02T03:04:05.000006Z"), the batch id a hyphenated UUID or
    null, numbers JSON integers, `jobs` a list of [job_id, name, status]. Built key by key in sorted
    order rather than with sort_keys=True: audit_verify runs this a million times.
    """
    content = list(values)
    if len(content) != len(RECORD_FIELDS):
        raise ValueError(f"an audit record has {len(RECORD_FIELDS)} hashed fields, not {len(content)}")
    created_at = content[_CREATED_AT]
    if not isinstance(created_at, datetime) or created_at.tzinfo is None:
        raise TypeError("created_at must be an aware datetime")
    content[_CREATED_AT] = (
        created_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )
    batch_id = content[_BATCH_ID]
    if batch_id is not None:
        content[_BATCH_ID] = str(batch_id if isinstance(batch_id, uuid.UUID) else uuid.UUID(batch_id))
    content.append([list(job) for job in jobs])
    return _ENCODER.encode(dict(zip(_KEYS, [content[i] for i in _ORDER], strict=True))).encode("ascii")


def record_hash(values: Sequence[object], jobs: Sequence[Sequence[object]] = ()) -> str:
    """SHA-256 over the canonical content; `values` follow RECORD_FIELDS and include prev_hash."""
    return hashlib.sha256(canonical(values, jobs)).hexdigest()
