"""The audit log in the Django admin: to read only. Nobody, superusers included, may add, change or delete."""

from __future__ import annotations

from django.contrib import admin

from .models import AuditIntentJob, AuditRecord


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AuditIntentJobInline(ReadOnlyMixin, admin.TabularInline):
    model = AuditIntentJob
    fields = ("position", "job_id", "name", "status")
    readonly_fields = fields
    extra = 0


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "seq",
        "created_at",
        "kind",
        "source",
        "actor_username",
        "project_id",
        "batch_id",
        "job_id",
        "outcome",
    )
    list_filter = ("kind", "outcome", "source", "created_at")
    search_fields = ("actor_username", "=project_id", "job_name")
    ordering = ("-seq",)
    show_full_result_count = False  # no second COUNT over millions of rows
    inlines = [AuditIntentJobInline]
