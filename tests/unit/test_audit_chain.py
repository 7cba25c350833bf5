"""The canonical serialisation and hash of an audit record, CSV cells and the client address: no database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from dli_admin.audit.chain import GENESIS, RECORD_FIELDS, canonical, record_hash
from dli_admin.audit.export import csv_cell
from dli_admin.audit.services import client_ip_for

WHEN = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)
BATCH = uuid.UUID("12345678-1234-4678-9234-567812345678")


def values(**changes) -> list:
    record = {
        "seq": 7,
        "created_at": WHEN,
        "kind": "result",
        "source": "delete",
        "batch_id": BATCH,
        "actor_id": 3,
        "actor_username": "olivia",
        "project_id": "a" * 32,
        "project_name": "",
        "client_ip": "",
        "user_agent": "",
        "reason": "",
        "refused_job_ids": [],
        "job_id": 42,
        "job_name": "etl-nightly",
        "outcome": "deleted",
        "message": "",
        "error_code": "",
        "dli_request_id": "req-1",
        "attempts": 1,
        "duration_ms": 120,
        "prev_hash": GENESIS,
    }
    record.update(changes)
    return [record[name] for name in RECORD_FIELDS]


def test_it_serialises_with_sorted_keys_utc_microseconds_and_no_whitespace():
    text = canonical(values(), [[1, "a", "job_running"]]).decode()

    content = json.loads(text)
    assert list(content) == sorted(content)
    assert content["created_at"] == "2026-03-04T05:06:07.000890Z"
    assert content["batch_id"] == str(BATCH)
    assert content["jobs"] == [[1, "a", "job_running"]]
    assert " " not in text.replace("etl-nightly", "")


def test_the_same_instant_in_another_time_zone_hashes_the_same():
    berlin = WHEN.astimezone(timezone(timedelta(hours=1)))

    assert record_hash(values(created_at=berlin)) == record_hash(values())


@pytest.mark.parametrize("field", RECORD_FIELDS)
def test_changing_any_field_changes_the_hash(field):
    changed = {
        "seq": 8,
        "created_at": WHEN + timedelta(microseconds=1),
        "batch_id": uuid.UUID(int=1),
        "refused_job_ids": ["1"],
        "actor_id": 4,
        "job_id": 43,
        "attempts": 2,
        "duration_ms": 121,
        "prev_hash": "f" * 64,
    }.get(field, "x")

    assert record_hash(values(**{field: changed})) != record_hash(values())


def test_a_number_and_its_text_hash_differently():
    assert record_hash(values(job_id=42)) != record_hash(values(job_id="42"))


def test_the_jobs_of_an_intent_are_hashed_in_order():
    one, two = [1, "a", "job_running"], [2, "b", "job_finished"]

    assert record_hash(values(), [one, two]) != record_hash(values(), [two, one])
    assert record_hash(values(), [one]) != record_hash(values())


def test_it_refuses_a_naive_time():
    with pytest.raises(TypeError):
        canonical(values(created_at=datetime(2026, 1, 1)), [])


@given(
    username=st.text(max_size=40),
    message=st.text(max_size=200),
    job_id=st.integers(min_value=0, max_value=2**63 - 1),
    refused=st.lists(st.text(max_size=10), max_size=5),
)
def test_canonical_text_is_ascii_json_that_round_trips_every_value(username, message, job_id, refused):
    record = values(actor_username=username, message=message, job_id=job_id, refused_job_ids=refused)

    content = json.loads(canonical(record, []).decode("ascii"))

    assert content["actor_username"] == username
    assert content["message"] == message
    assert content["job_id"] == job_id
    assert content["refused_job_ids"] == refused


@pytest.mark.parametrize("text", ["=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_evaluate_get_a_quote(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "a=b", "", 42, 0])
def test_other_csv_cells_are_left_alone(value):
    assert csv_cell(value) == value


def test_csv_cells_show_times_in_utc_to_the_second_and_uuids_as_text(settings):
    settings.TIME_ZONE = "Europe/Berlin"

    assert csv_cell(WHEN) == "2026-03-04T05:06:07Z"
    assert csv_cell(WHEN.astimezone(timezone(timedelta(hours=1)))) == "2026-03-04T05:06:07Z"
    assert csv_cell(BATCH) == str(BATCH)
    assert csv_cell(None) == ""


def test_the_client_address_is_remote_addr_by_default(settings):
    settings.DLI_ADMIN_CLIENT_IP_HEADER = ""
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert client_ip_for(request) == "192.0.2.1"


def test_the_client_address_is_the_first_of_the_configured_header(settings):
    settings.DLI_ADMIN_CLIENT_IP_HEADER = "X-Forwarded-For"
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=" 2001:db8::7 , 198.51.100.2, 10.0.0.1"
    )

    assert client_ip_for(request) == "2001:db8::7"


@pytest.mark.parametrize("forwarded", ["", "not-an-address", "=cmd|' /C calc'!A0", "203.0.113.9:8080"])
def test_a_missing_or_malformed_header_falls_back_to_remote_addr(settings, forwarded):
    settings.DLI_ADMIN_CLIENT_IP_HEADER = "X-Forwarded-For"
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip_for(request) == "10.0.0.1"
