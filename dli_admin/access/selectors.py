"""Do today's grants and user flags match what the audit log says was done? (`manage.py access_verify`)

The services make no change without its record, but whoever holds the application's database account can
still write the grant and user tables directly. Replaying the log's access changes, oldest first, gives
the grants and superuser/staff/active flags there should be; anything else was written around dli-admin
(or before it audited such changes: `access_verify --baseline` records those once, as found).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model

from dli_admin.audit.models import AuditKind, AuditRecord, access_change
from dli_admin.projects.models import Grant

from .services import USER_FLAGS


@dataclass(frozen=True)
class Unexplained:
    """A grant or a user's flags as the database has them, and as the audit log says they should be."""

    user_id: int
    username: str
    project_id: str  # "" for the global auditor role and for user flags
    found: object  # a role, a flags dict, or None (not there)
    recorded: object

    def __str__(self) -> str:
        if self.project_id or isinstance(self.found, str) or isinstance(self.recorded, str):
            where = f"project {self.project_id}" if self.project_id else "all projects"
            found, recorded = self.found or "none", self.recorded or "none"
            return f"{self.username}'s role in {where}: {found} here, {recorded} in the audit log"
        return f"{self.username}'s flags: {self.found} here, {self.recorded} in the audit log"


def _replayed() -> tuple[dict[tuple[int, str], str], dict[int, dict]]:
    grants: dict[tuple[int, str], str] = {}
    flags: dict[int, dict] = {}
    records = AuditRecord.objects.filter(kind=AuditKind.ACCESS).order_by("seq")
    for project_id, message in records.values_list("project_id", "message").iterator(chunk_size=2000):
        change = access_change(message)
        subject, kind = change.get("subject_id"), change.get("change")
        if kind == "project":  # a project given another DLI id keeps its grants
            before, after = change.get("before"), change.get("after")
            if isinstance(before, dict) and isinstance(after, dict):
                old, new = str(before.get("project_id")), str(after.get("project_id"))
                grants = {
                    (user, new if where == old else where): role for (user, where), role in grants.items()
                }
        if not isinstance(subject, int):
            continue
        if kind == "grant":
            grants[(subject, project_id)] = change.get("role", "")
        elif kind == "revoke":
            grants.pop((subject, project_id), None)
        elif kind == "user":
            after = change.get("after")
            if after is None:
                flags.pop(subject, None)
                grants = {key: role for key, role in grants.items() if key[0] != subject}
            elif isinstance(after, dict):
                flags[subject] = {name: bool(after.get(name)) for name in USER_FLAGS}
    return grants, flags


def access_unexplained() -> list[Unexplained]:
    """Every grant and every user's flags that the audit log's access changes do not lead to."""
    recorded_grants, recorded_flags = _replayed()
    names = dict(get_user_model().objects.values_list("pk", "username"))
    found_grants = {
        (user_id, project_id or ""): role
        for user_id, project_id, role in Grant.objects.values_list("user_id", "project__project_id", "role")
    }
    unexplained = [
        Unexplained(
            key[0], names.get(key[0], f"#{key[0]}"), key[1], found_grants.get(key), recorded_grants.get(key)
        )
        for key in sorted(found_grants.keys() | recorded_grants.keys())
        if found_grants.get(key) != recorded_grants.get(key)
    ]
    for user_id, *values in get_user_model().objects.values_list("pk", *USER_FLAGS).order_by("pk"):
        found = dict(zip(USER_FLAGS, values, strict=True))
        recorded = recorded_flags.get(user_id)
        # A user the log never saw is explained while it holds no flag beyond "active" (a plain account
        # from before access changes were audited gives no rights by itself).
        if recorded is None and not (found["is_staff"] or found["is_superuser"]):
            continue
        if found != recorded:
            unexplained.append(Unexplained(user_id, names[user_id], "", found, recorded))
    for user_id in recorded_flags.keys() - names.keys():
        unexplained.append(Unexplained(user_id, f"#{user_id}", "", None, recorded_flags[user_id]))
    return unexplained
