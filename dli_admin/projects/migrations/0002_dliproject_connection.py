from django.db import migrations, models

import dli_admin.projects.models


class Migration(migrations.Migration):
    """Each project names its DLI connection; every existing one stays on "default" (DLI_ENDPOINT, DLI_AK, ...)."""

    dependencies = [("projects", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="dliproject",
            name="connection",
            field=models.CharField(
                default="default",
                help_text="The DLI account and region (DLI_CONNECTIONS) whose credentials reach this project.",
                max_length=40,
                validators=[dli_admin.projects.models.validate_connection],
            ),
        ),
        migrations.AlterField(
            model_name="dliproject",
            name="endpoint",
            field=models.URLField(
                blank=True,
                help_text="DLI endpoint of another region of the same account; empty: the connection's.",
            ),
        ),
    ]
