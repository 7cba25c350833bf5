"""The DLI client: signed, timed, fault-aware calls to DLI's Flink-job API. Knows nothing of Django."""

from __future__ import annotations

from dli_admin.dli.auth import AkSkAuth, IamPasswordAuth, TokenAuth
from dli_admin.dli.client import PAGE_LIMIT, DliClient
from dli_admin.dli.errors import DliError, ErrorCategory
from dli_admin.dli.types import (
    ChunkOutcome,
    ChunkResult,
    CreatedJob,
    DeleteReply,
    DliCall,
    Job,
    JobDefinition,
    JobPage,
    ReplyShape,
)

__all__ = [
    "PAGE_LIMIT",
    "AkSkAuth",
    "ChunkOutcome",
    "ChunkResult",
    "CreatedJob",
    "DeleteReply",
    "DliCall",
    "DliClient",
    "DliError",
    "ErrorCategory",
    "IamPasswordAuth",
    "Job",
    "JobDefinition",
    "JobPage",
    "ReplyShape",
    "TokenAuth",
]
