"""`manage.py access_verify`: do today's grants and user flags match the audit log? Exit 1 when not."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dli_admin.access.selectors import access_unexplained
from dli_admin.access.services import command_origin, record_found


class Command(BaseCommand):
    help = (
        "Replay the audit log's access changes and compare them with the grants and the superuser, staff "
        "and active flags in the database; exit 1 on any difference (written around dli-admin). "
        "--baseline records the differences once, as found (after upgrading from a version that did not "
        "audit grants)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--baseline", action="store_true", help="record each difference as found, then verify again"
        )

    def handle(self, *args, baseline: bool = False, **options):
        unexplained = access_unexplained()
        if baseline and unexplained:
            origin = command_origin()
            with transaction.atomic():
                for item in unexplained:
                    record_found(
                        origin,
                        user_id=item.user_id,
                        username=item.username,
                        project_id=item.project_id,
                        found=item.found,
                        recorded=item.recorded,
                    )
            self.stdout.write(f"recorded {len(unexplained)} difference(s) as found")
            unexplained = access_unexplained()
        if unexplained:
            for item in unexplained:
                self.stderr.write(f"not in the audit log: {item}")
            raise CommandError(f"{len(unexplained)} grant(s) or user flag(s) differ from the audit log")
        self.stdout.write("OK: every grant and superuser, staff and active flag is as the audit log says")
