"""The hash chain: one canonical serialisation shared by the writer, `audit_verify` and the benchmarks,
and the walk that verifies a stored chain.

Pure Python, no Django: a record is a dict of its stored fields (all but `hash`) plus `jobs`, the
intent's job lines as [job_id, name, status] in position order. Changing this format invalidates every
stored hash, so it must not change without a plan for the existing chain.

Each record says how it was hashed (`hash_version`): 1 is SHA-256 over the canonical content, as every
record written before the audit key existed; 2 is HMAC-SHA256 keyed by DLI_ADMIN_AUDIT_KEY over the
canonical content with `hash_version` in it, so that whoever can write the tables but lacks the key cannot
forge a record; 3 is version 2 with `snapshot_digest` hashed too (the SHA-256 of the job definition kept
before its delete, "" when none), so a stored snapshot cannot be changed unnoticed. Versions 1 and 2 hash
exactly what they always did (a record of theirs carries no digest). Along the chain the version never
goes down: a keyed chain cannot be continued unkeyed, a snapshot-aware one not without its digests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64  # the prev_hash of the first record
PLAIN, KEYED = 1, 2  # hash versions: SHA-256 (records from before the key), HMAC-SHA256 with the audit key
SNAPSHOT = 3  # HMAC-SHA256 with the audit key, the snapshot digest hashed as well
VERSIONS = (PLAIN, KEYED, SNAPSHOT)

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
    "snapshot_digest",  # hashed from version 3 on; versions 1 and 2 leave it out (and it is "")
)
_V2_FIELDS = RECORD_FIELDS[:-1]  # what versions 1 and 2 hash


_DIGEST = RECORD_FIELDS.index("snapshot_digest")
_CREATED_AT = RECORD_FIELDS.index("created_at")
_BATCH_ID = RECORD_FIELDS.index("batch_id")
_ENCODER = json.JSONEncoder(separators=(",", ":"))  # ASCII only: non-ASCII text as \uXXXX escapes
_encode_text = json.encoder.encode_basestring_ascii  # what _ENCODER does to a str, without the dispatch


_CONTENT = (*RECORD_FIELDS, "jobs", "hash_version")  # what canonical() lays out, in this order


def _layout(keys: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """For each of `keys` in sorted order: the JSON text before its value ('{"key":' or ',"key":') and
    where the value sits in the content (_CONTENT)."""
    return tuple(
        (("{" if n == 0 else ",") + _encode_text(key) + ":", _CONTENT.index(key))
        for n, key in enumerate(sorted(keys))
    )


_LAYOUTS = {
    PLAIN: _layout((*_V2_FIELDS, "jobs")),
    KEYED: _layout((*_V2_FIELDS, "jobs", "hash_version")),  # version 2 hashes its version too
    SNAPSHOT: _layout(_CONTENT),  # version 3 adds the snapshot digest
}


def utc_text(when: datetime) -> str:
    """An aware time as canonical() writes it: UTC with microseconds, "2026-01-02T03:04:05.000006Z"."""
    return _utc_text(when)


def _utc_text(when: datetime) -> str:
    if when.tzinfo is UTC:  # as the database gives it: no conversion needed
        return when.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def canonical(values: Sequence[object], jobs: Sequence[Sequence[object]], version: int = PLAIN) -> bytes:
    """The bytes that are hashed: a JSON object with sorted keys, no whitespace, ASCII only.

    Times are UTC with microseconds ("2026-01-02T03:04:05.000006Z"), the batch id a hyphenated UUID or
    null, numbers JSON integers, `jobs` a list of [job_id, name, status]. Built by a function made for each
    combination of value types (_plan), the keys written in sorted order, text and integers encoded
    directly: the same bytes as json.dumps(sort_keys=True, separators=(",", ":")) at a fraction
    of the cost (audit_verify runs this a million times; tests/unit/test_audit_chain_golden.py pins them).
    """
    if len(values) != len(RECORD_FIELDS):
        raise ValueError(f"an audit record has {len(RECORD_FIELDS)} hashed fields, not {len(values)}")
    content = [*values, [list(job) for job in jobs], version]  # then the keys "jobs", "hash_version"
    created_at = content[_CREATED_AT]
    if not isinstance(created_at, datetime) or created_at.tzinfo is None:
        raise TypeError("created_at must be an aware datetime")
    content[_CREATED_AT] = _utc_text(created_at)
    batch_id = content[_BATCH_ID]
    if isinstance(batch_id, uuid.UUID):
        content[_BATCH_ID] = str(batch_id)
    elif isinstance(batch_id, str):
        content[_BATCH_ID] = str(uuid.UUID(batch_id))
    elif batch_id is not None:
        raise TypeError("batch_id must be a UUID, its text or None")
    if version != SNAPSHOT and content[_DIGEST]:  # versions 1 and 2 leave it out
        raise ValueError(f"a version-{version} audit record has no snapshot digest")
    return _fill(content)


def _fill(content: list) -> bytes:
    """canonical()'s bytes for content already in its text forms: the time as canonical UTC text, the
    batch id hyphenated (or None), the jobs as lists, the version last."""
    signature = (content[-1], *map(type, content))
    encode = _PLANS.get(signature) or _plan(signature)
    return encode(content)


def _encode_other(value: object) -> str:
    # Most records have no jobs and no refused ids: an empty list needs no encoder.
    return "[]" if value == [] else _ENCODER.encode(value)


_KEY = re.compile(r'[{,]"[a-z_]+":')  # a key's text in a layout: nothing to escape in an f-string


def _plan(signature: tuple) -> Callable[[list], bytes]:
    """How to encode a record whose values have these types: a function made for them, one f-string with
    the keys in sorted order around each value's encoding (None written in as "null", text and integers
    encoded directly, the rest by the JSON encoder). An f-string is built by the interpreter in one
    step; formatting a template at run time parses it again for every record, at twice the cost."""
    version, types = signature[0], signature[1:]
    layout = _LAYOUTS.get(version, _LAYOUTS[KEYED])
    parts = []
    for prefix, index in layout:
        assert _KEY.fullmatch(prefix), prefix  # field names from RECORD_FIELDS, never data
        prefix = prefix.replace("{", "{{")
        if types[index] is type(None):
            parts.append(f"{prefix}null")
        elif types[index] is str:
            parts.append(f"{prefix}{{text(c[{index}])}}")
        elif types[index] is int:  # exactly int: a bool's f-string text is "True", not JSON's
            parts.append(f"{prefix}{{c[{index}]}}")
        else:
            parts.append(f"{prefix}{{other(c[{index}])}}")
    source = f"lambda c: f'{''.join(parts)}}}}}'.encode('ascii')"
    encode = eval(source, {"text": _encode_text, "other": _encode_other})  # noqa: S307 (no data in it)
    if len(_PLANS) < 1000:  # records have a handful of type signatures; never grow without bound
        _PLANS[signature] = encode
    return encode


_PLANS: dict[tuple, Callable[[list], bytes]] = {}


def record_hash(
    values: Sequence[object], jobs: Sequence[Sequence[object]] = (), *, version: int = PLAIN, key: bytes = b""
) -> str:
    """The hash of a record of `version`; `values` follow RECORD_FIELDS and include prev_hash.

    Version 1: SHA-256 of the canonical content. Versions 2 and 3: HMAC-SHA256 keyed by the audit key.
    """
    if version == PLAIN:
        return hashlib.sha256(canonical(values, jobs)).hexdigest()
    if version not in (KEYED, SNAPSHOT):
        raise ValueError(f"unknown audit hash version {version!r}")
    if not key:
        raise ValueError("a keyed audit record needs the audit key (DLI_ADMIN_AUDIT_KEY)")
    return hmac.digest(key, canonical(values, jobs, version), "sha256").hex()  # hmac.new's, in one C call


def snapshot_text(definition: object) -> str:
    """A job definition as stored in a snapshot: JSON with sorted keys, no whitespace, UTF-8 text
    (ASCII with escapes when it holds text UTF-8 cannot carry, such as a lone surrogate)."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return text


def snapshot_digest(text: str) -> str:
    """The digest a result record carries for a snapshot: SHA-256 of its stored text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- Verifying a stored chain -----------------------------------------------------------------


class ChainBroken(Exception):
    """The first place where the stored chain differs from what its hashes promise."""

    def __init__(self, seq: int, problem: str, *, where: str = ""):
        self.where = where or f"record {seq}"
        super().__init__(f"{self.where}: {problem}")
        self.seq = seq
        self.problem = problem


@dataclass(frozen=True)
class ChainStatus:
    records: int
    job_lines: int
    head_seq: int
    head_hash: str


_SEQ, _CREATED_AT, _BATCH_ID, _PROJECT_ID, _PREV_HASH, _JOB_ID = (
    RECORD_FIELDS.index(name)
    for name in ("seq", "created_at", "batch_id", "project_id", "prev_hash", "job_id")
)


def walk(
    records: Iterator[Sequence],
    lines: Iterator[Sequence],
    expected_head: str,
    *,
    key: bytes = b"",
    pin: tuple[int, str] | None = None,
    start: tuple[int, str, str, int] | None = None,
) -> tuple[ChainStatus, bool]:
    """Check records (RECORD_FIELDS + hash_version + hash, in seq order) and their intent job lines
    (record_id, position, batch_id, project_id, job_id, name, status, in order); raise ChainBroken at the
    first fault. `pin` is a checkpoint's (seq, hash): that record must exist and have that hash.
    Returns the chain's status and whether `expected_head` was among the hashes.

    A record's created_at is an aware datetime or already its canonical UTC text (_utc_text), its
    batch_id a UUID or its text; a reader that gives the text forms saves their conversion per record
    (audit_verify's reader does). A job line's batch id is compared as given, in the record's form.

    `start` continues a walk after a record, (seq, hash, time as UTC text, hash version) as stored:
    a chain walked in two parts, from its start and from there, is checked as in one walk."""
    seq, prev_hash, line_count, found_expected = 0, GENESIS, 0, not expected_head
    version = PLAIN
    prev_time = ""  # canonical UTC texts have one width: they compare in time order
    if start is not None:
        seq, prev_hash, prev_time, version = start
    line = next(lines, None)
    for row in records:
        values, row_version, stored_hash = row[:-2], row[-2], row[-1]
        if values[_SEQ] != seq + 1:
            if values[_SEQ] > seq + 1:
                raise ChainBroken(seq + 1, f"missing (the next record is {values[_SEQ]}): it was removed")
            raise ChainBroken(values[_SEQ], f"out of sequence (expected {seq + 1}): it was inserted")
        seq += 1
        jobs: list[list[object]] = []
        copy_problem = ""
        while line is not None and line[0] <= seq:
            record_id, position, batch_id, project_id, *job = line
            if record_id < seq:
                raise ChainBroken(record_id, f"job line {position} has no record: it was inserted")
            if position != len(jobs):
                raise ChainBroken(seq, f"job line {len(jobs)} is missing: it was removed")
            if batch_id != values[_BATCH_ID] or project_id != values[_PROJECT_ID]:
                copy_problem = copy_problem or f"job line {position} names another batch or project: changed"
            jobs.append(job)
            line_count += 1
            line = next(lines, None)
        if row_version not in VERSIONS:
            raise ChainBroken(seq, f"unknown hash version {row_version!r}: it was changed")
        if row_version < version:
            if row_version == PLAIN:
                raise ChainBroken(
                    seq, "it is not keyed but an earlier record is: it was re-hashed without the key"
                )
            raise ChainBroken(
                seq,
                f"its hash version {row_version} is below an earlier record's {version}: "
                "it was re-hashed without its snapshot digest",
            )
        if row_version != SNAPSHOT and values[_DIGEST]:
            raise ChainBroken(
                seq, f"it carries a snapshot digest that its hash version {row_version} does not cover"
            )
        if row_version != PLAIN and not key:
            raise ChainBroken(seq, "it is keyed, and DLI_ADMIN_AUDIT_KEY is not set: it cannot be checked")
        version = row_version
        content = [*values, jobs, version]
        when, batch_id = values[_CREATED_AT], values[_BATCH_ID]
        if type(when) is not str:
            if not isinstance(when, datetime) or when.tzinfo is None:
                raise TypeError("created_at must be an aware datetime or its UTC text")
            content[_CREATED_AT] = when = _utc_text(when)
        if batch_id is not None and (type(batch_id) is not str or len(batch_id) != 36):
            content[_BATCH_ID] = str(batch_id if isinstance(batch_id, uuid.UUID) else uuid.UUID(batch_id))
        encoded = _fill(content)
        if version == PLAIN:
            computed = hashlib.sha256(encoded).hexdigest()
        else:
            computed = hmac.digest(key, encoded, "sha256").hex()
        if computed != stored_hash:
            raise ChainBroken(
                seq,
                "its content does not match its hash: the record or its jobs changed, "
                "or it was re-hashed without the key",
            )
        if copy_problem:
            raise ChainBroken(seq, copy_problem)
        if when < prev_time:
            raise ChainBroken(seq, f"its time is before record {seq - 1}'s: it was changed and re-hashed")
        if values[_PREV_HASH] != prev_hash:
            raise ChainBroken(
                seq,
                f"its prev_hash does not match record {seq - 1}'s hash: "
                "a record before it was changed and re-hashed, removed or inserted",
            )
        if pin is not None and seq == pin[0] and stored_hash != pin[1]:
            raise ChainBroken(seq, "its hash is not the one the checkpoint signed: the chain was rewritten")
        found_expected = found_expected or stored_hash == expected_head
        prev_hash, prev_time = stored_hash, when
    if line is not None:
        raise ChainBroken(line[0], f"job line {line[1]} has no record: it was inserted")
    if pin is not None and pin[0] > seq:
        raise ChainBroken(
            seq + 1,
            f"missing: the checkpoint signed record {pin[0]}, the chain ends at {seq}: records removed",
        )
    return ChainStatus(records=seq, job_lines=line_count, head_seq=seq, head_hash=prev_hash), found_expected
