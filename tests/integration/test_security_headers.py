"""Security headers on a real response, as the production settings send them."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))


def test_the_csp_header_is_strict(client):
    csp = directives(client.get("/accounts/login/"))
    assert csp["default-src"] == "'self'"
    assert csp["script-src"].startswith("'self' 'nonce-")
    assert csp["object-src"] == csp["base-uri"] == csp["frame-ancestors"] == "'none'"
    assert csp["form-action"] == "'self'"
    assert not any("unsafe" in value for value in csp.values())


def test_every_script_tag_carries_the_nonce_of_its_response(client):
    response = client.get("/accounts/login/")
    nonce = directives(response)["script-src"].split("'nonce-")[1].rstrip("'")
    html = response.text
    assert html.count("<script") == html.count(f'nonce="{nonce}"') > 0


def test_htmx_is_configured_before_it_loads(client):
    html = client.get("/accounts/login/").text
    meta = html.index('<meta name="htmx-config"')
    assert meta < html.index("htmx-2.min.js")
    assert '"allowEval":false' in html[meta:]
    assert '"includeIndicatorStyles":false' in html[meta:]


def test_production_headers(settings):
    settings.SECURE_HSTS_SECONDS = 31536000  # as with DJANGO_DEBUG=0
    response = Client().get("/accounts/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
