"""Changes of who may do what, each with its audit record in the same transaction.

The only code that writes grants and projects (projects.models refuses any write outside
recorded_change()), and the one place that changes a user's superuser, staff and active flags: the
`grant`, `revoke`, `dli_project` and `demo_setup` commands, the Django admin and single sign-on all call
these functions, so "who gave Alice the right to delete" is always answered by the audit log.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from dli_admin.audit.models import AuditSource
from dli_admin.audit.services import audit_access_record, client_ip_for
from dli_admin.projects.models import DliProject, Grant, GrantSource, Role, recorded_change

USER_FLAGS = ("is_active", "is_staff", "is_superuser")
PROJECT_FIELDS = ("project_id", "name", "connection", "endpoint", "region")


@dataclass(frozen=True)
class Origin:
    """Who makes a change, and from where: the audit record's actor, source, address and user agent."""

    source: str  # an AuditSource of an access change: command, admin or sso
    actor: object = None  # the signed-in user; None for a command
    client_ip: str = ""
    user_agent: str = ""
    by: str = ""  # a command: the operating system account and host that ran it


def command_origin() -> Origin:
    """A management command: no signed-in user, so the record names the account that ran it."""
    try:
        account = getpass.getuser()
    except OSError:  # no name for this uid (a container run with an arbitrary user id)
        account = "unknown"
    return Origin(source=AuditSource.COMMAND, by=f"{account}@{socket.gethostname()}")


def request_origin(request, source: str = AuditSource.ADMIN) -> Origin:
    return Origin(
        source=source,
        actor=request.user if request.user.is_authenticated else None,
        client_ip=client_ip_for(request),
        user_agent=request.headers.get("User-Agent", ""),
    )


def _where(project: DliProject | None) -> str:
    return f"project {project.name} ({project.project_id})" if project else "all projects"


def _record(origin: Origin, project: DliProject | None, summary: str, change: dict) -> None:
    if origin.by:
        change = {**change, "by": origin.by}
    audit_access_record(
        actor=origin.actor,
        source=origin.source,
        project_id=project.project_id if project else "",
        project_name=project.name if project else "",
        summary=summary,
        change=change,
        client_ip=origin.client_ip,
        user_agent=origin.user_agent,
    )


def _subject(user) -> dict:
    return {"subject": user.get_username(), "subject_id": user.pk}


# --- Grants ---------------------------------------------------------------------------------------


def grant_save(origin: Origin, grant: Grant) -> Grant:
    """Save a new or changed grant (the admin's form, or grant_set) and record what changed.

    A grant moved to another user or project is recorded as the old one revoked and the new one given.
    Saving it unchanged records nothing.
    """
    with transaction.atomic(), recorded_change():
        old = Grant.objects.select_for_update().filter(pk=grant.pk).first() if grant.pk else None
        if old and (old.user_id, old.project_id) != (grant.user_id, grant.project_id):
            _record_revoke(origin, old)
            old = None
        if old and (old.role, old.source) == (grant.role, grant.source):
            return grant
        grant.save()
        user, project = grant.user, grant.project
        if old is None:
            summary = f"granted {grant.role} of {_where(project)} to {user.get_username()}"
        else:
            summary = (
                f"changed {user.get_username()}'s role in {_where(project)} from {old.role} to {grant.role}"
            )
        if grant.source == GrantSource.SSO:
            summary += " (single sign-on group)"
        _record(
            origin,
            project,
            summary,
            {
                "change": "grant",
                **_subject(user),
                "role": grant.role,
                "before": old.role if old else None,
                "grant": grant.source,
            },
        )
    return grant


def grant_set(
    origin: Origin, *, user, role: str, project: DliProject | None, source: str = GrantSource.MANUAL
) -> Grant:
    """Give `user` the role (one role per user and project: an existing grant's role is replaced)."""
    with transaction.atomic():
        found = Grant.objects.select_for_update().filter(user=user, project=project).first()
        grant = found or Grant(user=user, project=project)
        grant.role, grant.source = Role(role), source
        return grant_save(origin, grant)


def _record_revoke(origin: Origin, grant: Grant) -> None:
    summary = f"revoked {grant.role} of {_where(grant.project)} from {grant.user.get_username()}"
    change = {"change": "revoke", **_subject(grant.user), "role": grant.role, "grant": grant.source}
    _record(origin, grant.project, summary, change)


def grant_revoke(origin: Origin, grant: Grant) -> None:
    with transaction.atomic(), recorded_change():
        _record_revoke(origin, grant)
        grant.delete()


def _revoke_all(origin: Origin, grants) -> None:
    for grant in grants.select_related("user", "project").order_by("pk"):
        grant_revoke(origin, grant)


# --- Projects -------------------------------------------------------------------------------------


def project_save(origin: Origin, project: DliProject) -> bool:
    """Save a new or changed project (validated by the caller) and record it; True if it was added."""
    with transaction.atomic(), recorded_change():
        old = DliProject.objects.select_for_update().filter(pk=project.pk).first() if project.pk else None
        before = {name: getattr(old, name) for name in PROJECT_FIELDS} if old else None
        after = {name: getattr(project, name) for name in PROJECT_FIELDS}
        if before == after:
            return False
        project.save()
        if before is None:
            summary = f"added {_where(project)}"
        elif before["name"] != after["name"]:
            summary = f"renamed project {before['name']} to {project.name} ({project.project_id})"
        else:
            changed = ", ".join(name for name in PROJECT_FIELDS if before[name] != after[name])
            summary = f"changed {changed} of {_where(project)}"
        change = {"change": "project", "before": before, "after": after}
        _record(origin, project, summary, change)
    return old is None


def project_delete(origin: Origin, project: DliProject) -> None:
    """Remove a project: each of its grants is revoked (and recorded) first."""
    with transaction.atomic(), recorded_change():
        _revoke_all(origin, Grant.objects.filter(project=project))
        before = {name: getattr(project, name) for name in PROJECT_FIELDS}
        _record(origin, project, f"removed {_where(project)}", {"change": "project", "before": before})
        project.delete()


# --- Users ----------------------------------------------------------------------------------------


def _flags(user) -> dict[str, bool]:
    return {name: bool(getattr(user, name)) for name in USER_FLAGS}


def user_save(origin: Origin, user) -> None:
    """Save a user (new, or with changed fields) and record a new user and any change of its superuser,
    staff or active flag. Other fields (name, e-mail, password) are saved without a record."""
    with transaction.atomic():
        model = get_user_model()
        old = model.objects.select_for_update().filter(pk=user.pk).first() if user.pk else None
        before = _flags(old) if old else None
        user.save()
        after = _flags(user)
        if before == after:
            return
        name = user.get_username()
        if before is None:
            summary = _added_summary(user, after)
        else:
            changes = [
                f"{'now' if after[flag] else 'no longer'} {flag.removeprefix('is_')}"
                for flag in USER_FLAGS
                if before[flag] != after[flag]
            ]
            summary = f"user {name}: {', '.join(changes)}"
        _record(origin, None, summary, {"change": "user", **_subject(user), "before": before, "after": after})


def _added_summary(user, flags: dict[str, bool]) -> str:
    held = ", ".join(flag.removeprefix("is_") for flag, on in flags.items() if on) or "no flags"
    return f"added user {user.get_username()} ({held})"


def user_added_record(origin: Origin, user) -> None:
    """Record a user that Django's own code made (createsuperuser), right after it did."""
    after = _flags(user)
    _record(
        origin,
        None,
        _added_summary(user, after),
        {"change": "user", **_subject(user), "before": None, "after": after},
    )


def user_rights_record(origin: Origin, user, before: Mapping[str, list], after: Mapping[str, list]) -> None:
    """Record a change of a user's Django groups or model permissions (what the admin lets a staff user
    change), which the admin saves after the user itself."""
    if dict(before) == dict(after):
        return
    summary = f"user {user.get_username()}: admin groups or permissions changed"
    _record(
        origin, None, summary, {"change": "user-rights", **_subject(user), "before": before, "after": after}
    )


def user_delete(origin: Origin, user) -> None:
    """Remove a user: each of its grants is revoked (and recorded) first."""
    with transaction.atomic(), recorded_change():
        _revoke_all(origin, Grant.objects.filter(user=user))
        change = {"change": "user", **_subject(user), "before": _flags(user), "after": None}
        _record(origin, None, f"removed user {user.get_username()}", change)
        user.delete()


# --- Single sign-on -------------------------------------------------------------------------------


def grants_follow_groups(origin: Origin, user, wanted: Mapping[DliProject | None, str]) -> None:
    """Make the user's single sign-on grants what their groups give (`wanted`: project, or None for the
    global auditor role, to role). Manual grants are never changed: where one exists, no group grant is
    made for that project (docs/sso.md)."""
    with transaction.atomic():
        held = {grant.project_id: grant for grant in Grant.objects.select_for_update().filter(user=user)}
        for grant in held.values():
            if grant.source == GrantSource.SSO and grant.project not in wanted:
                grant_revoke(origin, grant)
        for project, role in wanted.items():
            current = held.get(project.pk if project else None)
            if current is None or current.source == GrantSource.SSO:
                grant_set(origin, user=user, role=role, project=project, source=GrantSource.SSO)


# --- What the audit log did not see ---------------------------------------------------------------


def record_found(origin: Origin, *, user_id: int, username: str, project_id: str, found, recorded) -> None:
    """Record a grant or a user's flags as found in the database where the audit log says otherwise
    (`access_verify --baseline`): made before such changes were audited, or written around dli-admin.
    The record says "found", never who did it: nobody knows."""
    subject = {"subject": username, "subject_id": user_id, "found": True}
    project = DliProject.objects.filter(project_id=project_id).first() if project_id else None
    where = _where(project) if project_id else "all projects"
    if isinstance(found, str) or isinstance(recorded, str):
        if found:
            summary = f"found in the database, not in the audit log: {username} is {found} of {where}"
            change = {"change": "grant", **subject, "role": found, "before": recorded, "grant": "found"}
        else:
            summary = f"found missing from the database: {username} is no longer {recorded} of {where}"
            change = {"change": "revoke", **subject, "role": recorded, "grant": "found"}
    else:
        summary = f"found in the database, not in the audit log: user {username} with flags {found}"
        change = {"change": "user", **subject, "before": recorded, "after": found}
    audit_access_record(
        actor=origin.actor,
        source=origin.source,
        project_id=project_id,
        project_name=project.name if project else "",
        summary=summary,
        change={**change, "by": origin.by} if origin.by else change,
        client_ip=origin.client_ip,
        user_agent=origin.user_agent,
    )
