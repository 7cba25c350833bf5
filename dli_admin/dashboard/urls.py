from django.urls import path

from . import views

urlpatterns = [
    path("", views.project_list, name="dli-project-list"),
    path("projects/<str:project_id>/jobs/", views.job_list, name="dli-job-list"),
    path(
        "projects/<str:project_id>/jobs/delete/review/", views.job_delete_review, name="dli-job-delete-review"
    ),
    path("projects/<str:project_id>/jobs/delete/", views.job_delete, name="dli-job-delete"),
    path("projects/<str:project_id>/jobs/<str:job_id>/check/", views.job_check, name="dli-job-check"),
    path("projects/<str:project_id>/jobs/<str:job_id>/", views.job_detail, name="dli-job-detail"),
    path(
        "projects/<str:project_id>/jobs/<str:job_id>/definition.json",
        views.job_definition_download,
        name="dli-job-definition",
    ),
    path("projects/<str:project_id>/batches/<uuid:batch_id>/", views.batch_detail, name="dli-batch-detail"),
    path(
        "projects/<str:project_id>/batches/<uuid:batch_id>/progress/",
        views.batch_progress_view,
        name="dli-batch-progress",
    ),
    path(
        "projects/<str:project_id>/batches/<uuid:batch_id>/check/",
        views.batch_check,
        name="dli-batch-check",
    ),
    path(
        "projects/<str:project_id>/batches/<uuid:batch_id>/cancel/",
        views.batch_cancel,
        name="dli-batch-cancel",
    ),
    path(
        "projects/<str:project_id>/batches/<uuid:batch_id>/snapshots.json",
        views.batch_snapshots_json,
        name="dli-batch-snapshots",
    ),
    path(
        "projects/<str:project_id>/batches/<uuid:batch_id>/restore/review/",
        views.batch_restore_review,
        name="dli-batch-restore-review",
    ),
    path(
        "projects/<str:project_id>/batches/<uuid:batch_id>/restore/",
        views.batch_restore,
        name="dli-batch-restore",
    ),
]
