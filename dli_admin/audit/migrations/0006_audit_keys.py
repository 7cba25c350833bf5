"""The keyed chain: each record's hash version, this database's identity, refusal repeat counts.

hash_version is added with a database DEFAULT of 1, so existing records read 1 without an UPDATE (the
append-only trigger refuses one) and keep their hashes. The database id is made here, once, at random.
"""

import uuid

from django.db import migrations, models
from django.utils import timezone


def create_identity(apps, schema_editor):
    database = apps.get_model("audit", "AuditDatabase")
    database.objects.using(schema_editor.connection.alias).bulk_create(
        [database(id=uuid.uuid4(), created_at=timezone.now())]
    )
    if schema_editor.connection.vendor == "postgresql":
        # The same append-only triggers as the record tables (0002).
        schema_editor.execute(
            "CREATE TRIGGER audit_auditdatabase_no_change BEFORE UPDATE OR DELETE ON audit_auditdatabase "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
        )
        schema_editor.execute(
            "CREATE TRIGGER audit_auditdatabase_no_truncate BEFORE TRUNCATE ON audit_auditdatabase "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
        )


def drop_identity(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_auditdatabase_no_change ON audit_auditdatabase")
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_auditdatabase_no_truncate ON audit_auditdatabase")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_cancel_kind"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditDatabase",
            fields=[
                ("id", models.UUIDField(primary_key=True, serialize=False)),
                ("created_at", models.DateTimeField()),
            ],
            options={
                "verbose_name": "audit database",
            },
        ),
        migrations.CreateModel(
            name="AuditRefusalRepeat",
            fields=[
                ("seq", models.BigIntegerField(primary_key=True, serialize=False)),
                (
                    "count",
                    models.PositiveIntegerField(default=0, help_text="repeats after the record itself"),
                ),
                ("last_at", models.DateTimeField()),
            ],
            options={
                "verbose_name": "audit refusal repeat",
            },
        ),
        migrations.AddField(
            model_name="auditrecord",
            name="hash_version",
            field=models.PositiveSmallIntegerField(db_default=1),
        ),
        migrations.RunPython(create_identity, drop_identity, elidable=False),
    ]
