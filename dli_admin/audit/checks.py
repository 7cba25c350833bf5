"""System checks of the audit log's configuration: run by `manage.py check`, runserver and every command."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from .checkpoints import LOG_SINK

MIN_KEY_LENGTH = 32


@register()
def check_audit_key(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Always, not only with --deploy: without the key no audit record can be written."""
    key = settings.DLI_ADMIN_AUDIT_KEY
    hint = (
        "Set DLI_ADMIN_AUDIT_KEY (or DLI_ADMIN_AUDIT_KEY_FILE) to 32+ random characters kept outside the "
        "database, e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'; `make run` makes one."
    )
    if not key:
        return [Error("DLI_ADMIN_AUDIT_KEY is not set", hint=hint, id="audit.E001")]
    if len(key) < MIN_KEY_LENGTH:
        return [
            Error(
                f"DLI_ADMIN_AUDIT_KEY is shorter than {MIN_KEY_LENGTH} characters", hint=hint, id="audit.E002"
            )
        ]
    sink = settings.DLI_ADMIN_AUDIT_CHECKPOINTS
    if sink != LOG_SINK and not sink.startswith("/"):
        return [
            Error(
                f"DLI_ADMIN_AUDIT_CHECKPOINTS must be an absolute path or {LOG_SINK!r}, not {sink!r}",
                id="audit.E003",
            )
        ]
    return []
