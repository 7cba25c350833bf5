"""DliClient's decisions, without a network: retries, pauses, deadlines, and when a delete is re-sent.

A scripted requests adapter answers each send with the next scripted reply, or raises the exception
requests really raises for that failure (the integration tests produce the same failures on a socket).
"""

from __future__ import annotations

import io
import json
import random
import ssl
from http.client import RemoteDisconnected
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError

from dli_admin import aksk
from dli_admin.dli import (
    AkSkAuth,
    ChunkOutcome,
    DeleteReply,
    DliClient,
    DliError,
    ErrorCategory,
    ReplyShape,
    TokenAuth,
)
from dli_admin.dli.retry import never_sent

URL = "http://dli.test"
PROJECT = "0123456789abcdef0123456789abcdef"
AK, SK = "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"

# What requests raises for each failure, as its HTTPAdapter (max_retries=0) builds it.
REFUSED = requests.ConnectionError(
    MaxRetryError(
        None, "/", NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")
    )
)
CONNECT_TIMEOUT = requests.ConnectTimeout(
    MaxRetryError(None, "/", ConnectTimeoutError(None, "/", "timed out"))
)
READ_TIMEOUT = requests.ReadTimeout(ReadTimeoutError(None, "/", "Read timed out. (read timeout=0.5)"))
DROPPED = requests.ConnectionError(
    ProtocolError("Connection aborted.", RemoteDisconnected("Remote end closed connection without response"))
)
RESET = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))
BAD_CERT = requests.exceptions.SSLError(
    MaxRetryError(None, "/", Urllib3SSLError(ssl.SSLCertVerificationError(1, "certificate verify failed")))
)


def ok(document: object = None, status: int = 200, headers: dict | None = None) -> tuple:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return (status, {"X-Request-Id": f"req-{status}", **(headers or {})}, raw)


def err(status: int, code: str, headers: dict | None = None) -> tuple:
    return ok({"error_code": code, "error_msg": f"{code} happened"}, status, headers)


LIST = ok({"is_success": "true", "job_list": {"total_count": 1, "jobs": [{"job_id": 5}]}})
PER_ID_2 = ok([{"is_success": "true", "message": "a"}, {"is_success": "false", "message": "b"}])
THROTTLED = err(429, "APIG.0308", {"Retry-After": "2"})


class CutOff:
    """A urllib3 response body whose connection breaks while it is read."""

    def stream(self, *args, **kwargs):
        raise ProtocolError("Connection broken: IncompleteRead(3 bytes read, 20 more expected)")

    def close(self):
        pass


CUT_OFF = object()


class Script(HTTPAdapter):
    """Answers sends from a script; records each prepared request and its send arguments."""

    def __init__(self, steps):
        super().__init__(max_retries=0)
        self.steps = list(steps)
        self.sent: list[tuple[requests.PreparedRequest, dict]] = []

    def send(self, request, **kwargs):
        self.sent.append((request, kwargs))
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        status, headers, raw = step
        response = requests.Response()
        response.status_code, response.headers = status, CaseInsensitiveDict(headers)
        response.raw = CutOff() if raw is CUT_OFF else io.BytesIO(raw)
        response.request, response.url = request, request.url
        return response


class FakeTime:
    """A monotonic clock that only moves when the client sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client(steps, *, auth=None, **options):
    script = Script(steps)
    session = requests.Session()
    session.mount("http://", script)
    fake = FakeTime()
    options = {"read_timeout": 0.5, "connect_timeout": 0.25, **options}
    dli = DliClient(
        URL,
        PROJECT,
        auth=auth or TokenAuth("tok"),
        session=session,
        sleep=fake.sleep,
        clock=fake.clock,
        rng=random.Random(7),
        **options,
    )
    return dli, script, fake


# --- which failures prove nothing was sent -------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (REFUSED, True),
        (CONNECT_TIMEOUT, True),
        (BAD_CERT, True),
        (READ_TIMEOUT, False),
        (DROPPED, False),
        (RESET, False),
        (requests.exceptions.ChunkedEncodingError(ProtocolError("Connection broken")), False),
        (requests.ConnectionError(ReadTimeoutError(None, "/", "Read timed out.")), False),
    ],
)
def test_only_a_connection_never_made_proves_nothing_was_sent(exc, expected):
    assert never_sent(exc) is expected


# --- reads --------------------------------------------------------------------------------------


def test_every_call_has_a_connect_and_a_read_timeout():
    dli, script, _ = client([LIST, PER_ID_2])
    dli.list_jobs()
    dli.batch_delete([1, 2])

    for _, kwargs in script.sent:
        assert kwargs["timeout"] == (0.25, 0.5)


def test_a_redirect_is_not_followed():
    # requests would turn a redirected POST into a GET elsewhere; an unexpected 3xx leaves the fate unknown.
    dli, script, _ = client([ok(b"", 302, {"Location": "http://elsewhere.test/"}), PER_ID_2])

    (result,) = dli.batch_delete([1, 2])

    assert result.outcome is ChunkOutcome.AMBIGUOUS
    assert len(script.sent) == 1


def test_a_read_is_retried_on_503_with_jittered_capped_backoff():
    dli, script, fake = client([err(503, "APIG.0201"), err(502, "APIG.0201"), err(504, "x"), LIST])

    assert dli.list_jobs().total_count == 1
    assert len(script.sent) == 4
    assert len(fake.sleeps) == 3
    for retry, pause in enumerate(fake.sleeps):
        assert 0 <= pause <= min(8.0, 0.5 * 2**retry)


def test_the_backoff_never_exceeds_the_cap():
    dli, _, fake = client([err(503, "x")] * 8 + [LIST], max_attempts=9, backoff_base=1.0, backoff_cap=1.5)

    dli.list_jobs()
    assert max(fake.sleeps) <= 1.5


def test_a_read_honours_retry_after():
    dli, script, fake = client([THROTTLED, LIST])

    dli.list_jobs()
    assert fake.sleeps == [2.0]


@pytest.mark.parametrize("failure", [READ_TIMEOUT, DROPPED, RESET, REFUSED, CONNECT_TIMEOUT])
def test_a_read_is_retried_after_a_network_failure(failure):
    dli, script, _ = client([failure, LIST])

    assert dli.list_jobs().jobs[0].job_id == 5
    assert len(script.sent) == 2


def test_a_read_gives_up_after_max_attempts():
    dli, script, fake = client([THROTTLED] * 4, max_attempts=4)

    with pytest.raises(DliError) as caught:
        dli.list_jobs()

    assert caught.value.category is ErrorCategory.THROTTLED
    assert caught.value.code == "APIG.0308"
    assert "gave up after 4 tries" in str(caught.value)
    assert len(script.sent) == 4
    assert len(fake.sleeps) == 3


def test_a_read_never_sleeps_past_the_deadline():
    dli, script, fake = client([err(429, "APIG.0308", {"Retry-After": "20"}), LIST], deadline=10)

    with pytest.raises(DliError) as caught:
        dli.list_jobs()

    assert caught.value.category is ErrorCategory.THROTTLED
    assert fake.sleeps == []
    assert len(script.sent) == 1


def test_the_deadline_shortens_the_last_timeouts():
    dli, script, fake = client([err(503, "x"), LIST], deadline=1.0, backoff_base=0.8, read_timeout=5)
    dli.list_jobs()

    _, kwargs = script.sent[1]
    assert kwargs["timeout"][1] == pytest.approx(1.0 - fake.sleeps[0])


@pytest.mark.parametrize("status", [400, 500, 401, 403])
def test_a_read_is_not_retried_on_other_errors(status):
    dli, script, _ = client([err(status, "X.1")])

    with pytest.raises(DliError):
        dli.list_jobs()
    assert len(script.sent) == 1


def test_a_bad_certificate_is_not_retried():
    dli, script, _ = client([BAD_CERT])

    with pytest.raises(DliError) as caught:
        dli.list_jobs()
    assert caught.value.category is ErrorCategory.NETWORK
    assert "certificate" in str(caught.value)
    assert len(script.sent) == 1


def test_a_read_timeout_is_a_timeout_error():
    dli, _, _ = client([READ_TIMEOUT], max_attempts=1)

    with pytest.raises(DliError) as caught:
        dli.list_jobs()
    assert caught.value.category is ErrorCategory.TIMEOUT


def test_an_unparseable_page_carries_the_request_id():
    dli, _, _ = client([ok(b"{}")])

    with pytest.raises(DliError) as caught:
        dli.list_jobs()
    assert caught.value.category is ErrorCategory.UNPARSEABLE
    assert caught.value.request_id == "req-200"


def test_a_gone_job_is_not_found():
    dli, _, _ = client([err(400, "DLI.16001")])

    with pytest.raises(DliError) as caught:
        dli.show_job(5)
    assert caught.value.category is ErrorCategory.NOT_FOUND


def test_show_refuses_a_reply_about_another_job():
    dli, _, _ = client([ok({"is_success": "true", "job_detail": {"job_id": 6}})])

    with pytest.raises(DliError) as caught:
        dli.show_job(5)
    assert caught.value.category is ErrorCategory.UNPARSEABLE


def test_list_sends_filters_as_the_canonical_query():
    dli, script, _ = client([LIST])
    dli.list_jobs(offset=200, status="job_running", name="nightly etl", tags={"team": "data", "env": "prod"})

    prepared, _ = script.sent[0]
    assert prepared.path_url == (
        f"/v1.0/{PROJECT}/streaming/jobs?limit=100&name=nightly%20etl&offset=200"
        "&status=job_running&tags=team%3Ddata%2Cenv%3Dprod"
    )


@pytest.mark.parametrize(
    "kwargs", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"order": "up"}, {"tags": {"a,b": "c"}}]
)
def test_list_refuses_bad_arguments_before_sending(kwargs):
    dli, script, _ = client([])

    with pytest.raises(ValueError):
        dli.list_jobs(**kwargs)
    assert script.sent == []


@pytest.mark.parametrize(
    "endpoint",
    ["dli.example.com", "ftp://dli.example.com", "https://user:pw@dli.example.com", "https://h/?q=1"],
)
def test_it_refuses_a_bad_endpoint(endpoint):
    with pytest.raises(ValueError):
        DliClient(endpoint, PROJECT, auth=TokenAuth("t"))


def test_the_client_repr_shows_no_secret():
    dli = DliClient(URL, PROJECT, auth=AkSkAuth(AK, SK))

    assert AK not in repr(dli) and SK not in repr(dli)
    assert PROJECT in repr(dli)


# --- deletes ----------------------------------------------------------------------------------


def test_a_delete_refused_at_connect_is_sent_again():
    dli, script, fake = client([REFUSED, CONNECT_TIMEOUT, PER_ID_2])

    (result,) = dli.batch_delete([1, 2])

    assert result.outcome is ChunkOutcome.REPLIED
    assert result.shape is ReplyShape.PER_ID
    assert result.attempts == 1  # the two refused connections never carried the request
    assert len(fake.sleeps) == 2


@pytest.mark.parametrize("failure", [READ_TIMEOUT, DROPPED, RESET])
def test_a_delete_that_may_have_arrived_is_never_sent_again(failure):
    dli, script, fake = client([failure, PER_ID_2])

    (result,) = dli.batch_delete([1, 2])

    assert result.outcome is ChunkOutcome.AMBIGUOUS
    assert result.error.category is ErrorCategory.AMBIGUOUS
    assert result.attempts == 1
    assert len(script.sent) == 1
    assert fake.sleeps == []
    assert "read the jobs back" in str(result.error)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_delete_answered_with_5xx_is_ambiguous_and_not_sent_again(status):
    dli, script, _ = client([err(status, "APIG.0201"), PER_ID_2])

    (result,) = dli.batch_delete([1, 2])

    assert result.outcome is ChunkOutcome.AMBIGUOUS
    assert (result.http_status, result.error.status, result.error.code) == (status, status, "APIG.0201")
    assert result.request_id == f"req-{status}"
    assert len(script.sent) == 1


def test_a_throttled_delete_is_sent_again_after_the_pause():
    dli, script, fake = client([THROTTLED, THROTTLED, PER_ID_2])

    (result,) = dli.batch_delete([1, 2])

    assert result.outcome is ChunkOutcome.REPLIED
    assert result.attempts == 3
    assert fake.sleeps == [2.0, 2.0]
    assert result.reply_for(2) == DeleteReply(False, "b")


def test_a_delete_throttled_to_the_end_is_refused():
    dli, script, _ = client([THROTTLED] * 3, max_attempts=3)

    (result,) = dli.batch_delete([1, 2])

    assert result.outcome is ChunkOutcome.REFUSED
    assert result.error.category is ErrorCategory.THROTTLED
    assert result.attempts == 3


def test_a_delete_that_never_connects_is_refused_without_a_send():
    dli, script, _ = client([REFUSED] * 4)

    (result,) = dli.batch_delete([1, 2])

    assert result.outcome is ChunkOutcome.REFUSED
    assert result.error.category is ErrorCategory.NETWORK
    assert result.attempts == 0
    assert len(script.sent) == 4


def test_a_delete_with_a_bad_certificate_is_refused_at_once():
    dli, script, _ = client([BAD_CERT, PER_ID_2])

    (result,) = dli.batch_delete([1, 2])

    assert (result.outcome, result.attempts, len(script.sent)) == (ChunkOutcome.REFUSED, 0, 1)


def test_a_delete_refused_with_400_is_not_sent_again():
    dli, script, _ = client([err(400, "DLI.0001"), PER_ID_2])

    (result,) = dli.batch_delete([1, 2])

    assert result.outcome is ChunkOutcome.REFUSED
    assert result.error.category is ErrorCategory.INVALID
    assert len(script.sent) == 1


@pytest.mark.parametrize(("write", "expected_sends"), [(True, 1), (False, 2)])
def test_a_reply_body_cut_off_after_200_is_ambiguous_for_a_delete_and_retried_for_a_read(
    write, expected_sends
):
    dli, script, _ = client([(200, {}, CUT_OFF), LIST if not write else PER_ID_2])

    if write:
        (result,) = dli.batch_delete([1, 2])
        assert result.outcome is ChunkOutcome.AMBIGUOUS
        assert result.http_status == 200
        assert result.attempts == 1
    else:
        assert dli.list_jobs().total_count == 1
    assert len(script.sent) == expected_sends


def test_chunks_follow_batch_size_in_order_and_duplicates_are_dropped():
    replies = [
        ok([{"is_success": "true"}] * 2),
        ok([{"is_success": "true"}] * 2),
        ok([{"is_success": "true"}]),
    ]
    dli, script, _ = client(replies, batch_size=2)

    results = dli.batch_delete([5, 3, 5, 9, 1, 3, 7])

    assert [r.job_ids for r in results] == [(5, 3), (9, 1), (7,)]
    assert [json.loads(p.body)["job_ids"] for p, _ in script.sent] == [[5, 3], [9, 1], [7]]


def test_no_ids_send_nothing():
    dli, script, _ = client([])

    assert dli.batch_delete([]) == []
    assert script.sent == []


@pytest.mark.parametrize("bad", [["1"], [1.0], [True], [None]])
def test_ids_must_be_integers(bad):
    dli, script, _ = client([])

    with pytest.raises(TypeError):
        dli.iter_batch_delete(bad)
    assert script.sent == []


def test_after_a_credentials_refusal_no_further_chunk_is_sent():
    dli, script, _ = client([err(401, "APIG.0301"), PER_ID_2], batch_size=2)

    results = dli.batch_delete([1, 2, 3, 4, 5])

    assert len(script.sent) == 1
    assert [r.outcome for r in results] == [ChunkOutcome.REFUSED] * 3
    assert [r.attempts for r in results] == [1, 0, 0]
    assert all(r.error.category is ErrorCategory.AUTH for r in results)


def test_iter_batch_delete_sends_a_chunk_only_when_asked():
    dli, script, _ = client([PER_ID_2, PER_ID_2], batch_size=2)

    results = dli.iter_batch_delete([1, 2, 3, 4])
    assert script.sent == []
    next(results)
    assert len(script.sent) == 1


def test_batch_stop_sends_the_savepoint_flag():
    dli, script, _ = client([PER_ID_2])

    (result,) = dli.batch_stop([1, 2], trigger_savepoint=True)

    prepared, _ = script.sent[0]
    assert prepared.path_url.endswith("/streaming/jobs/stop")
    assert json.loads(prepared.body) == {"job_ids": [1, 2], "trigger_savepoint": True}
    assert result.shape is ReplyShape.PER_ID


def test_reply_for_answers_only_per_id_replies():
    dli, _, _ = client([ok([{"is_success": "true"}]), PER_ID_2])

    (mismatch,) = dli.batch_delete([1, 2])
    (per_id,) = dli.batch_delete([1, 2])

    assert mismatch.shape is ReplyShape.COUNT_MISMATCH
    assert mismatch.reply_for(1) is None
    assert per_id.reply_for(1) == DeleteReply(True, "a")
    assert per_id.reply_for(99) is None


def test_delete_job_returns_the_reply():
    dli, script, _ = client([ok({"is_success": "false", "message": "locked"})])

    assert dli.delete_job(5) == DeleteReply(False, "locked")
    assert script.sent[0][0].method == "DELETE"


@pytest.mark.parametrize(
    ("step", "category"),
    [
        (READ_TIMEOUT, ErrorCategory.AMBIGUOUS),
        (err(503, "APIG.0201"), ErrorCategory.AMBIGUOUS),
        (err(400, "DLI.16001"), ErrorCategory.NOT_FOUND),
        (ok(b'{"is_success": "true",}'), ErrorCategory.UNPARSEABLE),
    ],
)
def test_delete_job_raises_what_the_caller_must_do(step, category):
    dli, script, _ = client([step, step])

    with pytest.raises(DliError) as caught:
        dli.delete_job(5)
    assert caught.value.category is category
    assert len(script.sent) == 1


class Refreshable(TokenAuth):
    """A token auth that, like IamPasswordAuth, can be told its token was refused."""

    refreshable = True

    def __init__(self):
        super().__init__("t1")
        self.invalidated: list[str | None] = []

    def invalidate(self, token=None):
        self.invalidated.append(token)
        self._token = "t2"


def test_a_401_renews_a_refreshable_token_and_retries_once():
    auth = Refreshable()
    dli, script, fake = client([err(401, "APIG.0307"), PER_ID_2], auth=auth)

    (result,) = dli.batch_delete([1, 2])

    assert result.outcome is ChunkOutcome.REPLIED
    assert result.attempts == 2
    assert auth.invalidated == ["t1"]
    assert [p.headers["X-Auth-Token"] for p, _ in script.sent] == ["t1", "t2"]
    assert fake.sleeps == []


def test_a_second_401_is_final():
    auth = Refreshable()
    dli, script, _ = client([err(401, "APIG.0301"), err(401, "APIG.0301"), LIST], auth=auth)

    with pytest.raises(DliError) as caught:
        dli.list_jobs()
    assert caught.value.category is ErrorCategory.AUTH
    assert len(script.sent) == 2


def test_a_fixed_token_or_ak_sk_is_not_retried_on_401():
    dli, script, _ = client([err(401, "APIG.0301"), LIST], auth=AkSkAuth(AK, SK))

    with pytest.raises(DliError):
        dli.list_jobs()
    assert len(script.sent) == 1  # five failures in a row would lock the AK


# --- what is signed is what is sent -------------------------------------------------------------


def server_accepts(prepared: requests.PreparedRequest) -> bool:
    """Verify a prepared request as the gateway does: from the raw query on the wire."""
    parts = urlsplit(prepared.url)
    names = prepared.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    canonical = aksk.canonical_request(
        method=prepared.method,
        path=parts.path,
        query=aksk.canonical_query(parse_qsl(parts.query, keep_blank_values=True)),
        headers={name.lower(): value for name, value in prepared.headers.items()},
        signed_headers=names,
        body=prepared.body or b"",
    )
    expected = aksk.signature(SK, aksk.string_to_sign(canonical, prepared.headers["X-Sdk-Date"]))
    return prepared.headers["Authorization"].endswith(f"Signature={expected}")


VALUES = st.text(
    alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30
) | st.sampled_from(
    ["a b", "a,b", "k=v&x=y", "ümlaut é 漢字", "100%", "+plus+", "~tilde", "a/b?c#d", " ", "=", "&"]
)


@settings(max_examples=200, deadline=None)
@given(name=VALUES, queue=VALUES, user=VALUES, tag_value=VALUES)
def test_the_signed_query_is_exactly_the_query_on_the_wire(name, queue, user, tag_value):
    dli, script, _ = client([LIST], auth=AkSkAuth(AK, SK))
    tags = None if any(ch in tag_value for ch in ",=") else {"team": tag_value}

    dli.list_jobs(name=name, queue_name=queue, user_name=user, tags=tags)

    prepared, _ = script.sent[0]
    wire = urlsplit(prepared.url).query
    # The gateway re-canonicalises what it received: it must find the very string that was sent...
    assert aksk.canonical_query(parse_qsl(wire, keep_blank_values=True)) == wire
    # ...every value must arrive intact...
    received = dict(parse_qsl(wire, keep_blank_values=True))
    assert (received["name"], received["queue_name"], received["user_name"]) == (name, queue, user)
    # ...and the signature must verify against it.
    assert server_accepts(prepared)
