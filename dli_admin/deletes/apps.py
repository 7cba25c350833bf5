from django.apps import AppConfig


class DeletesConfig(AppConfig):
    name = "dli_admin.deletes"
    label = "deletes"
    verbose_name = "Flink job deletes"
