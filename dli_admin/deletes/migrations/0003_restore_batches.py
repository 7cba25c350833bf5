"""Restore batches and snapshots: a batch's kind (existing batches read "delete"), the owner's
"delete without a snapshot", and per job the snapshot digest, the restored job's new id and the ids that
bore its name before its create was sent. Only columns are added: no batch or job row changes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("deletes", "0002_batches_replace_claims"),
    ]

    operations = [
        migrations.AddField(
            model_name="deletebatch",
            name="kind",
            field=models.CharField(
                choices=[("delete", "delete"), ("restore", "restore")], default="delete", max_length=16
            ),
        ),
        migrations.AddField(
            model_name="deletebatch",
            name="without_snapshot",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="deletebatchjob",
            name="new_job_id",
            field=models.BigIntegerField(blank=True, help_text="a restore: the job DLI created", null=True),
        ),
        migrations.AddField(
            model_name="deletebatchjob",
            name="same_name_before",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="deletebatchjob",
            name="snapshot_digest",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AlterField(
            model_name="deletebatchjob",
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
    ]
