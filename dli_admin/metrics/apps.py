from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "dli_admin.metrics"
    label = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        # Checks PROMETHEUS_MULTIPROC_DIR at start-up, not at the first DLI call.
        from . import instruments  # noqa: F401
