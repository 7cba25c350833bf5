"""DliError: read from every error body shape the SDK knows, categorised, and said in a sentence."""

from __future__ import annotations

import json
import pickle

import pytest

from dli_admin.dli import DliError, ErrorCategory
from dli_admin.dli.errors import error_from_reply


def reply(status: int, document: object, headers: dict | None = None) -> DliError:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return error_from_reply(status, headers or {}, raw)


@pytest.mark.parametrize(
    "document",
    [
        {"error_code": "DLI.0001", "error_msg": "Parameter check error"},
        {"errorCode": "DLI.0001", "errorMsg": "Parameter check error"},
        {"code": "DLI.0001", "message": "Parameter check error"},
        {"details": {"error_code": "DLI.0001", "error_msg": "Parameter check error"}},
    ],
)
def test_it_reads_the_code_and_message_under_each_key_the_sdk_tries(document):
    err = reply(400, document)

    assert (err.status, err.code, err.message) == (400, "DLI.0001", "Parameter check error")
    assert err.category is ErrorCategory.INVALID


def test_it_reads_an_iam_error():
    err = reply(
        401,
        {"error": {"code": 401, "title": "Unauthorized", "message": "The username or password is wrong."}},
    )

    assert err.code == "401"
    assert err.message == "The username or password is wrong."
    assert err.category is ErrorCategory.AUTH


def test_it_takes_the_request_id_from_the_header_first_then_the_body():
    document = {"error_code": "APIG.0308", "error_msg": "throttled", "request_id": "from-body"}

    assert reply(429, document, {"X-Request-Id": "from-header"}).request_id == "from-header"
    assert reply(429, document).request_id == "from-body"


def test_an_unknown_body_gives_the_status_and_an_excerpt():
    err = reply(502, b"<html>\n<body>Bad gateway " + b"x" * 500 + b"</body></html>")

    assert err.code is None
    assert err.message.startswith("HTTP 502, body: <html> <body>Bad gateway")
    assert len(err.message) < 260
    assert err.category is ErrorCategory.SERVER


def test_an_empty_error_body_says_so():
    assert reply(503, b"").message == "HTTP 503, empty body"


@pytest.mark.parametrize(
    ("status", "code", "category"),
    [
        (400, "DLI.16001", ErrorCategory.NOT_FOUND),
        (400, "DLI.0002", ErrorCategory.NOT_FOUND),
        (401, "APIG.0301", ErrorCategory.AUTH),
        (401, "APIG.0307", ErrorCategory.AUTH),
        (400, "DLI.0015", ErrorCategory.AUTH),
        (403, "APIG.0302", ErrorCategory.FORBIDDEN),
        (403, None, ErrorCategory.FORBIDDEN),
        (429, "APIG.0308", ErrorCategory.THROTTLED),
        (429, None, ErrorCategory.THROTTLED),
        (400, "DLI.0001", ErrorCategory.INVALID),
        # A gateway 404 means a wrong endpoint or path: it must never read as "the job is gone".
        (404, "APIG.0101", ErrorCategory.INVALID),
        (404, "DLI.0023", ErrorCategory.INVALID),
        (500, "DLI.0999", ErrorCategory.SERVER),
        (504, "APIG.0201", ErrorCategory.SERVER),
    ],
)
def test_it_categorises_by_code_then_status(status, code, category):
    document = {"error_code": code, "error_msg": "m"} if code else {}

    assert reply(status, document).category is category


def test_the_auth_sentence_tells_the_operator_what_to_check():
    err = reply(
        401, {"error_code": "APIG.0301", "error_msg": "verify aksk signature fail"}, {"X-Request-Id": "r1"}
    )

    assert str(err) == (
        "DLI rejected the credentials (APIG.0301): verify aksk signature fail; "
        "check DLI_AK/DLI_SK or the token. DLI request id: r1."
    )


def test_every_category_has_a_sentence():
    for category in ErrorCategory:
        text = str(DliError(category, "detail", status=500))

        assert text.endswith(".")
        assert "detail" in text
        assert "HTTP 500" in text


def test_it_redacts_secrets_a_gateway_echoes():
    err = error_from_reply(
        401,
        {},
        b'{"error_code":"APIG.0301","error_msg":"Get secretKey failed,ak:AKSECRET123,err:ak not exist"}',
        secrets=("AKSECRET123",),
    )

    assert "AKSECRET123" not in str(err)
    assert "AKSECRET123" not in repr(err)
    assert "ak:***" in err.message


def test_the_repr_shows_the_fields():
    err = DliError(ErrorCategory.NOT_FOUND, "gone", status=400, code="DLI.16001", request_id="r")

    assert repr(err) == (
        "DliError(category='not_found', status=400, code='DLI.16001', request_id='r', message='gone')"
    )


def test_it_survives_pickling():
    err = DliError(ErrorCategory.THROTTLED, "slow down", status=429, code="APIG.0308", request_id="r")

    again = pickle.loads(pickle.dumps(err))  # noqa: S301  our own bytes

    assert (again.category, again.status, again.code, again.request_id, str(again)) == (
        err.category,
        429,
        "APIG.0308",
        "r",
        str(err),
    )
