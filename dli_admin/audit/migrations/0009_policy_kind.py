from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0008_access_kind"),
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
                    ("access", "access change"),
                    ("policy", "policy"),
                ],
                max_length=16,
            ),
        ),
    ]
