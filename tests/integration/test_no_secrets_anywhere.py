"""A whole faulty session through the dashboard with every kind of DLI credential, then a search for the
secrets in every log line (all loggers, DEBUG, before any redaction), every page and every stored row."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import pytest
from django.apps import apps
from django.test import Client

from dli_admin.simulator.credentials import DEMO
from dli_admin.simulator.server import Simulator
from tests.helpers import PASSWORD, run_queued_batches

pytestmark = pytest.mark.django_db

AK = "AKNOSECRETSTEST00001"
SK = "SkNoSecretsTest0000000000000000000000001"
TOKEN = "TokenNoSecretsTest-0000000000000000000001"
IAM_PASSWORD = "IamNoSecretsTest-Passw0rd!"
SECRETS = {"AK": AK, "SK": SK, "token": TOKEN, "IAM password": IAM_PASSWORD, "user password": PASSWORD}


@pytest.fixture
def private_simulator():
    own = replace(DEMO, access_key=AK, secret_key=SK, token=TOKEN, iam_password=IAM_PASSWORD)
    simulator = Simulator(port=0, credentials=own).start()
    yield simulator
    simulator.stop()


def test_no_secret_is_logged_shown_or_stored(private_simulator, project_a, operator, settings, caplog):
    sim, pid = private_simulator, project_a.project_id
    caplog.set_level(logging.DEBUG)
    pages: list[str] = []
    client = Client()

    # Log in: a wrong password first, then the right one.
    credentials = {"username": operator.username, "password": PASSWORD}
    client.post("/accounts/login/", {**credentials, "password": PASSWORD + "x"})
    assert client.post("/accounts/login/", credentials).status_code == 302

    def session(label: str, **dli) -> None:
        for name in (
            "DLI_AK",
            "DLI_SK",
            "DLI_AUTH_TOKEN",
            "DLI_IAM_ENDPOINT",
            "DLI_IAM_USER",
            "DLI_IAM_PASSWORD",
        ):
            setattr(settings, name, "")
        settings.DLI_ENDPOINT = sim.url
        settings.DLI_TIMEOUT = 1.5
        for name, value in dli.items():
            setattr(settings, name, value)
        jobs = [str(sim.add_job(pid, name=f"{label}-{n}", status="job_finish")) for n in range(3)]
        pages.append(client.get(f"/projects/{pid}/jobs/").content.decode())
        for fault, value in [
            ("throttle", 1),
            ("auth_fail", True),
            ("slow_reply", 3.0),
            ("doc_invalid_json", True),
        ]:
            review = client.post(f"/projects/{pid}/jobs/delete/review/", {"job_ids": jobs})
            pages.append(review.content.decode())
            token = re.search(r'name="token" value="([^"]+)"', pages[-1])
            sim.set_fault(pid, fault, value, ops={"batch_delete"}, count=1)
            if token:
                confirmed = client.post(f"/projects/{pid}/jobs/delete/", {"token": token.group(1)})
                run_queued_batches()
                pages.append(client.get(confirmed["Location"]).content.decode())
            sim.clear_faults()
        sim.set_fault(pid, "auth_fail", True, count=1)
        pages.append(client.get(f"/projects/{pid}/jobs/").content.decode())  # a rejected read
        sim.clear_faults()

    session("aksk", DLI_AK=AK, DLI_SK=SK)
    session("wrong-sk", DLI_AK=AK, DLI_SK=SK[::-1])
    session("token", DLI_AUTH_TOKEN=TOKEN)
    session("wrong-token", DLI_AUTH_TOKEN=TOKEN[::-1])
    session(
        "iam",
        DLI_IAM_ENDPOINT=sim.url,
        DLI_IAM_USER=sim.credentials.iam_user,
        DLI_IAM_PASSWORD=IAM_PASSWORD,
        DLI_IAM_DOMAIN=sim.credentials.iam_domain,
    )
    sim.revoke_tokens()  # the next call gets a 401 and logs in again
    pages.append(client.get(f"/projects/{pid}/jobs/").content.decode())
    session(
        "wrong-iam",
        DLI_IAM_ENDPOINT=sim.url,
        DLI_IAM_USER=sim.credentials.iam_user,
        DLI_IAM_PASSWORD=IAM_PASSWORD[::-1],
        DLI_IAM_DOMAIN=sim.credentials.iam_domain,
    )

    assert len(sim.requests(op="batch_delete")) >= 4, "the session must really have reached DLI"
    logs = "\n".join(
        f"{record.getMessage()} {record.args!r} {getattr(record, 'exc_text', '') or ''}"
        for record in caplog.records
    )
    assert "DLI POST" in logs, "the logs must hold the session's DLI calls"
    stored = "\n".join(repr(row) for model in apps.get_models() for row in model._base_manager.values_list())
    for where, text in [("logs", logs), ("pages", "\n".join(pages)), ("database", stored)]:
        for name, secret in SECRETS.items():
            for form in {secret, secret[::-1]}:
                assert form not in text, f"the {name} appears in the {where}"
