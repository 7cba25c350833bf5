from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dli_admin.access.services import command_origin, grant_revoke
from dli_admin.projects.models import Grant

from .grant import add_grant_arguments, parse_grant


class Command(BaseCommand):
    help = "Take a role away: the same arguments as `grant`. Recorded in the audit log."

    def add_arguments(self, parser):
        add_grant_arguments(parser)

    def handle(self, *args, **options):
        user, role, project = parse_grant(options)
        grant = Grant.objects.filter(user=user, project=project, role=role).first()
        where = f"project {project.project_id}" if project else "all projects"
        if grant is None:
            raise CommandError(f"{user.username} is not {role} of {where}")
        grant_revoke(command_origin(), grant)
        self.stdout.write(f"{user.username} is no longer {role} of {where}")
