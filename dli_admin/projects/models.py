from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.signals import pre_delete
from django.dispatch import receiver

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


# --- Changes of who may do what are audited: grants and projects change only inside recorded_change() ---

_recorded = ContextVar("dli_admin_access_change_recorded", default=False)


class UnrecordedAccessChange(Exception):
    """A grant or project was written outside dli_admin.access.services, which audits every such change."""


@contextmanager
def recorded_change() -> Iterator[None]:
    """Lets grants and projects be written: entered only by dli_admin.access.services, inside the same
    transaction as the audit record of the change (and by test fixtures that set up a cast)."""
    token = _recorded.set(True)
    try:
        yield
    finally:
        _recorded.reset(token)


def _refuse_unrecorded(what: str) -> None:
    if not _recorded.get():
        raise UnrecordedAccessChange(
            f"{what}: grants and projects change only through dli_admin.access.services (the `grant`, "
            "`revoke` and `dli_project` commands, the admin, single sign-on), which audits the change"
        )


class AccessQuerySet(models.QuerySet):
    """Bulk writes that would skip save() and the delete signals are refused outside recorded_change();
    a bulk delete goes through the delete signals (pre_delete below), so it is checked there."""

    def update(self, **kwargs):
        _refuse_unrecorded(f"update of {self.model.__name__} rows")
        return super().update(**kwargs)

    def bulk_create(self, *args, **kwargs):
        _refuse_unrecorded(f"bulk_create of {self.model.__name__} rows")
        return super().bulk_create(*args, **kwargs)

    def bulk_update(self, *args, **kwargs):
        _refuse_unrecorded(f"bulk_update of {self.model.__name__} rows")
        return super().bulk_update(*args, **kwargs)

    def _raw_delete(self, using):
        _refuse_unrecorded(f"raw delete of {self.model.__name__} rows")
        return super()._raw_delete(using)


class RecordedModel(models.Model):
    objects = AccessQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        _refuse_unrecorded(f"save of {self}")
        super().save(*args, **kwargs)


class DliProject(RecordedModel):
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


class GrantSource(models.TextChoices):
    MANUAL = "manual", "manual"  # by a command or the admin; single sign-on never changes it
    SSO = "sso", "single sign-on"  # follows the user's groups at each login (docs/sso.md)


class Grant(RecordedModel):
    """One role of one user: viewer/operator/owner in a project, or auditor everywhere."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dli_grants")
    project = models.ForeignKey(
        DliProject, on_delete=models.CASCADE, null=True, blank=True, related_name="grants"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    granted_at = models.DateTimeField(auto_now_add=True)
    source = models.CharField(
        max_length=8,
        choices=GrantSource.choices,
        default=GrantSource.MANUAL,
        help_text="manual grants are kept at single sign-on; sso grants follow the user's groups",
    )

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


@receiver(pre_delete, sender=Grant)
@receiver(pre_delete, sender=DliProject)
def _refuse_unrecorded_delete(sender, instance, **kwargs) -> None:
    """Every delete, a cascade from a deleted user or project too: a receiver here also keeps Django from
    fast-deleting the rows without asking."""
    _refuse_unrecorded(f"delete of {instance}")
