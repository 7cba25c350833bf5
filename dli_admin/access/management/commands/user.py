"""`manage.py user add|list|deactivate`: plain (non-superuser) accounts without the Django admin.

Roles are given with `grant` and taken with `revoke`. Adding and deactivating go through
dli_admin.access.services, so each is an access change in the audit log, like every change of who may do what.
"""

from __future__ import annotations

import getpass
import sys

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dli_admin.access.services import command_origin, user_save


class Command(BaseCommand):
    help = "Add a user (no admin rights), list users with their roles, or deactivate a user."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a user who may log in; roles come from `grant`")
        add.add_argument("username")
        add.add_argument("--email", default="")
        how = add.add_mutually_exclusive_group()
        how.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input (for scripts)",
        )
        how.add_argument(
            "--no-password",
            action="store_true",
            help="no password: the user cannot log in with one (e.g. single sign-on only)",
        )
        sub.add_parser("list", help="list users: active or not, admin rights, roles")
        deactivate = sub.add_parser(
            "deactivate", help="stop a user from logging in (their open sessions stop working too)"
        )
        deactivate.add_argument("username")

    def handle(self, *args, action: str, **options) -> None:
        if action == "list":
            self._list()
        elif action == "add":
            self._add(options)
        else:
            self._deactivate(options["username"])

    def _add(self, options) -> None:
        user_model = get_user_model()
        username = options["username"]
        if user_model.objects.filter(username=username).exists():
            raise CommandError(f"a user named {username!r} exists already (see `manage.py user list`)")
        user = user_model(username=username, email=options["email"])
        try:
            user_model._meta.get_field("username").run_validators(username)
        except ValidationError as error:
            raise CommandError(f"username {username!r}: {' '.join(error.messages)}") from None
        if options["no_password"]:
            user.set_unusable_password()
            how = "without a password"
        else:
            password = self._password(options["password_stdin"])
            try:
                password_validation.validate_password(password, user)
            except ValidationError as error:
                raise CommandError(f"password refused: {' '.join(error.messages)}") from None
            user.set_password(password)
            how = "with a password"
        user_save(command_origin(), user)
        self.stdout.write(f"added user {username} ({how}); give roles with `manage.py grant {username} ROLE`")

    def _password(self, from_stdin: bool) -> str:
        if from_stdin:
            password = sys.stdin.readline().rstrip("\n")
        elif sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != password:
                raise CommandError("the passwords differ: nothing done")
        else:
            raise CommandError("no terminal to ask for a password: give --password-stdin or --no-password")
        if not password:
            raise CommandError("the password is empty: nothing done")
        return password

    def _deactivate(self, username: str) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        if not user.is_active:
            self.stdout.write(f"user {username} is inactive already")
            return
        user.is_active = False
        user_save(command_origin(), user)
        self.stdout.write(f"deactivated user {username}: they can no longer log in; their roles are kept")

    def _list(self) -> None:
        users = get_user_model().objects.order_by("username").prefetch_related("dli_grants__project")
        for user in users:
            rights = "superuser" if user.is_superuser else "staff" if user.is_staff else ""
            roles = ", ".join(
                f"{grant.role} of {grant.project.project_id}" if grant.project else grant.role
                for grant in sorted(user.dli_grants.all(), key=lambda g: (g.project_id or 0, g.role))
            )
            state = "active" if user.is_active else "inactive"
            self.stdout.write(
                "  ".join(part for part in (user.username, state, rights, roles or "no role") if part)
            )
