from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "dli_admin.access"
    label = "access"
    verbose_name = "Who may do what"
