from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import DeleteBatch


@admin.register(DeleteBatch)
class DeleteBatchAdmin(admin.ModelAdmin[DeleteBatch]):
    """Batches as the worker sees them; read-only, since only the delete engine may change one."""

    list_display = ["id", "project_name", "requested_by_username", "state", "total", "created_at", "ended_at"]
    list_filter = ["state"]
    search_fields = ["id", "project_name", "requested_by_username"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
