from __future__ import annotations

from datetime import timedelta

from django.db import models

CLAIM_TTL = timedelta(minutes=30)  # a claim older than this belongs to a process that died


class JobClaim(models.Model):
    """A job being deleted right now; the unique row stops two batches deleting it at once."""

    project = models.ForeignKey("projects.DliProject", on_delete=models.CASCADE)
    job_id = models.BigIntegerField()
    batch_id = models.UUIDField()
    claimed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "dashboard_jobclaim"  # made by the dashboard app, which held this model first
        constraints = [models.UniqueConstraint(fields=["project", "job_id"], name="job_claim_unique")]

    def __str__(self) -> str:
        return f"job {self.job_id} claimed by batch {self.batch_id}"
