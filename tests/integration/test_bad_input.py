"""Bad input to the selection form and the delete service: a clear message, and nothing sent to DLI.

Property-based (hypothesis): whatever an attacker or a broken client posts, the answer is a 200 review
or a 4xx with a message, never a 500, and DLI receives no delete.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dli_admin.deletes import services
from tests.helpers import run_queued_batches

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
FIXTURE_SAFE = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Strings an attacker might post as a job id: digits of every script, signs, spaces, huge numbers.
nasty_ids = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="0123456789٠١٢٣٤٥٦٧٨٩０１２ -+_.eE\t\n", max_size=25),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", " ", "0", "00", str(2**63 - 1), str(2**63), "1e3", "0x1f", "NaN", "1_000", "\x00"]),
)


@given(values=st.lists(nasty_ids, max_size=12))
def test_parse_job_ids_accepts_exactly_ascii_longs_and_raises_nothing_else(values):
    valid = all(re.fullmatch(r"[0-9]{1,19}", v) and int(v) < 2**63 for v in values)
    unique = len({int(v) for v in values}) == len(values) if valid else False
    try:
        ids = services.parse_job_ids(values)
    except services.SelectionError as error:
        assert str(error)
        assert not (values and valid and unique)
    else:
        assert values and valid and unique
        assert ids == [int(v) for v in values]


@pytest.fixture
def operator_client(operator):
    client = Client()
    client.force_login(operator)
    return client


@FIXTURE_SAFE
@given(values=st.lists(nasty_ids, min_size=1, max_size=8))
def test_posting_any_ids_never_errors_and_never_deletes(simulator, project_a, operator_client, values):
    simulator.clear_requests()
    response = operator_client.post(
        reverse("dli-job-delete-review", args=[project_a.project_id]), {"job_ids": values}, headers=HX
    )
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "Nothing was deleted" in response.content.decode()
    assert simulator.requests(op="batch_delete") == []


@FIXTURE_SAFE
@given(token=st.one_of(st.text(max_size=200), st.binary(max_size=100).map(lambda b: b.hex())))
def test_a_forged_confirmation_never_errors_and_never_deletes(simulator, project_a, operator_client, token):
    simulator.clear_requests()
    response = operator_client.post(
        reverse("dli-job-delete", args=[project_a.project_id]), {"token": token}, headers=HX
    )
    assert response.status_code == 400
    assert simulator.requests(op="batch_delete") == []


def test_more_ids_than_the_ceiling_are_refused_before_dli_is_asked(
    simulator, project_a, operator_client, settings
):
    settings.DLI_MAX_BATCH = 1000
    ids = [str(100_000 + n) for n in range(1500)]
    response = operator_client.post(
        reverse("dli-job-delete-review", args=[project_a.project_id]), {"job_ids": ids}
    )
    assert response.status_code == 400 and "at most 1000" in response.content.decode()
    assert simulator.requests() == []


def test_tens_of_thousands_of_ids_are_a_bad_request(simulator, project_a, operator):
    client = Client(raise_request_exception=False)
    client.force_login(operator)
    ids = [str(n) for n in range(20_000)]
    response = client.post(reverse("dli-job-delete-review", args=[project_a.project_id]), {"job_ids": ids})
    assert response.status_code == 400
    assert simulator.requests() == []


def test_a_forged_project_id_in_the_body_is_ignored(simulator, project_a, project_b, operator_client):
    """The project comes from the URL and the user's role there; a body field cannot move a delete."""
    job = simulator.add_job(project_b.project_id, name="b", status="job_finish")
    response = operator_client.post(
        reverse("dli-job-delete-review", args=[project_b.project_id]),
        {"job_ids": [str(job)], "project_id": project_a.project_id},
    )
    assert response.status_code == 403  # operator is only a viewer of project B
    assert simulator.requests() == []


@pytest.mark.parametrize("header", [None, "false", "1; drop table", "\u2603"])
def test_a_missing_or_forged_hx_request_header_gets_a_whole_page(
    simulator, project_a, operator_client, header
):
    job = simulator.add_job(project_a.project_id, name="hx", status="job_finish")
    headers = {"HX-Request": header} if header else {}
    response = operator_client.post(
        reverse("dli-job-delete-review", args=[project_a.project_id]),
        {"job_ids": [str(job)]},
        headers=headers,
    )
    assert response.status_code == 200
    assert "<html" in response.content.decode()  # only a real "true" asks for a fragment


def test_a_replayed_confirmation_after_the_jobs_changed_deletes_nothing(
    simulator, project_a, operator_client
):
    ids = [simulator.add_job(project_a.project_id, name=f"r{n}", status="job_finish") for n in range(2)]
    review = operator_client.post(
        reverse("dli-job-delete-review", args=[project_a.project_id]), {"job_ids": [str(i) for i in ids]}
    )
    token = re.search(r'name="token" value="([^"]+)"', review.content.decode()).group(1)
    for job_id in ids:
        simulator.set_job_status(project_a.project_id, job_id, "job_running")
    simulator.clear_requests()
    response = operator_client.post(reverse("dli-job-delete", args=[project_a.project_id]), {"token": token})
    assert response.status_code == 302
    run_queued_batches()
    html = operator_client.get(response["Location"]).content.decode()
    assert html.count("changed since you confirmed") == 2
    assert simulator.requests(op="batch_delete") == []
