"""DLI's 14 Flink job statuses: readable labels, a colour tone each, and which ones are active."""

from __future__ import annotations

# value -> (label, tone); tones map to CSS classes status-<tone>.
STATUSES: dict[str, tuple[str, str]] = {
    "job_init": ("Draft", "neutral"),
    "job_submitting": ("Submitting", "active"),
    "job_submit_fail": ("Submit failed", "bad"),
    "job_running": ("Running", "active"),
    "job_running_exception": ("Running exception", "bad"),
    "job_downloading": ("Downloading", "active"),
    "job_idle": ("Idle", "neutral"),
    "job_canceling": ("Stopping", "active"),
    "job_cancel_success": ("Stopped", "neutral"),
    "job_cancel_fail": ("Stop failed", "bad"),
    "job_savepointing": ("Creating savepoint", "active"),
    "job_arrearage_stopped": ("Stopped (arrears)", "warn"),
    "job_arrearage_recovering": ("Recovering (arrears)", "active"),
    "job_finish": ("Completed", "ok"),
}

# Deleting these stops live work, so only owners may (see permissions.can_delete).
ACTIVE_STATUSES = frozenset(
    {
        "job_running",
        "job_submitting",
        "job_canceling",
        "job_savepointing",
        "job_downloading",
        "job_arrearage_recovering",
    }
)


def status_label(status: str) -> str:
    return STATUSES.get(status, (status or "unknown", "neutral"))[0]


def status_tone(status: str) -> str:
    return STATUSES.get(status, ("", "neutral"))[1]
