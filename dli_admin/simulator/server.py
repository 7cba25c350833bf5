"""The embedded DLI simulator: a real HTTP server that speaks DLI's Flink-job API on loopback.

It serves the demo, training and the test suite with no cloud account: list, show, delete one, batch
delete and batch stop of Flink jobs, create SQL job and create jar job, IAM password tokens, AK/SK
signature checks, and fault switches for every way a real endpoint misbehaves (see faults.py). Behaviour
follows dli-admin's DLI API notes (docs/dli-api.md); where DLI is not documented the code says UNCERTAIN.
Standard library only, plus dli_admin.aksk: no Django.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import math
import os
import re
import secrets
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dli_admin import aksk

from .credentials import DEMO, Credentials
from .faults import Fault, FaultBoard
from .seed import DEMO_PROJECTS, build_seed
from .state import (
    JobStore,
    NameTaken,
    NoSuchQueue,
    ParameterError,
    StopOutcome,
    parse_list_query,
    render,
)

log = logging.getLogger(__name__)

DEFAULT_STOP_DELAY = 0.5  # seconds a stopped job stays job_canceling
DEFAULT_TOKEN_TTL = 24 * 3600.0  # IAM tokens live 24 hours (docs/dli-api.md §6a)
SDK_DATE_WINDOW = timedelta(minutes=15)
MAX_BODY = 12 * 1024 * 1024  # the gateway's limit for AK/SK-signed bodies
LOG_LIMIT = 100_000  # requests kept in the in-memory log; a demo may run for days
IDLE_TIMEOUT = 60  # seconds an idle keep-alive connection is kept open

JSON_TYPE = "application/json;charset=UTF-8"
AUTH_PREFIX = "Incorrect IAM authentication information: "
MSG_DELETED = "The job is successfully deleted."
MSG_STOPPED = "The request for stopping DLI jobs is successfully delivered."
MSG_SHOWN = "Job detail query succeeds."
MSG_CREATED = {
    "create_sql_job": "A DLI job is created successfully.",
    "create_jar_job": "A Flink job is created successfully.",
}
THROTTLE_MESSAGE = (
    "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 minute"
)

_AUTHORIZATION = re.compile(
    r"^SDK-HMAC-SHA256 Access=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$"
)
_JOBS_PATH = re.compile(r"^/v1\.0/(?P<project>[A-Za-z0-9]{1,64})/streaming/jobs(?:/(?P<rest>[^/]+))?$")
_CREATE_PATH = re.compile(r"^/v1\.0/(?P<project>[A-Za-z0-9]{1,64})/streaming/(?P<kind>sql-jobs|flink-jobs)$")
_JOB_ID = re.compile(r"^-?[0-9]{1,19}$")
IAM_TOKENS_PATH = "/v3/auth/tokens"
BATCH_OPS = frozenset({"batch_delete", "batch_stop"})


@dataclass(frozen=True)
class LoggedRequest:
    """One request the simulator answered (or dropped: status None). Never holds credentials."""

    method: str
    path: str
    query: dict[str, str]
    project_id: str | None
    op: str | None
    job_ids: tuple[int, ...]
    status: int | None
    at: float


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    raw_query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    client: str


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # slow_reply: seconds to wait after processing, before answering
    drop: bool = False  # drop_after: shut the connection without answering
    close: bool = False  # the connection cannot be reused (e.g. an unreadable body)


@dataclass(frozen=True)
class _IssuedToken:
    expires: float  # epoch seconds
    project_id: str | None
    revoked: bool = False


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> _Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return _Reply(status, body, {"Content-Type": JSON_TYPE, **(headers or {})})


def _dli_error(status: int, code: str, message: str) -> _Reply:
    return _json(status, {"error_code": code, "error_msg": message})


def _apig_error(status: int, code: str, message: str, request_id: str, **headers: str) -> _Reply:
    # Errors raised by the API gateway in front of DLI carry the request id in the body as well.
    return _json(status, {"error_code": code, "error_msg": message, "request_id": request_id}, headers)


def _iam_error(status: int, title: str, message: str) -> _Reply:
    return _json(status, {"error": {"code": status, "title": title, "message": message}})


def _server_error(status: int, request_id: str) -> _Reply:
    if status == 500:
        return _dli_error(500, "DLI.0999", "Server-side error")
    if status in (502, 503, 504):
        message = "Backend timeout" if status == 504 else "Backend unavailable"
        extra = {"Retry-After": "1"} if status == 503 else {}
        return _apig_error(status, "APIG.0201", message, request_id, **extra)
    return _dli_error(status, "DLI.0999", "Server-side error")


def _flag(ok: bool, style: str) -> Any:
    """is_success as DLI writes it: the string "true" (default), a JSON boolean, or Python's "True"."""
    if style == "bool":
        return ok
    if style == "capital":
        return "True" if ok else "False"
    return "true" if ok else "false"


def _utcnow() -> datetime:
    # The server's clock for the X-Sdk-Date window; a seam for replaying fixed signing vectors in tests.
    return datetime.now(UTC)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _path_job_id(ref: str) -> int:
    if not _JOB_ID.match(ref):
        raise ParameterError(f"Parameter check error: job_id must be an integer, not {ref!r}.")
    return int(ref)


def _batch_body(body: bytes, op: str) -> tuple[list[int], bool]:
    """job_ids (and trigger_savepoint for a stop) from a batch request body."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ParameterError("Parameter check error: the request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ParameterError("Parameter check error: the request body must be a JSON object.")
    ids = data.get("job_ids")
    if (
        not isinstance(ids, list)
        or not ids
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise ParameterError(
            "Parameter check error: job_ids must be a non-empty array of job ids (integers)."
        )
    savepoint = data.get("trigger_savepoint", False) if op == "batch_stop" else False
    if not isinstance(savepoint, bool):
        raise ParameterError("Parameter check error: trigger_savepoint must be true or false.")
    return ids, savepoint


def _loggable_ids(op: str | None, job_ref: str | None, body: bytes) -> tuple[int, ...]:
    """The job ids a request names, as far as they can be read (for the request log only)."""
    if job_ref is not None:
        return (int(job_ref),) if _JOB_ID.match(job_ref) else ()
    if op in BATCH_OPS:
        try:
            ids = json.loads(body).get("job_ids")
        except (ValueError, UnicodeDecodeError, AttributeError):
            return ()
        if isinstance(ids, list):
            return tuple(i for i in ids if isinstance(i, int) and not isinstance(i, bool))
    return ()


def _route(method: str, path: str) -> tuple[str | None, str | None, str | None]:
    """(op, project_id, job id segment) for a DLI or IAM path; op None when no such API exists."""
    if path == IAM_TOKENS_PATH:
        return ("iam_token" if method == "POST" else None), None, None
    created = _CREATE_PATH.match(path)
    if created is not None:
        op = "create_sql_job" if created["kind"] == "sql-jobs" else "create_jar_job"
        return (op if method == "POST" else None), created["project"], None
    match = _JOBS_PATH.match(path)
    if match is None:
        return None, None, None
    project_id, rest = match["project"], match["rest"]
    if rest is None:
        return ("list" if method == "GET" else None), project_id, None
    if method == "POST" and rest in ("delete", "stop"):
        return f"batch_{rest}", project_id, None
    if method == "GET":
        return "show", project_id, rest
    if method == "DELETE":
        return "delete", project_id, rest
    return None, project_id, None


class Simulator:
    """DLI's Flink-job API on a loopback socket, with seeded demo projects and fault switches."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, credentials: Credentials = DEMO) -> None:
        self.host = host
        self.port = port  # the bound port once started (port 0 picks a free one)
        self.credentials = credentials  # what it accepts; nothing else (never the environment's)
        self.stop_delay = DEFAULT_STOP_DELAY
        self.token_ttl = DEFAULT_TOKEN_TTL
        self.verbose = False  # print one access line per DLI request to stderr
        self._lock = threading.RLock()  # one lock around all state: jobs, faults, log, tokens
        self._store = JobStore(build_seed())
        self._faults = FaultBoard()
        self._log: deque[LoggedRequest] = deque(maxlen=LOG_LIMIT)
        self._tokens: dict[str, _IssuedToken] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Simulator:
        if self._server is not None:
            return self
        server_class = _Server6 if ":" in self.host else _Server
        server = server_class((self.host, self.port), _Handler)
        server.simulator = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name=f"dli-simulator:{self.port}"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<Simulator {where}>"

    # --- control (Python API) ---------------------------------------------------------------------

    def reset(self) -> None:
        """Reseed every project; clear faults, the request log and IAM tokens; restore the timings."""
        with self._lock:
            self._store.reset()
            self._faults.clear()
            self._log.clear()
            self._tokens.clear()
            self.stop_delay = DEFAULT_STOP_DELAY
            self.token_ttl = DEFAULT_TOKEN_TTL

    def set_fault(
        self,
        project_id: str | None,
        name: str,
        value: Any = True,
        *,
        ops: Iterable[str] | str | None = None,
        count: int | None = None,
    ) -> None:
        """Switch a fault on (project_id None: every project). ValueError for a bad name, value or op."""
        with self._lock:
            self._faults.set(project_id, name, value, ops=ops, count=count)

    def clear_faults(self, project_id: str | None = None) -> None:
        with self._lock:
            self._faults.clear(project_id)

    def faults(self) -> list[Fault]:
        with self._lock:
            return self._faults.all()

    def requests(self, project_id: str | None = None, op: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [
                entry
                for entry in self._log
                if (project_id is None or entry.project_id == project_id) and (op is None or entry.op == op)
            ]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def add_job(self, project_id: str, **fields: Any) -> int:
        with self._lock:
            return self._store.add(project_id, fields, int(time.time() * 1000))

    def job(self, project_id: str, job_id: int) -> dict[str, Any] | None:
        with self._lock:
            return self._store.get(project_id, job_id, time.monotonic())

    def set_job_status(self, project_id: str, job_id: int, status: str) -> None:
        with self._lock:
            self._store.set_status(project_id, job_id, status, time.monotonic(), int(time.time() * 1000))

    def remove_queue(self, project_id: str, queue: str) -> None:
        """The queue is gone: creating a job on it answers 400 DLI.0002 (its jobs stay as they are)."""
        with self._lock:
            self._store.remove_queue(project_id, queue)

    def revoke_tokens(self) -> None:
        """Every IAM token issued so far answers 401 "token expires" from now on."""
        with self._lock:
            self._tokens = {token: replace(issued, revoked=True) for token, issued in self._tokens.items()}

    def projects(self) -> list[dict[str, Any]]:
        """Seeded projects (and any made by add_job) with their current job counts."""
        with self._lock:
            counts = self._store.counts()
        rows = [
            {"id": p.id, "name": p.name, "job_count": counts.get(p.id, 0), "seeded_job_count": p.job_count}
            for p in DEMO_PROJECTS
        ]
        seeded = {p.id for p in DEMO_PROJECTS}
        rows += [
            {"id": pid, "name": None, "job_count": n, "seeded_job_count": 0}
            for pid, n in counts.items()
            if pid not in seeded
        ]
        return rows

    # --- request handling -------------------------------------------------------------------------

    def _handle(self, request: _Request, request_id: str) -> _Reply:
        if request.path == "/_sim" or request.path.startswith("/_sim/"):
            return self._control(request)
        op, project_id, job_ref = _route(request.method, request.path)
        if op == "iam_token":
            project_id = self._iam_scope(request.body)
        with self._lock:
            latency = self._faults.take(project_id, op, "latency") if op else None
        if latency:
            time.sleep(latency)  # outside the lock: a slow project must not stall the others
        with self._lock:
            reply = self._answer(request, op, project_id, job_ref, request_id)
            # Logged under the same lock as the work, so a reset() never sees the work without its entry.
            self._log.append(
                LoggedRequest(
                    method=request.method,
                    path=request.path,
                    query=dict(parse_qsl(request.raw_query, keep_blank_values=True)),
                    project_id=project_id,
                    op=op,
                    job_ids=_loggable_ids(op, job_ref, request.body),
                    status=None if reply.drop else reply.status,
                    at=time.time(),
                )
            )
        if self.verbose:
            status = "dropped" if reply.drop else reply.status
            print(f"dli-simulator: {request.method} {request.path} {op or '-'} -> {status}", file=sys.stderr)
        return reply

    def _answer(
        self, request: _Request, op: str | None, project_id: str | None, job_ref: str | None, request_id: str
    ) -> _Reply:
        """The reply to a DLI or IAM request; called under the state lock."""
        if op is None:
            return _apig_error(
                404,
                "APIG.0101",
                "The API does not exist or has not been published in the environment",
                request_id,
            )
        refusal = self._refusal(request, op, project_id, request_id)
        if refusal is not None:
            return refusal
        try:
            reply = self._process(request, op, project_id, job_ref)
        except ParameterError as error:
            reply = _dli_error(400, "DLI.0001", str(error))
        # The ambiguous faults: the work above is done, only the answer goes wrong.
        status = self._faults.take(project_id, op, "server_error_after")
        if status is not None:
            reply = _server_error(status, request_id)
        delay = self._faults.take(project_id, op, "slow_reply")
        if delay:
            reply = replace(reply, delay=delay)
        if self._faults.take(project_id, op, "drop_after"):
            reply = replace(reply, drop=True)
        return reply

    def _refusal(self, request: _Request, op: str, project_id: str | None, request_id: str) -> _Reply | None:
        """The reply when the request is refused before any work is done, else None."""
        if self._faults.take(project_id, op, "auth_fail"):
            if op == "iam_token":
                return _iam_error(401, "Unauthorized", "The username or password is wrong.")
            return _apig_error(401, "APIG.0301", AUTH_PREFIX + "verify aksk signature fail", request_id)
        if op != "iam_token" and (problem := self._auth_problem(request, project_id)):
            return _apig_error(401, "APIG.0301", AUTH_PREFIX + problem, request_id)
        retry_after = self._faults.take(project_id, op, "throttle")
        if retry_after is not None:
            return _apig_error(
                429,
                "APIG.0308",
                THROTTLE_MESSAGE,
                request_id,
                **{"Retry-After": str(max(1, math.ceil(retry_after)))},
            )
        status = self._faults.take(project_id, op, "server_error")
        if status is not None:
            return _server_error(status, request_id)
        return None

    # --- authentication ---------------------------------------------------------------------------

    def _auth_problem(self, request: _Request, project_id: str | None) -> str | None:
        """Why the gateway would refuse these credentials (the APIG.0301 message), or None."""
        authorization = request.headers.get("authorization")
        if authorization is not None:
            return self._signature_problem(request, authorization)
        token = request.headers.get("x-auth-token")
        if token is not None:
            return self._token_problem(token, project_id)
        return "the request has no X-Auth-Token header and no AK/SK Authorization header"

    def _signature_problem(self, request: _Request, authorization: str) -> str | None:
        match = _AUTHORIZATION.match(authorization.strip())
        if match is None:
            return (
                "verify aksk signature fail, the Authorization header is not "
                "'SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...'"
            )
        access_key, signed, given = match.groups()
        accepted, secret_key = self.credentials.access_key, self.credentials.secret_key
        if accepted is None or secret_key is None or not _same(access_key, accepted):
            return f"Get secretKey failed,ak:{access_key},err:ak not exist"
        raw_date = request.headers.get("x-sdk-date")
        if not raw_date:
            return "verify aksk signature fail, the X-Sdk-Date header is missing"
        try:
            date = aksk.parse_sdk_date(raw_date.strip())
        except ValueError:
            return f"verify aksk signature fail, X-Sdk-Date is not in the format {aksk.DATE_FORMAT}"
        # UNCERTAIN: the exact gateway wording; its FAQ shows this case under APIGW.0303.
        if abs(_utcnow() - date) > SDK_DATE_WINDOW:
            return (
                "verify aksk signature fail, X-Sdk-Date differs from the server time by more than 15 minutes"
            )
        names = signed.split(";")
        if any(name != name.lower() or name not in request.headers for name in names):
            return "verify aksk signature fail, a header named in SignedHeaders is not in the request"
        canonical = aksk.canonical_request(
            method=request.method,
            path=request.path,
            query=aksk.canonical_query(parse_qsl(request.raw_query, keep_blank_values=True)),
            headers=request.headers,
            signed_headers=names,
            body=request.body,
        )
        expected = aksk.signature(secret_key, aksk.string_to_sign(canonical, raw_date.strip()))
        if not hmac.compare_digest(expected, given):
            # Like the real gateway: show the server's canonical request, newlines as "|", to debug a signer.
            return "verify aksk signature fail, canonicalRequest: " + canonical.replace("\n", "|")
        return None

    def _token_problem(self, token: str, project_id: str | None) -> str | None:
        if self.credentials.token is not None and _same(token, self.credentials.token):
            return None
        issued = self._tokens.get(token)
        if issued is None:
            return "decrypt token fail"
        if issued.revoked or issued.expires <= time.time():
            return "token expires"
        if issued.project_id != project_id:
            # UNCERTAIN: DLI needs a token scoped to the project in the path; the real error is not known.
            return f"the token is not scoped to project {project_id}"
        return None

    # --- operations -------------------------------------------------------------------------------

    def _process(self, request: _Request, op: str, project_id: str | None, job_ref: str | None) -> _Reply:
        now = time.monotonic()
        if op == "iam_token":
            return self._issue_token(request.body)
        assert project_id is not None  # every DLI route has one
        if op == "list":
            query = parse_list_query(dict(parse_qsl(request.raw_query, keep_blank_values=True)))
            total, jobs = self._store.list(project_id, query, now)
            return self._object(
                op,
                project_id,
                {"is_success": True, "message": "", "job_list": {"total_count": total, "jobs": jobs}},
            )
        if op in ("create_sql_job", "create_jar_job"):
            return self._create(op, project_id, request.body, now)
        if op in ("show", "delete"):
            assert job_ref is not None
            job_id = _path_job_id(job_ref)
            job = self._store.get(project_id, job_id, now)
            if job is None:
                # The code is what production code keys on; the message text is UNCERTAIN.
                return _dli_error(400, "DLI.16001", f"The job does not exist. job_id: {job_id}")
            if op == "show":
                payload = {"is_success": True, "message": MSG_SHOWN, "job_detail": render(job, detail=True)}
                return self._object(op, project_id, payload)
            if job_id in (self._faults.take(project_id, op, "fail_ids") or ()):
                return self._object(op, project_id, {"is_success": False, "message": _locked(job_id)})
            self._store.delete(project_id, job_id, now)
            return self._object(op, project_id, {"is_success": True, "message": MSG_DELETED})
        ids, savepoint = _batch_body(request.body, op)
        results: list[tuple[bool, str]] = []
        if op == "batch_delete":
            fail_ids = self._faults.take(project_id, op, "fail_ids") or frozenset()
            for job_id in ids:
                if job_id in fail_ids and self._store.exists(project_id, job_id, now):
                    results.append((False, _locked(job_id)))
                elif self._store.delete(project_id, job_id, now):
                    results.append((True, MSG_DELETED))
                else:
                    # UNCERTAIN: DLI may instead refuse the whole request; a per-element false is the guess.
                    results.append((False, f"The job {job_id} does not exist."))
        else:
            for job_id in ids:
                outcome = self._store.stop(
                    project_id, job_id, now=now, delay=self.stop_delay, savepoint=savepoint
                )
                if outcome is StopOutcome.DELIVERED:
                    results.append((True, MSG_STOPPED))
                elif outcome is StopOutcome.MISSING:
                    results.append((False, f"The job {job_id} does not exist."))
                else:
                    status = self._store.get(project_id, job_id, now)["status"]  # type: ignore[index]
                    results.append((False, f"The job {job_id} cannot be stopped in status {status}."))
        return self._batch(op, project_id, results)

    def _create(self, op: str, project_id: str, body: bytes, now: float) -> _Reply:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ParameterError("Parameter check error: the request body is not valid JSON.") from None
        try:
            job = self._store.create(
                project_id, "sql" if op == "create_sql_job" else "jar", data, now, int(time.time() * 1000)
            )
        except NameTaken as error:
            return _dli_error(400, "DLI.0006", str(error))
        except NoSuchQueue as error:
            return _dli_error(400, "DLI.0002", str(error))
        payload = {
            "is_success": True,
            "message": MSG_CREATED[op],
            "job": {"job_id": job["job_id"], "status_name": job["status"], "status_desc": ""},
        }
        return self._object(op, project_id, payload)

    def _object(self, op: str, project_id: str, payload: dict[str, Any]) -> _Reply:
        """A 200 object reply ({is_success, message, ...}), shaped by the reply faults in force."""
        if self._faults.take(project_id, op, "empty_body"):
            return _Reply(200, b"", {"Content-Type": JSON_TYPE})
        if op == "delete" and self._faults.take(project_id, op, "doc_invalid_json"):
            return _Reply(200, _doc_example(MSG_DELETED, array=False), {"Content-Type": JSON_TYPE})
        # The jar create's documented reply has a JSON boolean; every other one a string (§1, §12).
        style = self._faults.take(project_id, op, "bool_style") or (
            "bool" if op == "create_jar_job" else "string"
        )
        return _json(200, {**payload, "is_success": _flag(payload["is_success"], style)})

    def _batch(self, op: str, project_id: str, results: list[tuple[bool, str]]) -> _Reply:
        """A 200 batch reply: one element per id in request order, unless a reply fault says otherwise."""
        success = MSG_DELETED if op == "batch_delete" else MSG_STOPPED
        if self._faults.take(project_id, op, "empty_body"):
            return _Reply(200, b"", {"Content-Type": JSON_TYPE})
        if self._faults.take(project_id, op, "doc_invalid_json"):
            return _Reply(200, _doc_example(success, array=True), {"Content-Type": JSON_TYPE})
        style = self._faults.take(project_id, op, "bool_style") or "string"

        def element(ok: bool, message: str) -> dict[str, Any]:
            return {"is_success": _flag(ok, style), "message": message}

        failures = [message for ok, message in results if not ok]
        whole = element(not failures, failures[0] if failures else success)
        if self._faults.take(project_id, op, "single_object"):
            return _json(200, whole)
        if self._faults.take(project_id, op, "single_reply"):
            return _json(200, [whole])
        elements = [element(ok, message) for ok, message in results]
        count = self._faults.take(project_id, op, "reply_count")
        if count is not None:
            elements = elements[:count] + [element(True, success)] * (count - len(elements))
        return _json(200, elements)

    # --- IAM --------------------------------------------------------------------------------------

    def _iam_scope(self, body: bytes) -> str | None:
        """The project id a token request is scoped to (by id, or by a seeded project's name)."""
        try:
            project = json.loads(body)["auth"]["scope"]["project"]
        except (ValueError, UnicodeDecodeError, KeyError, TypeError):
            return None
        if not isinstance(project, dict):
            return None
        if isinstance(project.get("id"), str):
            return project["id"]
        by_name = {p.name: p.id for p in DEMO_PROJECTS}
        return by_name.get(project.get("name"))  # type: ignore[arg-type]

    def _issue_token(self, body: bytes) -> _Reply:
        try:
            auth = json.loads(body)["auth"]
            identity = auth["identity"]
            user = identity["password"]["user"]
            name, password, domain = user["name"], user["password"], user["domain"]["name"]
            if "password" not in identity["methods"] or not all(
                isinstance(v, str) for v in (name, password, domain)
            ):
                raise TypeError
        except (ValueError, UnicodeDecodeError, KeyError, TypeError):
            return _iam_error(400, "Bad Request", "The request body is not a valid password authentication.")
        known = self.credentials
        if (
            known.iam_user is None
            or known.iam_password is None
            or known.iam_domain is None
            or not (
                _same(name, known.iam_user)
                & _same(password, known.iam_password)
                & _same(domain, known.iam_domain)
            )
        ):
            return _iam_error(401, "Unauthorized", "The username or password is wrong.")
        project_id = self._iam_scope(body)
        scope = auth.get("scope") if isinstance(auth, dict) else None
        if isinstance(scope, dict) and "project" in scope and project_id is None:
            return _iam_error(400, "Bad Request", "The project in the scope does not exist.")
        token = "MIIsim" + secrets.token_urlsafe(48)
        issued = time.time()
        expires = issued + self.token_ttl
        self._tokens[token] = _IssuedToken(expires=expires, project_id=project_id)
        names = {p.id: p.name for p in DEMO_PROJECTS}
        payload: dict[str, Any] = {
            "methods": ["password"],
            "expires_at": _iso(expires),
            "issued_at": _iso(issued),
            "user": {"name": name, "domain": {"name": domain}},
        }
        if project_id is not None:
            payload["project"] = {"id": project_id, "name": names.get(project_id, project_id)}
        return _json(201, {"token": payload}, {"X-Subject-Token": token})

    # --- control API (/_sim/, loopback only, no auth, not in the request log) -------------------------

    def _control(self, request: _Request) -> _Reply:
        if not _is_loopback(request.client):
            return _json(403, {"error": "the control API answers loopback clients only"})
        query = dict(parse_qsl(request.raw_query))
        route = (request.method, request.path.rstrip("/"))
        if route == ("GET", "/_sim/projects"):
            return _json(200, {"projects": self.projects()})
        if route == ("POST", "/_sim/reset"):
            self.reset()
            return _json(200, {"reset": True})
        if route == ("GET", "/_sim/faults"):
            return _json(200, {"faults": [fault.as_json() for fault in self.faults()]})
        if route == ("POST", "/_sim/faults"):
            try:
                spec = json.loads(request.body)
                self.set_fault(
                    spec.get("project_id"),
                    spec["name"],
                    spec.get("value", True),
                    ops=spec.get("ops"),
                    count=spec.get("count"),
                )
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                return _json(400, {"error": f"bad fault: {error}"})
            return _json(201, {"faults": [fault.as_json() for fault in self.faults()]})
        if route == ("DELETE", "/_sim/faults"):
            self.clear_faults(query.get("project_id") or None)
            return _json(200, {"cleared": True})
        if route == ("GET", "/_sim/requests"):
            entries = self.requests(query.get("project_id") or None, query.get("op") or None)
            return _json(200, {"requests": [asdict(entry) for entry in entries]})
        if route == ("DELETE", "/_sim/requests"):
            self.clear_requests()
            return _json(200, {"cleared": True})
        if route == ("POST", "/_sim/queues/remove"):
            try:
                spec = json.loads(request.body)
                self.remove_queue(spec["project_id"], spec["queue"])
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                return _json(400, {"error": f"bad queue: {error}"})
            return _json(200, {"removed": True})
        if route == ("POST", "/_sim/tokens/revoke"):
            self.revoke_tokens()
            return _json(200, {"revoked": True})
        return _json(404, {"error": f"no control endpoint {request.method} {request.path}"})


def _locked(job_id: int) -> str:
    return f"Job {job_id} cannot be deleted: it is locked by another operation."


def _doc_example(message: str, *, array: bool) -> bytes:
    # The documented delete example verbatim, trailing comma included: not valid JSON
    # (docs/dli-api.md §1, §3).
    # A stop gets the same shape with its own message, so a client meets the same parse failure there.
    body = '{\n    "is_success": "true",\n    "message": "' + message + '",\n}'
    return (f"[{body}]" if array else body).encode()


# --- HTTP plumbing ---------------------------------------------------------------------------------


class _BadBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for idle keep-alive connections
    simulator: Simulator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up in reverse DNS (socket.getfqdn): slow and useless here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client pools connections
    server_version = "dli-simulator"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    disable_nagle_algorithm = True
    server: _Server
    # BaseHTTPRequestHandler's buffer of header lines (send_header creates it), which typeshed leaves
    # out as private: _send appends the body to it so head and body go out in one write.
    _headers_buffer: list[bytes]

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        self.server.track(self.connection, alive=False)
        super().finish()

    def do_GET(self) -> None:
        request_id = uuid.uuid4().hex
        try:
            body = self._read_body()
        except _BadBody as error:
            # The rest of the stream cannot be trusted, so this connection ends after the reply.
            self._send(replace(_dli_error(error.status, "DLI.0001", str(error)), close=True), request_id)
            return
        target = urlsplit(self.path)
        request = _Request(
            method=self.command,
            path=target.path,
            raw_query=target.query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            client=str(self.client_address[0]),
        )
        try:
            reply = self.server.simulator._handle(request, request_id)
        except Exception:
            log.exception("dli-simulator: %s %s failed", self.command, target.path)
            reply = _dli_error(500, "DLI.0999", "Server-side error")
        self._send(reply, request_id)

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                try:
                    size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
                except ValueError:
                    raise _BadBody(400, "Malformed chunked request body.") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise _BadBody(413, "The request body is too large.")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        raw = self.headers.get("Content-Length")
        if not raw:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _BadBody(400, "Malformed Content-Length.") from None
        if length < 0 or length > MAX_BODY:
            raise _BadBody(413, "The request body is too large.")
        return self.rfile.read(length)

    def _send(self, reply: _Reply, request_id: str) -> None:
        if reply.drop:
            # The work is done, but the client gets no answer at all: a reset or RemoteDisconnected.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.delay:
            time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            self.send_header("X-Request-Id", request_id)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            if reply.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            # Head and body in one write: two small writes meet the client's delayed ACK (~40 ms each).
            self._headers_buffer.append(b"\r\n" + reply.body)
            self.flush_headers()
        except OSError:  # the client gave up (e.g. its read timeout during slow_reply)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # Simulator.verbose prints its own lines; the default would print every request


_embedded: Simulator | None = None
_embedded_lock = threading.Lock()


def embedded() -> Simulator:
    """The process-wide simulator the dashboard uses when DLI_ENDPOINT is empty (started on first call).

    It listens on a free loopback port, or on DLI_SIMULATOR_PORT when that is set, and accepts the demo
    credentials only: DLI_AK and friends, when set, are for the DLI that dli-admin really talks to.
    """
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            port = int(os.environ.get("DLI_SIMULATOR_PORT") or 0)
            _embedded = Simulator(port=port, credentials=DEMO).start()
        return _embedded
