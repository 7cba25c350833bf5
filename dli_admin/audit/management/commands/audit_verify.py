from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dli_admin.audit.chain import ChainBroken
from dli_admin.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = (
        "Check the audit log's hash chain from the first record to the last. Exits non-zero naming the "
        "first record that was changed, removed or inserted; otherwise prints the count and the head hash "
        "(keep it elsewhere and pass it back with --head next time)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--head", default="", help="a head hash printed by an earlier run; it must still be there"
        )
        parser.add_argument("--chunk-size", type=int, default=5000, help="rows fetched per round trip")

    def handle(self, *args, head: str, chunk_size: int, **options) -> None:
        try:
            status = audit_chain_verify(chunk_size=chunk_size, expected_head=head.strip().lower())
        except ChainBroken as broken:
            raise CommandError(f"audit chain BROKEN at record {broken.seq}: {broken.problem}") from None
        self.stdout.write(
            f"audit chain OK: {status.records} records ({status.job_lines} job lines), "
            f"head {status.head_seq} {status.head_hash}"
        )
