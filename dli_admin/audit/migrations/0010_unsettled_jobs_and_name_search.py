"""Two speed-ups that change no record.

1. `AuditUnsettledJob`: the jobs whose fate the log does not know yet (an intent line with no result, or
   whose latest result is "unknown"), kept by audit.services as results are appended. Filled here from
   the existing log with the very rule reconcile used to evaluate over every job line.
2. PostgreSQL only: a trigram index (pg_trgm) for the review page's job-name search, which Django writes
   as UPPER(name::text) LIKE UPPER('%...%'). CREATE EXTENSION needs a superuser or the database owner
   with the extension trusted (pg_trgm is); if this database user may not create it, the migration
   stops and says what to run. SQLite gets no such index: its search scans the job lines.
"""

from django.db import migrations, models, transaction
from django.db.models import OuterRef, Q, Subquery

TRIGRAM_INDEX = "audit_intent_job_name_trgm"
NO_EXTENSION = (
    "dli-admin's job-name search needs PostgreSQL's pg_trgm extension, and this database user may not "
    "create it ({error}). Ask a superuser to run, in this database: CREATE EXTENSION IF NOT EXISTS "
    "pg_trgm; then run `manage.py migrate` again. See docs/deployment.md."
)


def unsettled_fill(apps, schema_editor):
    AuditRecord = apps.get_model("audit", "AuditRecord")
    AuditIntentJob = apps.get_model("audit", "AuditIntentJob")
    AuditUnsettledJob = apps.get_model("audit", "AuditUnsettledJob")
    latest = Subquery(
        AuditRecord.objects.filter(batch_id=OuterRef("batch_id"), job_id=OuterRef("job_id"))
        .order_by("-seq")
        .values("outcome")[:1]
    )
    lines = (
        AuditIntentJob.objects.annotate(latest=latest)
        .filter(Q(latest__isnull=True) | Q(latest="unknown"))
        .order_by("record_id", "position")
        .values_list("record_id", "position", "batch_id", "project_id", "job_id", "name")
    )
    chunk = []
    for seq, position, batch_id, project_id, job_id, name in lines.iterator(chunk_size=5000):
        chunk.append(
            AuditUnsettledJob(
                seq=seq, position=position, batch_id=batch_id, project_id=project_id, job_id=job_id, name=name
            )
        )
        if len(chunk) >= 5000:
            AuditUnsettledJob.objects.bulk_create(chunk)
            chunk.clear()
    AuditUnsettledJob.objects.bulk_create(chunk)


def trigram_index_create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        if cursor.fetchone() is None:
            try:
                with transaction.atomic(using=connection.alias), connection.cursor() as create:
                    create.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception as error:  # insufficient privilege, or the extension is not installed
                raise RuntimeError(NO_EXTENSION.format(error=str(error).strip())) from error
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON audit_auditintentjob "
            "USING gin ((UPPER(name::text)) gin_trgm_ops)"
        )


def trigram_index_drop(apps, schema_editor):
    # The extension stays: other database objects may use it, and dropping it needs the same rights.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0009_policy_kind"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditUnsettledJob",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seq", models.BigIntegerField(help_text="the intent record's seq")),
                ("position", models.PositiveIntegerField()),
                ("batch_id", models.UUIDField()),
                ("project_id", models.CharField(max_length=64)),
                ("job_id", models.BigIntegerField()),
                ("name", models.CharField(blank=True, max_length=255)),
            ],
            options={
                "verbose_name": "audit unsettled job",
                "ordering": ["seq", "position"],
                "indexes": [
                    models.Index(fields=["batch_id", "job_id"], name="audit_unsettled_batch_job"),
                    models.Index(fields=["project_id", "job_id"], name="audit_unsettled_project_job"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("seq", "position"), name="audit_unsettled_line")
                ],
            },
        ),
        migrations.RunPython(unsettled_fill, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(trigram_index_create, trigram_index_drop, elidable=False),
    ]
