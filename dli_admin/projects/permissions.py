"""Who may do what. Every view and service asks here; templates only reflect the answers."""

from __future__ import annotations

from django.db.models import QuerySet
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
    """The project and the user's role in it, or 404: a project without a role does not exist for them."""
    project = DliProject.objects.filter(project_id=project_id).first()
    if project is None or (role := project_role(user, project)) is None:
        raise Http404("No such DLI project.")
    return project, role


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


def audit_project_ids(user) -> set[str] | None:
    """Projects whose audit log the user may read: None means all, an empty set means none."""
    if is_auditor(user):
        return None
    if not user.is_authenticated or not user.is_active:
        return set()
    return set(Grant.objects.filter(user=user, role=Role.OWNER).values_list("project__project_id", flat=True))
