from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from dli_admin.projects.models import DliProject, Grant, Role
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


class Command(BaseCommand):
    help = "Create the demo projects (the embedded simulator's) and one demo user per role; print the logins."

    def handle(self, *args, **options):
        if settings.DLI_ENDPOINT:
            self.stderr.write(
                "DLI_ENDPOINT is set: demo data is only for the embedded simulator; nothing done."
            )
            return
        passwords = self._load_passwords()
        with transaction.atomic():
            projects = [
                DliProject.objects.update_or_create(project_id=seed.id, defaults={"name": seed.name})[0]
                for seed in DEMO_PROJECTS
            ]
            for username, grants in demo_roles(projects).items():
                passwords[username] = self._ensure_user(username, passwords.get(username))
                for role, project in grants:
                    Grant.objects.update_or_create(
                        user=get_user_model().objects.get(username=username),
                        project=project,
                        defaults={"role": role},
                    )
        self._save_passwords(passwords)
        self.stdout.write("Demo projects:")
        for project in projects:
            self.stdout.write(f"  {project.name}  {project.project_id}")
        self.stdout.write("Demo logins (also in var/demo-logins.txt):")
        for username, password in passwords.items():
            self.stdout.write(f"  {username:<9} {password}")

    def _ensure_user(self, username: str, known_password: str | None) -> str:
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is not None and known_password and user.check_password(known_password):
            return known_password
        password = secrets.token_urlsafe(12)
        if user is None:
            user = user_model(username=username, email=f"{username}@example.invalid")
        user.is_superuser = user.is_staff = username == "admin"
        user.set_password(password)
        user.save()
        return password

    def _load_passwords(self) -> dict[str, str]:
        if not LOGINS_FILE.exists():
            return {}
        pairs = (line.split(maxsplit=1) for line in LOGINS_FILE.read_text().splitlines() if line.strip())
        return {name: password for name, password in pairs}

    def _save_passwords(self, passwords: dict[str, str]) -> None:
        LOGINS_FILE.parent.mkdir(exist_ok=True)
        fd = os.open(LOGINS_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{name} {password}\n" for name, password in passwords.items())
