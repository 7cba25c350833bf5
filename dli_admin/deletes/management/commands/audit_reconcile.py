from __future__ import annotations

from collections import Counter

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from dli_admin.deletes.settling import flink_jobs_held_unsettled, flink_jobs_reconcile
from dli_admin.projects.models import project_id_validator

# How each outcome reads in the summary: reconciling reads the job back, so "failed" means it is still there.
LABELS = {
    "deleted": ("deleted", "deleted"),
    "failed": ("still exists (failed)", "still exist (failed)"),
    "unknown": ("unknown", "unknown"),
    "skipped": ("skipped", "skipped"),
}


class Command(BaseCommand):
    help = (
        "Settle every job whose delete has no result, or an 'unknown' one (a process died, or DLI's answer "
        "was ambiguous), by reading it back from DLI. Appends a 'reconcile' result; never edits a record."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", metavar="PROJECT_ID", help="only this DLI project")
        parser.add_argument(
            "--include-claimed",
            action="store_true",
            help="also settle jobs a batch still claims (only when its process is known to be gone; "
            "claims expire by themselves 30 minutes after they were taken)",
        )

    def handle(self, *args, project: str | None, include_claimed: bool = False, **options) -> None:
        if project is not None:
            try:
                project_id_validator(project)
            except ValidationError as error:
                raise CommandError(error.messages[0]) from None
        results = flink_jobs_reconcile(project_id=project, actor=None, include_claimed=include_claimed)
        held = 0 if include_claimed else flink_jobs_held_unsettled(project_id=project)
        if held:
            self.stdout.write(
                f"left {held} job(s) alone: a batch that may still be running claims them "
                "(if its process is gone, run again with --include-claimed)"
            )
        if not results:
            self.stdout.write("nothing to settle: every delete in the audit log has a result")
            return
        counts = Counter(result.outcome for result in results)
        parts = [
            f"{counts[outcome]} {singular if counts[outcome] == 1 else plural}"
            for outcome, (singular, plural) in LABELS.items()
            if counts[outcome]
        ]
        jobs = "job" if len(results) == 1 else "jobs"
        self.stdout.write(f"settled {len(results)} {jobs}: {', '.join(parts)}")
