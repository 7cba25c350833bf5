"""Settings of the development server that test_security_error_pages.py starts: the real settings, SQLite
in the test's own directory (never migrated), and a urlconf with one more view that fails holding secrets."""

import os

from dli_admin.settings import *  # noqa: F403

ROOT_URLCONF = "tests.integration.error_pages_urls"
DATABASES["default"]["NAME"] = os.environ["ERROR_PAGES_SQLITE"]  # noqa: F405
