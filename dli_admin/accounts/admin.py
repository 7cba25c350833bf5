from __future__ import annotations

from django.contrib import admin

from .models import LoginThrottle, UserPreference


@admin.register(LoginThrottle)
class LoginThrottleAdmin(admin.ModelAdmin):
    """Read-only, but deletable: deleting a row lifts that lockout early."""

    list_display = ["username", "client_ip", "failures", "last_failure_at", "locked_until"]
    search_fields = ["username", "client_ip"]
    ordering = ["-last_failure_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UserPreference)
class UserPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "time_zone"]
    search_fields = ["user__username"]
