from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def project_list(request):
    return render(request, "dashboard/project_list.html", {"projects": []})
