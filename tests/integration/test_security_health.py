"""/healthz: for load balancers, without login, over plain HTTP, telling nothing but up or down and
dli-admin's own version."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

pytestmark = pytest.mark.django_db


def test_it_reports_ok_without_login(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": settings.DLI_ADMIN_VERSION}
    assert "no-cache" in response["Cache-Control"]


def test_it_reports_an_unreachable_database_without_details(client, settings):
    with mock.patch("dli_admin.accounts.views.connection") as connection:
        connection.cursor.side_effect = OperationalError("could not connect to server: secret-host:5432")
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "database": "unreachable",
        "version": settings.DLI_ADMIN_VERSION,
    }


def test_it_answers_get_only(client):
    assert client.post("/healthz").status_code == 405


def test_it_shows_no_version_banner(client):
    response = client.get("/healthz")
    assert not response.has_header("Server")
    assert b"django" not in response.content.lower()


def test_it_is_exempt_from_the_https_redirect_but_other_pages_are_not(settings):
    settings.SECURE_SSL_REDIRECT = True  # as in production
    client = Client()  # SecurityMiddleware reads its settings when the client first loads it
    assert client.get("/healthz").status_code == 200
    response = client.get("/accounts/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"
