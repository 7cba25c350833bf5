"""Single sign-on with OpenID Connect (mozilla-django-oidc): who a signed-in account is, and the grants its
groups give (docs/sso.md).

The library runs the authorization code flow (state, nonce and PKCE kept in the session, the ID token's
signature checked against the provider's keys); this backend adds what dli-admin needs on top:
- the ID token's issuer and audience are checked (the library checks neither);
- a user is found by the provider's (issuer, sub), never by e-mail or name, and created at first login;
- at every login the user's single sign-on grants are set to what DLI_ADMIN_OIDC_GROUP_ROLES gives their
  groups, through access.services (audited); manual grants are left as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from dli_admin.accounts.models import SsoIdentity
from dli_admin.audit.models import AuditSource
from dli_admin.projects.models import PROJECT_ROLES, DliProject, Role

from . import services

logger = logging.getLogger(__name__)

GROUPS_SHOWN = 20  # groups named in an audit record's "by" (an account may be in hundreds)


def wanted_roles(
    groups: Iterable[str], mapping: Sequence[tuple[str, str, str]]
) -> dict[DliProject | None, str]:
    """The strongest role each project gets from these groups (None: the global auditor role).

    A mapping that names a project dli-admin does not know is skipped with a warning: `dli_project add`
    it first.
    """
    groups = set(groups)
    wanted: dict[str, str] = {}  # project id ("" for auditor) -> role
    for group, role, project_id in mapping:
        if group not in groups:
            continue
        current = wanted.get(project_id)
        if current is None or (
            role in PROJECT_ROLES and PROJECT_ROLES.index(role) > PROJECT_ROLES.index(current)
        ):
            wanted[project_id] = role
    projects = {p.project_id: p for p in DliProject.objects.filter(project_id__in=[i for i in wanted if i])}
    result: dict[DliProject | None, str] = {}
    for project_id, role in wanted.items():
        if not project_id:
            result[None] = Role.AUDITOR
        elif project_id in projects:
            result[projects[project_id]] = role
        else:
            logger.warning(
                "single sign-on: DLI_ADMIN_OIDC_GROUP_ROLES names project %s, which is not added", project_id
            )
    return result


class GroupsOidcBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, finding users by (issuer, sub) and giving grants by group."""

    def verify_token(self, token, **kwargs):
        payload = super().verify_token(token, **kwargs)
        audience = payload.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if settings.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("the ID token is not for this client (aud)")
        if str(payload.get("iss", "")).rstrip("/") != settings.DLI_ADMIN_OIDC_ISSUER:
            raise SuspiciousOperation("the ID token is not from the configured issuer (iss)")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        claims = super().get_userinfo(access_token, id_token, payload)
        if claims.get("sub") != payload.get("sub"):  # OpenID Connect Core 5.3.2
            raise SuspiciousOperation("the userinfo reply is about another account (sub)")
        return {**payload, **claims}

    def verify_claims(self, claims) -> bool:
        username = claims.get(settings.DLI_ADMIN_OIDC_USERNAME_CLAIM)
        return bool(claims.get("sub")) and isinstance(username, str) and 0 < len(username) <= 150

    def filter_users_by_claims(self, claims):
        return get_user_model().objects.filter(
            sso_identity__issuer=settings.DLI_ADMIN_OIDC_ISSUER, sso_identity__subject=str(claims["sub"])
        )

    def _origin(self, user, groups: Sequence[str]) -> services.Origin:
        shown = ", ".join(sorted(groups)[:GROUPS_SHOWN]) + (" …" if len(groups) > GROUPS_SHOWN else "")
        base = services.request_origin(self.request, source=AuditSource.SSO)
        return services.Origin(
            source=AuditSource.SSO,
            actor=user,
            client_ip=base.client_ip,
            user_agent=base.user_agent,
            by=f"groups [{shown}] from {settings.DLI_ADMIN_OIDC_ISSUER}",
        )

    def _groups(self, claims) -> list[str]:
        groups = claims.get(settings.DLI_ADMIN_OIDC_GROUPS_CLAIM) or []
        if isinstance(groups, str):
            groups = [groups]
        return [group for group in groups if isinstance(group, str)]

    def create_user(self, claims):
        username = claims[settings.DLI_ADMIN_OIDC_USERNAME_CLAIM]
        model = get_user_model()
        if model.objects.filter(username=username).exists():
            # A local user of that name is not taken over by whoever holds that name at the provider.
            raise SuspiciousOperation(
                f"a user named {username!r} exists and is not this single sign-on account"
            )
        with transaction.atomic():
            user = model(username=username, email=str(claims.get("email") or ""))
            user.set_unusable_password()  # signs in only through the provider
            services.user_save(self._origin(user, self._groups(claims)), user)
            SsoIdentity.objects.create(
                user=user, issuer=settings.DLI_ADMIN_OIDC_ISSUER, subject=str(claims["sub"])
            )
            return self.update_user(user, claims)

    def update_user(self, user, claims):
        groups = self._groups(claims)
        origin = self._origin(user, groups)
        services.grants_follow_groups(origin, user, wanted_roles(groups, settings.DLI_ADMIN_OIDC_GROUP_ROLES))
        return user
