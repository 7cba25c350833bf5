"""Which DLI endpoint and credentials a project uses, and the client that speaks to it."""

from __future__ import annotations

import functools

from django.conf import settings
from django.utils.module_loading import import_string
from requests.auth import AuthBase

from dli_admin.dli import AkSkAuth, DliClient, IamPasswordAuth, TokenAuth
from dli_admin.dli.limiter import limiter_for

from .models import DliProject


class DliNotConfigured(Exception):
    """dli-admin has no way to reach or authenticate to DLI for a project."""


def dli_client_for(project: DliProject) -> DliClient:
    endpoint = project.endpoint.rstrip("/") or settings.DLI_ENDPOINT
    if not endpoint:
        if not settings.DLI_EMBEDDED_SIMULATOR:
            raise DliNotConfigured(
                "DLI_ENDPOINT is not set. Set it to your region's DLI endpoint "
                "(or DLI_EMBEDDED_SIMULATOR=1 to use the embedded simulator's demo data)."
            )
        # No DLI configured: the embedded simulator serves, with its built-in demo credentials.
        from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
        from dli_admin.simulator.server import embedded

        return _client(embedded().url, project.project_id, ("aksk", DEMO_ACCESS_KEY, DEMO_SECRET_KEY))
    return _client(endpoint, project.project_id, _credentials(project.project_id))


def _credentials(project_id: str) -> tuple[str, ...]:
    if settings.DLI_AK and settings.DLI_SK:
        return ("aksk", settings.DLI_AK, settings.DLI_SK)
    if settings.DLI_AUTH_TOKEN:
        return ("token", settings.DLI_AUTH_TOKEN)
    if settings.DLI_IAM_ENDPOINT and settings.DLI_IAM_USER and settings.DLI_IAM_PASSWORD:
        return (
            "iam",
            settings.DLI_IAM_ENDPOINT,
            settings.DLI_IAM_USER,
            settings.DLI_IAM_PASSWORD,
            settings.DLI_IAM_DOMAIN,
            project_id,
        )
    raise DliNotConfigured(
        "dli-admin has no DLI credentials: set DLI_AK and DLI_SK, or DLI_AUTH_TOKEN, "
        "or DLI_IAM_ENDPOINT, DLI_IAM_USER, DLI_IAM_PASSWORD and DLI_IAM_DOMAIN."
    )


def _client(endpoint: str, project_id: str, credentials: tuple[str, ...]) -> DliClient:
    return _cached_client(
        endpoint,
        project_id,
        credentials,
        settings.DLI_CONNECT_TIMEOUT,
        settings.DLI_TIMEOUT,
        settings.DLI_BATCH_SIZE,
        settings.DLI_CONCURRENCY,
    )


# Clients are kept so that connection pools and IAM tokens are reused across requests.
@functools.lru_cache(maxsize=64)
def _cached_client(
    endpoint: str,
    project_id: str,
    credentials: tuple[str, ...],
    connect_timeout: float,
    read_timeout: float,
    batch_size: int,
    concurrency: int,
) -> DliClient:
    kind, *values = credentials
    auth: AuthBase
    if kind == "aksk":
        auth = AkSkAuth(*values)
    elif kind == "token":
        auth = TokenAuth(*values)
    else:
        iam_endpoint, user, password, domain, iam_project = values
        auth = IamPasswordAuth(
            iam_endpoint, user, password, domain, iam_project, timeout=(connect_timeout, read_timeout)
        )
    # Named in settings, not imported: the metrics app sits above projects (docs/architecture.md).
    observer = getattr(settings, "DLI_ADMIN_DLI_OBSERVER", "")
    return DliClient(
        endpoint,
        project_id,
        auth=auth,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        batch_size=batch_size,
        limiter=limiter_for(endpoint, concurrency),
        observer=import_string(observer) if observer else None,
    )
