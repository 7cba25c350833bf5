"""Files on disk: var/ only for its owner (0700), the SQLite database and its journals 0600, however they
came to exist. Each case runs Django in a fresh process with a permissive umask, as a shell would."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(code_or_args: str | list[str], database: Path | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env |= {"DJANGO_DEBUG": "1", "DJANGO_SETTINGS_MODULE": "dli_admin.settings"}
    if database:
        env["DATABASE_URL"] = f"sqlite:///{database}"
    args = (
        ["-c", f"import django; django.setup(); {code_or_args}"]
        if isinstance(code_or_args, str)
        else code_or_args
    )
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, umask=0o022
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def database(tmp_path) -> Path:
    return tmp_path / "db.sqlite3"


def test_var_is_made_private_to_its_owner():
    var = ROOT / "var"
    var.chmod(0o755)  # as a plain `mkdir var` (or an older dli-admin) left it
    run("pass")
    assert mode(var) == 0o700


def test_migrate_creates_a_database_only_its_owner_can_read(database):
    run(["manage.py", "migrate", "--noinput", "-v", "0"], database)
    assert mode(database) == 0o600
    for journal in database.parent.glob("db.sqlite3-*"):
        assert mode(journal) == 0o600, journal.name


def test_the_first_connection_creates_a_database_only_its_owner_can_read(database):
    run("from django.db import connection; connection.ensure_connection()", database)
    assert mode(database) == 0o600


def test_an_existing_database_readable_by_others_is_tightened(database):
    run(["manage.py", "migrate", "--noinput", "-v", "0"], database)
    wal = database.with_name("db.sqlite3-wal")
    wal.touch()
    for path in (database, wal):
        path.chmod(0o644)
    run("pass", database)  # settings alone: no connection, so SQLite keeps the journal where it is
    assert mode(database) == mode(wal) == 0o600
