"""System checks that keep the Content Security Policy strict: run by `manage.py check`, tests, runserver."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.utils.csp import CSP

# Each of these directives must hold exactly this source: anything added only loosens it.
EXACT = {
    "default-src": CSP.SELF,
    "object-src": CSP.NONE,
    "base-uri": CSP.NONE,
    "frame-ancestors": CSP.NONE,
    "form-action": CSP.SELF,
}
# Scripts come from our own origin and carry the per-response nonce: nothing else.
SCRIPT_SOURCES = {str(CSP.SELF), str(CSP.NONCE)}
UNSAFE_SCRIPT_SOURCES = {str(CSP.UNSAFE_INLINE), str(CSP.UNSAFE_EVAL)}
CSP_MIDDLEWARE = "django.middleware.csp.ContentSecurityPolicyMiddleware"


def _sources(value: Any) -> set[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return set(value.split())
    return {str(v) for v in value}


@register(Tags.security)
def check_csp(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    policy = getattr(settings, "SECURE_CSP", None) or {}
    if not policy:
        return [
            Error(
                "SECURE_CSP is empty: pages would be served without a Content Security Policy.",
                id="accounts.E001",
            )
        ]
    errors: list[CheckMessage] = []
    if CSP_MIDDLEWARE not in settings.MIDDLEWARE:
        errors.append(
            Error(f"{CSP_MIDDLEWARE} is not in MIDDLEWARE: SECURE_CSP has no effect.", id="accounts.E002")
        )
    for directive, source in EXACT.items():
        if _sources(policy.get(directive)) != {str(source)}:
            errors.append(
                Error(f'SECURE_CSP must set "{directive}" to {source} and nothing else.', id="accounts.E003")
            )
    script_src = _sources(policy.get("script-src")) or set()
    if unsafe := script_src & UNSAFE_SCRIPT_SOURCES:
        errors.append(
            Error(
                f'SECURE_CSP "script-src" must not allow {", ".join(sorted(unsafe))}.',
                hint="Move inline code into static/ files loaded with the nonce.",
                id="accounts.E004",
            )
        )
    if script_src - UNSAFE_SCRIPT_SOURCES != SCRIPT_SOURCES:
        errors.append(
            Error(
                f'SECURE_CSP "script-src" must be exactly {CSP.SELF} and the nonce (CSP.NONCE).',
                id="accounts.E005",
            )
        )
    return errors
