"""Signed checkpoints of the audit chain's head, kept outside the audit tables (CloudTrail's digest files).

After each write the head (this database's id, seq, hash, time) is signed with an HMAC keyed by
DLI_ADMIN_AUDIT_KEY and appended to DLI_ADMIN_AUDIT_CHECKPOINTS: a file, or "log" for a JSON line on the
logger dli_admin.audit.checkpoints. Whoever can rewrite the tables cannot move a checkpoint kept where the
database account cannot write, nor sign a new one without the key: removed newest records, an emptied
log or a chain rewritten to its end all show against it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings

LOG_SINK = "log"
logger = logging.getLogger("dli_admin.audit.checkpoints")
# Signatures of checkpoints and record HMACs never share an input: a record's canonical JSON starts "{".
_DOMAIN = b"dli-admin audit checkpoint v1\n"


class CheckpointInvalid(Exception):
    """A checkpoint line that is not one, or whose signature fails (edited, or signed with another key)."""


@dataclass(frozen=True)
class Checkpoint:
    database: str  # the AuditDatabase id, a hyphenated UUID
    seq: int
    hash: str
    at: str  # UTC, ISO 8601

    def payload(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode("ascii")

    def signature(self, key: bytes) -> str:
        return hmac.new(key, _DOMAIN + self.payload(), hashlib.sha256).hexdigest()

    def line(self, key: bytes) -> str:
        return json.dumps({**asdict(self), "signature": self.signature(key)}, sort_keys=True)


def audit_key() -> bytes:
    return settings.DLI_ADMIN_AUDIT_KEY.encode()


def parse(line: str, key: bytes) -> Checkpoint:
    try:
        data = json.loads(line)
        checkpoint = Checkpoint(
            database=str(data["database"]), seq=int(data["seq"]), hash=str(data["hash"]), at=str(data["at"])
        )
        signature = str(data["signature"])
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointInvalid("not a checkpoint") from error
    if not hmac.compare_digest(signature, checkpoint.signature(key)):
        raise CheckpointInvalid(
            f"its signature fails (record {checkpoint.seq}): it was edited or made elsewhere"
        )
    return checkpoint


def checkpoint_write(checkpoint: Checkpoint) -> None:
    """Append one signed line to the sink; a file is created 0600 and only ever appended to."""
    line = checkpoint.line(audit_key())
    sink = settings.DLI_ADMIN_AUDIT_CHECKPOINTS
    if sink == LOG_SINK:
        logger.info(line, extra={"audit_checkpoint": json.loads(line)})
        return
    path = Path(sink)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode("ascii"))  # one write: lines from two processes never interleave
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Newest:
    checkpoint: Checkpoint | None  # the newest (highest seq) of this database
    other_databases: dict[str, int]  # other databases' ids and their newest seq


def newest(lines: Iterable[str], database: str, key: bytes) -> Newest:
    """The newest checkpoint of `database`; CheckpointInvalid naming the line if any line fails."""
    best: Checkpoint | None = None
    others: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            checkpoint = parse(line, key)
        except CheckpointInvalid as invalid:
            raise CheckpointInvalid(f"checkpoint line {number}: {invalid}") from None
        if checkpoint.database != database:
            others[checkpoint.database] = max(others.get(checkpoint.database, 0), checkpoint.seq)
        elif best is None or checkpoint.seq > best.seq:
            best = checkpoint
    return Newest(best, others)
