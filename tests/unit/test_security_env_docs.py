"""`.env.example` documents every environment variable the code reads, each with a comment."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# settings.py reads through `env.<type>("NAME", ...)` (django-environ); a few modules use os.environ directly.
READS = re.compile(r"""(?:\benv\.\w+\(|os\.environ\.get\(|os\.getenv\()\s*f?["']([A-Z][A-Z0-9_]+)["']""")


def documented() -> dict[str, str]:
    """Each variable in .env.example with the comment line just above it."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {
        line.split("=", 1)[0]: lines[i - 1]
        for i, line in enumerate(lines)
        if re.match(r"[A-Z][A-Z0-9_]*=", line)
    }


def read_by_the_code() -> set[str]:
    names = set()
    for path in (ROOT / "dli_admin").rglob("*.py"):
        names |= set(READS.findall(path.read_text()))
    return names - {"DJANGO_SETTINGS_MODULE"}


def test_every_variable_the_code_reads_is_documented():
    assert read_by_the_code() - documented().keys() == set()


def test_every_documented_variable_has_a_comment_and_no_value_for_secrets():
    docs = documented()
    assert all(comment.startswith("# ") for comment in docs.values())
    for secret in ("DJANGO_SECRET_KEY", "DLI_SK", "DLI_AUTH_TOKEN", "DLI_IAM_PASSWORD", "DLI_AK"):
        assert re.search(rf"^{secret}=$", (ROOT / ".env.example").read_text(), re.M)


def test_the_pattern_sees_the_settings_reads():
    names = read_by_the_code()
    assert {
        "DJANGO_DEBUG",
        "DJANGO_ALLOWED_HOSTS",
        "DATABASE_URL",
        "DLI_TIMEOUT",
        "DLI_ADMIN_ENV_FILE",
    } <= names
