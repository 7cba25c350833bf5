"""What a DLI Flink job id is, and the (id, name, status) triple that names a job as someone saw it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .statuses import status_label

MAX_JOB_ID = 2**63 - 1  # DLI job ids are Java longs (docs/dli-api.md §1)
_JOB_ID = re.compile(r"[0-9]{1,19}")  # ASCII only: int() would also take " 7" and Arabic-Indic digits


def parse_job_id(value: str) -> int | None:
    """The DLI job id that `value` spells exactly, or None: ASCII digits within a Java long."""
    if isinstance(value, str) and _JOB_ID.fullmatch(value) and int(value) <= MAX_JOB_ID:
        return int(value)
    return None


@dataclass(frozen=True)
class JobRef:
    """A job as someone saw it: in a review, a confirmation, or an audit intent."""

    job_id: int
    name: str
    status: str

    @property
    def status_label(self) -> str:
        return status_label(self.status)
