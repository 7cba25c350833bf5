"""Golden vectors of the chain's format: the exact bytes and hashes of hash versions 1 and 2, pinned as
they were before any speed work, and the format as a plain json.dumps to compare any encoding with
(version 3, which adds the snapshot digest, included)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dli_admin.audit.chain import GENESIS, KEYED, PLAIN, RECORD_FIELDS, SNAPSHOT, canonical, record_hash

KEY = b"golden-test-key-0123456789abcdef"
WHEN = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)


def record(**changes) -> list:
    fields = {
        "seq": 7,
        "created_at": WHEN,
        "kind": "result",
        "source": "delete",
        "batch_id": uuid.UUID("12345678-1234-4678-9234-567812345678"),
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
    fields.update(changes)
    return [fields[name] for name in RECORD_FIELDS]


RESULT = (record(), [])
INTENT = (
    record(
        seq=1,
        kind="intent",
        source="",
        job_id=None,
        job_name="",
        outcome="",
        dli_request_id="",
        attempts=0,
        duration_ms=0,
        project_name="Projekt Müller",
        client_ip="2001:db8::7",
        user_agent='Mozilla/5.0 "quoted" \\ back',
        created_at=datetime(2026, 3, 4, 6, 6, 7, tzinfo=timezone(timedelta(hours=1))),
        batch_id="12345678123446789234567812345678",  # text without hyphens, as SQLite stores it
    ),
    [[1, "a", "job_running"], [2**63 - 1, "名前\u2028\x00\t", "job_finished"]],
)
REFUSAL = (
    record(
        seq=9,
        kind="refusal",
        source="",
        batch_id=None,
        actor_id=None,
        actor_username="",
        job_id=None,
        job_name="",
        outcome="",
        reason="role viewer may not delete \U0001f600",
        refused_job_ids=["1", 'x"y', "ü"],
        attempts=0,
        duration_ms=0,
    ),
    [],
)

# (record, sha256 of the version-1 bytes, sha256 of the version-2 bytes, version-1 hash, version-2 hash)
GOLDEN = [
    (
        RESULT,
        "d63f31a7dcae698a42cbfdac3ca57c61e56684b6ca30b047f09337a02476c1d4",
        None,
        "d63f31a7dcae698a42cbfdac3ca57c61e56684b6ca30b047f09337a02476c1d4",
        "4d83fc53515e27f58e7c96ea65b70e7c5b1d15d1ba22918539d3c78f89d0ba5c",
    ),
    (
        INTENT,
        "5a65b25b96ef5702c4400517311523b0374833b2e8f09c727e92bbfbcb5abe23",
        None,
        "5a65b25b96ef5702c4400517311523b0374833b2e8f09c727e92bbfbcb5abe23",
        "d9f68200a2a02a9dd5656550338d1ba2234f28bef576c60504468f7dc1038ccf",
    ),
    (
        REFUSAL,
        "541b9e64a975736422a92673af49b5c2ef5730f82dcdfbd141826f099beb3040",
        None,
        "541b9e64a975736422a92673af49b5c2ef5730f82dcdfbd141826f099beb3040",
        "5c7c3724d54509445f7856bc2717fc574c17adb7094a6edee03e8d541260e9db",
    ),
]


def test_a_result_record_has_exactly_these_bytes_in_both_versions():
    values, jobs = RESULT
    v1 = (
        b'{"actor_id":3,"actor_username":"olivia","attempts":1,'
        b'"batch_id":"12345678-1234-4678-9234-567812345678","client_ip":"",'
        b'"created_at":"2026-03-04T05:06:07.000890Z","dli_request_id":"req-1","duration_ms":120,'
        b'"error_code":"","job_id":42,"job_name":"etl-nightly","jobs":[],"kind":"result","message":"",'
        b'"outcome":"deleted","prev_hash":"' + GENESIS.encode() + b'",'
        b'"project_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","project_name":"","reason":"",'
        b'"refused_job_ids":[],"seq":7,"source":"delete","user_agent":""}'
    )

    assert canonical(values, jobs) == v1
    v2 = v1.replace(b'"error_code":"",', b'"error_code":"","hash_version":2,')
    assert canonical(values, jobs, KEYED) == v2


def test_an_intent_has_exactly_these_bytes():
    values, jobs = INTENT

    assert canonical(values, jobs) == (
        b'{"actor_id":3,"actor_username":"olivia","attempts":0,'
        b'"batch_id":"12345678-1234-4678-9234-567812345678","client_ip":"2001:db8::7",'
        b'"created_at":"2026-03-04T05:06:07.000000Z","dli_request_id":"","duration_ms":0,"error_code":"",'
        b'"job_id":null,"job_name":"","jobs":[[1,"a","job_running"],[9223372036854775807,'
        b'"\\u540d\\u524d\\u2028\\u0000\\t","job_finished"]],"kind":"intent","message":"","outcome":"",'
        b'"prev_hash":"' + GENESIS.encode() + b'","project_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",'
        b'"project_name":"Projekt M\\u00fcller","reason":"","refused_job_ids":[],"seq":1,"source":"",'
        b'"user_agent":"Mozilla/5.0 \\"quoted\\" \\\\ back"}'
    )


@pytest.mark.parametrize(("case", "v1_bytes", "_v2_bytes", "v1_hash", "v2_hash"), GOLDEN)
def test_hashes_of_both_versions_are_as_pinned(case, v1_bytes, _v2_bytes, v1_hash, v2_hash):
    values, jobs = case

    assert hashlib.sha256(canonical(values, jobs)).hexdigest() == v1_bytes
    assert record_hash(values, jobs) == v1_hash
    assert record_hash(values, jobs, version=PLAIN) == v1_hash
    assert record_hash(values, jobs, version=KEYED, key=KEY) == v2_hash


def reference(values, jobs, version):
    """The format as documented, built the slow, obvious way."""
    content = dict(zip(RECORD_FIELDS, values, strict=True))
    content["created_at"] = content["created_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if content["batch_id"] is not None:
        content["batch_id"] = str(uuid.UUID(str(content["batch_id"])))
    content["jobs"] = [list(job) for job in jobs]
    if version != SNAPSHOT:
        assert content.pop("snapshot_digest") == ""
    if version != PLAIN:
        content["hash_version"] = version
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


text = st.text(max_size=30)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(
    when=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9998, 1, 1), timezones=st.timezones()
    ),
    batch=st.one_of(st.none(), st.uuids()),
    strings=st.lists(text, min_size=15, max_size=15),
    numbers=st.lists(st.one_of(st.none(), ints), min_size=3, max_size=3),
    refused=st.lists(text, max_size=4),
    jobs=st.lists(st.tuples(ints, text, text), max_size=3),
    version=st.sampled_from([PLAIN, KEYED, SNAPSHOT]),
)
def test_canonical_is_the_documented_json(when, batch, strings, numbers, refused, jobs, version):
    names = iter(strings)
    fields = {
        name: next(names)
        for name in RECORD_FIELDS
        if name
        not in {
            "seq",
            "created_at",
            "batch_id",
            "actor_id",
            "job_id",
            "attempts",
            "duration_ms",
            "refused_job_ids",
        }
    }
    if version != SNAPSHOT:
        fields["snapshot_digest"] = ""  # versions 1 and 2 carry none
    values = record(
        **fields,
        created_at=when,
        batch_id=batch,
        actor_id=numbers[0],
        job_id=numbers[1],
        attempts=numbers[2] or 0,
        refused_job_ids=refused,
    )

    assert canonical(values, jobs, version) == reference(values, jobs, version)
