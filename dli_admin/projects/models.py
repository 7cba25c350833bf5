from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

project_id_validator = RegexValidator(
    r"^[A-Za-z0-9]{1,64}$", "A DLI project id is 1 to 64 letters and digits (usually 32 hex characters)."
)

# The DLI connection of DLI_ENDPOINT, DLI_AK, ...: every project's until it names another.
DEFAULT_CONNECTION = "default"


def validate_connection(name: str) -> None:
    """Refuses a connection that settings do not define (DLI_CONNECTIONS), naming those that exist."""
    known = [DEFAULT_CONNECTION, *settings.DLI_CONNECTIONS]
    if name not in known:
        raise ValidationError(
            f"No DLI connection is named {name!r}: known are {', '.join(known)} (DLI_CONNECTIONS).",
            code="unknown_connection",
        )


class DliProject(models.Model):
    """A DLI project that dli-admin may show; its jobs live in DLI, never here."""

    project_id = models.CharField(max_length=64, unique=True, validators=[project_id_validator])
    name = models.CharField(max_length=100, help_text="Display name; typed to confirm large deletes.")
    connection = models.CharField(
        max_length=40,
        default=DEFAULT_CONNECTION,
        validators=[validate_connection],
        help_text="The DLI account and region (DLI_CONNECTIONS) whose credentials reach this project.",
    )
    endpoint = models.URLField(
        blank=True, help_text="DLI endpoint of another region of the same account; empty: the connection's."
    )
    region = models.CharField(max_length=40, blank=True, help_text="A label only, e.g. eu-de.")

    class Meta:
        db_table = "dashboard_dliproject"  # made by the dashboard app, which held these models first
        ordering = ["name"]
        verbose_name = "DLI project"

    def __str__(self) -> str:
        return f"{self.name} ({self.project_id})"


class Role(models.TextChoices):
    VIEWER = "viewer", "viewer"
    OPERATOR = "operator", "operator"
    OWNER = "owner", "owner"
    AUDITOR = "auditor", "auditor"


# Roles that hold in one project, weakest first; auditor is global.
PROJECT_ROLES = (Role.VIEWER, Role.OPERATOR, Role.OWNER)


class Grant(models.Model):
    """One role of one user: viewer/operator/owner in a project, or auditor everywhere."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dli_grants")
    project = models.ForeignKey(
        DliProject, on_delete=models.CASCADE, null=True, blank=True, related_name="grants"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "dashboard_grant"
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(role=Role.AUDITOR, project__isnull=True))
                | (models.Q(role__in=PROJECT_ROLES, project__isnull=False)),
                name="grant_auditor_is_global_others_per_project",
            ),
            models.UniqueConstraint(fields=["user", "project"], name="grant_one_role_per_project"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(project__isnull=True), name="grant_one_global_role"
            ),
        ]

    def __str__(self) -> str:
        where = self.project.name if self.project else "all projects"
        return f"{self.user} is {self.role} of {where}"
