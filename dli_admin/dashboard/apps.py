from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The jobs pages: views, forms and templates. Its models moved to `projects` and `deletes`."""

    name = "dli_admin.dashboard"
    label = "dashboard"
    verbose_name = "Jobs pages"
