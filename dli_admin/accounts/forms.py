from __future__ import annotations

import logging
import math
from typing import Any

from django import forms
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from .services import login_throttle_attempt, login_throttle_reset
from .timezones import known_zones

logger = logging.getLogger(__name__)


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Django's form, where a wrong old password counts as a failed login for this user and address.

    Otherwise a stolen session could guess the password here without limit. The attempt is counted before
    the check, as at login; while the pair is locked out the old password is not even checked.
    """

    error_messages = {
        **PasswordChangeForm.error_messages,
        "throttled": "Too many wrong passwords for this user from your address; try again in %(minutes)s.",
    }

    def __init__(self, user: Any, *args: Any, client_ip: str, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.client_ip = client_ip
        self.locked_for = 0  # seconds, when this attempt was refused

    @sensitive_variables("old_password")
    def clean_old_password(self) -> str:
        username = self.user.get_username()
        if locked_for := login_throttle_attempt(username=username, client_ip=self.client_ip):
            self.locked_for = locked_for
            logger.warning(
                "password change refused: too many failures, %d s of cool-off left",
                locked_for,
                extra={"login_username": username, "client_ip": self.client_ip},
            )
            minutes = math.ceil(locked_for / 60)
            raise ValidationError(
                self.error_messages["throttled"],
                code="throttled",
                params={"minutes": f"{minutes} minute{'s' if minutes != 1 else ''}"},
            )
        old_password = super().clean_old_password()
        login_throttle_reset(username=username, client_ip=self.client_ip)
        return old_password


def _zone_choices() -> list[tuple[str, str]]:
    automatic = ("", "Automatic: your browser's zone, else the server's")
    return [automatic, *((zone, zone) for zone in sorted(known_zones()))]


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        required=False,
        choices=_zone_choices,
        label="Time zone",
        help_text="Every page shows its times in this zone. The audit CSV export stays in UTC.",
    )
