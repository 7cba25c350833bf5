from django.contrib import admin

from .models import DliProject, Grant


class GrantInline(admin.TabularInline):
    model = Grant
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(DliProject)
class DliProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "project_id", "connection", "region", "endpoint"]
    list_filter = ["connection"]
    search_fields = ["name", "project_id"]
    inlines = [GrantInline]


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "project", "granted_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__name", "project__project_id"]
    autocomplete_fields = ["user", "project"]
