"""The audit log in the Django admin: to read only. Nobody, superusers included, may add, change or delete."""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from .models import AuditIntentJob, AuditRecord


class NewestPaginator(Paginator):
    """Pages through the newest LIMIT matching records only: the count and the deepest OFFSET stay
    bounded at any size of the log (a full COUNT and a deep OFFSET cost a scan of every record)."""

    LIMIT = 10_000  # older records: narrow the list with a filter, or use the /audit/ pages

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.LIMIT].count()  # type: ignore[attr-defined]  # a QuerySet: COUNT of a LIMIT


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
    paginator = NewestPaginator
    list_per_page = 50  # rendering the rows is most of the page's time
    inlines = [AuditIntentJobInline]
