"""When a call may be sent again, and how long to wait first.

The rule that matters: a delete is re-sent only when it provably never reached DLI (the TCP connection was
never made) or DLI refused it for throttling. Anything that fails after the request may have been written
(a read timeout, a dropped connection, a 5xx) is ambiguous, because DLI has no idempotency key.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from urllib3.exceptions import ClosedPoolError, ConnectTimeoutError, EmptyPoolError, ReadTimeoutError

from dli_admin.dli.errors import DliError, ErrorCategory, excerpt

# Reads are retried on these; writes only on 429 (DLI refused, nothing happened).
RETRYABLE_READ_STATUSES = frozenset({429, 502, 503, 504})
THROTTLED_STATUS = 429


def backoff_delay(retry: int, base: float, cap: float, rng: random.Random) -> float:
    """Capped exponential backoff with full jitter: uniform(0, min(cap, base * 2**retry))."""
    return rng.uniform(0.0, min(cap, base * 2 ** min(retry, 32)))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header in seconds (delta-seconds or an HTTP date), or None when absent or malformed."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (requests and urllib3 nest errors in args and .reason)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 32:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        nested = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        todo.extend(item for item in nested if isinstance(item, BaseException))


def never_sent(exc: BaseException) -> bool:
    """True when the request provably never left this machine: the connection was never established."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError):
        return False
    # NewConnectionError (refused, DNS) is a ConnectTimeoutError in urllib3; a read timeout is not.
    # A certificate failure happens in the TLS handshake, before any byte of the request is written.
    return any(
        isinstance(
            item, ConnectTimeoutError | ClosedPoolError | EmptyPoolError | ssl.SSLCertVerificationError
        )
        for item in _chain(exc)
    )


def hopeless(exc: BaseException) -> bool:
    """Failures that no retry can fix (a certificate DLI's host does not match)."""
    return any(isinstance(item, ssl.SSLCertVerificationError) for item in _chain(exc))


def _innermost(exc: BaseException) -> BaseException:
    last = exc
    for item in _chain(exc):
        last = item
    return last


def transport_error(exc: BaseException, *, read_timeout: float, secrets: tuple[str, ...] = ()) -> DliError:
    """A DliError for a failure below HTTP (no status line was received, or the body broke)."""
    if isinstance(exc, DliError):
        return exc
    if never_sent(exc):
        if hopeless(exc):
            what = "the TLS certificate of the DLI endpoint was not accepted"
        elif isinstance(exc, requests.ConnectTimeout):
            what = "connecting timed out"
        else:
            what = "the connection could not be made"
        return DliError(ErrorCategory.NETWORK, f"{what} ({excerpt(str(_innermost(exc)), secrets)})")
    timed_out = isinstance(exc, requests.ReadTimeout) or any(
        isinstance(item, ReadTimeoutError | TimeoutError) for item in _chain(exc)
    )
    if timed_out:
        return DliError(ErrorCategory.TIMEOUT, f"no reply within the read timeout of {read_timeout:g} s")
    return DliError(
        ErrorCategory.NETWORK,
        f"the connection failed after the request was sent ({excerpt(str(_innermost(exc)), secrets)})",
    )
