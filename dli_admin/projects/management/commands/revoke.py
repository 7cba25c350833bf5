from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dli_admin.projects.models import Grant

from .grant import add_grant_arguments, parse_grant


class Command(BaseCommand):
    help = "Take a role away: the same arguments as `grant`."

    def add_arguments(self, parser):
        add_grant_arguments(parser)

    def handle(self, *args, **options):
        user, role, project = parse_grant(options)
        deleted, _ = Grant.objects.filter(user=user, project=project, role=role).delete()
        where = f"project {project.project_id}" if project else "all projects"
        if not deleted:
            raise CommandError(f"{user.username} is not {role} of {where}")
        self.stdout.write(f"{user.username} is no longer {role} of {where}")
