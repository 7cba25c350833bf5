"""What Django's error reports show (the DEBUG page, error mails): never a credential, in any mode.

Django masks settings and request.META entries by name only, and only names matching
API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE. The development server copies the whole environment into
request.META, so DLI_AK, DLI_SK and DATABASE_URL reached the DEBUG page that a foreign Host header or
an oversized form shows to anyone. Here a value is hidden by its name (wider than Django's), by its value
(any string containing a configured secret) and, in URLs, by its password part; in settings, META,
cookies, POST parameters, traceback local variables and exception messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pprint import pformat
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.datastructures import MultiValueDict
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# Settings whose values are credentials; names not (yet) defined are skipped.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "DLI_AK",
    "DLI_SK",
    "DLI_AUTH_TOKEN",
    "DLI_IAM_PASSWORD",
    "DLI_ADMIN_AUDIT_KEY",
    "DLI_ADMIN_METRICS_TOKEN",
    "OIDC_RP_CLIENT_SECRET",
)
# Django's names, plus the access key pair (DLI_AK, DLI_SK, a local `sk`), credentials, private keys
# and connection strings.
HIDDEN_NAMES = re.compile(
    r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE"
    r"|CREDENTIAL|PRIVATE|DSN|DATABASE_URL|(?:^|_)[AS]K(?:_|$)",
    re.IGNORECASE,
)
# scheme://user:password@host: the password part, up to the last @ before the path.
URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s/]*@", re.IGNORECASE)


def _strings(value: Any) -> list[str]:
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set | frozenset):
        return [text for item in value for text in _strings(item)]
    return []


def connection_secrets() -> list[str]:
    """The keys, tokens and passwords of the named DLI connections (DLI_CONNECTION_<NAME>_SK, ...)."""
    return [
        value
        for connection in getattr(settings, "DLI_CONNECTIONS", {}).values()
        for variable, value in connection["CREDENTIALS"].items()
        if value and not variable.endswith(("_IAM_ENDPOINT", "_IAM_USER", "_IAM_DOMAIN"))
    ]


def secret_values() -> list[str]:
    """Every configured secret value, longest first so that one containing another is hidden whole."""
    values: set[str] = set()
    for name in SECRET_SETTINGS:
        try:
            values.update(_strings(getattr(settings, name, None)))
        except ImproperlyConfigured:  # an empty SECRET_KEY: nothing to hide
            continue
    for database in settings.DATABASES.values():
        values.update(_strings(database.get("PASSWORD")))
    values.update(connection_secrets())
    return sorted((v for v in values if v), key=len, reverse=True)


class _Shown:
    """A value that is displayed as this text (the error page pformat()s what the filter returns)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class NoSecretsReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, by name and by value, in every mode (DEBUG too)."""

    hidden_settings = HIDDEN_NAMES

    def is_active(self, request: Any) -> bool:
        # Django honours sensitive_variables() and sensitive_post_parameters() only with DEBUG off,
        # so a login failing with DEBUG on showed the password. A secret is a secret in any mode.
        return True

    def redact(self, text: str) -> str:
        for secret in secret_values():
            text = text.replace(secret, self.cleansed_substitute)
        return URL_PASSWORD.sub(rf"\g<head>{self.cleansed_substitute}@", text)

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        try:
            return self._cleanse(key, value)
        except Exception as exc:  # a lazy object that fails to load, say: show neither it nor its message
            return _Shown(f"<not shown: {type(exc).__name__} while reading it>")

    def _cleanse(self, key: Any, value: Any) -> Any:
        if isinstance(key, str) and self.hidden_settings.search(key):
            return self.cleansed_substitute
        if isinstance(value, MultiValueDict):  # request.POST as a local: keep every value of a key
            return MultiValueDict({k: [self.cleanse_setting(k, v) for v in vs] for k, vs in value.lists()})
        if isinstance(value, Mapping) and not isinstance(value, dict):  # os.environ, say
            value = dict(value.items())
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, dict | list | tuple):
            return cleansed  # element by element, through this method
        if isinstance(cleansed, str):
            return self.redact(cleansed)
        if isinstance(cleansed, bytes):
            return self.redact(cleansed.decode(errors="surrogateescape")).encode(errors="surrogateescape")
        if cleansed is None or isinstance(cleansed, bool | int | float):
            return cleansed
        text = pformat(cleansed)  # what the page would show: an object's repr can hold a secret too
        redacted = self.redact(text)
        return cleansed if redacted == text else _Shown(redacted)

    def get_post_parameters(self, request: Any) -> Any:
        parameters = super().get_post_parameters(request)
        if not isinstance(parameters, MultiValueDict):
            return parameters
        return self.cleanse_setting("", parameters)

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return [
            (name, self.cleanse_setting(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]


class NoSecretsExceptionReporter(ExceptionReporter):
    """Django's reporter, with exception messages redacted too: code may put a secret in one."""

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        if isinstance(self.filter, NoSecretsReporterFilter):
            for holder, key in [(data, "exception_value"), (data, "exception_notes")] + [
                (frame, "exc_cause") for frame in data["frames"]
            ]:
                if holder.get(key) is not None:
                    text = str(holder[key])
                    if (redacted := self.filter.redact(text)) != text:
                        holder[key] = redacted
        return data
