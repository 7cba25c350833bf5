from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dli_admin.audit.checkpoints import audit_key
from dli_admin.audit.selectors import audit_head_checkpoint


class Command(BaseCommand):
    help = (
        "Print a signed checkpoint of the audit chain's head (database id, record, hash, time) as one JSON "
        "line, to keep where the database account cannot write; audit_verify --checkpoint FILE checks it."
    )

    def handle(self, *args, **options) -> None:
        key = audit_key()
        if not key:
            raise CommandError("DLI_ADMIN_AUDIT_KEY is not set: a checkpoint cannot be signed.")
        checkpoint = audit_head_checkpoint()
        if checkpoint is None:
            raise CommandError("the audit log is empty: there is no head to checkpoint")
        self.stdout.write(checkpoint.line(key))
