from django.contrib import admin

from .models import JobClaim


@admin.register(JobClaim)
class JobClaimAdmin(admin.ModelAdmin):
    """Jobs being deleted right now; a claim left by a dead process expires on its own after 30 minutes."""

    list_display = ["job_id", "project", "batch_id", "claimed_at"]
    readonly_fields = ["job_id", "project", "batch_id", "claimed_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
