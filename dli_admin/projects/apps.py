from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "dli_admin.projects"
    label = "projects"
    verbose_name = "DLI projects and roles"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
