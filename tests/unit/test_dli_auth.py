"""The auth classes: AK/SK signing through requests (SDK vectors), tokens, and the IAM token cache."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from dli_admin import aksk
from dli_admin.dli import AkSkAuth, DliError, ErrorCategory, IamPasswordAuth, TokenAuth

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "data" / "dli-signing-vectors.json").read_text())
AK, SK = VECTORS[0]["ak"], VECTORS[0]["sk"]


def frozen(date: str):
    return lambda: aksk.parse_sdk_date(date)


def prepare(vector: dict, query: str) -> requests.PreparedRequest:
    headers = {name: value for name, value in vector["headers"].items() if name != "X-Sdk-Date"}
    auth = AkSkAuth(vector["ak"], vector["sk"], clock=frozen(vector["headers"]["X-Sdk-Date"]))
    url = f"https://{vector['host']}{vector['path']}" + (f"?{query}" if query else "")
    return requests.Request(
        vector["method"], url, headers=headers, data=vector["body"].encode() or None, auth=auth
    ).prepare()


@pytest.mark.parametrize("vector", VECTORS, ids=[v["title"] for v in VECTORS])
def test_it_signs_each_sdk_vector_byte_for_byte(vector):
    prepared = prepare(vector, aksk.canonical_query(vector["query"]))

    assert prepared.headers["Authorization"] == vector["expected"]["authorization"]
    assert prepared.path_url == vector["expected"]["uri_sent"]
    assert prepared.headers["X-Sdk-Date"] == vector["headers"]["X-Sdk-Date"]
    assert prepared.headers["Host"] == vector["host"]
    assert (prepared.body or b"") == vector["body"].encode()


@pytest.mark.parametrize("vector", [v for v in VECTORS if v["query"]], ids=lambda v: v["title"])
def test_a_query_in_any_order_is_sent_and_signed_in_canonical_form(vector):
    # Python's urlencode writes a space as "+" and keeps the given order; the gateway wants neither.
    pairs = [
        (key, str(value).lower() if isinstance(value, bool) else value) for key, value in vector["query"]
    ]
    prepared = prepare(vector, urlencode(list(reversed(pairs))))

    assert prepared.path_url == vector["expected"]["uri_sent"]
    assert prepared.headers["Authorization"] == vector["expected"]["authorization"]


def test_it_signs_only_the_headers_it_knows_and_sets_json_and_the_project():
    auth = AkSkAuth(AK, SK, project_id="p1", clock=frozen("20240101T000000Z"))
    prepared = requests.Session().prepare_request(
        requests.Request("GET", "http://127.0.0.1:8000/v1.0/p1/streaming/jobs", auth=auth)
    )

    assert prepared.headers["Content-Type"] == "application/json"
    assert prepared.headers["X-Project-Id"] == "p1"
    assert prepared.headers["Host"] == "127.0.0.1:8000"
    # Session defaults (User-Agent, Accept-Encoding, Connection) are not signed: a proxy may change them.
    assert "SignedHeaders=content-type;host;x-project-id;x-sdk-date," in prepared.headers["Authorization"]


def test_it_dates_each_request_with_the_clock_in_utc():
    prepared = requests.Request("GET", "https://h/p", auth=AkSkAuth(AK, SK)).prepare()

    sent = aksk.parse_sdk_date(prepared.headers["X-Sdk-Date"])
    assert abs(sent.timestamp() - time.time()) < 5


def test_the_auth_reprs_hide_every_secret():
    iam = IamPasswordAuth("https://iam.example", "op", "pa55word", "dom", "p1")

    assert AK not in repr(AkSkAuth(AK, SK)) and SK not in repr(AkSkAuth(AK, SK))
    assert "tok-123" not in repr(TokenAuth("tok-123"))
    assert "pa55word" not in repr(iam)
    assert "user='op'" in repr(iam)


def test_token_auth_sends_the_token():
    prepared = requests.Request("GET", "https://h/p", auth=TokenAuth("tok-123")).prepare()

    assert prepared.headers["X-Auth-Token"] == "tok-123"


@pytest.mark.parametrize("args", [("", SK), (AK, "")])
def test_ak_sk_auth_needs_both_keys(args):
    with pytest.raises(ValueError):
        AkSkAuth(*args)


# --- IAM password login -----------------------------------------------------------------------


class FakeIam:
    """A stand-in for requests.Session.post against IAM: counts logins, hands out numbered tokens."""

    def __init__(self, *, status=201, ttl: float | None = 86400.0, now=lambda: time.time(), delay=0.0):
        self.status, self.ttl, self.now, self.delay = status, ttl, now, delay
        self.calls: list[dict] = []
        self.lock = threading.Lock()

    def post(self, url, *, data, headers, timeout, allow_redirects):
        time.sleep(self.delay)
        with self.lock:
            self.calls.append({"url": url, "body": json.loads(data), "timeout": timeout})
            number = len(self.calls)
        response = requests.Response()
        response.status_code = self.status
        if self.status == 201:
            token: dict = {"methods": ["password"]}
            if self.ttl is not None:
                expires = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(self.now() + self.ttl))
                token["expires_at"] = expires
            response.headers["X-Subject-Token"] = f"token-{number}"
            response._content = json.dumps({"token": token}).encode()
        else:
            error = {"code": 401, "title": "Unauthorized", "message": "The username or password is wrong."}
            response._content = json.dumps({"error": error}).encode()
        return response


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


def iam_auth(fake: FakeIam, clock=None, **kwargs) -> IamPasswordAuth:
    return IamPasswordAuth(
        "https://iam.example/",
        "op",
        "pa55word",
        "dom",
        "p1",
        session=fake,
        clock=clock or time.time,
        **kwargs,
    )


def test_it_logs_in_with_a_project_scoped_password_body():
    fake = FakeIam()

    assert iam_auth(fake).token() == "token-1"
    (call,) = fake.calls
    assert call["url"] == "https://iam.example/v3/auth/tokens"
    assert call["body"] == {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": "op", "password": "pa55word", "domain": {"name": "dom"}}},
            },
            "scope": {"project": {"id": "p1"}},
        }
    }
    assert call["timeout"] == (3.0, 15.0)


def test_it_caches_the_token_until_the_refresh_margin():
    clock = Clock()
    fake = FakeIam(ttl=3600, now=clock)
    auth = iam_auth(fake, clock, refresh_margin=300)

    assert auth.token() == "token-1"
    clock.now += 3600 - 301
    assert auth.token() == "token-1"
    clock.now += 2
    assert auth.token() == "token-2"
    assert len(fake.calls) == 2


def test_a_token_shorter_lived_than_the_margin_is_renewed_at_half_its_life():
    clock = Clock()
    auth = iam_auth(FakeIam(ttl=60, now=clock), clock, refresh_margin=300)

    auth.token()
    clock.now += 29
    assert auth.token() == "token-1"
    clock.now += 2
    assert auth.token() == "token-2"


def test_without_expires_at_it_assumes_an_hour():
    clock = Clock()
    auth = iam_auth(FakeIam(ttl=None, now=clock), clock, refresh_margin=300)

    auth.token()
    clock.now += 3600 - 301
    assert auth.token() == "token-1"
    clock.now += 2
    assert auth.token() == "token-2"


def test_invalidate_drops_only_the_token_it_names():
    auth = iam_auth(FakeIam())
    auth.token()

    auth.invalidate("some-older-token")
    assert auth.token() == "token-1"
    auth.invalidate("token-1")
    assert auth.token() == "token-2"


def test_concurrent_callers_share_one_login():
    fake = FakeIam(delay=0.05)
    auth = iam_auth(fake)
    tokens: list[str] = []
    threads = [threading.Thread(target=lambda: tokens.append(auth.token())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert tokens == ["token-1"] * 8
    assert len(fake.calls) == 1


def test_bad_iam_credentials_are_an_auth_error_that_names_what_to_check():
    with pytest.raises(DliError) as caught:
        iam_auth(FakeIam(status=401)).token()

    err = caught.value
    assert err.category is ErrorCategory.AUTH
    assert str(err).startswith("IAM rejected the credentials")
    assert "DLI_IAM_PASSWORD" in str(err)
    assert "pa55word" not in str(err) + repr(err)


def test_the_token_is_sent_as_x_auth_token_and_kept_secret():
    auth = iam_auth(FakeIam())
    prepared = requests.Request("GET", "https://h/p", auth=auth).prepare()

    assert prepared.headers["X-Auth-Token"] == "token-1"
    assert set(auth.secret_values()) == {"pa55word", "token-1"}
    assert "token-1" not in repr(auth)
