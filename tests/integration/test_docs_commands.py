"""The commands of the docs, run as written: each block after `<!-- docs-test: NAME -->` in a bash shell.

The shell starts in a temporary directory with `python` on its PATH meaning this interpreter (and
`python manage.py` this checkout's manage.py), production settings, and a database of its own: SQLite,
or, when the tests run on PostgreSQL, two databases of their own on that server.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- docs-test: (?P<name>[\w-]+) -->\n```sh\n(?P<body>.*?)```", re.S)
PASSWORD = "a long password for the docs test 1"  # noqa: S105  a test value

pytestmark = pytest.mark.timeout(300)


def blocks(page: str) -> dict[str, str]:
    return {m["name"]: m["body"] for m in BLOCK.finditer((ROOT / "docs" / page).read_text())}


class Shell:
    def __init__(self, tmp_path: Path, **env: str) -> None:
        shim = tmp_path / "bin" / "python"
        shim.parent.mkdir()
        shim.write_text(
            "#!/bin/sh\n"
            f'if [ "$1" = manage.py ]; then shift; exec "{sys.executable}" "{ROOT}/manage.py" "$@"; fi\n'
            f'exec "{sys.executable}" "$@"\n'
        )
        shim.chmod(0o755)
        self.cwd = tmp_path
        self.env = {
            "PATH": f"{shim.parent}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "dli-admin.example.com",
            "DLI_ADMIN_ENV_FILE": "",
            "DLI_ADMIN_AUDIT_KEY": secrets.token_urlsafe(32),
            "DLI_ADMIN_AUDIT_CHECKPOINTS": str(tmp_path / "audit-checkpoints.jsonl"),
            "ALICE_PASSWORD": PASSWORD,
            **env,
        }

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=self.cwd,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    def ok(self, script: str, **env: str) -> str:
        result = self.run(script, **env)
        assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
        return result.stdout


def run_users_and_audit_pages(shell: Shell) -> None:
    upgrade = blocks("upgrade-and-backup.md")["upgrade"]
    assert "audit chain OK: 0 records" in shell.ok(upgrade)
    users = blocks("users-and-roles.md")["users"]
    listed = shell.ok(users).splitlines()
    assert "alice  active  operator of 0123456789abcdef0123456789abcdef" in listed
    assert "bob  active  auditor" in listed
    audit = blocks("audit.md")
    assert "checked against the checkpoint of record 7" in shell.ok(audit["checkpoints"])
    assert "audit chain OK: 7 records" in shell.ok(audit["verify"])
    assert shell.ok(audit["reconcile"]).count("nothing to settle") == 2


def restore_and_verify(shell: Shell, **env: str) -> None:
    page = blocks("upgrade-and-backup.md")
    broken = shell.run("python manage.py audit_verify", **env)
    assert broken.returncode == 1 and "audit chain BROKEN" in broken.stderr, (
        "records after the backup are gone"
    )
    assert "audit chain OK: 7 records" in shell.ok(page["restore-verify"], **env)
    assert "audit chain OK: 7 records" in shell.ok(page["restore-checkpoints"], **env)
    assert (shell.cwd / "audit-checkpoints.jsonl.before-restore").exists()


def test_the_documented_commands_work_on_sqlite(tmp_path, settings):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the tests run on PostgreSQL: the PostgreSQL test runs the same pages")
    database = tmp_path / "db.sqlite3"
    shell = Shell(tmp_path, DATABASE_URL=f"sqlite:///{database}", SQLITE_DATABASE=str(database))
    run_users_and_audit_pages(shell)
    page = blocks("upgrade-and-backup.md")
    assert shell.ok(page["backup-sqlite"]).strip() == "ok"
    shell.ok("python manage.py user add carol --no-password")  # written after the backup
    shell.ok(page["restore-sqlite"])
    restore_and_verify(shell)


def test_the_documented_commands_work_on_postgresql(tmp_path, settings):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL")
    url = urlsplit(os.environ["DATABASE_URL"])
    base = url.path.lstrip("/")
    names = [f"{base}_docs", f"{base}_docs_restore"]
    admin = urlunsplit(url._replace(path="/postgres"))
    urls = [urlunsplit(url._replace(path=f"/{name}")) for name in names]
    for name in names:
        subprocess.run(["psql", admin, "-qc", f'DROP DATABASE IF EXISTS "{name}"'], check=True)
        subprocess.run(["psql", admin, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        shell = Shell(tmp_path, DATABASE_URL=urls[0], RESTORE_DATABASE_URL=urls[1])
        run_users_and_audit_pages(shell)
        page = blocks("upgrade-and-backup.md")
        shell.ok(page["backup-postgresql"])
        shell.ok("python manage.py user add carol --no-password")
        shell.ok(page["restore-postgresql"])
        restore_and_verify(shell, DATABASE_URL=urls[1])
    finally:
        for name in names:
            subprocess.run(
                ["psql", admin, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False
            )


def test_the_documented_connections_configure_each_project(tmp_path):
    shell = Shell(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    secrets_dir = tmp_path / "run-secrets"
    secrets_dir.mkdir()
    for name in ("prod_eu_ak", "prod_eu_sk", "staging_iam_password"):
        (secrets_dir / name).write_text(f"{name}-value-for-the-docs-test\n")
    block = blocks("deployment.md")["connections"].replace("/run/secrets/", f"{secrets_dir}/")
    shell.ok("python manage.py migrate --noinput")
    listed = shell.ok(block).splitlines()
    assert "0123456789abcdef0123456789abcdef  analytics-prod  prod-eu  (the connection's endpoint)" in listed
    assert (
        "fedcba9876543210fedcba9876543210  analytics-staging  staging  (the connection's endpoint)" in listed
    )
    assert "System check identified no issues" in listed[-1]
    # A credential not set: every command stops, naming the variable and no value.
    missing = shell.run(
        block.replace(f"export DLI_CONNECTION_PROD_EU_SK_FILE={secrets_dir}/prod_eu_sk\n", "")
    )
    assert missing.returncode == 1 and "projects.E012" in missing.stderr
    assert "DLI_CONNECTION_PROD_EU_SK" in missing.stderr and "prod_eu_ak-value" not in missing.stderr


def test_every_marked_block_is_run_by_a_test():
    pages = ("users-and-roles.md", "audit.md", "upgrade-and-backup.md", "deployment.md")
    marked = {(page, name) for page in pages for name in blocks(page)}
    run_here = Path(__file__).read_text()
    assert all(f'"{name}"' in run_here for _, name in marked), marked
