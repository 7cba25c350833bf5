"""Settings for the test suite: the real settings in development mode, with a fast password hasher."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")
# Never a developer's .env: a test sees only what it sets. Processes a test starts inherit this too.
os.environ["DLI_ADMIN_ENV_FILE"] = ""
# A fixed audit key for every test and every process a test starts (workers); not a secret of anyone's.
os.environ.setdefault("DLI_ADMIN_AUDIT_KEY", "dli-admin-test-audit-key-0123456789abcdef")
# Never a developer's checkpoint file, here or in a worker a test starts; tests that read checkpoints set
# a file of their own.
os.environ.setdefault(
    "DLI_ADMIN_AUDIT_CHECKPOINTS",
    os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "var", "test-audit-checkpoints.jsonl"
    ),
)

from dli_admin.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # argon2 would slow every login
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not SQLite's shared in-memory cache: that one answers "table is locked" to a second
    # writer instead of waiting, so the concurrency tests could not show how production behaves.
    # One file per test process, so that two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3")}  # noqa: F405
