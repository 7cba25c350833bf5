"""Who may do what in dli-admin: one row per URL, one cell per role and project (OWASP ASVS V8).

Machine-readable: tests/integration/test_authorization_matrix.py makes one test per cell, and fails
when a URL pattern exists that this table does not cover.

Roles: anonymous; outsider (a user with no role); viewer, operator, owner (of the project "own");
auditor (global); superuser. Scopes: "own" is a project where viewer/operator/owner hold their role;
"other" is a project where nobody but the superuser does. URLs that belong to no project use "-".

Expected results: an HTTP status, or LOGIN (a redirect to /accounts/login/; for an htmx request, 401 with
HX-Redirect there), or ADMIN_LOGIN (a redirect to the admin's login page or to dli-admin's).
"""

from __future__ import annotations

LOGIN = "login"
ADMIN_LOGIN = "admin-login"

ROLES = ("anonymous", "outsider", "viewer", "operator", "owner", "auditor", "superuser")


def cells(**expected) -> dict[str, object]:
    missing = set(ROLES) - set(expected)
    assert not missing, f"every role needs a cell: {missing}"
    return expected


EVERYONE_200 = cells(
    anonymous=200, outsider=200, viewer=200, operator=200, owner=200, auditor=200, superuser=200
)
SIGNED_IN_200 = cells(
    anonymous=LOGIN, outsider=200, viewer=200, operator=200, owner=200, auditor=200, superuser=200
)
NOBODY_BUT_SUPERUSER = cells(
    anonymous=LOGIN, outsider=404, viewer=404, operator=404, owner=404, auditor=404, superuser=200
)
NOBODY_BUT_SUPERUSER_302 = {**NOBODY_BUT_SUPERUSER, "superuser": 302}
PROJECT_READERS = cells(
    anonymous=LOGIN, outsider=404, viewer=200, operator=200, owner=200, auditor=404, superuser=200
)
PROJECT_OWNERS = cells(
    anonymous=LOGIN, outsider=404, viewer=403, operator=403, owner=200, auditor=404, superuser=200
)
PROJECT_OWNERS_302 = {**PROJECT_OWNERS, "owner": 302, "superuser": 302}
AUDIT_READERS = cells(
    anonymous=LOGIN, outsider=403, viewer=403, operator=403, owner=200, auditor=200, superuser=200
)

# url name -> (method, mutating, {scope: {role: expected}})
MATRIX: dict[str, tuple[str, bool, dict[str, dict[str, object]]]] = {
    "dli-healthz": ("GET", False, {"-": EVERYONE_200}),
    # For Prometheus, with DLI_ADMIN_METRICS_TOKEN as a bearer token, never a session. Here as the test
    # settings have it, disabled (no token set): 404 for everyone, the superuser too. With a token set,
    # every role without it gets 401: tests/integration/test_metrics.py.
    "dli-metrics": ("GET", False, {"-": dict.fromkeys(ROLES, 404)}),
    "login": ("GET", False, {"-": EVERYONE_200}),
    "logout": ("POST", True, {"-": dict.fromkeys(ROLES, 302)}),
    # Single sign-on, off in the test settings: 404 for everyone. On, the start redirects anyone to the
    # identity provider and the callback answers only a state this browser's session holds:
    # tests/integration/test_sso.py and tests/browser/test_sso_browser.py.
    "dli-sso-start": ("GET", False, {"-": dict.fromkeys(ROLES, 404)}),
    "dli-sso-callback": ("GET", False, {"-": dict.fromkeys(ROLES, 404)}),
    "password_change": ("GET", False, {"-": SIGNED_IN_200}),
    "password_change_done": ("GET", False, {"-": SIGNED_IN_200}),
    "dli-project-list": ("GET", False, {"-": SIGNED_IN_200}),
    "dli-job-list": (
        "GET",
        False,
        {
            "own": cells(
                anonymous=LOGIN, outsider=404, viewer=200, operator=200, owner=200, auditor=404, superuser=200
            ),
            "other": NOBODY_BUT_SUPERUSER,
        },
    ),
    "dli-job-delete-review": (
        "POST",
        True,
        {
            "own": cells(
                anonymous=LOGIN, outsider=404, viewer=403, operator=200, owner=200, auditor=404, superuser=200
            ),
            "other": NOBODY_BUT_SUPERUSER,
        },
    ),
    # A confirm answers with a redirect to the batch's page (POST, redirect, GET).
    "dli-job-delete": (
        "POST",
        True,
        {
            "own": cells(
                anonymous=LOGIN, outsider=404, viewer=403, operator=302, owner=302, auditor=404, superuser=302
            ),
            "other": NOBODY_BUT_SUPERUSER_302,
        },
    ),
    # A job's page and its definition as JSON: read-only, for every role in the project.
    "dli-job-detail": ("GET", False, {"own": PROJECT_READERS, "other": NOBODY_BUT_SUPERUSER}),
    "dli-job-definition": ("GET", False, {"own": PROJECT_READERS, "other": NOBODY_BUT_SUPERUSER}),
    "dli-account": ("GET", False, {"-": SIGNED_IN_200}),
    "dli-batch-detail": ("GET", False, {"own": PROJECT_READERS, "other": NOBODY_BUT_SUPERUSER}),
    "dli-batch-progress": ("GET", False, {"own": PROJECT_READERS, "other": NOBODY_BUT_SUPERUSER}),
    # The batch of each scope was confirmed by the superuser: an operator is neither its requester nor
    # an owner. A cancel answers with a redirect to the batch's page.
    "dli-batch-cancel": (
        "POST",
        True,
        {
            "own": cells(
                anonymous=LOGIN, outsider=404, viewer=403, operator=403, owner=302, auditor=404, superuser=302
            ),
            "other": NOBODY_BUT_SUPERUSER_302,
        },
    ),
    # The definitions kept of a batch's jobs, as JSON: whoever may see the batch.
    "dli-batch-snapshots": ("GET", False, {"own": PROJECT_READERS, "other": NOBODY_BUT_SUPERUSER}),
    # Restore: owners only (a viewer's or operator's try is audited). The batch of each scope has ended;
    # review answers 200 with the plan; a restore with the cell's confirmation redirects to its page.
    "dli-batch-restore-review": (
        "POST",
        True,
        {
            "own": cells(
                anonymous=LOGIN, outsider=404, viewer=403, operator=403, owner=200, auditor=404, superuser=200
            ),
            "other": NOBODY_BUT_SUPERUSER,
        },
    ),
    "dli-batch-restore": (
        "POST",
        True,
        {
            "own": cells(
                anonymous=LOGIN, outsider=404, viewer=403, operator=403, owner=302, auditor=404, superuser=302
            ),
            "other": NOBODY_BUT_SUPERUSER_302,
        },
    ),
    # Without htmx, "Check again" answers with a redirect to the batch's page (POST, redirect, GET).
    "dli-job-check": (
        "POST",
        True,
        {
            "own": cells(
                anonymous=LOGIN, outsider=404, viewer=403, operator=302, owner=302, auditor=404, superuser=302
            ),
            "other": NOBODY_BUT_SUPERUSER_302,
        },
    ),
    # "Check all unknown" on a batch's page, likewise answered with a redirect back to it.
    "dli-batch-check": (
        "POST",
        True,
        {
            "own": cells(
                anonymous=LOGIN, outsider=404, viewer=403, operator=302, owner=302, auditor=404, superuser=302
            ),
            "other": NOBODY_BUT_SUPERUSER_302,
        },
    ),
    # Cleanup policies: readers of the project see them (and may preview: it only reads DLI); owners
    # change them. A run, disable or delete answers with a redirect to the policy's (or the list's) page.
    "dli-policy-list": ("GET", False, {"own": PROJECT_READERS, "other": NOBODY_BUT_SUPERUSER}),
    "dli-policy-detail": ("GET", False, {"own": PROJECT_READERS, "other": NOBODY_BUT_SUPERUSER}),
    "dli-policy-preview": ("GET", False, {"own": PROJECT_READERS, "other": NOBODY_BUT_SUPERUSER}),
    "dli-policy-create": ("GET", False, {"own": PROJECT_OWNERS, "other": NOBODY_BUT_SUPERUSER}),
    "dli-policy-edit": ("GET", False, {"own": PROJECT_OWNERS, "other": NOBODY_BUT_SUPERUSER}),
    "dli-project-webhook": ("GET", False, {"own": PROJECT_OWNERS, "other": NOBODY_BUT_SUPERUSER}),
    "dli-policy-run": ("POST", True, {"own": PROJECT_OWNERS_302, "other": NOBODY_BUT_SUPERUSER_302}),
    "dli-policy-disable": ("POST", True, {"own": PROJECT_OWNERS_302, "other": NOBODY_BUT_SUPERUSER_302}),
    "dli-policy-delete": ("POST", True, {"own": PROJECT_OWNERS_302, "other": NOBODY_BUT_SUPERUSER_302}),
    "dli-audit-list": ("GET", False, {"-": AUDIT_READERS}),
    "dli-audit-export": ("GET", False, {"-": AUDIT_READERS}),
    "dli-audit-batch": (
        "GET",
        False,
        {
            "own": AUDIT_READERS,
            "other": cells(
                anonymous=LOGIN, outsider=403, viewer=403, operator=403, owner=404, auditor=200, superuser=200
            ),
        },
    ),
    "dli-audit-batch-rows": (
        "GET",
        False,
        {
            "own": AUDIT_READERS,
            "other": cells(
                anonymous=LOGIN, outsider=403, viewer=403, operator=403, owner=404, auditor=200, superuser=200
            ),
        },
    ),
    "dli-audit-batch-snapshots": (
        "GET",
        False,
        {
            "own": AUDIT_READERS,
            "other": cells(
                anonymous=LOGIN, outsider=403, viewer=403, operator=403, owner=404, auditor=200, superuser=200
            ),
        },
    ),
    # The Django admin: superusers only (no other user is staff). Every admin URL is covered by this row;
    # the test requests a representative set of them.
    "admin:*": (
        "GET",
        False,
        {
            "-": cells(
                anonymous=ADMIN_LOGIN,
                outsider=ADMIN_LOGIN,
                viewer=ADMIN_LOGIN,
                operator=ADMIN_LOGIN,
                owner=ADMIN_LOGIN,
                auditor=ADMIN_LOGIN,
                superuser=200,
            )
        },
    ),
}

ADMIN_SAMPLES = (
    "admin:index",
    "admin:projects_dliproject_changelist",
    "admin:projects_grant_changelist",
    "admin:audit_auditrecord_changelist",
    "admin:auth_user_changelist",
)
