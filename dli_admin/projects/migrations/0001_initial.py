import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """DliProject and Grant move here from the dashboard app: their tables stay as they are."""

    initial = True

    dependencies = [
        ("dashboard", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="DliProject",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "project_id",
                            models.CharField(
                                max_length=64,
                                unique=True,
                                validators=[
                                    django.core.validators.RegexValidator(
                                        "^[A-Za-z0-9]{1,64}$",
                                        "A DLI project id is 1 to 64 letters and digits (usually 32 hex characters).",
                                    )
                                ],
                            ),
                        ),
                        (
                            "name",
                            models.CharField(
                                help_text="Display name; typed to confirm large deletes.", max_length=100
                            ),
                        ),
                        (
                            "endpoint",
                            models.URLField(
                                blank=True, help_text="DLI endpoint; empty means the DLI_ENDPOINT setting."
                            ),
                        ),
                        (
                            "region",
                            models.CharField(
                                blank=True, help_text="A label only, e.g. eu-de.", max_length=40
                            ),
                        ),
                    ],
                    options={
                        "db_table": "dashboard_dliproject",
                        "verbose_name": "DLI project",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="Grant",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "role",
                            models.CharField(
                                choices=[
                                    ("viewer", "viewer"),
                                    ("operator", "operator"),
                                    ("owner", "owner"),
                                    ("auditor", "auditor"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("granted_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "project",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="grants",
                                to="projects.dliproject",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="dli_grants",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "dashboard_grant",
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(("project__isnull", True), ("role", "auditor")),
                                    models.Q(
                                        ("project__isnull", False),
                                        ("role__in", ("viewer", "operator", "owner")),
                                    ),
                                    _connector="OR",
                                ),
                                name="grant_auditor_is_global_others_per_project",
                            ),
                            models.UniqueConstraint(
                                fields=("user", "project"), name="grant_one_role_per_project"
                            ),
                            models.UniqueConstraint(
                                condition=models.Q(("project__isnull", True)),
                                fields=("user",),
                                name="grant_one_global_role",
                            ),
                        ],
                    },
                ),
            ],
        ),
    ]
