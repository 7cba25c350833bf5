"""The simulator authenticates like DLI's API gateway: AK/SK signatures, static and IAM-issued tokens."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from dli_admin import aksk
from dli_admin.simulator import server
from dli_admin.simulator.credentials import (
    DEMO_ACCESS_KEY,
    DEMO_SECRET_KEY,
    DEMO_TOKEN,
    Credentials,
)
from dli_admin.simulator.server import Simulator
from tests.helpers import OTHER, PROJECT, Dli, iam_body, issue_token, sign

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "data" / "dli-signing-vectors.json").read_text())
DLI_VECTORS = [v for v in VECTORS if v["path"].startswith("/v1.0/")]


def jobs_url(simulator: Simulator, project_id: str = PROJECT.id) -> str:
    return f"{simulator.url}/v1.0/{project_id}/streaming/jobs"


def assert_refused(reply: requests.Response, *fragments: str) -> None:
    assert reply.status_code == 401
    body = reply.json()
    assert body["error_code"] == "APIG.0301"
    assert body["error_msg"].startswith("Incorrect IAM authentication information: ")
    assert body["request_id"] == reply.headers["X-Request-Id"]
    for fragment in fragments:
        assert fragment in body["error_msg"]
    assert DEMO_SECRET_KEY not in reply.text


# --- AK/SK ------------------------------------------------------------------------------------------


def test_a_correctly_signed_request_passes(simulator):
    dli = Dli(simulator)

    assert dli.list(name="orders enrich", tags="team=sre,env=prod", show_detail=False).status_code == 200
    assert dli.batch_delete([12, 232]).status_code == 200
    assert dli.delete(12).status_code == 400  # authenticated, then DLI.16001
    assert dli.show(12).json()["error_code"] == "DLI.16001"


@pytest.mark.parametrize("vector", DLI_VECTORS, ids=[v["title"] for v in DLI_VECTORS])
def test_it_accepts_every_sdk_signing_vector(vector, monkeypatch):
    # Replays the official SDK's exact bytes (Host, date, body, Authorization) with the vector's own keys.
    monkeypatch.setattr(server, "_utcnow", lambda: aksk.parse_sdk_date(vector["headers"]["X-Sdk-Date"]))
    keys = Credentials(access_key=vector["ak"], secret_key=vector["sk"])
    with Simulator(port=0, credentials=keys) as simulator:
        headers = {
            **vector["headers"],
            "Host": vector["host"],
            "Authorization": vector["expected"]["authorization"],
        }
        reply = requests.request(
            vector["method"],
            simulator.url + vector["expected"]["uri_sent"],
            headers=headers,
            data=vector["body"].encode(),
            timeout=5,
        )
        assert reply.status_code in (200, 400), reply.text
        assert reply.headers["Content-Type"].startswith("application/json")
        assert "error_code" not in reply.text or "APIG" not in reply.json()["error_code"]


def test_a_bad_signature_is_refused_with_the_canonical_request(simulator):
    url, headers = sign("GET", jobs_url(simulator), params=[("limit", 5)])
    headers["Authorization"] = headers["Authorization"][:-4] + "0000"

    reply = requests.get(url, headers=headers, timeout=5)

    assert_refused(reply, "verify aksk signature fail", f"GET|/v1.0/{PROJECT.id}/streaming/jobs/|limit=5|")


def test_a_tampered_body_is_refused(simulator):
    url, headers = sign("POST", jobs_url(simulator) + "/delete", body=b'{"job_ids": [1]}')

    reply = requests.post(url, headers=headers, data=b'{"job_ids": [2]}', timeout=5)

    assert_refused(reply, "verify aksk signature fail")
    assert simulator.requests()[-1].status == 401


def test_a_tampered_query_is_refused(simulator):
    url, headers = sign("GET", jobs_url(simulator), params=[("limit", 5)])

    assert_refused(requests.get(url.replace("limit=5", "limit=6"), headers=headers, timeout=5))


def test_a_wrong_secret_key_is_refused(simulator):
    url, headers = sign("GET", jobs_url(simulator), secret_key="not-the-secret")

    assert_refused(requests.get(url, headers=headers, timeout=5), "verify aksk signature fail")


def test_an_unknown_access_key_is_refused(simulator):
    url, headers = sign("GET", jobs_url(simulator), access_key="UNKNOWNAK0000000000X")

    assert_refused(
        requests.get(url, headers=headers, timeout=5),
        "Get secretKey failed,ak:UNKNOWNAK0000000000X,err:ak not exist",
    )


@pytest.mark.parametrize(("minutes", "accepted"), [(-16, False), (16, False), (-14, True), (14, True)])
def test_the_sdk_date_must_be_within_15_minutes(simulator, minutes, accepted):
    url, headers = sign("GET", jobs_url(simulator), now=datetime.now(UTC) + timedelta(minutes=minutes))

    reply = requests.get(url, headers=headers, timeout=5)

    if accepted:
        assert reply.status_code == 200
    else:
        assert_refused(reply, "15 minutes")


@pytest.mark.parametrize("date", [None, "yesterday", "2026-11-29T10:15:00Z"])
def test_a_missing_or_malformed_sdk_date_is_refused(simulator, date):
    url, headers = sign("GET", jobs_url(simulator))
    if date is None:
        del headers["X-Sdk-Date"]
    else:
        headers["X-Sdk-Date"] = date

    assert_refused(requests.get(url, headers=headers, timeout=5), "X-Sdk-Date")


def test_a_malformed_authorization_header_is_refused(simulator):
    url, headers = sign("GET", jobs_url(simulator))
    headers["Authorization"] = "Bearer something"

    assert_refused(requests.get(url, headers=headers, timeout=5), "verify aksk signature fail")


def test_a_simulator_can_have_its_own_keys(simulator):
    keys = Credentials(access_key="OWNAK", secret_key="own-secret", token="own-token")
    with Simulator(port=0, credentials=keys) as own:
        url, headers = sign("GET", jobs_url(own), access_key="OWNAK", secret_key="own-secret")
        assert requests.get(url, headers=headers, timeout=5).status_code == 200
        url, headers = sign("GET", jobs_url(own), access_key=DEMO_ACCESS_KEY)
        assert requests.get(url, headers=headers, timeout=5).status_code == 401
        assert (
            requests.get(jobs_url(own), headers={"X-Auth-Token": "own-token"}, timeout=5).status_code == 200
        )
        assert requests.get(jobs_url(own), headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5).status_code == 401
        assert issue_token(own).status_code == 401, "no IAM login: none was given"


def test_a_simulator_with_a_token_only_knows_no_access_key(simulator):
    with Simulator(port=0, credentials=Credentials(token="own-token")) as own:
        url, headers = sign("GET", jobs_url(own))
        assert_refused(
            requests.get(url, headers=headers, timeout=5), f"ak:{DEMO_ACCESS_KEY},err:ak not exist"
        )
        assert (
            requests.get(jobs_url(own), headers={"X-Auth-Token": "own-token"}, timeout=5).status_code == 200
        )


def test_a_simulator_with_keys_only_accepts_no_static_token(simulator):
    with Simulator(port=0, credentials=Credentials(access_key="OWNAK", secret_key="own-secret")) as own:
        assert_refused(
            requests.get(jobs_url(own), headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5), "decrypt token fail"
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"access_key": "AK"},
        {"secret_key": "SK"},
        {"access_key": "", "secret_key": ""},
        {"token": ""},
        {"iam_user": "u", "iam_password": "p"},
        {},
    ],
    ids=["ak-without-sk", "sk-without-ak", "empty-keys", "empty-token", "iam-without-domain", "nothing"],
)
def test_incomplete_simulator_credentials_are_refused(kwargs):
    with pytest.raises(ValueError):
        Credentials(**kwargs)


# --- tokens -----------------------------------------------------------------------------------------


def test_the_static_token_is_accepted(simulator):
    reply = requests.get(jobs_url(simulator), headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5)

    assert reply.status_code == 200


def test_a_request_without_credentials_is_refused(simulator):
    assert_refused(requests.get(jobs_url(simulator), timeout=5), "X-Auth-Token")


def test_a_wrong_token_is_refused(simulator):
    reply = requests.get(jobs_url(simulator), headers={"X-Auth-Token": "MIIforged"}, timeout=5)

    assert_refused(reply, "decrypt token fail")


def test_iam_issues_a_project_scoped_token(simulator):
    reply = issue_token(simulator)

    assert reply.status_code == 201
    token = reply.headers["X-Subject-Token"]
    body = reply.json()["token"]
    assert body["project"]["id"] == PROJECT.id
    expires = datetime.fromisoformat(body["expires_at"])
    issued = datetime.fromisoformat(body["issued_at"])
    assert timedelta(hours=23, minutes=59) < expires - issued <= timedelta(hours=24)
    assert token not in reply.text
    assert requests.get(jobs_url(simulator), headers={"X-Auth-Token": token}, timeout=5).status_code == 200
    assert simulator.requests(op="iam_token")[0].status == 201
    assert simulator.requests(op="iam_token")[0].project_id == PROJECT.id


def test_an_iam_token_works_only_in_its_project(simulator):
    token = issue_token(simulator).headers["X-Subject-Token"]

    reply = requests.get(jobs_url(simulator, OTHER.id), headers={"X-Auth-Token": token}, timeout=5)

    assert_refused(reply, "not scoped to project")


def test_iam_scopes_by_a_project_name_too(simulator):
    body = iam_body()
    body["auth"]["scope"] = {"project": {"name": OTHER.name}}

    reply = requests.post(f"{simulator.url}/v3/auth/tokens", json=body, timeout=5)

    assert reply.status_code == 201
    assert reply.json()["token"]["project"] == {"id": OTHER.id, "name": OTHER.name}


@pytest.mark.parametrize(
    "kwargs", [{"password": "wrong"}, {"user": "mallory"}, {"domain": "other-domain"}], ids=str
)
def test_iam_refuses_wrong_credentials(simulator, kwargs):
    reply = issue_token(simulator, **kwargs)

    assert reply.status_code == 401
    assert reply.json() == {
        "error": {"code": 401, "title": "Unauthorized", "message": "The username or password is wrong."}
    }
    assert "X-Subject-Token" not in reply.headers


@pytest.mark.parametrize("payload", [b"not json", b"{}", b'{"auth": {"identity": {"methods": ["token"]}}}'])
def test_iam_refuses_a_malformed_body(simulator, payload):
    reply = requests.post(f"{simulator.url}/v3/auth/tokens", data=payload, timeout=5)

    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == 400


def test_revoked_tokens_expire(simulator):
    token = issue_token(simulator).headers["X-Subject-Token"]

    simulator.revoke_tokens()

    reply = requests.get(jobs_url(simulator), headers={"X-Auth-Token": token}, timeout=5)
    assert_refused(reply, "token expires")
    fresh = issue_token(simulator).headers["X-Subject-Token"]
    assert requests.get(jobs_url(simulator), headers={"X-Auth-Token": fresh}, timeout=5).status_code == 200
    assert (
        requests.get(jobs_url(simulator), headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5).status_code == 200
    )


def test_tokens_expire_after_the_ttl(simulator):
    simulator.token_ttl = 0.3
    reply = issue_token(simulator)
    token = reply.headers["X-Subject-Token"]
    assert requests.get(jobs_url(simulator), headers={"X-Auth-Token": token}, timeout=5).status_code == 200

    time.sleep(0.35)

    assert_refused(
        requests.get(jobs_url(simulator), headers={"X-Auth-Token": token}, timeout=5), "token expires"
    )


def test_reset_forgets_issued_tokens(simulator):
    token = issue_token(simulator).headers["X-Subject-Token"]

    simulator.reset()

    assert_refused(requests.get(jobs_url(simulator), headers={"X-Auth-Token": token}, timeout=5))


def test_the_control_api_can_revoke_tokens(simulator):
    token = issue_token(simulator).headers["X-Subject-Token"]

    assert requests.post(f"{simulator.url}/_sim/tokens/revoke", timeout=5).status_code == 200

    assert_refused(
        requests.get(jobs_url(simulator), headers={"X-Auth-Token": token}, timeout=5), "token expires"
    )
