"""The canonical serialisation and hash of an audit record, CSV cells and the client address: no database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st

from dli_admin.audit.chain import (
    GENESIS,
    KEYED,
    PLAIN,
    RECORD_FIELDS,
    SNAPSHOT,
    ChainBroken,
    canonical,
    record_hash,
    snapshot_digest,
    snapshot_text,
    walk,
)
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
        "snapshot_digest": "",
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
    version = {"version": SNAPSHOT, "key": KEY}
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
        "snapshot_digest": "e" * 64,
    }.get(field, "x")

    assert record_hash(values(**{field: changed}), **version) != record_hash(values(), **version)
    if field != "snapshot_digest":  # versions 1 and 2 do not hash it (see below)
        assert record_hash(values(**{field: changed})) != record_hash(values())


KEY = b"k" * 32
# Computed with chain.py as it was before version 3 existed: versions 1 and 2 must keep these bytes.
V1_HASH = "c66550fe80d79f5e30dc791f12fda25feadff42b2b4ee102d18c2fd9fb3f0b43"
V2_HASH = "da44b92896e8d356e4d5ef49af53aeceed23a1ba81efe20a952abd0346eddb39"


def test_versions_1_and_2_hash_byte_for_byte_what_they_always_did():
    jobs = [[1, "a", "job_running"]]

    assert record_hash(values(), jobs) == V1_HASH
    assert record_hash(values(), jobs, version=KEYED, key=KEY) == V2_HASH
    assert "snapshot_digest" not in json.loads(canonical(values(), jobs, KEYED))


def test_version_3_hashes_the_snapshot_digest_and_its_version():
    content = json.loads(canonical(values(snapshot_digest="ab" * 32), [], SNAPSHOT))

    assert content["snapshot_digest"] == "ab" * 32
    assert content["hash_version"] == SNAPSHOT
    assert list(content) == sorted(content)
    assert record_hash(values(), version=SNAPSHOT, key=KEY) != record_hash(values(), version=KEYED, key=KEY)


@pytest.mark.parametrize("version", [PLAIN, KEYED])
def test_an_older_version_cannot_carry_a_digest_it_does_not_hash(version):
    with pytest.raises(ValueError, match="no snapshot digest"):
        record_hash(values(snapshot_digest="ab" * 32), version=version, key=KEY)


def _chain(versions, **changes_at):
    """Rows for walk(): one record per version, hashed and linked; changes_at[seq] alters after hashing."""
    rows, prev = [], GENESIS
    for seq, version in enumerate(versions, start=1):
        digest = "cd" * 32 if version == SNAPSHOT else ""
        record = values(seq=seq, prev_hash=prev, snapshot_digest=digest)
        prev = record_hash(record, version=version, key=KEY)
        record = record[:]
        for name, value in changes_at.get(f"r{seq}", {}).items():
            record[RECORD_FIELDS.index(name)] = value
        rows.append((*record, version, prev))
    return rows


def test_a_chain_of_versions_1_2_and_3_verifies():
    status, _ = walk(iter(_chain([PLAIN, KEYED, KEYED, SNAPSHOT, SNAPSHOT])), iter(()), "", key=KEY)

    assert status.records == 5


def test_the_walk_refuses_a_version_going_down():
    with pytest.raises(ChainBroken, match="below an earlier record's 3") as broken:
        walk(iter(_chain([KEYED, SNAPSHOT, KEYED])), iter(()), "", key=KEY)

    assert broken.value.seq == 3


def test_the_walk_refuses_a_digest_added_to_a_record_whose_version_does_not_hash_it():
    rows = _chain([PLAIN, KEYED], r2={"snapshot_digest": "ef" * 32})

    with pytest.raises(ChainBroken, match="does not cover") as broken:
        walk(iter(rows), iter(()), "", key=KEY)

    assert broken.value.seq == 2


def test_the_walk_notices_a_changed_digest_in_a_version_3_record():
    rows = _chain([SNAPSHOT, SNAPSHOT], r2={"snapshot_digest": "ef" * 32})

    with pytest.raises(ChainBroken, match="does not match its hash"):
        walk(iter(rows), iter(()), "", key=KEY)


def test_a_snapshot_is_stored_as_sorted_json_and_its_digest_is_sha256_of_that_text():
    text = snapshot_text({"b": 1, "a": "Zürich \u0000", "sql_body": "SELECT 1"})

    assert text == '{"a":"Zürich \\u0000","b":1,"sql_body":"SELECT 1"}'
    assert snapshot_digest(text) == __import__("hashlib").sha256(text.encode()).hexdigest()
    assert snapshot_text({"x": "\ud800"})  # a lone surrogate still gives storable text


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
