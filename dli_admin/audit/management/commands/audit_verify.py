from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dli_admin.audit.chain import ChainBroken
from dli_admin.audit.checkpoints import LOG_SINK, CheckpointInvalid, audit_key, newest
from dli_admin.audit.selectors import audit_chain_verify, audit_database


class Command(BaseCommand):
    help = (
        "Check the audit log's chain from the first record to the last, with the audit key, against the "
        "newest signed checkpoint of this database (from DLI_ADMIN_AUDIT_CHECKPOINTS or --checkpoint). "
        "Exits non-zero naming the first record that was changed, removed, inserted or re-hashed without the "
        "key; otherwise prints the count and the head hash."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--head", default="", help="a head hash printed by an earlier run; it must still be there"
        )
        parser.add_argument(
            "--checkpoint",
            default="",
            metavar="FILE",
            help="checkpoints kept elsewhere (audit_checkpoint's output, or a copy of the checkpoint file)",
        )
        parser.add_argument("--chunk-size", type=int, default=5000, help="rows fetched per round trip")

    def handle(self, *args, head: str, checkpoint: str, chunk_size: int, **options) -> None:
        key = audit_key()
        if not key:
            raise CommandError(
                "DLI_ADMIN_AUDIT_KEY is not set: keyed records and checkpoints cannot be checked."
            )
        database = audit_database()
        source = checkpoint or settings.DLI_ADMIN_AUDIT_CHECKPOINTS
        lines: list[str] = []
        if checkpoint:
            try:
                lines = Path(checkpoint).read_text().splitlines()
            except OSError as error:
                raise CommandError(f"{checkpoint}: cannot read it ({error.strerror})") from None
        elif source != LOG_SINK and Path(source).exists():
            lines = Path(source).read_text().splitlines()
        try:
            found = newest(lines, database or "", key)
        except CheckpointInvalid as invalid:
            raise CommandError(f"audit checkpoints BROKEN in {source}: {invalid}") from None
        if checkpoint and found.checkpoint is None:
            raise CommandError(
                f"{checkpoint} holds no checkpoint of this database ({database}): "
                f"it names {', '.join(sorted(found.other_databases)) or 'none'}"
            )
        try:
            status = audit_chain_verify(
                chunk_size=chunk_size, expected_head=head.strip().lower(), checkpoint=found.checkpoint
            )
        except ChainBroken as broken:
            raise CommandError(f"audit chain BROKEN at {broken.where}: {broken.problem}") from None
        self.stdout.write(
            f"audit chain OK: {status.records} records ({status.job_lines} job lines), "
            f"head {status.head_seq} {status.head_hash}"
        )
        if found.checkpoint:
            self.stdout.write(
                f"checked against the checkpoint of record {found.checkpoint.seq} ({found.checkpoint.at})"
            )
        else:
            self.stdout.write(f"no checkpoint of this database ({database}) in {source}")
        for other, seq in sorted(found.other_databases.items()):
            self.stdout.write(
                f"note: {source} also holds checkpoints of another database, {other} (up to record {seq}): "
                "a database made anew, or this one's identity replaced"
            )
