from __future__ import annotations

from django.conf import settings
from django.db import models


class LoginThrottle(models.Model):
    """Login attempts not followed by a success, per username and client address.

    In the database, not in memory, so every web worker sees the same count.
    """

    username = models.CharField(max_length=150)  # case-folded
    client_ip = models.CharField(max_length=64)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["username", "client_ip"], name="accounts_throttle_user_ip"),
        ]
        indexes = [models.Index(fields=["last_failure_at"], name="accounts_throttle_last")]

    def __str__(self) -> str:
        return f"{self.username} from {self.client_ip}: {self.failures} failures"


class SsoIdentity(models.Model):
    """The identity provider's account (issuer and "sub", which never change) that signs in as a user.

    Users are found by this, never by e-mail or name: an identity provider account named like a local
    superuser does not become that superuser.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="accounts_sso_issuer_subject"),
        ]
        verbose_name = "single sign-on identity"

    def __str__(self) -> str:
        return f"{self.user} from {self.issuer}"


class UserPreference(models.Model):
    """What one user chose for how pages look to them: for now their time zone."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    # An IANA name ("Europe/Berlin"); blank: the browser's zone when it tells it, else TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone or 'automatic'}"
