"""Job snapshots and hash version 3: the definition of each job kept before its delete, its digest hashed.

snapshot_digest is added with a database DEFAULT of "", so existing records read "" without an UPDATE
(the append-only trigger refuses one) and keep their version-1 or version-2 hashes, which leave it out.
The snapshot table gets the same append-only triggers as the record tables (0002).
"""

from django.db import migrations, models


def snapshot_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE TRIGGER audit_jobsnapshot_no_change BEFORE UPDATE OR DELETE ON audit_jobsnapshot "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
        )
        schema_editor.execute(
            "CREATE TRIGGER audit_jobsnapshot_no_truncate BEFORE TRUNCATE ON audit_jobsnapshot "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
        )


def drop_snapshot_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_jobsnapshot_no_change ON audit_jobsnapshot")
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_jobsnapshot_no_truncate ON audit_jobsnapshot")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0010_unsettled_jobs_and_name_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditrecord",
            name="snapshot_digest",
            field=models.CharField(blank=True, db_default="", default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="auditrecord",
            name="outcome",
            field=models.CharField(
                blank=True,
                choices=[
                    ("deleted", "deleted"),
                    ("failed", "failed"),
                    ("unknown", "unknown"),
                    ("skipped", "skipped"),
                    ("restored", "restored"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="auditrecord",
            name="source",
            field=models.CharField(
                blank=True,
                choices=[
                    ("delete", "delete"),
                    ("reconcile", "reconcile"),
                    ("command", "command"),
                    ("admin", "admin"),
                    ("sso", "single sign-on"),
                    ("restore", "restore"),
                ],
                max_length=16,
            ),
        ),
        migrations.CreateModel(
            name="JobSnapshot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("taken_at", models.DateTimeField()),
                ("batch_id", models.UUIDField(help_text="the delete batch that took it")),
                ("project_id", models.CharField(max_length=64)),
                ("job_id", models.BigIntegerField()),
                ("job_name", models.CharField(blank=True, max_length=255)),
                ("job_type", models.CharField(blank=True, max_length=64)),
                ("digest", models.CharField(max_length=64)),
                ("definition", models.TextField()),
            ],
            options={
                "verbose_name": "job snapshot",
                "ordering": ["batch_id", "job_id", "id"],
                "indexes": [
                    models.Index(fields=["batch_id", "job_id"], name="audit_snapshot_batch_job"),
                    models.Index(fields=["digest"], name="audit_snapshot_digest"),
                ],
            },
        ),
        migrations.RunPython(snapshot_triggers, drop_snapshot_triggers, elidable=False),
    ]
