import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """JobClaim moves here from the dashboard app: its table stays as it is."""

    initial = True

    dependencies = [
        ("dashboard", "0001_initial"),
        ("projects", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="JobClaim",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("job_id", models.BigIntegerField()),
                        ("batch_id", models.UUIDField()),
                        ("claimed_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, to="projects.dliproject"
                            ),
                        ),
                    ],
                    options={
                        "db_table": "dashboard_jobclaim",
                        "constraints": [
                            models.UniqueConstraint(fields=("project", "job_id"), name="job_claim_unique")
                        ],
                    },
                ),
            ],
        ),
    ]
