"""Who may do what. Every view and service asks here; templates only reflect the answers."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.http import Http404

from .models import DliProject, Grant, Role
from .statuses import ACTIVE_STATUSES


def project_role(user, project: DliProject) -> Role | None:
    """The user's role in the project; superusers act as owners everywhere."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.OWNER
    role = Grant.objects.filter(user=user, project=project).values_list("role", flat=True).first()
    return Role(role) if role else None


def projects_visible_to(user) -> QuerySet[DliProject]:
    if not user.is_authenticated or not user.is_active:
        return DliProject.objects.none()
    if user.is_superuser:
        return DliProject.objects.all()
    return DliProject.objects.filter(grants__user=user).distinct()


def project_for(user, project_id: str) -> tuple[DliProject, Role]:
    """The project and the user's role in it, or 404: a project without a role does not exist for them.

    One query: the role, and whether the user may read the audit log (the navigation asks), come with
    the project."""
    if not user.is_authenticated or not user.is_active:
        raise Http404("No such DLI project.")
    projects = DliProject.objects.filter(project_id=project_id)
    if not user.is_superuser:
        grants = Grant.objects.filter(user=user)
        projects = projects.annotate(
            granted=Subquery(grants.filter(project=OuterRef("pk")).values("role")[:1]),
            reads_audit=Exists(grants.filter(role__in=[Role.AUDITOR, Role.OWNER])),
        )
    project = projects.first()
    if project is None:
        raise Http404("No such DLI project.")
    if user.is_superuser:
        return project, Role.OWNER
    granted: str | None = project.granted  # type: ignore[attr-defined]  # the annotations above
    setattr(user, _READS_AUDIT, project.reads_audit)  # type: ignore[attr-defined]
    if not granted:
        raise Http404("No such DLI project.")
    return project, Role(granted)


def can_delete(role: Role | None, status: str) -> bool:
    if role == Role.OWNER:
        return True
    return role == Role.OPERATOR and status not in ACTIVE_STATUSES


def may_delete_any(role: Role | None) -> bool:
    return role in (Role.OPERATOR, Role.OWNER)


def is_auditor(user) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or Grant.objects.filter(user=user, role=Role.AUDITOR).exists()


_READS_AUDIT = "_dli_admin_reads_audit"  # may_read_audit's answer, kept on the user for this request


def may_read_audit(user) -> bool:
    """Whether the user may read some of the audit log (audit_project_ids is not empty): at most one
    query, none when project_for already asked on this request."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    known = getattr(user, _READS_AUDIT, None)
    if known is None:
        known = Grant.objects.filter(user=user, role__in=[Role.AUDITOR, Role.OWNER]).exists()
        setattr(user, _READS_AUDIT, known)
    return known


def audit_project_ids(user) -> set[str] | None:
    """Projects whose audit log the user may read: None means all, an empty set means none.

    One query, whose answer also tells may_read_audit (the navigation asks) for this request."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return None
    grants = Grant.objects.filter(user=user, role__in=[Role.AUDITOR, Role.OWNER])
    found = list(grants.values_list("role", "project__project_id"))
    setattr(user, _READS_AUDIT, bool(found))
    if any(role == Role.AUDITOR for role, _project_id in found):
        return None
    return {project_id for _role, project_id in found}
