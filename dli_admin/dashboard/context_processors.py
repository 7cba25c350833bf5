from __future__ import annotations

from django.http import HttpRequest

from dli_admin.projects.permissions import may_read_audit


def navigation(request: HttpRequest) -> dict:
    """What the top bar links to: the audit log only for those who may read some of it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = request.resolver_match
    section = "audit" if match and (match.url_name or "").startswith("dli-audit") else "projects"
    return {"can_read_audit": may_read_audit(user), "nav_section": section}
