from django.urls import path

from . import views

urlpatterns = [
    path("", views.audit_list, name="dli-audit-list"),
    path("export.csv", views.audit_export, name="dli-audit-export"),
    path("batches/<uuid:batch_id>/", views.audit_batch, name="dli-audit-batch"),
    path("batches/<uuid:batch_id>/rows/", views.audit_batch_rows, name="dli-audit-batch-rows"),
    path(
        "batches/<uuid:batch_id>/snapshots.json",
        views.audit_batch_snapshots,
        name="dli-audit-batch-snapshots",
    ),
]
