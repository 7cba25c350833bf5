"""Cleanup policies from the command line: add, list, show, run, disable, remove, and `tick` for cron.

Changes act as a named dli-admin user (--as) with that user's role, checked and audited like the pages,
and the fields are checked by the pages' own form, so bad input reads the same. Exit codes as
flink_jobs_delete: 0 done, 1 refused or bad input (nothing changed, nothing sent), 2 a run that did not
delete what it selected (stopped by a safety rule, or failed).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils import timezone

from dli_admin.deletes.services import Requester, SelectionError
from dli_admin.dli import DliError
from dli_admin.projects.connections import DliNotConfigured
from dli_admin.projects.models import DliProject

from ...forms import PolicyForm
from ...models import WEEKDAYS, CleanupPolicy, RunState
from ...schedule import policy_next_slot
from ...services import (
    policies_tick,
    policy_disable,
    policy_preview,
    policy_remove,
    policy_run_now,
    policy_save,
)
from ...tasks import tick_schedule

USER_AGENT = "dli-admin command line (manage.py cleanup_policy)"
OPTION_OF = {
    "statuses": "--status",
    "name_contains": "--name-contains",
    "queue_name": "--queue",
    "user_name": "--owner",
    "tags_include": "--tags",
    "tags_exclude": "--exclude-tags",
    "min_age_days": "--older-than-days",
    "max_jobs": "--max-jobs",
    "schedule": "--schedule",
    "weekday": "--day",
    "at_time": "--at",
    "zone": "--zone",
    "mode": "--mode",
    "enabled": "--disabled",
    "name": "NAME",
}
DAYS = {label[:3].lower(): value for value, label in WEEKDAYS}
FAILED_RUNS = (RunState.STOPPED, RunState.FAILED)


def refuse(message: str) -> CommandError:
    return CommandError(message, returncode=1)


class Command(BaseCommand):
    help = (
        "Cleanup policies of a DLI project: add, list, show, run NAME [--now] [--dry-run], disable, remove; "
        "tick runs every due policy once (for cron). Exit 0: done; 1: refused or bad input; 2: a run stopped "
        "or failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for action in ("add", "list", "show", "run", "disable", "remove"):
            one = sub.add_parser(action)
            one.add_argument("--project", required=action != "list", metavar="PROJECT_ID")
            if action != "list":
                one.add_argument("name", metavar="NAME")
            if action in ("add", "run", "disable", "remove"):
                one.add_argument("--as", required=True, dest="username", metavar="USERNAME")
            if action == "add":
                self.field_flags(one)
            if action == "run":
                one.add_argument("--now", action="store_true", help="run now, whatever the schedule")
                one.add_argument(
                    "--dry-run", action="store_true", help="show what it would delete; send nothing"
                )
            one.add_argument("--json", action="store_true")
        tick = sub.add_parser("tick", help="run every due policy once (cron: every minute or few)")
        tick.add_argument(
            "--schedule", action="store_true", help="also queue the workers' own tick (no cron needed then)"
        )
        tick.add_argument("--json", action="store_true")

    def field_flags(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--status", action="append", default=[], help="a DLI status (repeat); never active"
        )
        parser.add_argument("--name-contains", default="")
        parser.add_argument("--queue", default="")
        parser.add_argument("--owner", default="", help="the jobs' DLI user name")
        parser.add_argument("--tags", default="", help="tags to include: key=value,key2=value2")
        parser.add_argument("--exclude-tags", default="", help="tags to exclude: key=value,...")
        parser.add_argument("--older-than-days", default="30", metavar="DAYS")
        parser.add_argument("--max-jobs", default="1000", metavar="N")
        parser.add_argument("--schedule", default="daily", help="daily or weekly")
        parser.add_argument("--day", default="", help="for weekly: mon, tue, ...")
        parser.add_argument("--at", default="02:00", metavar="HH:MM")
        parser.add_argument("--zone", default="UTC", metavar="IANA_ZONE")
        parser.add_argument("--mode", default="report", help="report (only report) or delete")
        parser.add_argument("--disabled", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "tick":
            return self.tick(options)
        if action == "list":
            return self.list(options)
        project = DliProject.objects.filter(project_id=options["project"]).first()
        if project is None:
            raise refuse(f"No DLI project {options['project']!r} in dli-admin (see `dli_project list`).")
        if action == "add":
            return self.add(project, options)
        policy = (
            CleanupPolicy.objects.filter(project=project, name=options["name"])
            .select_related("project", "created_by")
            .first()
        )
        if policy is None:
            raise refuse(f"No cleanup policy {options['name']!r} in {project.name}.")
        if action == "show":
            return self.show(policy, options["json"])
        requester = self.requester(options["username"])
        try:
            if action == "disable":
                policy_disable(requester=requester, policy=policy)
                self.stdout.write(f"Policy {policy.name} disabled.")
            elif action == "remove":
                policy_remove(requester=requester, policy=policy)
                self.stdout.write(f"Policy {policy.name} removed; its batches stay in the audit log.")
            else:
                self.run(requester, policy, options)
        except PermissionDenied as error:
            raise refuse(f"{options['username']}: {error} Nothing changed.") from None

    def requester(self, username: str) -> Requester:
        user = get_user_model().objects.filter(username=username).first()
        if user is None or not user.is_active:
            raise refuse(f"No active dli-admin user named {username!r}.")
        return Requester(user=user, user_agent=USER_AGENT)

    def add(self, project: DliProject, options: dict[str, Any]) -> None:
        requester = self.requester(options["username"])
        day = options["day"].strip().lower()[:3]
        if day and day not in DAYS:
            raise refuse(f"--day {options['day']!r}: write mon, tue, wed, thu, fri, sat or sun.")
        data = {
            "name": options["name"],
            "statuses": options["status"],
            "name_contains": options["name_contains"],
            "queue_name": options["queue"],
            "user_name": options["owner"],
            "tags_include": options["tags"],
            "tags_exclude": options["exclude_tags"],
            "min_age_days": options["older_than_days"],
            "max_jobs": options["max_jobs"],
            "schedule": options["schedule"],
            "weekday": DAYS.get(day, ""),
            "at_time": options["at"],
            "zone": options["zone"],
            "mode": options["mode"],
            "enabled": not options["disabled"],
        }
        form = PolicyForm(data, project=project)
        if not form.is_valid():
            problems = "; ".join(
                f"{OPTION_OF.get(name, name)}: {' '.join(str(error) for error in errors)}"
                for name, errors in form.errors.items()
            )
            raise refuse(f"{problems} Nothing changed.")
        try:
            policy = policy_save(requester=requester, project=project, form=form)
        except PermissionDenied as error:
            raise refuse(f"{options['username']}: {error} Nothing changed.") from None
        self.stdout.write(f"Policy {policy.name} added to {project.name}.")

    def list(self, options: dict[str, Any]) -> None:
        policies = CleanupPolicy.objects.select_related("project", "created_by")
        if options.get("project"):
            policies = policies.filter(project__project_id=options["project"])
        rows = [self.describe(policy) for policy in policies]
        if options["json"]:
            self.stdout.write(json.dumps(rows))
            return
        for row in rows:
            state = "enabled" if row["enabled"] else "disabled"
            line = f"{row['project']}  {row['name']}  {row['mode']}  {row['schedule']}  {state}"
            self.stdout.write(f"{line}  next {row['next']}")

    def describe(self, policy: CleanupPolicy) -> dict[str, Any]:
        return {
            "project": policy.project.project_id,
            "name": policy.name,
            "mode": policy.mode,
            "enabled": policy.enabled,
            "statuses": policy.statuses,
            "name_contains": policy.name_contains,
            "queue": policy.queue_name,
            "owner": policy.user_name,
            "tags": policy.tags_include,
            "exclude_tags": policy.tags_exclude,
            "older_than_days": policy.min_age_days,
            "max_jobs": policy.max_jobs,
            "schedule": schedule_text(policy),
            "next": policy_next_slot(policy, timezone.now()).isoformat(),
            "runs_as": policy.created_by.get_username() if policy.created_by else None,
        }

    def show(self, policy: CleanupPolicy, as_json: bool) -> None:
        row = self.describe(policy)
        row["runs"] = [
            {
                "slot": run.slot.isoformat(),
                "state": run.state,
                "message": run.message,
                "batch": str(run.batch_id or ""),
            }
            for run in policy.runs.all()[:20]
        ]
        if as_json:
            self.stdout.write(json.dumps(row))
            return
        for key, value in row.items():
            if key != "runs":
                self.stdout.write(f"{key}: {value}")
        for run in row["runs"]:
            self.stdout.write(f"  {run['slot']}  {run['state']}  {run['message']}")

    def run(self, requester: Requester, policy: CleanupPolicy, options: dict[str, Any]) -> None:
        if options["dry_run"]:
            try:
                preview = policy_preview(policy)
            except (DliError, DliNotConfigured) as error:
                raise refuse(f"Could not read the jobs from DLI: {error} Nothing was sent.") from None
            doc = {
                "policy": policy.name,
                "dry_run": True,
                "would_delete": len(preview.eligible),
                "over_limit": preview.over_limit,
                "stop_reason": preview.stop_reason,
                "jobs": [
                    {"job_id": job.job_id, "name": job.name, "status": job.status} for job in preview.eligible
                ],
                "kept": [{"job_id": job.job_id, "name": job.name, "why": why} for job, why in preview.kept],
            }
            if options["json"]:
                self.stdout.write(json.dumps(doc))
            else:
                self.stdout.write(f"Policy {policy.name} would delete {len(preview.eligible)} job(s) now.")
                if preview.over_limit:
                    self.stdout.write(preview.stop_reason)
                for job in preview.eligible[:20]:
                    self.stdout.write(f"  {job.job_id}  {job.name}  ({job.status})")
            return
        if not options["now"]:
            runs = [run for run in policies_tick() if run.policy_id == policy.pk]
            if not runs:
                self.stdout.write(
                    f"Policy {policy.name} is not due (next {policy_next_slot(policy, timezone.now())})."
                )
                return
            run = runs[0]
        else:
            try:
                run = policy_run_now(requester=requester, policy=policy)
            except SelectionError as error:
                raise refuse(str(error)) from None
        url = (
            reverse("dli-batch-detail", args=[policy.project.project_id, run.batch_id])
            if run.batch_id
            else None
        )
        doc = {
            "policy": policy.name,
            "state": run.state,
            "message": run.message,
            "matched": run.matched,
            "batch_url": url,
        }
        self.stdout.write(json.dumps(doc) if options["json"] else f"{run.get_state_display()}: {run.message}")
        if url and not options["json"]:
            self.stdout.write(f"Batch: {url} (a worker runs it: manage.py db_worker)")
        if run.state in FAILED_RUNS:
            raise CommandError(f"Policy {policy.name} did not delete: {run.message}", returncode=2)

    def tick(self, options: dict[str, Any]) -> None:
        if options["schedule"]:
            tick_schedule()
        runs = policies_tick()
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    [{"policy": run.policy.name, "state": run.state, "message": run.message} for run in runs]
                )
            )
        else:
            for run in runs:
                where = f"{run.policy.project.project_id} {run.policy.name}"
                self.stdout.write(f"{where}: {run.get_state_display()}: {run.message}")
        if any(run.state in FAILED_RUNS for run in runs):
            raise CommandError("Some policies did not delete (see above).", returncode=2)


def schedule_text(policy: CleanupPolicy) -> str:
    day = f" {policy.get_weekday_display()}" if policy.weekday is not None else ""
    return f"{policy.schedule}{day} {policy.at_time:%H:%M} {policy.zone}"
