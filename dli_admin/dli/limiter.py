"""How many calls dli-admin has in flight to one DLI endpoint, and how it backs off when DLI throttles.

Additive increase, multiplicative decrease (as TCP does): a 429 halves the calls allowed in flight and
holds every new call until its Retry-After has passed; each run of successes lets one more call in, up
to the configured limit. One limiter per endpoint and process, shared by every client and thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class EndpointLimiter:
    """A semaphore whose size adapts to DLI's rate limit, plus a "slow down until" time."""

    def __init__(
        self,
        limit: int = 4,
        *,
        grow_after: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError("a limiter allows at least one call in flight")
        self.max_limit = limit
        self.limit = limit
        self._grow_after = grow_after
        self._successes = 0
        self._in_flight = 0
        self._hold_until = 0.0
        self._clock = clock
        self._lock = threading.Condition()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def throttled_for(self) -> float:
        """Seconds until new calls may go out again (0: not throttled)."""
        return max(self._hold_until - self._clock(), 0.0)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the calls allowed in flight for the duration of a call."""
        with self._lock:
            while True:
                hold = self._hold_until - self._clock()
                if hold <= 0 and self._in_flight < self.limit:
                    break
                # Wake at the end of the hold, or when a call finishes (or at least every second).
                self._lock.wait(timeout=min(max(hold, 0.01), 1.0))
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify()

    def throttled(self, retry_after: float | None) -> None:
        """DLI answered 429: fewer calls in flight, and none at all until Retry-After has passed."""
        with self._lock:
            self.limit = max(1, self.limit // 2)
            self._successes = 0
            if retry_after:
                self._hold_until = max(self._hold_until, self._clock() + retry_after)

    def succeeded(self) -> None:
        with self._lock:
            self._successes += 1
            if self._successes >= self._grow_after and self.limit < self.max_limit:
                self.limit += 1
                self._successes = 0
                self._lock.notify()


_LIMITERS: dict[str, EndpointLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(endpoint: str, limit: int) -> EndpointLimiter:
    """The process's limiter for an endpoint; its limit follows the setting it was first made with."""
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(endpoint)
        if limiter is None or limiter.max_limit != limit:
            limiter = _LIMITERS[endpoint] = EndpointLimiter(limit)
        return limiter
