from django.urls import path

from . import views

P = "projects/<str:project_id>/policies/"
urlpatterns = [
    path(P, views.policy_list, name="dli-policy-list"),
    path(f"{P}new/", views.policy_create, name="dli-policy-create"),
    path(f"{P}<int:policy_id>/", views.policy_detail, name="dli-policy-detail"),
    path(f"{P}<int:policy_id>/edit/", views.policy_edit, name="dli-policy-edit"),
    path(f"{P}<int:policy_id>/preview/", views.policy_preview, name="dli-policy-preview"),
    path(f"{P}<int:policy_id>/run/", views.policy_run, name="dli-policy-run"),
    path(f"{P}<int:policy_id>/disable/", views.policy_disable, name="dli-policy-disable"),
    path(f"{P}<int:policy_id>/delete/", views.policy_delete, name="dli-policy-delete"),
    path("projects/<str:project_id>/webhook/", views.project_webhook, name="dli-project-webhook"),
]
