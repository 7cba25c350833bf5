"""Delete Flink jobs from the command line (or cron), as a named dli-admin user with that user's role.

The same plan and confirm services as the jobs page: the plan reads DLI and says what would go and what
is excluded and why; the confirm queues a batch for a worker (`manage.py db_worker`), or `--run-here`
runs it in this process. Exit codes: 0 every job deleted (or nothing matched), 1 refused (nothing was
sent), 2 some jobs failed, are unknown or were skipped.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from time import monotonic, sleep
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils import timezone

from dli_admin.audit.models import AuditOutcome
from dli_admin.deletes import services
from dli_admin.deletes.models import BatchState, DeleteBatch, DeleteBatchJob
from dli_admin.deletes.runner import batch_run
from dli_admin.deletes.selectors import batch_progress
from dli_admin.dli import DliError, Job
from dli_admin.projects.connections import DliNotConfigured, dli_client_for
from dli_admin.projects.filters import JobFilterFields
from dli_admin.projects.models import DliProject
from dli_admin.projects.permissions import project_role
from dli_admin.projects.selectors import JobFilters, TooManyJobs, flink_jobs_matching

VIA = "command line"
USER_AGENT = "dli-admin command line (manage.py flink_jobs_delete)"  # what the audit log shows as the client
JOB_TYPES = ("flink_sql_job", "flink_jar_job", "flink_opensource_sql_job", "flink_sql_edge_job")
SHOWN_ROWS = 20
POLL_SECONDS = 1.0
WORKER_GRACE = 5.0  # seconds a queued batch may wait before we say no worker seems to run
OPTION_OF = {"status": "--status", "name": "--name", "queue_name": "--queue", "user_name": "--owner"}
OPTION_OF |= {"tags": "--tags", "job_type": "--job-type"}
AGE = re.compile(r"^([1-9][0-9]{0,5})([dh])$")


class Refused(Exception):
    """Bad input on the command line; nothing was read from or sent to DLI."""


def refuse(message: str) -> CommandError:
    return CommandError(message, returncode=1)


class Command(BaseCommand):
    help = (
        "Delete Flink jobs of a DLI project as a dli-admin user (with that user's role), by filters or by "
        "job ids, through the same plan, confirmation and audit as the jobs page. --dry-run shows the plan "
        "and sends nothing. Exit 0: every job deleted; 1: refused, nothing sent; 2: some jobs not deleted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, metavar="PROJECT_ID", help="the DLI project id")
        parser.add_argument(
            "--as", required=True, dest="username", metavar="USERNAME", help="act as this user"
        )
        pick = parser.add_argument_group("which jobs: filters (as on the jobs page) or job ids")
        pick.add_argument(
            "--status", action="append", default=[], help="a DLI status, e.g. job_finish (repeat)"
        )
        pick.add_argument("--name", default="", help="job name contains this")
        pick.add_argument("--queue", default="", help="queue name")
        pick.add_argument("--owner", default="", help="the job's DLI user name")
        pick.add_argument("--tags", default="", help="key=value,key2=value2")
        pick.add_argument("--job-type", choices=JOB_TYPES, help="the job's type")
        pick.add_argument("--older-than", metavar="AGE", help="created more than AGE ago: 30d, 12h")
        pick.add_argument("--job-id", action="append", default=[], metavar="ID", help="a job id (repeat)")
        pick.add_argument("--ids-from", metavar="FILE", help="job ids, one a line; - reads standard input")
        act = parser.add_argument_group("what to do")
        act.add_argument("--dry-run", action="store_true", help="show the plan; send nothing")
        act.add_argument("--yes", action="store_true", help="delete without asking (needed unless --dry-run)")
        act.add_argument("--confirm-name", default="", metavar="NAME", help="the project's name, when asked")
        act.add_argument("--no-wait", action="store_true", help="queue the batch and return at once")
        act.add_argument(
            "--run-here", action="store_true", help="run the batch in this process, not a worker"
        )
        act.add_argument("--json", action="store_true", help="print the plan or the result as JSON")
        act.add_argument(
            "--without-snapshot",
            action="store_true",
            help="owners only: also delete jobs whose definition DLI does not give (no snapshot; audited)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["no_wait"] and options["run_here"]:
            raise refuse("--no-wait and --run-here contradict each other: choose one.")
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None or not user.is_active:
            raise refuse(f"No active dli-admin user named {options['username']!r}.")
        requester = services.Requester(user=user, user_agent=USER_AGENT)
        project = DliProject.objects.filter(project_id=options["project"]).first()
        if project is None:
            services.flink_jobs_refusal_record(
                requester, options["project"][:64], [], "no such project (command line)"
            )
            raise refuse(f"No DLI project {options['project']!r} in dli-admin (see `dli_project list`).")
        try:
            plan = self.plan(requester, project, options)
        except Refused as error:
            raise refuse(str(error)) from None
        except PermissionDenied as error:
            raise refuse(f"{user.get_username()}: {error} Nothing was sent.") from None
        except services.SelectionError as error:
            raise refuse(str(error)) from None
        except (DliError, DliNotConfigured) as error:
            raise refuse(f"Could not read the jobs from DLI: {error} Nothing was sent.") from None
        if plan is None:
            self.nothing(project, options["json"])
            return
        if options["dry_run"] or not options["json"]:
            self.show_plan(project, user, plan, as_json=options["json"])
        if options["dry_run"]:
            return
        if not options["yes"]:
            raise refuse(f"Add --yes to delete these {len(plan.eligible)} job(s), or --dry-run to only look.")
        if plan.needs_name and not options["confirm_name"]:
            reasons = " and ".join(plan.name_reasons)
            raise refuse(f"This batch needs --confirm-name {project.name!r}: {reasons}. Nothing was sent.")
        try:
            batch = services.flink_jobs_delete(
                requester=requester,
                project=project,
                token=plan.token,
                confirm_name=options["confirm_name"],
                via=VIA,
                without_snapshot=options["without_snapshot"],
            )
        except PermissionDenied as error:
            raise refuse(f"{user.get_username()}: {error} Nothing was sent.") from None
        except services.SelectionError as error:  # NameMismatch among them
            raise refuse(str(error)) from None
        url = reverse("dli-batch-detail", args=[project.project_id, batch.pk])
        if options["no_wait"]:
            self.report(batch, url, as_json=options["json"])
            return
        try:
            batch = self.wait(batch, run_here=options["run_here"], quiet=options["json"])
        except KeyboardInterrupt:
            raise CommandError(
                f"Stopped waiting. Batch {batch.pk} goes on in a worker ({url}), even one that starts later.",
                returncode=130,
            ) from None
        self.report(batch, url, as_json=options["json"])
        counts = batch_progress(batch).counts
        if counts.get(AuditOutcome.DELETED, 0) != batch.total:
            rest = ", ".join(
                f"{n} {outcome}" for outcome, n in counts.items() if outcome != AuditOutcome.DELETED
            )
            raise CommandError(f"Not every job was deleted: {rest or 'none settled'}.", returncode=2)

    # --- the plan -------------------------------------------------------------------------------

    def plan(
        self, requester: services.Requester, project: DliProject, options: dict[str, Any]
    ) -> services.DeletePlan | None:
        """The plan of what the options select; None when the filters match no job."""
        ids = list(options["job_id"])
        if options["ids_from"]:
            ids += read_ids(options["ids_from"])
        filters = filters_from(options)
        age = parse_age(options["older_than"])
        # Judged on the cleaned filters: `--name " "` is no filter, and must not select the whole project.
        narrowed = any(one.active for one in filters) or bool(options["job_type"] or age)
        if (ids or options["ids_from"]) and narrowed:
            raise Refused("Give job ids or filters, not both.")
        if options["ids_from"] and not ids:
            raise Refused(f"{options['ids_from']} holds no job ids. Nothing was sent.")
        if ids:
            return services.flink_jobs_delete_plan(requester=requester, project=project, job_ids=ids)
        if not narrowed:
            raise Refused(
                "Say which jobs: --status, --name, --queue, --owner, --tags, --job-type, --older-than, "
                "--job-id or --ids-from. The command line never takes a whole project unfiltered."
            )
        services.flink_jobs_delete_allowed(requester=requester, project=project)  # refused before any read
        jobs = matching(project, filters)
        if options["job_type"]:
            jobs = [job for job in jobs if job.job_type == options["job_type"]]
        if age:
            cutoff = timezone.now() - age
            # A job without a create time has no known age: it is never old enough.
            jobs = [job for job in jobs if job.create_time is not None and job.create_time < cutoff]
        if not jobs:
            return None
        return services.flink_jobs_delete_plan(
            requester=requester, project=project, job_ids=[str(job.job_id) for job in jobs]
        )

    def nothing(self, project: DliProject, as_json: bool) -> None:
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "batch_id": None,
                        "project": project.project_id,
                        "state": "nothing to do",
                        "counts": {},
                        "jobs": [],
                    }
                )
            )
        else:
            self.stdout.write("No job matches these filters: nothing to delete.")

    def show_plan(self, project: DliProject, user: Any, plan: services.DeletePlan, *, as_json: bool) -> None:
        if as_json:
            doc = {
                "project": project.project_id,
                "dry_run": True,
                "eligible": len(plan.eligible),
                "excluded": len(plan.excluded),
                "counts_by_status": dict(plan.counts_by_status),
                "needs_name": plan.needs_name,
                "name_reasons": plan.name_reasons,
                "jobs": [
                    {
                        "job_id": job.job_id,
                        "name": job.name,
                        "status": job.status,
                        "excluded_because": job.excluded_because,
                    }
                    for job in plan.jobs
                ],
            }
            self.stdout.write(json.dumps(doc))
            return
        write = self.stdout.write
        write(
            f"Project {project.name} ({project.project_id}), as {user.get_username()} "
            f"({project_role(user, project) or 'no role'})"
        )
        by_status = ", ".join(f"{n} {label}" for label, n in plan.counts_by_status) or "none"
        write(f"Would delete {len(plan.eligible)} job(s): {by_status}")
        if plan.excluded:
            write(f"Excluded {len(plan.excluded)} job(s), which would read skipped:")
            for job in plan.excluded[:SHOWN_ROWS]:
                write(f"  {job.job_id}  {job.name}  ({job.status_label}): {job.excluded_because}")
        if plan.needs_name:
            write(f"Confirming needs --confirm-name {project.name!r}: {' and '.join(plan.name_reasons)}.")
        if plan.eligible:
            shown = plan.eligible[:SHOWN_ROWS]
            write(
                f"First {len(shown)} of {len(plan.eligible)}:" if len(plan.eligible) > len(shown) else "Jobs:"
            )
            for job in shown:
                write(f"  {job.job_id}  {job.name}  ({job.status_label})")

    # --- the batch ------------------------------------------------------------------------------

    def wait(self, batch: DeleteBatch, *, run_here: bool, quiet: bool) -> DeleteBatch:
        """Until the batch ends: run it here, or poll it every second while a worker does."""
        tty = self.stdout.isatty() and not quiet
        started = monotonic()
        warned = False
        while True:
            if run_here:
                batch_run(batch.pk)  # returns at once when a worker holds it or it waits for DLI
            batch.refresh_from_db()
            if tty:
                self.stdout.write(f"\r{progress_line(batch)}\033[K", ending="")
                self.stdout.flush()
            if batch.state == BatchState.ENDED:
                if tty:
                    self.stdout.write("")
                return batch
            idle = batch.state == BatchState.QUEUED and not batch.lease_owner
            if not run_here and not warned and idle and monotonic() - started > WORKER_GRACE:
                if tty:
                    self.stdout.write("")  # off the progress line
                self.stderr.write("waiting for a worker: is `manage.py db_worker` running?")
                warned = True
            sleep(POLL_SECONDS)

    def report(self, batch: DeleteBatch, url: str, *, as_json: bool) -> None:
        rows = results(batch)
        counts = batch_progress(batch).counts
        if as_json:
            doc = {
                "batch_id": str(batch.pk),
                "project": batch.project_id_text,
                "state": batch.state,
                "url": url,
                "counts": counts,
                "jobs": rows,
            }
            self.stdout.write(json.dumps(doc))
            return
        if batch.state != BatchState.ENDED:
            self.stdout.write(f"Queued batch {batch.pk} of {batch.total} job(s): {url}")
            return
        summary = ", ".join(f"{n} {outcome}" for outcome, n in counts.items()) or "nothing settled"
        self.stdout.write(f"Batch {batch.pk} ended: {summary}. {url}")
        for row in rows:
            if row["outcome"] != AuditOutcome.DELETED:
                self.stdout.write(f"  {row['job_id']}  {row['name']}  {row['outcome']}: {row['message']}")


def read_ids(source: str) -> list[str]:
    """One job id a line (blank lines and # comments left out); checked later by the plan, like a form."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise Refused(f"Could not read job ids from {source}: {error}") from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def filters_from(options: dict[str, Any]) -> list[JobFilters]:
    """One JobFilters per --status (DLI lists one status a call), checked by the jobs page's rules."""
    common = {
        "name": options["name"],
        "queue_name": options["queue"],
        "user_name": options["owner"],
        "tags": options["tags"],
    }
    statuses: Sequence[str] = options["status"] or [""]
    if len(set(statuses)) != len(statuses):
        raise Refused("A --status is given twice.")
    return [checked({**common, "status": status}) for status in statuses]


def checked(data: dict[str, str]) -> JobFilters:
    form = JobFilterFields(data)
    if not form.is_valid():
        # An invalid filter would read as no filter, so refuse rather than widen the selection.
        problems = "; ".join(
            f"{OPTION_OF.get(field, field)}: {' '.join(str(error) for error in errors)}"
            for field, errors in form.errors.items()
        )
        raise Refused(f"{problems} Nothing was sent.")
    filters = form.filters()
    assert filters is not None  # the form is valid
    return filters


def parse_age(text: str | None) -> timedelta | None:
    if not text:
        return None
    match = AGE.match(text.strip())
    if match is None:
        raise Refused(f"--older-than {text!r}: write a whole number of days or hours, e.g. 30d or 12h.")
    amount, unit = int(match[1]), match[2]
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)


def matching(project: DliProject, filters: Iterable[JobFilters]) -> list[Job]:
    """Every job matching any of the filters, each once, up to DLI_MAX_BATCH per filter."""
    client = dli_client_for(project)
    found: dict[int, Job] = {}
    for one in filters:
        try:
            jobs = flink_jobs_matching(client=client, filters=one, ceiling=settings.DLI_MAX_BATCH)
        except TooManyJobs as error:
            raise Refused(f"{error} Narrow the filters. Nothing was sent.") from None
        found.update((job.job_id, job) for job in jobs)
    return list(found.values())


def results(batch: DeleteBatch) -> list[dict[str, Any]]:
    """Each job's outcome; before a worker expands the batch, its confirmed jobs with no outcome yet."""
    rows = list(DeleteBatchJob.objects.filter(batch=batch).order_by("position"))
    if rows:
        return [
            {"job_id": r.job_id, "name": r.name, "outcome": r.outcome, "message": r.message} for r in rows
        ]
    return [{"job_id": job[0], "name": job[1], "outcome": "", "message": ""} for job in batch.selection]


def progress_line(batch: DeleteBatch) -> str:
    progress = batch_progress(batch)
    line = f"{progress.settled}/{progress.total} settled ({progress.summary}), {batch.state}"
    if batch.waiting_reason:
        line += f": {batch.waiting_reason}"
    elif batch.state == BatchState.QUEUED:
        line += f" since {timezone.localtime(batch.created_at):%H:%M:%S}"
    return line
