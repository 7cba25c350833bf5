"""No secret (AK, SK, token, IAM password, issued tokens) ever reaches a log line, an error text or a repr."""

from __future__ import annotations

import logging

import pytest
import requests

from dli_admin.dli import AkSkAuth, DliClient, DliError, IamPasswordAuth, TokenAuth
from dli_admin.simulator.credentials import (
    DEMO_ACCESS_KEY,
    DEMO_IAM_DOMAIN,
    DEMO_IAM_PASSWORD,
    DEMO_IAM_USER,
    DEMO_SECRET_KEY,
    DEMO_TOKEN,
)
from dli_admin.simulator.seed import DEMO_PROJECTS

PID = DEMO_PROJECTS[0].id
UNKNOWN_AK = "UNKNOWNACCESSKEY0042"  # the gateway echoes an unknown AK in its message
WRONG_SK = "wrongSecretKeyWrongSecretKeyWrongSecret0"
WRONG_PASSWORD = "not-the-iam-password-42"
FAST = {
    "connect_timeout": 0.5,
    "read_timeout": 0.5,
    "deadline": 5.0,
    "backoff_base": 0.01,
    "backoff_cap": 0.05,
}


class RecordingSession(requests.Session):
    """Keeps every token IAM hands out, so the scan can look for them too."""

    def __init__(self, issued: list[str]):
        super().__init__()
        self.issued = issued

    def post(self, *args, **kwargs):
        response = super().post(*args, **kwargs)
        if token := response.headers.get("X-Subject-Token"):
            self.issued.append(token)
        return response


def test_no_secret_appears_in_logs_errors_or_reprs(simulator, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.DEBUG, logger="dli_admin.dli")
    issued: list[str] = []
    texts: list[str] = []

    def keep(*things: object) -> None:
        for thing in things:
            texts.extend([str(thing), repr(thing)])

    def client(auth, **options) -> DliClient:
        dli = DliClient(simulator.url, PID, auth=auth, **{**FAST, **options})
        keep(dli, auth)
        return dli

    def attempt(call) -> None:
        try:
            keep(call())
        except DliError as err:
            keep(err, err.message, err.args)

    def iam(password: str) -> IamPasswordAuth:
        session = RecordingSession(issued)
        return IamPasswordAuth(simulator.url, DEMO_IAM_USER, password, DEMO_IAM_DOMAIN, PID, session=session)

    ak_sk = client(AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY))
    ids = [job.job_id for job in ak_sk.list_jobs(limit=20).jobs]
    token = client(TokenAuth(DEMO_TOKEN))
    by_iam = client(iam(DEMO_IAM_PASSWORD))

    # A faulty run: refused credentials of every kind, throttling, timeouts, drops, IAM logins.
    attempt(lambda: client(AkSkAuth(UNKNOWN_AK, DEMO_SECRET_KEY)).list_jobs())
    attempt(lambda: client(AkSkAuth(DEMO_ACCESS_KEY, WRONG_SK)).batch_delete(ids[:2]))
    attempt(lambda: client(TokenAuth("MIIsim-not-a-token")).show_job(ids[0]))
    attempt(lambda: client(iam(WRONG_PASSWORD)).list_jobs())
    attempt(lambda: by_iam.list_jobs(limit=1))
    simulator.revoke_tokens()
    attempt(lambda: by_iam.batch_delete(ids[2:4]))
    simulator.set_fault(PID, "auth_fail", ops=["list", "show"], count=3)
    attempt(lambda: token.list_jobs())
    attempt(lambda: by_iam.show_job(ids[4]))
    simulator.set_fault(PID, "throttle", 1, ops="batch_delete", count=1)
    attempt(lambda: by_iam.batch_delete(ids[4:6]))
    simulator.set_fault(PID, "slow_reply", 2, ops="list", count=1)
    attempt(lambda: client(AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY), max_attempts=1).list_jobs())
    simulator.set_fault(PID, "drop_after", ops="batch_delete", count=1)
    attempt(lambda: ak_sk.batch_delete(ids[6:8]))
    simulator.set_fault(PID, "server_error_after", 503, ops="delete", count=1)
    attempt(lambda: token.delete_job(ids[8]))
    simulator.set_fault(None, "auth_fail", ops="iam_token", count=1)
    attempt(lambda: client(iam(DEMO_IAM_PASSWORD)).list_jobs())
    attempt(lambda: by_iam.iter_jobs().__next__())

    secrets = [
        DEMO_ACCESS_KEY,
        DEMO_SECRET_KEY,
        DEMO_TOKEN,
        DEMO_IAM_PASSWORD,
        UNKNOWN_AK,
        WRONG_SK,
        WRONG_PASSWORD,
        *issued,
    ]
    assert len(issued) >= 3  # the scan really covers tokens IAM issued
    assert any("verify aksk signature fail" in t for t in texts)  # the run really was faulty
    assert any("ak:***" in t for t in texts)  # the echoed unknown AK was redacted, not dropped
    logged = [caplog.text] + [record.getMessage() for record in caplog.records]
    logged += [str(record.exc_text or "") for record in caplog.records]
    assert any("urllib3" in record.name for record in caplog.records)
    for secret in secrets:
        for text in logged + texts:
            assert secret not in text, f"a secret leaked into: {text[:200]}"


@pytest.mark.parametrize(
    "auth",
    [
        AkSkAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY),
        TokenAuth(DEMO_TOKEN),
        IamPasswordAuth("http://127.0.0.1:1", DEMO_IAM_USER, DEMO_IAM_PASSWORD, DEMO_IAM_DOMAIN, PID),
    ],
    ids=["ak-sk", "token", "iam"],
)
def test_reprs_hide_secrets(auth):
    text = repr(auth) + repr(DliClient("http://127.0.0.1:1", PID, auth=auth))

    for secret in (DEMO_ACCESS_KEY, DEMO_SECRET_KEY, DEMO_TOKEN, DEMO_IAM_PASSWORD):
        assert secret not in text
