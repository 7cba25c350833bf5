"""System checks of the DLI connections: run by `manage.py check`, runserver, migrate and every command."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.checks import CheckMessage, Error, register
from django.core.checks import Warning as CheckWarning
from django.db import DatabaseError

from .connections import connection_named, connection_names
from .models import DEFAULT_CONNECTION, DliProject


@register()
def check_connections(app_configs: Iterable[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Every project's connection exists (W011) and every configured connection has its credentials (E012).

    The messages name connections and variables only, never a value.
    """
    in_use: dict[str, list[str]] = {}
    try:
        for name, project_id in DliProject.objects.values_list("connection", "project_id"):
            in_use.setdefault(name, []).append(project_id)
    except DatabaseError:  # not migrated yet (or no database): no project to check
        in_use = {}
    errors: list[CheckMessage] = []
    known = connection_names()
    for name, project_ids in in_use.items():
        if name not in known:
            more = f" and {len(project_ids) - 3} more" if len(project_ids) > 3 else ""
            shown = ", ".join(project_ids[:3]) + more
            # A warning: only these projects are cut off, and every command (the fix included) still runs.
            errors.append(
                CheckWarning(
                    f"project {shown} uses the DLI connection {name!r}, which is not configured",
                    hint=f"Add {name} to DLI_CONNECTIONS (known: {', '.join(known)}), or move the project: "
                    f"manage.py dli_project add PROJECT_ID --name NAME --connection {DEFAULT_CONNECTION}",
                    id="projects.W011",
                )
            )
    for name in known:
        connection = connection_named(name)
        # The default connection with no DLI_ENDPOINT is the embedded simulator, or unused: nothing to check.
        if name == DEFAULT_CONNECTION and not connection.endpoint:
            continue
        if connection.problem:
            errors.append(Error(connection.problem, id="projects.E012"))
    return errors
