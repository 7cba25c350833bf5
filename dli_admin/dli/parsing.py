"""Reading DLI's 2xx bodies into typed results, without ever guessing.

List and show raise DliError(UNPARSEABLE) on anything unexpected (never a KeyError or TypeError); a batch
reply is classified into a ReplyShape instead, because a delete that may have happened must still be reported.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from dli_admin.dli.errors import DliError, ErrorCategory, excerpt
from dli_admin.dli.types import DeleteReply, Job, JobDefinition, JobPage, ReplyShape

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Bad(Exception):
    """Internal: the body is not what DLI documents. Always turned into a DliError or a ReplyShape."""


class _NotJson(_Bad):
    pass


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json would otherwise accept NaN and Infinity


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _NotJson(str(exc)) from None


def parse_bool(value: object) -> bool:
    """DLI's is_success: true, "true" or "True" (and the false forms); the SDKs flip between these."""
    if isinstance(value, bool):
        return value
    if value in ("true", "True"):
        return True
    if value in ("false", "False"):
        return False
    raise _Bad(f"is_success is {excerpt(repr(value))}")


def _int(value: object, field: str) -> int:
    # bool is an int in Python; DLI never means True by 1.
    if isinstance(value, bool):
        raise _Bad(f"{field} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Bad(f"{field} is not an integer")


def _text(job: dict[str, Any], field: str) -> str:
    value = job.get(field)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):  # a number where text is documented: show it, it is not a guess
        return str(value)
    raise _Bad(f"{field} is not text")


def _epoch_ms(job: dict[str, Any], field: str) -> datetime | None:
    value = job.get(field)
    if value is None:
        return None
    ms = _int(value, field)
    if ms == 0:  # DLI's "not started"; 1970 is never a real time here
        return None
    if ms < 0:
        raise _Bad(f"{field} is negative")
    try:
        return _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        raise _Bad(f"{field} is out of range") from None


def parse_job(job: object) -> Job:
    if not isinstance(job, dict):
        raise _Bad("a job is not an object")
    if "job_id" not in job:
        raise _Bad("a job has no job_id")
    duration = job.get("duration")
    root_id = job.get("root_id")
    duration_ms = None if duration is None else _int(duration, "duration")
    if duration_ms is not None and duration_ms < 0:
        raise _Bad("duration is negative")
    try:
        duration_td = None if duration_ms is None else timedelta(milliseconds=duration_ms)
    except OverflowError:
        raise _Bad("duration is out of range") from None
    root = None if root_id is None else _int(root_id, "root_id")
    return Job(
        job_id=_int(job["job_id"], "job_id"),
        name=_text(job, "name"),
        status=_text(job, "status"),
        status_desc=_text(job, "status_desc"),
        job_type=_text(job, "job_type"),
        queue_name=_text(job, "queue_name"),
        user_name=_text(job, "user_name"),
        desc=_text(job, "desc"),
        create_time=_epoch_ms(job, "create_time"),
        start_time=_epoch_ms(job, "start_time"),
        duration=duration_td,
        root_id=None if root == -1 else root,  # -1 is DLI's "no parent job"
        detail=job,
    )


def _envelope(body: bytes) -> dict[str, Any]:
    """The {is_success, message, ...} object around a list or show reply."""
    document = load_json(body)
    if not isinstance(document, dict):
        raise _Bad("the reply is not a JSON object")
    # is_success may be absent (tolerated); when present it must be valid, and "false" is DLI saying no.
    if "is_success" in document and not parse_bool(document["is_success"]):
        message = document.get("message")
        raise DliError(
            ErrorCategory.SERVER,
            "DLI answered is_success=false" + (f": {excerpt(message)}" if isinstance(message, str) else ""),
        )
    return document


def _unparseable(what: str, problem: Exception, body: bytes, status: int | None) -> DliError:
    detail = str(problem) if not isinstance(problem, _NotJson) else "the body is not valid JSON"
    sample = excerpt(body.decode("utf-8", errors="replace")) or "empty body"
    return DliError(ErrorCategory.UNPARSEABLE, f"{what}: {detail} (body: {sample})", status=status)


def parse_job_page(body: bytes, *, offset: int, limit: int, status: int | None = 200) -> JobPage:
    try:
        job_list = _envelope(body).get("job_list")
        if not isinstance(job_list, dict):
            raise _Bad("job_list is missing")
        total = _int(job_list.get("total_count"), "total_count")
        if total < 0:
            raise _Bad("total_count is negative")
        jobs = job_list.get("jobs")
        if jobs is None:
            jobs = []  # an empty page may come without the array
        if not isinstance(jobs, list):
            raise _Bad("jobs is not an array")
        return JobPage(total_count=total, jobs=tuple(parse_job(j) for j in jobs), offset=offset, limit=limit)
    except _Bad as exc:
        raise _unparseable("the job list", exc, body, status) from None


def parse_job_detail(body: bytes, *, status: int | None = 200) -> Job:
    try:
        return parse_job(_envelope(body).get("job_detail"))
    except _Bad as exc:
        raise _unparseable("the job detail", exc, body, status) from None


def parse_create_reply(body: bytes, *, status: int | None = 200) -> tuple[int, str]:
    """A create reply, {is_success, message, job: {job_id, status_name, status_desc}}: (job_id, status_name).

    is_success is a string for SQL jobs and a JSON boolean for jar jobs (docs/dli-api.md §12); both pass.
    """
    try:
        job = _envelope(body).get("job")
        if not isinstance(job, dict) or "job_id" not in job:
            raise _Bad("job.job_id is missing")
        return _int(job["job_id"], "job_id"), _text(job, "status_name")
    except _Bad as exc:
        raise _unparseable("the create reply", exc, body, status) from None


def _tags(value: object) -> tuple[tuple[str, str], ...]:
    """Tags as {key: value} or [{key, value}] (DLI documents neither for a job: accept both, or none)."""
    if value is None:
        return ()
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(t, dict) and "key" in t for t in value):
        pairs = [(t["key"], t.get("value", "")) for t in value]
    else:
        raise _Bad("tags are neither an object nor a list of {key, value}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
        raise _Bad("a tag is not text")
    return tuple(sorted(pairs))


def parse_job_definition(body: bytes, *, status: int | None = 200) -> JobDefinition:
    """The show reply with everything DLI says about the job's definition, not only its summary."""
    try:
        detail = _envelope(body).get("job_detail")
        job = parse_job(detail)
        if not isinstance(detail, dict):  # parse_job refused it already; this tells the type checker
            raise _Bad("job_detail is not an object")
        config = detail.get("job_config")
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise _Bad("job_config is not an object")
        return JobDefinition(
            job=job,
            sql_body=_text(detail, "sql_body"),
            run_mode=_text(detail, "run_mode"),
            main_class=_text(detail, "main_class"),
            entrypoint_args=_text(detail, "entrypoint_args"),
            update_time=_epoch_ms(detail, "update_time"),
            job_config=config,
            tags=_tags(detail.get("tags")),
            detail=detail,
        )
    except _Bad as exc:
        raise _unparseable("the job detail", exc, body, status) from None


def parse_reply_element(element: object) -> DeleteReply:
    if not isinstance(element, dict) or "is_success" not in element:
        raise _Bad("an element has no is_success")
    message = element.get("message")
    if message is not None and not isinstance(message, str):
        raise _Bad("message is not text")
    return DeleteReply(is_success=parse_bool(element["is_success"]), message=message or "")


def parse_delete_reply(body: bytes, *, status: int | None = 200) -> DeleteReply:
    """The single-delete reply: one {is_success, message} object."""
    try:
        document = load_json(body)
        if not isinstance(document, dict):
            raise _Bad("the reply is not a JSON object")
        return parse_reply_element(document)
    except _Bad as exc:
        raise _unparseable("the delete reply", exc, body, status) from None


def parse_batch_reply(body: bytes, expected: int) -> tuple[ReplyShape, tuple[DeleteReply, ...]]:
    """Classify a 2xx batch reply. Elements carry no job id, so only PER_ID allows matching by position."""
    if not body.strip():
        return ReplyShape.EMPTY, ()
    try:
        document = load_json(body)
    except _NotJson:
        return ReplyShape.NOT_JSON, ()
    try:
        if isinstance(document, list):
            replies = tuple(parse_reply_element(element) for element in document)
            shape = ReplyShape.PER_ID if len(replies) == expected else ReplyShape.COUNT_MISMATCH
            return shape, replies
        if isinstance(document, dict):
            return ReplyShape.SINGLE_OBJECT, (parse_reply_element(document),)
    except _Bad:
        pass
    return ReplyShape.UNPARSEABLE, ()
