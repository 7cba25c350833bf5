"""The CSP system check: a policy that loses a directive or allows inline/eval scripts is an error."""

from __future__ import annotations

import pytest
from django.core.checks.registry import registry
from django.utils.csp import CSP

from dli_admin.accounts.checks import check_csp

STRICT = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}


def ids(settings, policy) -> list[str]:
    settings.SECURE_CSP = policy
    return [error.id for error in check_csp()]


def test_the_project_policy_passes():
    assert check_csp() == []


def test_the_check_is_registered_as_a_security_check():
    assert check_csp in registry.get_checks()
    assert "security" in check_csp.tags


def test_a_strict_policy_passes(settings):
    assert ids(settings, STRICT) == []


def test_plain_strings_are_understood(settings):
    assert ids(settings, STRICT | {"script-src": "'self' " + CSP.NONCE}) == []


def test_an_empty_policy_is_an_error(settings):
    assert ids(settings, {}) == ["accounts.E001"]


def test_the_csp_middleware_must_be_installed(settings):
    settings.MIDDLEWARE = [
        m for m in settings.MIDDLEWARE if not m.endswith("ContentSecurityPolicyMiddleware")
    ]
    assert ids(settings, STRICT) == ["accounts.E002"]


@pytest.mark.parametrize(
    "directive", ["default-src", "object-src", "base-uri", "frame-ancestors", "form-action"]
)
def test_each_required_directive_must_be_present(settings, directive):
    policy = {k: v for k, v in STRICT.items() if k != directive}
    assert ids(settings, policy) == ["accounts.E003"]


@pytest.mark.parametrize(
    ("directive", "sources"),
    [
        ("default-src", [CSP.SELF, "https:"]),
        ("object-src", [CSP.SELF]),
        ("base-uri", [CSP.SELF]),
        ("frame-ancestors", [CSP.SELF]),
        ("form-action", ["*"]),
    ],
)
def test_a_loosened_directive_is_an_error(settings, directive, sources):
    assert ids(settings, STRICT | {directive: sources}) == ["accounts.E003"]


@pytest.mark.parametrize("unsafe", [CSP.UNSAFE_INLINE, CSP.UNSAFE_EVAL])
def test_unsafe_script_sources_are_errors(settings, unsafe):
    assert ids(settings, STRICT | {"script-src": [CSP.SELF, CSP.NONCE, unsafe]}) == ["accounts.E004"]


@pytest.mark.parametrize(
    "script_src",
    [[CSP.SELF], [CSP.SELF, CSP.NONCE, "https://cdn.example.com"], [CSP.NONCE, "*"], None],
    ids=["no-nonce", "another-origin", "wildcard", "missing"],
)
def test_scripts_must_come_from_self_with_the_nonce_only(settings, script_src):
    policy = STRICT | {"script-src": script_src} if script_src else {**STRICT, "script-src": None}
    assert ids(settings, policy) == ["accounts.E005"]
