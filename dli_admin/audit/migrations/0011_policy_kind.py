from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0007_no_truncate_hint"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditrecord",
            name="kind",
            field=models.CharField(
                choices=[
                    ("intent", "intent"),
                    ("result", "result"),
                    ("refusal", "refusal"),
                    ("cancel", "cancel"),
                    ("policy", "policy"),
                ],
                max_length=16,
            ),
        ),
    ]
