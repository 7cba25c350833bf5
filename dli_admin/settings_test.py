"""Settings for the test suite: the real settings in development mode, with a fast password hasher."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from dli_admin.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # argon2 would slow every login
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
