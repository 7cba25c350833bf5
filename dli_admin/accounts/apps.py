from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "dli_admin.accounts"
    label = "accounts"
    verbose_name = "Accounts and sessions"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.core.signals import request_finished

        from . import checks  # noqa: F401  (registers the system checks)
        from .logs import clear_request_context
        from .middleware import start_session_clocks

        user_logged_in.connect(start_session_clocks, dispatch_uid="accounts.start_session_clocks")
        request_finished.connect(clear_request_context, dispatch_uid="accounts.clear_request_context")
