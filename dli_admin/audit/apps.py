from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "dli_admin.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
