"""Which DLI endpoint and credentials a project uses, and the client that speaks to it.

A project names a DLI connection (DliProject.connection): "default" is made of DLI_ENDPOINT, DLI_AK, DLI_SK,
DLI_AUTH_TOKEN and DLI_IAM_*; the others come from settings.DLI_CONNECTIONS (DLI_CONNECTIONS and
DLI_CONNECTION_<NAME>_*, dli_admin/environment.py). Credentials live in settings, read from the environment
or files at start, never in the database. Everything that builds a DLI client comes here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string
from requests.auth import AuthBase

from dli_admin.dli import AkSkAuth, DliClient, IamPasswordAuth, TokenAuth
from dli_admin.dli.limiter import limiter_for

from .models import DEFAULT_CONNECTION, DliProject

# The default connection's variables, in the order of _cached_client's credentials, for each auth kind;
# the first kind whose variables are all set is used (a key pair wins over a token, a token over IAM).
_DEFAULT_VARIABLES = {
    "aksk": ("DLI_AK", "DLI_SK"),
    "token": ("DLI_AUTH_TOKEN",),
    "iam": ("DLI_IAM_ENDPOINT", "DLI_IAM_USER", "DLI_IAM_PASSWORD", "DLI_IAM_DOMAIN"),
}


class DliNotConfigured(Exception):
    """dli-admin has no way to reach or authenticate to DLI for a project."""


@dataclass(frozen=True)
class Connection:
    """One DLI account in one region, as configured: never shown with its credentials."""

    name: str
    endpoint: str  # empty: the default connection with no DLI_ENDPOINT (the embedded simulator, if allowed)
    auth: str  # aksk, token or iam; empty when the default connection has no credentials
    credentials: tuple[str, ...] = field(repr=False)
    missing: tuple[str, ...]  # the variables to set before this connection can be used

    @property
    def problem(self) -> str:
        """Why this connection cannot be used, naming variables only; empty when it can."""
        if self.name == DEFAULT_CONNECTION and not self.auth:
            return (
                "dli-admin has no DLI credentials: set DLI_AK and DLI_SK, or DLI_AUTH_TOKEN, "
                "or DLI_IAM_ENDPOINT, DLI_IAM_USER, DLI_IAM_PASSWORD and DLI_IAM_DOMAIN."
            )
        if self.missing:
            return (
                f"DLI connection {self.name} ({self.auth}) has no credentials in "
                f"{' and '.join(self.missing)}: set each, or its _FILE."
            )
        return ""


def connection_names() -> list[str]:
    return [DEFAULT_CONNECTION, *settings.DLI_CONNECTIONS]


def connection_named(name: str) -> Connection:
    if name == DEFAULT_CONNECTION:
        return _default_connection()
    try:
        entry = settings.DLI_CONNECTIONS[name]
    except KeyError:
        raise DliNotConfigured(
            f"DLI connection {name!r} is not configured (known: {', '.join(connection_names())}); "
            "add it to DLI_CONNECTIONS, or move the project to another one."
        ) from None
    credentials: dict[str, str] = entry["CREDENTIALS"]
    return Connection(
        name=name,
        endpoint=entry["ENDPOINT"],
        auth=entry["AUTH"],
        credentials=tuple(credentials.values()),
        missing=tuple(variable for variable, value in credentials.items() if not value),
    )


def _default_connection() -> Connection:
    for auth, variables in _DEFAULT_VARIABLES.items():
        values = tuple(getattr(settings, variable) for variable in variables)
        if all(values):
            return Connection(DEFAULT_CONNECTION, settings.DLI_ENDPOINT, auth, credentials=values, missing=())
    return Connection(DEFAULT_CONNECTION, settings.DLI_ENDPOINT, "", credentials=(), missing=())


def dli_client_for(project: DliProject) -> DliClient:
    connection = connection_named(project.connection)
    # A project's own endpoint is another region of the same account (AK/SK and IAM users are account-wide).
    endpoint = project.endpoint.rstrip("/") or connection.endpoint
    if not endpoint:
        if not settings.DLI_EMBEDDED_SIMULATOR:
            raise DliNotConfigured(
                "DLI_ENDPOINT is not set. Set it to your region's DLI endpoint "
                "(or DLI_EMBEDDED_SIMULATOR=1 to use the embedded simulator's demo data)."
            )
        # No DLI configured: the embedded simulator serves, with its built-in demo credentials.
        from dli_admin.simulator.credentials import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
        from dli_admin.simulator.server import embedded

        return _client(
            embedded().url, project.project_id, connection.name, ("aksk", DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
        )
    if connection.problem:
        raise DliNotConfigured(connection.problem)
    return _client(endpoint, project.project_id, connection.name, (connection.auth, *connection.credentials))


def _client(endpoint: str, project_id: str, connection: str, credentials: tuple[str, ...]) -> DliClient:
    return _cached_client(
        endpoint,
        project_id,
        connection,
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
    connection: str,
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
        iam_endpoint, user, password, domain = values
        auth = IamPasswordAuth(
            iam_endpoint, user, password, domain, project_id, timeout=(connect_timeout, read_timeout)
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
        observer=functools.partial(import_string(observer), connection=connection) if observer else None,
    )
