"""`manage.py demo_setup`: the demo projects and one demo user per role, for a simulator only.

With DLI_ENDPOINT empty the projects are the embedded simulator's seeded ones. With DLI_ENDPOINT set, it
asks that endpoint's control API for its projects: a stand-alone `manage.py dli_simulator` answers, a real
DLI does not, and then nothing is done, so a production database never gets demo users.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from dli_admin.access.services import Origin, command_origin, grant_set, project_save, user_save
from dli_admin.projects.models import DliProject, Role
from dli_admin.simulator import control
from dli_admin.simulator.seed import DEMO_PROJECTS

LOGINS_FILE = Path(settings.BASE_DIR) / "var" / "demo-logins.txt"


def demo_roles(projects: list[DliProject]) -> dict[str, list[tuple[Role, DliProject | None]]]:
    """One user per role; the operator may clean up the first two projects but only look at the third."""
    first, second, third, *rest = projects
    return {
        "admin": [],
        "owner": [(Role.OWNER, project) for project in projects],
        "operator": [
            (Role.OPERATOR, first),
            (Role.OPERATOR, second),
            (Role.VIEWER, third),
            *((Role.OPERATOR, project) for project in rest),
        ],
        "viewer": [(Role.VIEWER, project) for project in projects],
        "auditor": [(Role.AUDITOR, None)],
    }


def simulator_projects(endpoint: str) -> list[tuple[str, str]]:
    """(id, name) of each project of the simulator at `endpoint`; CommandError when it is not one."""
    try:
        rows = control.projects(endpoint)
    except control.NoSimulator as error:
        raise CommandError(
            f"DLI_ENDPOINT={endpoint} is not a dli-admin simulator ({error}). Demo users are for a "
            "simulator only: nothing done. Unset DLI_ENDPOINT for the embedded one, or start "
            "`manage.py dli_simulator` and point DLI_ENDPOINT at it."
        ) from None
    return [(row["id"], row.get("name") or row["id"]) for row in rows]


class Command(BaseCommand):
    help = (
        "Create a simulator's projects (the embedded one's, or those of the dli_simulator at DLI_ENDPOINT) "
        "and one demo user per role; print the logins."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--logins-file",
            type=Path,
            default=LOGINS_FILE,
            help="where the demo passwords are kept between runs (default var/demo-logins.txt)",
        )

    def handle(self, *args, **options):
        logins_file: Path = options["logins_file"]
        endpoint = settings.DLI_ENDPOINT
        seeds = simulator_projects(endpoint) if endpoint else [(seed.id, seed.name) for seed in DEMO_PROJECTS]
        if len(seeds) < 3:
            raise CommandError(f"the simulator has {len(seeds)} projects; the demo roles need 3")
        passwords = self._load_passwords(logins_file)
        origin = command_origin()  # every project, user and grant made here is in the audit log
        with transaction.atomic():
            projects = []
            for project_id, name in seeds:
                found = DliProject.objects.filter(project_id=project_id).first()
                project = found or DliProject(project_id=project_id)
                project.name, project.endpoint = name, endpoint
                project_save(origin, project)
                projects.append(project)
            for username, grants in demo_roles(projects).items():
                passwords[username] = self._ensure_user(origin, username, passwords.get(username))
                for role, where in grants:
                    user = get_user_model().objects.get(username=username)
                    grant_set(origin, user=user, role=role, project=where)
        self._save_passwords(logins_file, passwords)
        self.stdout.write(f"Demo projects (DLI at {endpoint or 'the embedded simulator'}):")
        for project in projects:
            self.stdout.write(f"  {project.name}  {project.project_id}")
        self.stdout.write(f"Demo logins (also in {logins_file}):")
        for username, password in passwords.items():
            self.stdout.write(f"  {username:<9} {password}")

    def _ensure_user(self, origin: Origin, username: str, known_password: str | None) -> str:
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is not None and known_password and user.check_password(known_password):
            return known_password
        password = secrets.token_urlsafe(12)
        if user is None:
            user = user_model(username=username, email=f"{username}@example.invalid")
        user.is_superuser = user.is_staff = username == "admin"
        user.set_password(password)
        user_save(origin, user)
        return password

    def _load_passwords(self, logins_file: Path) -> dict[str, str]:
        if not logins_file.exists():
            return {}
        pairs = (line.split(maxsplit=1) for line in logins_file.read_text().splitlines() if line.strip())
        return {name: password for name, password in pairs}

    def _save_passwords(self, logins_file: Path, passwords: dict[str, str]) -> None:
        logins_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(logins_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{name} {password}\n" for name, password in passwords.items())
