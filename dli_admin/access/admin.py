"""The admin's pages for projects, grants and users: every save and delete, one by one or with the
"delete selected" action, goes through dli_admin.access.services and so into the audit log."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model

# Imported, not only found by the admin's autodiscovery (which follows INSTALLED_APPS, where this app
# comes first): it registers User and Group, which are replaced below.
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group

from dli_admin.projects.models import DliProject, Grant, GrantSource

from . import services


class GrantInline(admin.TabularInline):
    model = Grant
    extra = 1
    autocomplete_fields = ["user"]
    readonly_fields = ["source"]


@admin.register(DliProject)
class DliProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "project_id", "connection", "region", "endpoint"]
    list_filter = ["connection"]
    search_fields = ["name", "project_id"]
    inlines = [GrantInline]

    def save_model(self, request, obj, form, change):
        services.project_save(services.request_origin(request), obj)

    def delete_model(self, request, obj):
        services.project_delete(services.request_origin(request), obj)

    def delete_queryset(self, request, queryset):
        for project in queryset.order_by("pk"):
            services.project_delete(services.request_origin(request), project)

    def save_formset(self, request, form, formset, change):
        origin = services.request_origin(request)
        grants = formset.save(commit=False)
        for grant in formset.deleted_objects:
            services.grant_revoke(origin, grant)
        for grant in grants:
            grant.source = GrantSource.MANUAL  # a grant set by hand is manual, whatever it was
            services.grant_save(origin, grant)


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "project", "source", "granted_at"]
    list_filter = ["role", "source", "project"]
    search_fields = ["user__username", "project__name", "project__project_id"]
    autocomplete_fields = ["user", "project"]
    readonly_fields = ["source"]

    def save_model(self, request, obj, form, change):
        obj.source = GrantSource.MANUAL
        services.grant_save(services.request_origin(request), obj)

    def delete_model(self, request, obj):
        services.grant_revoke(services.request_origin(request), obj)

    def delete_queryset(self, request, queryset):
        for grant in queryset.select_related("user", "project").order_by("pk"):
            services.grant_revoke(services.request_origin(request), grant)


def _admin_rights(user) -> dict[str, list[str]]:
    """The user's Django groups and model permissions, as names (what the admin lets staff do)."""
    return {
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "permissions": sorted(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list("content_type__app_label", "codename")
        ),
    }


User = get_user_model()
admin.site.unregister(User)
# dli-admin's roles are grants; Django's groups would be a second, unaudited way to hand out admin rights.
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    def save_model(self, request, obj, form, change):
        services.user_save(services.request_origin(request), obj)

    def save_related(self, request, form, formsets, change):
        before = _admin_rights(form.instance)
        super().save_related(request, form, formsets, change)
        services.user_rights_record(
            services.request_origin(request), form.instance, before, _admin_rights(form.instance)
        )

    def delete_model(self, request, obj):
        services.user_delete(services.request_origin(request), obj)

    def delete_queryset(self, request, queryset):
        for user in queryset.order_by("pk"):
            services.user_delete(services.request_origin(request), user)
