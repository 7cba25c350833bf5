from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dli_admin.dashboard"
    label = "dashboard"
    verbose_name = "DLI projects and jobs"
