"""The one error type of the DLI client, and how it is read out of a DLI (or IAM, or gateway) reply."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any


class ErrorCategory(StrEnum):
    AUTH = "auth"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    THROTTLED = "throttled"
    INVALID = "invalid"
    SERVER = "server"
    NETWORK = "network"
    TIMEOUT = "timeout"
    AMBIGUOUS = "ambiguous"
    UNPARSEABLE = "unparseable"


# What an operator reads first, and what they can do about it.
_LEAD = {
    ErrorCategory.AUTH: ("DLI rejected the credentials", "check DLI_AK/DLI_SK or the token"),
    ErrorCategory.FORBIDDEN: (
        "DLI refused the request for lack of permission",
        "check the IAM user's DLI permissions and the project id",
    ),
    ErrorCategory.NOT_FOUND: ("DLI does not know this job", "it was deleted or never existed"),
    ErrorCategory.THROTTLED: ("DLI is throttling requests", "wait a moment and try again"),
    ErrorCategory.INVALID: ("DLI rejected the request", "check the request and the DLI endpoint"),
    ErrorCategory.SERVER: ("DLI failed with a server error", "try again later"),
    ErrorCategory.NETWORK: ("Could not reach DLI", "check DLI_ENDPOINT and the network"),
    ErrorCategory.TIMEOUT: ("DLI did not answer in time", "try again later"),
    ErrorCategory.AMBIGUOUS: (
        "It is unknown whether DLI carried out the request",
        "read the jobs back before doing anything else",
    ),
    ErrorCategory.UNPARSEABLE: (
        "DLI's reply could not be understood",
        "report it to the DLI administrators with the request id",
    ),
}

# DLI says "gone" with 400, not 404 (terraform's provider relies on DLI.16001 for Flink jobs). A bare 404
# is usually the gateway's APIG.0101 "API does not exist": a wrong endpoint must never read as "job gone".
NOT_FOUND_CODES = frozenset({"DLI.16001", "DLI.0002"})
_AUTH_CODES = frozenset(
    {"APIG.0301", "APIG.0303", "APIG.0305", "APIG.0307", "DLI.0013", "DLI.0014", "DLI.0015"}
)
_FORBIDDEN_CODES = frozenset({"APIG.0302", "APIG.0306", "APIG.0310"})
_THROTTLED_CODES = frozenset({"APIG.0308"})

_EXCERPT = 200
_REDACTED = "***"


class DliError(Exception):
    """Anything that went wrong talking to DLI. `str()` is a sentence an operator can act on."""

    def __init__(
        self,
        category: ErrorCategory,
        message: str = "",
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        advice: str | None = None,
        service: str = "DLI",
    ) -> None:
        self.category = ErrorCategory(category)
        self.service = service  # "IAM" when the failure was the token login
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.advice = advice
        super().__init__(message)

    def __str__(self) -> str:
        lead, default_advice = _LEAD[self.category]
        lead = lead.replace("DLI", self.service)
        ref = self.code or (f"HTTP {self.status}" if self.status is not None else None)
        text = lead + (f" ({ref})" if ref else "")
        if self.message:
            text += f": {self.message.rstrip('.')}"
        text += f"; {self.advice or default_advice}."
        if self.request_id:
            text += f" DLI request id: {self.request_id}."
        return text

    def __repr__(self) -> str:
        return (
            f"DliError(category={self.category.value!r}, status={self.status!r}, code={self.code!r}, "
            f"request_id={self.request_id!r}, message={self.message!r})"
        )

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # keep the keyword fields when pickled (e.g. across processes)
        fields = (
            self.category,
            self.message,
            self.status,
            self.code,
            self.request_id,
            self.advice,
            self.service,
        )
        return (_rebuild, fields)


def _rebuild(
    category: ErrorCategory,
    message: str,
    status: int | None,
    code: str | None,
    request_id: str | None,
    advice: str,
    service: str,
) -> DliError:
    return DliError(
        category, message, status=status, code=code, request_id=request_id, advice=advice, service=service
    )


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in a text that may have come from the wire (a gateway may echo an AK)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, _REDACTED)
    return text


def excerpt(text: str, secrets: Iterable[str] = ()) -> str:
    """A short, single-line, secret-free piece of a raw reply, fit for a message or a log line."""
    flat = re.sub(r"\s+", " ", redact(text, secrets)).strip()
    flat = "".join(ch if ch.isprintable() else "?" for ch in flat)
    return flat if len(flat) <= _EXCERPT else flat[:_EXCERPT] + "…"


def category_for(status: int | None, code: str | None) -> ErrorCategory:
    if code in NOT_FOUND_CODES:
        return ErrorCategory.NOT_FOUND
    if code in _THROTTLED_CODES or status == 429:
        return ErrorCategory.THROTTLED
    if code in _AUTH_CODES or status == 401:
        return ErrorCategory.AUTH
    if code in _FORBIDDEN_CODES or status == 403:
        return ErrorCategory.FORBIDDEN
    if status is not None and status >= 500:
        return ErrorCategory.SERVER
    return ErrorCategory.INVALID


_KEY_PAIRS = (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message"))


def _code_and_message(document: Mapping[str, Any]) -> tuple[str | None, str | None] | None:
    for code_key, message_key in _KEY_PAIRS:
        code, message = document.get(code_key), document.get(message_key)
        if code is not None or message is not None:
            return (
                None if code is None else str(code),
                None if message is None else str(message),
            )
    return None


def error_fields(body: bytes) -> tuple[str | None, str | None, str | None]:
    """(code, message, request_id) from an error body, with the keys the official SDK tries, in its order."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None, None, None
    if not isinstance(document, dict):
        return None, None, None
    request_id = document.get("request_id")
    request_id = request_id if isinstance(request_id, str) and request_id else None
    found = _code_and_message(document)
    if found is None:
        # One level down, e.g. IAM's {"error": {"code": 401, "message": ..., "title": ...}}.
        for value in document.values():
            if isinstance(value, dict) and (found := _code_and_message(value)) is not None:
                if request_id is None and isinstance(value.get("request_id"), str):
                    request_id = value["request_id"] or None
                break
    code, message = found or (None, None)
    return code, message, request_id


def error_from_reply(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: Iterable[str] = (),
    category: ErrorCategory | None = None,
    advice: str | None = None,
    service: str = "DLI",
) -> DliError:
    """A DliError for a non-2xx reply; `category` overrides the one the status and code suggest."""
    secrets = tuple(secrets)
    code, message, body_request_id = error_fields(body)
    if message is None:
        raw = body.decode("utf-8", errors="replace")
        message = f"HTTP {status}" + (f", body: {excerpt(raw, secrets)}" if raw.strip() else ", empty body")
    return DliError(
        category or category_for(status, code),
        excerpt(message, secrets),
        status=status,
        code=excerpt(code, secrets) if code else None,
        request_id=request_id_of(headers, secrets) or _clean_request_id(body_request_id, secrets),
        advice=advice,
        service=service,
    )


def request_id_of(headers: Mapping[str, str], secrets: Iterable[str] = ()) -> str | None:
    """DLI's request id from the X-Request-Id response header (the SDK reads it there)."""
    return _clean_request_id(headers.get("X-Request-Id"), secrets)


def _clean_request_id(value: str | None, secrets: Iterable[str]) -> str | None:
    return excerpt(value, secrets) or None if value else None
