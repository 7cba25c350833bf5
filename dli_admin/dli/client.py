"""DliClient: the only code in dli-admin that speaks HTTP to DLI's Flink-job API.

Every call has a connect and a read timeout and a total deadline. Reads are retried on transient failures;
a delete (or stop) is sent again only when it provably never reached DLI or DLI refused it for throttling.
What happened to the jobs of an ambiguous chunk is for the caller to find out, by reading them back.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import batched
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.auth import AuthBase

from dli_admin import aksk
from dli_admin.dli.errors import (
    DliError,
    ErrorCategory,
    error_from_reply,
    excerpt,
    redact,
    request_id_of,
)
from dli_admin.dli.limiter import EndpointLimiter
from dli_admin.dli.parsing import (
    parse_batch_reply,
    parse_create_reply,
    parse_delete_reply,
    parse_job_definition,
    parse_job_detail,
    parse_job_page,
)
from dli_admin.dli.retry import (
    RETRYABLE_READ_STATUSES,
    THROTTLED_STATUS,
    backoff_delay,
    hopeless,
    never_sent,
    retry_after_seconds,
    transport_error,
)
from dli_admin.dli.sessions import session_for
from dli_admin.dli.types import (
    ChunkOutcome,
    ChunkResult,
    CreatedJob,
    DeleteReply,
    DliCall,
    Job,
    JobDefinition,
    JobPage,
    ReplyShape,
)

log = logging.getLogger("dli_admin.dli")

PAGE_LIMIT = 100  # DLI's maximum `limit`
MAX_REPLY_BYTES = 32 * 1024 * 1024  # far above any real page; stops a runaway reply from filling memory
_PROJECT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# An IAM login that failed for these reasons reached nothing at DLI, so it may simply be tried again.
_LOGIN_RETRYABLE = frozenset(
    {ErrorCategory.NETWORK, ErrorCategory.TIMEOUT, ErrorCategory.THROTTLED, ErrorCategory.SERVER}
)
# After these, the next chunks would be refused too, and repeated AK/SK failures lock the AK for 5 minutes.
_STOP_BATCH = frozenset({ErrorCategory.AUTH, ErrorCategory.FORBIDDEN})


class _ReplyTooLarge(requests.RequestException):
    pass


@dataclass
class _Exchange:
    """The end of one call, after its retries."""

    status: int | None = None
    body: bytes = b""
    request_id: str | None = None
    error: DliError | None = None
    # The last failure happened after the request may have reached DLI (read timeout, drop, 5xx).
    outcome_unknown: bool = False
    sends: int = 0
    duration: float = 0.0


def _check_ids(job_ids: Iterable[int]) -> list[int]:
    """Validated ids, duplicates dropped (keeping order): a repeated id would break matching by position."""
    ids: list[int] = []
    seen: set[int] = set()
    for job_id in job_ids:
        if isinstance(job_id, bool) or not isinstance(job_id, int):
            raise TypeError(f"job ids must be integers, not {type(job_id).__name__}")
        if job_id not in seen:
            seen.add(job_id)
            ids.append(job_id)
    return ids


def _tags(tags: Mapping[str, str] | str) -> str:
    """DLI's `k=v,k2=v2` tag filter (as terraform's provider builds it)."""
    if isinstance(tags, str):
        return tags
    for key, value in tags.items():
        if any(ch in f"{key}{value}" for ch in ",="):
            raise ValueError("tag keys and values cannot contain ',' or '='")
    return ",".join(f"{key}={value}" for key, value in tags.items())


class DliClient:
    """DLI's Flink-job API for one project. Thread-safe and cheap to create: sessions are per endpoint."""

    def __init__(
        self,
        endpoint: str,
        project_id: str,
        *,
        auth: AuthBase,
        connect_timeout: float = 3.0,
        read_timeout: float = 15.0,
        batch_size: int = 50,
        max_attempts: int = 4,
        deadline: float = 30.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        limiter: EndpointLimiter | None = None,
        # Called after every attempt (metrics); must be quick, and whatever it raises is logged, not raised.
        observer: Callable[[DliCall], None] | None = None,
        # Seams for tests; the defaults are what production uses.
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "the DLI endpoint must be an http(s) URL, e.g. https://dli.eu-de.otc.t-systems.com"
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("the DLI endpoint must not carry credentials, a query or a fragment")
        if not _PROJECT_ID.fullmatch(project_id or ""):
            raise ValueError("the DLI project id must be 1-64 letters, digits, '-' or '_'")
        if min(connect_timeout, read_timeout, deadline) <= 0 or batch_size < 1 or max_attempts < 1:
            raise ValueError("timeouts and the deadline must be positive; batch_size and max_attempts >= 1")
        if auth is None:
            raise ValueError("DliClient needs an auth (AkSkAuth, TokenAuth or IamPasswordAuth)")
        self.endpoint = endpoint.rstrip("/")
        self.project_id = project_id
        self.batch_size = batch_size
        self._auth = auth
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_attempts = max_attempts
        self._deadline = deadline
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._session = session or session_for(self.endpoint)
        self.observer = observer
        self.limiter = limiter  # shared by every client of the endpoint: calls in flight, 429 back-off
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not cryptography)
        self._base_path = f"/v1.0/{quote(project_id, safe='')}/streaming/jobs"
        # The SDK sends these on every call, GET included; X-Project-Id is signed with AK/SK.
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Project-Id": project_id,
            "X-Language": "en-us",  # English messages, as the Go SDK asks (effect undocumented)
        }

    def __repr__(self) -> str:
        return f"DliClient(endpoint={self.endpoint!r}, project_id={self.project_id!r}, auth={self._auth!r})"

    # --- reads ---------------------------------------------------------------------------------

    def list_jobs(
        self,
        *,
        offset: int = 0,
        limit: int = PAGE_LIMIT,
        status: str | None = None,
        name: str | None = None,
        queue_name: str | None = None,
        user_name: str | None = None,
        job_type: str | None = None,
        tags: Mapping[str, str] | str | None = None,
        order: str | None = None,
        show_detail: bool = False,
    ) -> JobPage:
        """One page of jobs; `offset` counts records, `limit` is at most 100. show_detail=True: each job
        also carries its definition (Job.detail: sql_body, job_config, ...), at no extra call (§2)."""
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError("offset must be an integer >= 0")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_LIMIT:
            raise ValueError(f"limit must be an integer from 1 to {PAGE_LIMIT}")
        if order not in (None, "asc", "desc"):
            raise ValueError("order must be 'asc' or 'desc'")
        filters = {
            "status": status,
            "name": name,
            "queue_name": queue_name,
            "user_name": user_name,
            "job_type": job_type,
            "tags": None if tags is None else _tags(tags),
            "order": order,
        }
        params: list[tuple[str, str | int]] = [("offset", offset), ("limit", limit)]
        params += [(key, value) for key, value in filters.items() if value is not None]
        if show_detail:
            params.append(("show_detail", "true"))  # lowercase, as the SDK sends it
        exchange = self._exchange(
            "list", "GET", self._base_path, query=aksk.canonical_query(params), write=False
        )
        body = self._body_or_raise(exchange)
        try:
            return parse_job_page(body, offset=offset, limit=limit, status=exchange.status)
        except DliError as err:
            raise self._annotated(err, exchange) from None

    def iter_job_pages(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        queue_name: str | None = None,
        user_name: str | None = None,
        job_type: str | None = None,
        tags: Mapping[str, str] | str | None = None,
        order: str | None = None,
    ) -> Iterator[JobPage]:
        """Every page of matching jobs, 100 at a time, one after another: dli-admin's one pager."""
        offset = 0
        while True:
            page = self.list_jobs(
                offset=offset,
                limit=PAGE_LIMIT,
                status=status,
                name=name,
                queue_name=queue_name,
                user_name=user_name,
                job_type=job_type,
                tags=tags,
                order=order,
            )
            if not page.jobs:
                return
            # Advance by what came back, not by `limit`: a server capping pages lower must not skip jobs.
            offset += len(page.jobs)
            yield page
            if offset >= page.total_count:
                return

    def iter_jobs(self, **filters: Any) -> Iterator[Job]:
        """Every matching job (filters as for iter_job_pages); never more than one page is held."""
        for page in self.iter_job_pages(**filters):
            yield from page.jobs

    def show_job(self, job_id: int) -> Job:
        """One job; a job that is gone raises DliError(category=NOT_FOUND) (DLI.16001 or DLI.0002)."""
        return self._show(job_id, parse_job_detail, lambda job: job.job_id)

    def show_job_definition(self, job_id: int) -> JobDefinition:
        """One job with its definition (SQL or jar entry point, config, run mode); gone: as show_job."""
        return self._show(job_id, parse_job_definition, lambda definition: definition.job.job_id)

    def _show[T](self, job_id: int, parse: Callable[..., T], id_of: Callable[[T], int]) -> T:
        job_id = _check_ids([job_id])[0]
        exchange = self._exchange("show", "GET", f"{self._base_path}/{job_id}", write=False)
        body = self._body_or_raise(exchange)
        try:
            result = parse(body, status=exchange.status)
        except DliError as err:
            raise self._annotated(err, exchange) from None
        if id_of(result) != job_id:
            raise self._annotated(
                DliError(
                    ErrorCategory.UNPARSEABLE,
                    f"asked for job {job_id}, DLI answered with job {id_of(result)}",
                    status=exchange.status,
                ),
                exchange,
            )
        return result

    # --- writes ------------------------------------------------------------------------------

    def create_sql_job(self, body: Mapping[str, Any]) -> CreatedJob:
        """POST streaming/sql-jobs (§12): a new Flink SQL job in job_init; never started."""
        return self._create(
            "create_sql_job", f"/v1.0/{quote(self.project_id, safe='')}/streaming/sql-jobs", body
        )

    def create_jar_job(self, body: Mapping[str, Any]) -> CreatedJob:
        """POST streaming/flink-jobs (§12): a new Flink jar job in job_init; never started."""
        return self._create(
            "create_jar_job", f"/v1.0/{quote(self.project_id, safe='')}/streaming/flink-jobs", body
        )

    def _create(self, operation: str, path: str, body: Mapping[str, Any]) -> CreatedJob:
        """Sent again only when it provably never reached DLI (or on a 429), like a delete.

        DliError AMBIGUOUS: the job may have been created (the reply was lost, a 5xx, or a 2xx that cannot
        be read); look it up by name before sending anything again. Other categories: DLI refused it.
        """
        if not isinstance(body.get("name"), str) or not body["name"]:
            raise ValueError("a job to create needs a name")
        payload = json.dumps(dict(body), ensure_ascii=False).encode("utf-8")
        exchange = self._exchange(operation, "POST", path, body=payload, write=True)
        if exchange.error is not None:
            if exchange.outcome_unknown:
                raise self._ambiguous(exchange.error)
            raise exchange.error
        try:
            job_id, status_name = parse_create_reply(exchange.body, status=exchange.status)
        except DliError as err:
            if err.category is ErrorCategory.UNPARSEABLE:
                err = self._ambiguous(err)  # DLI answered 2xx: the job may well exist
            err.status = err.status or exchange.status  # a 2xx saying is_success=false: DLI refused
            raise self._annotated(err, exchange) from None
        return CreatedJob(job_id, status_name, exchange.request_id, exchange.sends)

    def delete_job(self, job_id: int) -> DeleteReply:
        """Delete one job. DliError AMBIGUOUS or UNPARSEABLE: it may have been deleted; read it back."""
        job_id = _check_ids([job_id])[0]
        exchange = self._exchange("delete", "DELETE", f"{self._base_path}/{job_id}", write=True)
        if exchange.error is not None:
            if exchange.outcome_unknown:
                raise self._ambiguous(exchange.error)
            raise exchange.error
        try:
            return parse_delete_reply(exchange.body, status=exchange.status)
        except DliError as err:
            err.advice = "the job may or may not have been deleted; read it back"
            raise self._annotated(err, exchange) from None

    def batch_delete(self, job_ids: Sequence[int]) -> list[ChunkResult]:
        """Delete jobs in chunks of batch_size: one ChunkResult per chunk, in order."""
        return list(self.iter_batch_delete(job_ids))

    def delete_chunk(self, job_ids: Sequence[int]) -> ChunkResult:
        """One batch-delete request for at most batch_size jobs: the caller sends the chunks."""
        ids = _check_ids(job_ids)
        if len(ids) > self.batch_size:
            raise ValueError(f"a chunk holds at most {self.batch_size} job ids, not {len(ids)}")
        return self._send_chunk("delete", tuple(ids), {})

    def iter_batch_delete(self, job_ids: Iterable[int]) -> Iterator[ChunkResult]:
        """batch_delete, one chunk at a time (for progress). The ids are validated before anything is sent."""
        return self._batches("delete", _check_ids(job_ids), {})

    def batch_stop(self, job_ids: Sequence[int], *, trigger_savepoint: bool = False) -> list[ChunkResult]:
        """Ask DLI to stop jobs (asynchronous: they pass through job_canceling)."""
        extra = {"trigger_savepoint": bool(trigger_savepoint)}
        return list(self._batches("stop", _check_ids(job_ids), extra))

    def _batches(self, action: str, ids: list[int], extra: Mapping[str, object]) -> Iterator[ChunkResult]:
        stopped_by: DliError | None = None
        for chunk in batched(ids, self.batch_size):
            if stopped_by is not None:
                # Not sent: DLI refused the credentials already, and more failures would lock the AK.
                yield ChunkResult(chunk, ChunkOutcome.REFUSED, None, (), stopped_by, 0, None, None, 0.0)
                continue
            result = self._send_chunk(action, chunk, extra)
            first = result.error
            if result.outcome is ChunkOutcome.REFUSED and first and first.category in _STOP_BATCH:
                stopped_by = DliError(
                    first.category,
                    f"not sent, because DLI refused an earlier chunk: {first.message}",
                    status=first.status,
                    code=first.code,
                    request_id=first.request_id,
                    advice=first.advice,
                    service=first.service,
                )
            yield result

    def _send_chunk(self, action: str, chunk: tuple[int, ...], extra: Mapping[str, object]) -> ChunkResult:
        body = json.dumps({"job_ids": list(chunk), **extra}).encode("utf-8")
        exchange = self._exchange(
            f"batch_{action}", "POST", f"{self._base_path}/{action}", body=body, write=True
        )
        if exchange.error is None:
            shape, replies = parse_batch_reply(exchange.body, len(chunk))
            if shape is not ReplyShape.PER_ID:
                log.warning(
                    "DLI batch %s of %d jobs: the reply cannot be matched to ids (%s): %s",
                    action,
                    len(chunk),
                    shape.value,
                    excerpt(exchange.body.decode("utf-8", errors="replace"), self._secrets()) or "empty body",
                )
            outcome, error = ChunkOutcome.REPLIED, None
        else:
            shape, replies = None, ()
            if exchange.outcome_unknown:
                outcome, error = ChunkOutcome.AMBIGUOUS, self._ambiguous(exchange.error)
            else:
                outcome, error = ChunkOutcome.REFUSED, exchange.error
        log.info(
            "DLI batch %s of %d jobs: %s%s after %d send(s) in %.3fs",
            action,
            len(chunk),
            outcome.value,
            f" ({shape.value})" if shape else f": {error.message}" if error else "",
            exchange.sends,
            exchange.duration,
        )
        return ChunkResult(
            job_ids=chunk,
            outcome=outcome,
            shape=shape,
            replies=replies,
            error=error,
            attempts=exchange.sends,
            request_id=exchange.request_id,
            http_status=exchange.status,
            duration=exchange.duration,
        )

    # --- the exchange: one call with its retries ---------------------------------------------------

    def _exchange(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes | None = None,
        write: bool,
    ) -> _Exchange:
        """Send a call until it succeeds, fails for good, or the rules forbid another try.

        write=True is a delete or stop: sent again only if it never left this machine, or on a 429.
        """
        url = self.endpoint + path + (f"?{query}" if query else "")
        shown = path + (f"?{query}" if query else "")  # what the log shows: never headers or a body
        started = self._clock()
        deadline_at = started + self._deadline
        sends = tries = 0
        refreshed = False

        def finish(**fields: Any) -> _Exchange:
            return _Exchange(sends=sends, duration=self._clock() - started, **fields)

        while True:
            tries += 1
            remaining = max(deadline_at - self._clock(), 0.001)
            timeout = (min(self._connect_timeout, remaining), min(self._read_timeout, remaining))
            attempt_started = self._clock()

            try:
                prepared = self._prepare(method, url, body)
            except DliError as login_failed:  # the IAM login failed: nothing went to DLI
                category = login_failed.category
                self._log(method, shown, f"not sent ({category.value})", None, tries, attempt_started)
                self._observe(operation, method, None, "not_sent", tries, attempt_started)
                if category in _LOGIN_RETRYABLE and (pause := self._pause(tries, None, deadline_at)):
                    self._sleep(pause)
                    continue
                return finish(error=login_failed)

            try:
                with self.limiter.slot() if self.limiter else nullcontext():
                    response = self._session.send(
                        prepared,
                        timeout=timeout,
                        allow_redirects=False,  # a redirected POST would turn into a GET
                        **self._session.merge_environment_settings(prepared.url, {}, True, None, None),
                    )
            except requests.RequestException as exc:
                sent = not never_sent(exc)
                sends += sent
                lost = transport_error(exc, read_timeout=timeout[1], secrets=self._secrets())
                self._log(method, shown, lost.category.value, None, tries, attempt_started)
                self._observe(operation, method, None, lost.category.value, tries, attempt_started)
                if (
                    not hopeless(exc)
                    and not (write and sent)
                    and (pause := self._pause(tries, None, deadline_at))
                ):
                    self._sleep(pause)
                    continue
                return finish(error=self._gave_up(lost, tries), outcome_unknown=sent)

            sends += 1
            status = response.status_code
            request_id = request_id_of(response.headers, self._secrets())
            try:
                content, broken = self._read(response), None
            except requests.RequestException as exc:  # the status line came, then the body broke
                content, broken = b"", transport_error(exc, read_timeout=timeout[1], secrets=self._secrets())
            finally:
                response.close()
            self._log(method, shown, status, request_id, tries, attempt_started, broken)
            failure = broken.category.value if broken else ""
            self._observe(operation, method, status, failure, tries, attempt_started)

            if self.limiter and status == THROTTLED_STATUS:
                self.limiter.throttled(retry_after_seconds(response.headers.get("Retry-After")))
            elif self.limiter and status < 500:
                self.limiter.succeeded()
            if 200 <= status < 300:
                if broken is None:
                    return finish(status=status, body=content, request_id=request_id)
                # DLI answered, but what it said is lost: a read tries again, a write is ambiguous.
                broken.status, broken.request_id = status, request_id
                if not write and (pause := self._pause(tries, None, deadline_at)):
                    self._sleep(pause)
                    continue
                return finish(status=status, request_id=request_id, error=broken, outcome_unknown=True)

            refusal = error_from_reply(status, response.headers, content, secrets=self._secrets())
            if status == 401 and not refreshed and getattr(self._auth, "refreshable", False):
                # The cached IAM token was revoked or expired early: log in again and retry, once.
                refreshed = True
                self._auth.invalidate(prepared.headers.get("X-Auth-Token"))  # type: ignore[attr-defined]
                if self._clock() < deadline_at:
                    continue
            if status == THROTTLED_STATUS or (not write and status in RETRYABLE_READ_STATUSES):
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                if pause := self._pause(tries, retry_after, deadline_at):
                    self._sleep(pause)
                    continue
            # A 4xx is DLI refusing; a 5xx (or anything odd) after sending leaves a delete's fate unknown.
            return finish(
                status=status,
                body=content,
                request_id=request_id,
                error=self._gave_up(refusal, tries),
                outcome_unknown=not 400 <= status < 500,
            )

    def _prepare(self, method: str, url: str, body: bytes | None) -> requests.PreparedRequest:
        request = requests.Request(method, url, headers=self._headers, data=body, auth=self._auth)
        return self._session.prepare_request(request)

    def _read(self, response: requests.Response) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise _ReplyTooLarge(f"the reply is larger than {MAX_REPLY_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _pause(self, tries: int, retry_after: float | None, deadline_at: float) -> float | None:
        """The pause before another try; None when out of tries or when it would pass the deadline."""
        if tries >= self._max_attempts:
            return None
        if retry_after is not None:
            pause = retry_after
        else:
            pause = backoff_delay(tries - 1, self._backoff_base, self._backoff_cap, self._rng)
        if self._clock() + pause >= deadline_at:
            return None
        return max(pause, 1e-6)  # a truthy value even when the jitter draws 0

    def _gave_up(self, err: DliError, tries: int) -> DliError:
        if tries > 1:
            err.message = f"{err.message} (gave up after {tries} tries)"
        return err

    def _body_or_raise(self, exchange: _Exchange) -> bytes:
        if exchange.error is not None:
            raise exchange.error
        return exchange.body

    def _ambiguous(self, err: DliError) -> DliError:
        return DliError(
            ErrorCategory.AMBIGUOUS,
            err.message,
            status=err.status,
            code=err.code,
            request_id=err.request_id,
        )

    def _annotated(self, err: DliError, exchange: _Exchange) -> DliError:
        err.message = redact(err.message, self._secrets())
        err.request_id = err.request_id or exchange.request_id
        return err

    def _secrets(self) -> tuple[str, ...]:
        secret_values = getattr(self._auth, "secret_values", None)
        return tuple(secret_values()) if callable(secret_values) else ()

    def _observe(
        self, operation: str, method: str, status: int | None, failure: str, attempt: int, started: float
    ) -> None:
        if self.observer is None:
            return
        call = DliCall(operation, method, status, failure, attempt, max(self._clock() - started, 0.0))
        try:
            self.observer(call)
        except Exception:  # a broken metric must never break a delete
            log.exception("DLI call observer failed")

    def _log(
        self,
        method: str,
        path: str,
        status: object,
        request_id: str | None,
        attempt: int,
        started: float,
        broken: DliError | None = None,
    ) -> None:
        # Failures warn; deletes and stops are always worth a line; a good read is detail.
        ok = isinstance(status, int) and status < 400 and broken is None
        level = logging.WARNING if not ok else logging.DEBUG if method == "GET" else logging.INFO
        if method == "GET" and status == 400 and broken is None:
            level = logging.INFO  # DLI answers "no such job" with 400: routine when reading deletes back
        log.log(
            level,
            "DLI %s %s -> %s request_id=%s attempt=%d duration=%.3fs%s",
            method,
            path,
            status,
            request_id,
            attempt,
            self._clock() - started,
            f" ({broken.message})" if broken else "",
            # Fields for structured (JSON) logs: DLI's request id links a line to DLI's own trace.
            extra={"dli_request_id": request_id or "", "project_id": self.project_id},
        )
