from django.db import migrations

MOVED = {"dliproject": "projects", "grant": "projects", "jobclaim": "deletes"}


def _relabel(apps, moves: dict[str, tuple[str, str]]) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model, (source, target) in moves.items():
        if not content_type.objects.filter(app_label=target, model=model).exists():
            content_type.objects.filter(app_label=source, model=model).update(app_label=target)


def content_types_follow(apps, schema_editor):
    """Admin history and permissions name models by app: keep them pointing at the moved models."""
    _relabel(apps, {model: ("dashboard", app) for model, app in MOVED.items()})


def content_types_return(apps, schema_editor):
    _relabel(apps, {model: (app, "dashboard") for model, app in MOVED.items()})


class Migration(migrations.Migration):
    """The models move to `projects` and `deletes`; the tables stay, so no row moves or is lost."""

    dependencies = [
        ("dashboard", "0001_initial"),
        ("projects", "0001_initial"),
        ("deletes", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="JobClaim"),
                migrations.DeleteModel(name="Grant"),
                migrations.DeleteModel(name="DliProject"),
            ],
        ),
        migrations.RunPython(content_types_follow, content_types_return),
    ]
