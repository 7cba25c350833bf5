"""Which DLI a project talks to, and what happens when dli-admin has no way to reach it."""

from __future__ import annotations

import pytest

from dli_admin.projects.connections import DliNotConfigured, dli_client_for

pytestmark = pytest.mark.django_db


def test_production_without_an_endpoint_says_so_instead_of_showing_demo_data(project_a, settings):
    settings.DLI_ENDPOINT = ""
    settings.DLI_EMBEDDED_SIMULATOR = False
    with pytest.raises(DliNotConfigured, match="DLI_ENDPOINT is not set"):
        dli_client_for(project_a)


def test_development_without_an_endpoint_uses_the_embedded_simulator(project_a, settings):
    settings.DLI_ENDPOINT = ""
    settings.DLI_EMBEDDED_SIMULATOR = True
    client = dli_client_for(project_a)
    assert client.list_jobs(limit=1).total_count > 0


def test_an_endpoint_without_credentials_is_refused_with_the_variables_to_set(project_a, settings):
    settings.DLI_ENDPOINT = "https://dli.example.invalid"
    settings.DLI_AK = settings.DLI_SK = settings.DLI_AUTH_TOKEN = settings.DLI_IAM_ENDPOINT = ""
    with pytest.raises(DliNotConfigured, match="DLI_AK and DLI_SK"):
        dli_client_for(project_a)


def test_a_project_endpoint_overrides_the_setting(project_a, simulator, settings):
    project_a.endpoint = simulator.url
    settings.DLI_ENDPOINT = "http://127.0.0.1:9"
    assert dli_client_for(project_a).list_jobs(limit=1).total_count > 0


def test_the_jobs_page_explains_a_missing_configuration(project_a, operator, settings, client):
    settings.DLI_ENDPOINT = ""
    settings.DLI_EMBEDDED_SIMULATOR = False
    client.force_login(operator)
    html = client.get(f"/projects/{project_a.project_id}/jobs/").content.decode()
    assert "DLI_ENDPOINT is not set" in html
