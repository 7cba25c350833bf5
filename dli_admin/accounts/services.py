"""Login throttling: after DLI_ADMIN_LOGIN_FAILURE_LIMIT failures in a row for a username from one
client address, that pair is refused for DLI_ADMIN_LOGIN_COOLOFF seconds. Other usernames from the
address and the username from other addresses are unaffected, so an attacker cannot lock a user out
everywhere."""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import LoginThrottle

logger = logging.getLogger(__name__)


def _key(username: str, client_ip: str) -> dict[str, str]:
    # Case-folded: "Alice" and "alice" share one counter whatever the database's collation.
    return {"username": username.casefold()[:150], "client_ip": client_ip[:64]}


def login_throttle_locked_for(*, username: str, client_ip: str) -> int:
    """Seconds until this username may try again from this address; 0 if it may now."""
    now = timezone.now()
    locked_until = (
        LoginThrottle.objects.filter(**_key(username, client_ip), locked_until__gt=now)
        .values_list("locked_until", flat=True)
        .first()
    )
    return math.ceil((locked_until - now).total_seconds()) if locked_until else 0


def login_throttle_attempt(*, username: str, client_ip: str) -> int:
    """Count one attempt before the password is checked; seconds left if it is refused, else 0.

    Counting before checking, in a locked row, keeps parallel requests (several workers) from slipping
    more guesses past the limit. A success then resets the count (login_throttle_reset).
    """
    now = timezone.now()
    cooloff = timedelta(seconds=settings.DLI_ADMIN_LOGIN_COOLOFF)
    with transaction.atomic():
        row, created = LoginThrottle.objects.select_for_update().get_or_create(
            **_key(username, client_ip), defaults={"last_failure_at": now}
        )
        if row.locked_until and row.locked_until > now:
            return math.ceil((row.locked_until - now).total_seconds())
        if row.locked_until or now - row.last_failure_at > cooloff:
            # The cool-off is over, or the last failure is too old to count: start afresh.
            row.failures, row.locked_until = 0, None
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= settings.DLI_ADMIN_LOGIN_FAILURE_LIMIT:
            row.locked_until = now + cooloff  # lifted at once if this very attempt succeeds
        row.save()
    if created:
        # Keep the table small: rows older than the cool-off no longer count for anything.
        LoginThrottle.objects.filter(last_failure_at__lt=now - cooloff).delete()
    return 0


def login_throttle_reset(*, username: str, client_ip: str) -> None:
    LoginThrottle.objects.filter(**_key(username, client_ip)).delete()
