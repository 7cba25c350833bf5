from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """Installed only so `manage.py dli_simulator` exists; the simulator itself needs no Django."""

    name = "dli_admin.simulator"
    label = "simulator"
    verbose_name = "Embedded DLI simulator"
