"""Cleanup policies: rules an owner sets once per project, run by the workers on a schedule.

A run is a normal delete batch (deletes.DeleteBatch) made for the policy's owner; PolicyRun points at
it. The unique (policy, slot) row is the claim: two workers that reach the same slot insert the same
row, and the database lets one of them in.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Schedule(models.TextChoices):
    DAILY = "daily", "daily"
    WEEKLY = "weekly", "weekly"


class Mode(models.TextChoices):
    REPORT = "report", "report only"
    DELETE = "delete", "delete"


WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday")]
WEEKDAYS += [(5, "Saturday"), (6, "Sunday")]


class CleanupPolicy(models.Model):
    project = models.ForeignKey("projects.DliProject", on_delete=models.CASCADE, related_name="policies")
    name = models.CharField(max_length=60)
    statuses = models.JSONField(default=list, help_text="DLI statuses; never an active one")
    name_contains = models.CharField(max_length=57, blank=True)
    queue_name = models.CharField(max_length=128, blank=True)
    user_name = models.CharField(max_length=128, blank=True, help_text="the jobs' DLI owner")
    tags_include = models.CharField(max_length=512, blank=True)
    tags_exclude = models.CharField(max_length=512, blank=True)
    min_age_days = models.PositiveIntegerField(default=30)
    max_jobs = models.PositiveIntegerField(default=1000)
    schedule = models.CharField(max_length=8, choices=Schedule.choices, default=Schedule.DAILY)
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS, null=True, blank=True)
    at_time = models.TimeField(help_text="local time in the zone")
    zone = models.CharField(max_length=64, default="UTC", help_text="an IANA time zone, e.g. Europe/Berlin")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.REPORT)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="cleanup_policies"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Slots before this are never due: a new or re-scheduled policy does not run for the past.
    schedule_from = models.DateTimeField()

    class Meta:
        ordering = ["project", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="policy_name_per_project")]
        verbose_name = "cleanup policy"
        verbose_name_plural = "cleanup policies"

    def __str__(self) -> str:
        return f"policy {self.name} of {self.project_id}"


class RunState(models.TextChoices):
    RUNNING = "running", "running"  # claimed: reading DLI
    REPORTED = "reported", "reported"  # report only: nothing deleted
    STOPPED = "stopped", "stopped"  # a safety rule stopped it: nothing deleted
    QUEUED = "queued", "batch made"  # handed to a delete batch (its page says how it went)
    NOTHING = "nothing", "nothing to delete"
    FAILED = "failed", "failed"  # DLI could not be read, or the owner may not delete


class PolicyRun(models.Model):
    policy = models.ForeignKey(CleanupPolicy, on_delete=models.CASCADE, related_name="runs")
    slot = models.DateTimeField(help_text="the scheduled time (UTC) this run is for; now for a manual run")
    manual = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.RUNNING)
    matched = models.PositiveIntegerField(default=0, help_text="jobs the policy selected")
    batch = models.OneToOneField(
        "deletes.DeleteBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="policy_run"
    )
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-slot"]
        constraints = [models.UniqueConstraint(fields=["policy", "slot"], name="policy_run_once_per_slot")]

    def __str__(self) -> str:
        return f"run of {self.policy_id} for {self.slot:%Y-%m-%d %H:%M}Z ({self.state})"


class ProjectWebhook(models.Model):
    """Where a project's notices go. The URL often carries a token: it is shown and logged cut short."""

    project = models.OneToOneField("projects.DliProject", on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=1000)
    min_jobs = models.PositiveIntegerField(
        default=100, help_text="manual batches of more jobs than this are notified too"
    )
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"webhook of {self.project_id}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "pending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"


class WebhookDelivery(models.Model):
    project = models.ForeignKey("projects.DliProject", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(
        PolicyRun, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    batch_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField()
    state = models.CharField(max_length=8, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)  # never the URL
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"webhook delivery {self.pk} ({self.state})"
