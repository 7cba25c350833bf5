"""Structured logs: one JSON object a line on stdout, with the request id and user of the request that
logged it, and no secret values. Imported while logging is configured: no models here."""

from __future__ import annotations

import contextvars
import logging
from typing import Any

import pythonjsonlogger.json
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS

from .reporting import connection_secrets

# Set by accounts.middleware for the request being served, cleared when it is finished.
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
user_var: contextvars.ContextVar[str] = contextvars.ContextVar("user", default="")

# Attributes every LogRecord has; anything else on a record came from `extra=` (dli_request_id,
# project_id, batch_id from the DLI client, status_code from Django, ...).
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Django puts the HttpRequest on django.request/django.server records: an object, not a fact.
_SKIPPED_EXTRAS = frozenset({"request"})

# Settings whose values must never reach a log line.
SECRET_SETTINGS = (
    "DLI_SK",
    "DLI_AUTH_TOKEN",
    "DLI_IAM_PASSWORD",
    "SECRET_KEY",
    "DLI_ADMIN_METRICS_TOKEN",
    "OIDC_RP_CLIENT_SECRET",
)
REDACTED = "[redacted]"


def clear_request_context(**kwargs: Any) -> None:
    """On request_finished, after Django has logged the response, so a thread's next logs start clean."""
    request_id_var.set("")
    user_var.set("")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD_ATTRS and key not in _SKIPPED_EXTRAS
    }


class RequestContextFilter(logging.Filter):
    """Puts the current request id and username on every record (for both formats)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        if not hasattr(record, "user"):
            record.user = user_var.get()
        return True


def _secret_values() -> list[str]:
    if not settings.configured:
        return []
    values = []
    for name in SECRET_SETTINGS:
        try:
            values.append(getattr(settings, name, ""))
        except ImproperlyConfigured:  # an empty SECRET_KEY: nothing to hide, and logging must not fail
            continue
    values += [db.get("PASSWORD", "") for db in getattr(settings, "DATABASES", {}).values()]
    values += connection_secrets()
    # Longest first, so a secret that contains another is masked whole.
    return sorted({v for v in values if isinstance(v, str) and v}, key=len, reverse=True)


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class RedactSecretsFilter(logging.Filter):
    """Masks configured secret values wherever they appear: message, arguments, extras, traceback.

    A last line of defence on the handler: code must still not log secrets in the first place.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _secret_values()
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: let logging report it, but not with a secret in it
            message = f"{record.msg} {record.args}"
        if (redacted := _redact(message, secrets)) != message:
            record.msg, record.args = redacted, ()
        for key, value in _extras(record).items():
            text = value if isinstance(value, str) else str(value)
            if (redacted := _redact(text, secrets)) != text:
                setattr(record, key, redacted)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = _redact(record.stack_info, secrets)
        return True


class JsonFormatter(pythonjsonlogger.json.JsonFormatter):
    """python-json-logger, one JSON object a line: level, logger, message, request_id, user, any extras
    (dli_request_id, project_id, batch_id, status_code, ...), time, and exc/stack when there are any."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs = {
            "fmt": ["levelname", "name", "message", "request_id", "user"],
            "rename_fields": {
                "levelname": "level",
                "name": "logger",
                "exc_info": "exc",
                "stack_info": "stack",
            },
            "timestamp": "time",  # UTC, ISO 8601
            "reserved_attrs": [*RESERVED_ATTRS, *_SKIPPED_EXTRAS],
            "json_ensure_ascii": False,
            **kwargs,
        }
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        # RedactSecretsFilter has already rendered the traceback into exc_text, with secrets masked:
        # print that one, never a fresh rendering of exc_info (python-json-logger prefers exc_info).
        if record.exc_info and not record.exc_text:
            formatted = self.formatException(record.exc_info)
            record.exc_text = formatted if isinstance(formatted, str) else "\n".join(formatted)
        exc_info, record.exc_info = record.exc_info, None
        try:
            return super().format(record)
        finally:
            record.exc_info = exc_info

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        # The record's own facts win over an extra or a logged dict's key of the same name. Outside a
        # request the context is empty: null, not "", so a query for "no user" is one test.
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["request_id"] = getattr(record, "request_id", None) or request_id_var.get() or None
        log_data["user"] = getattr(record, "user", None) or user_var.get() or None
