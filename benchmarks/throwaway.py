"""The set-up shared by the benchmarks that make their own database (the audit_* scripts share
audit_verify.prepare instead)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def throwaway_django(name: str, *, database_url: str | None = None, **env: str) -> None:
    """Django set up and migrated on a new SQLite file, var/bench-<name>.sqlite3 (or on `database_url`),
    with DEBUG off and, in `env`, any further settings.

    The audit checkpoints go to a file of their own, new too: the working copy's var/audit-checkpoints.jsonl
    holds those of `make run`, signed with another key, which audit_verify would rightly call broken. The
    audit key is DLI_ADMIN_AUDIT_KEY, or a throwaway one for the throwaway log (a worker refuses to start
    without one: audit.E001).
    """
    sys.path.insert(0, str(ROOT))
    database = ROOT / "var" / f"bench-{name}.sqlite3"
    checkpoints = ROOT / "var" / f"bench-{name}-checkpoints.jsonl"
    database.parent.mkdir(exist_ok=True)
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm"), checkpoints):
        path.unlink(missing_ok=True)
    os.environ.update(
        DATABASE_URL=database_url or f"sqlite:///{database}",
        DLI_ADMIN_AUDIT_CHECKPOINTS=str(checkpoints),
        DLI_ADMIN_AUDIT_KEY=os.environ.get("DLI_ADMIN_AUDIT_KEY", "bench-audit-key-0123456789abcdef0123"),
        DJANGO_DEBUG="1",  # only so that the settings boot without a secret key; DEBUG is off below
        DJANGO_SETTINGS_MODULE="dli_admin.settings",
        DJANGO_LOG_LEVEL="WARNING",
        **env,
    )
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.DEBUG = False
    call_command("migrate", verbosity=0)
