"""Django's createsuperuser, with the new superuser in the audit log like every other change of who may
do what (dli_admin.access is listed before django.contrib.auth so that this command is the one run)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import createsuperuser

from dli_admin.access.services import command_origin, user_added_record


class Command(createsuperuser.Command):
    help = f"{createsuperuser.Command.help} Recorded in the audit log."

    def handle(self, *args, **options):
        users = get_user_model()._default_manager.db_manager(options["database"])
        known = set(users.values_list("pk", flat=True))
        super().handle(*args, **options)
        for user in users.exclude(pk__in=known).order_by("pk"):
            user_added_record(command_origin(), user)
