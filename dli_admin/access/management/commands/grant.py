from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dli_admin.access.services import command_origin, grant_set
from dli_admin.projects.models import PROJECT_ROLES, DliProject, Role


def parse_grant(options) -> tuple:
    """The user, role and project named on the command line, checked."""
    user = get_user_model().objects.filter(username=options["username"]).first()
    if user is None:
        raise CommandError(f"no user named {options['username']!r}")
    role = Role(options["role"])
    project = None
    if role == Role.AUDITOR:
        if options["project"]:
            raise CommandError("auditor is a global role: leave out --project")
    else:
        if not options["project"]:
            raise CommandError(f"{role} is a project role: give --project PROJECT_ID")
        project = DliProject.objects.filter(project_id=options["project"]).first()
        if project is None:
            raise CommandError(f"no DLI project {options['project']!r} (add it with `dli_project add`)")
    return user, role, project


def add_grant_arguments(parser) -> None:
    parser.add_argument("username")
    parser.add_argument("role", choices=[*PROJECT_ROLES, Role.AUDITOR])
    parser.add_argument("--project", help="DLI project id (for viewer, operator and owner)")


class Command(BaseCommand):
    help = (
        "Give a user a role: viewer/operator/owner of a project (--project), or auditor of all. "
        "Recorded in the audit log."
    )

    def add_arguments(self, parser):
        add_grant_arguments(parser)

    def handle(self, *args, **options):
        user, role, project = parse_grant(options)
        # One role per user and project: granting again replaces the role (and makes the grant manual).
        grant_set(command_origin(), user=user, role=role, project=project)
        where = f"project {project.project_id}" if project else "all projects"
        self.stdout.write(f"{user.username} is now {role} of {where}")
