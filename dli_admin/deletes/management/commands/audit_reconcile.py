from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from dli_admin.audit.models import AuditOutcome
from dli_admin.deletes.settling import flink_jobs_held_unsettled, flink_jobs_reconcile
from dli_admin.projects.models import project_id_validator

# How each outcome reads in the summary: reconciling reads the job back, so "failed" means it is still there.
LABELS = {
    AuditOutcome.DELETED: ("deleted", "deleted"),
    AuditOutcome.FAILED: ("still exists (failed)", "still exist (failed)"),
    AuditOutcome.UNKNOWN: ("unknown", "unknown"),
    AuditOutcome.SKIPPED: ("skipped", "skipped"),
}


class Command(BaseCommand):
    help = (
        "Settle every job whose delete has no result, or an 'unknown' one, by reading it back from DLI: "
        "DLI's answer was ambiguous, a batch's project was removed, or DLI stayed unreachable. Jobs of a "
        "batch that is still live are left to its worker, which resumes by itself after a crash. "
        "Appends a 'reconcile' result; never edits a record."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", metavar="PROJECT_ID", help="only this DLI project")
        parser.add_argument(
            "--include-claimed",
            action="store_true",
            help="no longer needed: a crashed batch resumes in the next worker (accepted for old scripts)",
        )

    def handle(self, *args: Any, project: str | None, **options: Any) -> None:
        if project is not None:
            try:
                project_id_validator(project)
            except ValidationError as error:
                raise CommandError(error.messages[0]) from None
        results = flink_jobs_reconcile(project_id=project, actor=None)
        held = flink_jobs_held_unsettled(project_id=project)
        for batch in held:
            unsettled = batch.jobs.exclude(state="settled").count() or len(batch.selection)
            if batch.lease_until and batch.lease_until > timezone.now():
                where = f"its worker holds it (lease renewed until {batch.lease_until:%H:%M:%S} UTC)"
            else:
                where = "it waits for a worker: run `manage.py db_worker`"
            self.stdout.write(f"left {unsettled} job(s) to batch {batch.pk}, which is {batch.state}: {where}")
        if not results:
            if not held:
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
