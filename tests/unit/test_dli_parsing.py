"""Reading DLI's replies: jobs, pages, delete replies and the batch reply shapes, never guessing."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dli_admin.dli import DeleteReply, DliError, ErrorCategory, ReplyShape
from dli_admin.dli.parsing import (
    parse_batch_reply,
    parse_delete_reply,
    parse_job,
    parse_job_detail,
    parse_job_page,
)

# The list example of the OTC documentation, verbatim (is_success a string).
DOC_LIST = (
    b'{"is_success":"true","message":"Jobs are successfully listed.",'
    b'"job_list":{"total_count":26,"jobs":[{"job_id":146,"name":"aaaaa","desc":"","user_name":"",'
    b'"job_type":"flink_sql_job","status":"job_init","status_desc":"","create_time":1578892414688,'
    b'"duration":0,"root_id":-1,"graph_editor_enabled":false,"has_savepoint":false}]}}'
)
# The documented batch-delete example: a trailing comma, so not JSON.
DOC_BATCH = b'[{\n    "is_success": "true",\n    "message": "The job is successfully deleted.",\n}]'


def body(document: object) -> bytes:
    return json.dumps(document).encode()


def test_it_reads_the_documented_list_example():
    page = parse_job_page(DOC_LIST, offset=0, limit=100)

    assert page.total_count == 26
    assert (page.offset, page.limit) == (0, 100)
    (job,) = page.jobs
    assert job.job_id == 146
    assert job.name == "aaaaa"
    assert job.status == "job_init"
    assert job.create_time == datetime(2020, 1, 13, 5, 13, 34, 688000, tzinfo=UTC)
    assert job.start_time is None  # absent
    assert job.duration == timedelta(0)
    assert job.root_id is None  # -1 is "no parent"


def test_it_turns_epoch_milliseconds_into_aware_utc_datetimes():
    job = parse_job(
        {"job_id": 1, "create_time": 1516952770835, "start_time": 1516952770836, "duration": 1500}
    )

    assert job.create_time == datetime(2018, 1, 26, 7, 46, 10, 835000, tzinfo=UTC)
    assert job.create_time.tzinfo is UTC
    assert job.start_time - job.create_time == timedelta(milliseconds=1)
    assert job.duration == timedelta(seconds=1.5)


@pytest.mark.parametrize("start", [0, None])
def test_a_job_that_never_started_has_no_start_time(start):
    assert parse_job({"job_id": 1, "start_time": start}).start_time is None


def test_it_tolerates_missing_and_null_fields():
    job = parse_job({"job_id": 7, "name": None, "desc": None, "duration": None, "root_id": None})

    assert job.name == job.desc == job.status == job.queue_name == ""
    assert job.duration is None
    assert job.root_id is None
    assert job.create_time is None


def test_it_keeps_a_parent_job_id():
    assert parse_job({"job_id": 7, "root_id": 3}).root_id == 3


def test_it_shows_a_number_where_text_is_documented():
    assert parse_job({"job_id": 7, "name": 42}).name == "42"


@pytest.mark.parametrize(
    "job",
    [
        {"name": "no id"},
        {"job_id": "146"},
        {"job_id": True},
        {"job_id": 1.5},
        {"job_id": None},
        {"job_id": 1, "create_time": "yesterday"},
        {"job_id": 1, "create_time": -5},
        {"job_id": 1, "create_time": 10**30},
        {"job_id": 1, "duration": -1},
        {"job_id": 1, "name": ["a"]},
    ],
)
def test_a_bad_job_makes_the_page_unparseable(job):
    with pytest.raises(DliError) as caught:
        parse_job_page(body({"job_list": {"total_count": 1, "jobs": [job]}}), offset=0, limit=100)

    assert caught.value.category is ErrorCategory.UNPARSEABLE


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"[]",
        b"not json",
        body({"is_success": "true"}),
        body({"job_list": {"jobs": []}}),
        body({"job_list": {"total_count": -1, "jobs": []}}),
        body({"job_list": {"total_count": 1, "jobs": {}}}),
        body({"is_success": "yes", "job_list": {"total_count": 0, "jobs": []}}),
        b'{"job_list": {"total_count": NaN, "jobs": []}}',
    ],
)
def test_a_malformed_list_reply_is_unparseable(document):
    with pytest.raises(DliError) as caught:
        parse_job_page(document, offset=0, limit=100)

    assert caught.value.category is ErrorCategory.UNPARSEABLE


def test_a_list_reply_saying_is_success_false_is_an_error():
    with pytest.raises(DliError) as caught:
        parse_job_page(body({"is_success": "false", "message": "no"}), offset=0, limit=10)

    assert caught.value.category is ErrorCategory.SERVER


@pytest.mark.parametrize("flag", [True, "true", "True"])
def test_it_accepts_each_form_of_is_success_on_a_list(flag):
    page = parse_job_page(body({"is_success": flag, "job_list": {"total_count": 0}}), offset=0, limit=10)

    assert page.total_count == 0
    assert page.jobs == ()


def test_it_reads_a_job_detail():
    job = parse_job_detail(body({"is_success": "true", "job_detail": {"job_id": 9, "start_time": None}}))

    assert job.job_id == 9


def test_a_detail_without_a_job_is_unparseable():
    with pytest.raises(DliError) as caught:
        parse_job_detail(body({"is_success": "true"}))

    assert caught.value.category is ErrorCategory.UNPARSEABLE


@pytest.mark.parametrize(
    ("flag", "expected"),
    [(True, True), ("true", True), ("True", True), (False, False), ("false", False), ("False", False)],
)
def test_it_accepts_each_form_of_is_success_on_a_delete(flag, expected):
    assert parse_delete_reply(body({"is_success": flag, "message": "m"})) == DeleteReply(expected, "m")


@pytest.mark.parametrize("flag", ["TRUE", "yes", 1, 0, None, "", [True]])
def test_any_other_is_success_is_unparseable(flag):
    with pytest.raises(DliError) as caught:
        parse_delete_reply(body({"is_success": flag, "message": "m"}))

    assert caught.value.category is ErrorCategory.UNPARSEABLE
    assert parse_batch_reply(body([{"is_success": flag}]), 1) == (ReplyShape.UNPARSEABLE, ())


def test_the_documented_single_delete_example_is_unparseable():
    with pytest.raises(DliError) as caught:
        parse_delete_reply(b'{"is_success": "true","message": "The job is successfully deleted.",}')

    assert caught.value.category is ErrorCategory.UNPARSEABLE
    assert "not valid JSON" in str(caught.value)


def test_one_element_per_id_is_per_id():
    shape, replies = parse_batch_reply(
        body([{"is_success": "true", "message": "ok"}, {"is_success": False}]), 2
    )

    assert shape is ReplyShape.PER_ID
    assert replies == (DeleteReply(True, "ok"), DeleteReply(False, ""))


def test_an_array_of_another_length_is_a_count_mismatch():
    shape, replies = parse_batch_reply(body([{"is_success": "true", "message": "ok"}]), 2)

    assert shape is ReplyShape.COUNT_MISMATCH
    assert replies == (DeleteReply(True, "ok"),)


def test_an_empty_array_is_a_count_mismatch():
    assert parse_batch_reply(b"[]", 3) == (ReplyShape.COUNT_MISMATCH, ())


def test_one_object_is_a_single_object():
    shape, replies = parse_batch_reply(body({"is_success": "True", "message": "deleted"}), 5)

    assert shape is ReplyShape.SINGLE_OBJECT
    assert replies == (DeleteReply(True, "deleted"),)


@pytest.mark.parametrize("raw", [b"", b"  \r\n"])
def test_no_body_is_empty(raw):
    assert parse_batch_reply(raw, 2) == (ReplyShape.EMPTY, ())


@pytest.mark.parametrize("raw", [DOC_BATCH, b"<html>Bad gateway</html>", b"\xff\xfe\x00", b"[1,2"])
def test_a_body_that_is_not_json_is_not_json(raw):
    assert parse_batch_reply(raw, 1) == (ReplyShape.NOT_JSON, ())


@pytest.mark.parametrize(
    "document",
    [
        [{"message": "no flag"}],
        [{"is_success": "true", "message": 5}],
        ["true"],
        [{"is_success": "true"}, None],
        {"error_code": "DLI.0001", "error_msg": "bad"},
        "true",
        42,
        None,
    ],
)
def test_json_without_valid_elements_is_unparseable(document):
    assert parse_batch_reply(body(document), 1) == (ReplyShape.UNPARSEABLE, ())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
JOB_KEYS = ["job_id", "name", "status", "create_time", "start_time", "duration", "root_id", "desc"]
JOBISH = st.dictionaries(st.sampled_from(JOB_KEYS), JSON | st.integers(), max_size=8)
LISTISH = st.fixed_dictionaries(
    {},
    optional={
        "is_success": st.sampled_from([True, False, "true", "false", "True", "x", None]),
        "job_list": st.fixed_dictionaries(
            {}, optional={"total_count": JSON | st.integers(), "jobs": st.lists(JOBISH, max_size=3) | JSON}
        )
        | JSON,
        "job_detail": JOBISH | JSON,
    },
)


def _only_dli_errors(raw: bytes) -> None:
    for parse in (
        lambda: parse_job_page(raw, offset=0, limit=100),
        lambda: parse_job_detail(raw),
        lambda: parse_delete_reply(raw),
    ):
        with contextlib.suppress(DliError):
            parse()
    shape, replies = parse_batch_reply(raw, 2)
    assert isinstance(shape, ReplyShape)
    assert (shape is ReplyShape.PER_ID) == (len(replies) == 2 and raw.strip()[:1] == b"[")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_the_parsers_raise_nothing_but_dli_error_on_arbitrary_bytes(raw):
    _only_dli_errors(raw)


@settings(max_examples=300, deadline=None)
@given(JSON | LISTISH | st.lists(JSON | st.fixed_dictionaries({"is_success": JSON}), max_size=3))
def test_the_parsers_raise_nothing_but_dli_error_on_arbitrary_json(document):
    _only_dli_errors(json.dumps(document).encode())


def test_deep_nesting_is_unparseable_not_a_crash():
    raw = b"[" * 100_000 + b"]" * 100_000

    assert parse_batch_reply(raw, 1)[0] in (ReplyShape.NOT_JSON, ReplyShape.UNPARSEABLE)
    with pytest.raises(DliError):
        parse_job_page(raw, offset=0, limit=1)
