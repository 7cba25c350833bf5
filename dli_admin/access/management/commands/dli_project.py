from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from dli_admin.access.services import command_origin, project_delete, project_save
from dli_admin.projects.models import DEFAULT_CONNECTION, DliProject


class Command(BaseCommand):
    help = (
        "Add (or update, or remove) a DLI project that dli-admin may show, or list them. Changes are audited."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a project; adding again updates it (a new --name renames it)")
        add.add_argument("project_id", help="DLI's project id (letters and digits)")
        add.add_argument("--name", required=True, help="display name, typed to confirm large deletes")
        add.add_argument(
            "--connection",
            default=DEFAULT_CONNECTION,
            help="the DLI connection (account and region, DLI_CONNECTIONS) of the project (default: default)",
        )
        add.add_argument(
            "--endpoint", default="", help="DLI endpoint URL of another region (default: the connection's)"
        )
        add.add_argument("--region", default="", help="a region label such as eu-de")
        remove = sub.add_parser("remove", help="remove a project and every grant of it")
        remove.add_argument("project_id")
        sub.add_parser("list", help="list the projects")

    def handle(self, *args, action, **options):
        if action == "list":
            for project in DliProject.objects.all():
                endpoint = project.endpoint or "(the connection's endpoint)"
                self.stdout.write(
                    f"{project.project_id}  {project.name}  {project.connection}  {endpoint}  "
                    f"{project.region}".rstrip()
                )
            return
        found = DliProject.objects.filter(project_id=options["project_id"]).first()
        if action == "remove":
            if found is None:
                raise CommandError(f"no DLI project {options['project_id']!r}")
            grants = found.grants.count()
            project_delete(command_origin(), found)
            self.stdout.write(f"removed project {found} and its {grants} grant(s)")
            return
        project = found or DliProject(project_id=options["project_id"])
        project.name = options["name"]
        project.connection = options["connection"]
        project.endpoint = options["endpoint"]
        project.region = options["region"]
        try:
            project.full_clean()
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from None
        project_save(command_origin(), project)
        self.stdout.write(f"{'added' if found is None else 'updated'} project {project}")
