from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "dli_admin.policies"
    label = "policies"
    verbose_name = "Cleanup policies"

    def ready(self) -> None:
        from dli_admin.deletes.signals import batch_ended

        from .webhooks import batch_ended_notify

        batch_ended.connect(batch_ended_notify, dispatch_uid="dli_admin.policies.webhooks")
