"""The environment that dli-admin's settings come from, read through django-environ, strictly.

Imported by settings.py only, before Django is set up: no Django apps, no models.
"""

from __future__ import annotations

import builtins
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from environ.fileaware_mapping import FileAwareMapping

NOTSET = environ.Env.NOTSET
_DOT_ENV_LINE = re.compile(r"\A(?:export )?[A-Za-z_0-9]+=.*\Z")  # what django-environ's read_env reads
TRUE = ("1", "true", "yes", "on")
# A named DLI connection: lower-case letters, digits and "-", so that its variables' prefix is unambiguous.
CONNECTION_NAME = re.compile(r"\A[a-z][a-z0-9-]{0,39}\Z")
# The credentials each auth kind of a connection needs: keys of its DLI_CONNECTIONS entry, and the ends of
# the variables (DLI_CONNECTION_<NAME>_<KEY>, or <...>_FILE) they are read from.
CONNECTION_CREDENTIALS = {
    "aksk": ("AK", "SK"),
    "token": ("TOKEN",),
    "iam": ("IAM_ENDPOINT", "IAM_USER", "IAM_PASSWORD", "IAM_DOMAIN"),
}
FALSE = ("0", "false", "no", "off")


def host_name(value: str) -> str:
    """A host name for ALLOWED_HOSTS ("example.com", ".example.com", "*"), not a URL."""
    if not value or any(c in value for c in "/ ,") or "://" in value:
        raise ValueError(value)
    return value


def origin(value: str) -> str:
    """scheme://host[:port], as CSRF_TRUSTED_ORIGINS wants it (https://*.example.com too)."""
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise ValueError(value)
    return value


GROUP_ROLE = re.compile(r"\A([^=@,\s]+)=(?:(viewer|operator|owner)@([A-Za-z0-9]{1,64})|(auditor))\Z")


def group_role(value: str) -> tuple[str, str, str]:
    """GROUP=ROLE@PROJECT_ID (a project role) or GROUP=auditor, as (group, role, project id or "")."""
    match = GROUP_ROLE.match(value)
    if not match:
        raise ValueError(value)
    group, project_role, project_id, auditor = match.groups()
    return (group, project_role, project_id) if project_role else (group, auditor, "")


def _boolean(value: str) -> bool:
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ValueError(value)


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


_STRICT: dict[Any, Any] = {bool: _boolean, float: _finite}
# What each kind of value must look like, for the error that names the variable.
EXPECTED: dict[Any, str] = {
    _boolean: "1/0, true/false, yes/no or on/off",
    int: "a whole number",
    _finite: "a number, e.g. 15 or 2.5",
    host_name: "comma-separated host names (not URLs), e.g. dli-admin.example.com,.example.org",
    origin: "comma-separated origins (scheme://host[:port]), e.g. https://dli-admin.example.com",
    group_role: "comma-separated GROUP=ROLE@PROJECT_ID (viewer, operator, owner) or GROUP=auditor",
}


class Env(environ.FileAwareEnv):
    """django-environ's FileAwareEnv: for every variable NAME, the file named by NAME_FILE (container secrets)
    is read instead when it is set. Stricter than django-environ in four ways:

    - an empty or blank value is the default, as if unset (`.env.example` lists variables with no value);
    - a malformed value is ImproperlyConfigured naming the variable and what it must be, never a bare
      ValueError, nor django-environ's lenient reading ("maybe" as false, "1.5s" as 1.5);
    - a value is taken as written: django-environ's "$OTHER" proxying would silently turn a password that
      starts with "$" into another variable's value;
    - a file's content is stripped of surrounding whitespace (editors end it with a newline), and an
      unreadable file is ImproperlyConfigured.
    """

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        super().__init__()
        if source is not None:  # tests read a mapping instead of os.environ
            self.ENVIRON = FileAwareMapping(env=source, cache=False)

    def raw(self, var: str) -> str | None:
        """The value as written (NAME_FILE's content, stripped, if that is set); None if unset or blank."""
        path = self.ENVIRON.env.get(f"{var}_FILE")
        try:
            value = self.ENVIRON[var]
        except KeyError:
            return None
        except (OSError, ValueError) as error:
            reason = getattr(error, "strerror", None) or "not a text file"
            raise ImproperlyConfigured(f"{var}_FILE={path}: cannot read it ({reason})") from None
        if path:
            value = value.strip()
        return value if value.strip() else None

    def get_value(
        self, var: str, cast: Any = None, default: Any = NOTSET, parse_default: bool = False
    ) -> Any:
        value = self.raw(var)
        if value is None:
            if default is NOTSET:
                raise ImproperlyConfigured(f"{var} is not set")
            return default
        if cast is None or cast is str:
            return value
        many = isinstance(cast, list) or cast is list
        item = (cast[0] if isinstance(cast, list) else str) if many else _STRICT.get(cast, cast)
        parts = [part.strip() for part in value.split(",") if part.strip()] if many else [value.strip()]
        parsed = []
        for part in parts:
            try:
                parsed.append(item(part))
            except ValueError:
                raise ImproperlyConfigured(
                    f"{var} must be {EXPECTED.get(item, 'valid')}, not {part!r}"
                ) from None
        return parsed if many else parsed[0]

    def str(
        self, var: str, default: Any = NOTSET, multiline: bool = False, choices: Sequence[str] | Any = NOTSET
    ) -> Any:
        value = self.get_value(var, default=default)
        if choices is not NOTSET and value not in choices:
            *most, last = choices
            raise ImproperlyConfigured(f"{var} must be {', '.join(most)} or {last}, not {value!r}")
        return value

    def http_url(self, var: builtins.str, default: builtins.str = "") -> builtins.str:
        """An http(s) URL with no credentials, query or fragment, and no trailing slash."""
        value = self.get_value(var, default=None)
        if value is None:
            return default
        try:
            parts = urlsplit(value)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
            valid = valid and not (parts.username or parts.password or parts.query or parts.fragment)
        except ValueError:  # e.g. a port that is not a number
            valid = False
        if not valid:
            # The value is not repeated: a mistyped URL may carry a password.
            raise ImproperlyConfigured(
                f"{var} must be an http(s) URL such as https://dli.eu-de.otc.t-systems.com "
                "(no credentials, query or fragment)"
            )
        return value.rstrip("/")

    def db_url(
        self, var: builtins.str = "DATABASE_URL", default: Any = NOTSET, engine: builtins.str | None = None
    ) -> dict:
        """A database URL (sqlite:///path or postgresql://...) as Django's DATABASES entry."""
        value = self.get_value(var, default=default)
        scheme = value.partition("://")[0] if "://" in value else ""
        engine = engine or self.DB_SCHEMES.get(scheme)
        try:
            if engine not in ("django.db.backends.sqlite3", "django.db.backends.postgresql"):
                raise ValueError(scheme)
            return self.db_url_config(value, engine=engine)
        except ValueError:
            # The value is not repeated: it may carry the database password.
            raise ImproperlyConfigured(
                f"{var} must be sqlite:///path/to/db.sqlite3 or postgresql://user:password@host:5432/name"
            ) from None


def connection_prefix(name: str) -> str:
    """The start of the variables of the DLI connection `name`: prod-eu -> DLI_CONNECTION_PROD_EU_."""
    return "DLI_CONNECTION_" + name.upper().replace("-", "_") + "_"


def dli_connections(env: Env, var: str = "DLI_CONNECTIONS") -> dict[str, dict[str, Any]]:
    """The named DLI connections besides "default" (which DLI_ENDPOINT, DLI_AK, ... make), as settings.

    For each name in `var` (e.g. prod-eu,staging): DLI_CONNECTION_PROD_EU_ENDPOINT, _AUTH (aksk, token or
    iam) and that kind's credentials (CONNECTION_CREDENTIALS), each also from a _FILE. A malformed name,
    endpoint or kind stops the start; a credential that is not set is left empty for the projects.E012
    check to name, so that `manage.py check` lists every missing one at once.
    """
    names = env.list(var, default=[])
    connections: dict[str, dict[str, Any]] = {}
    for name in names:
        if not CONNECTION_NAME.match(name):
            raise ImproperlyConfigured(
                f"{var}: {name!r} is not a connection name (a lower-case letter, then up to 39 lower-case "
                "letters, digits or '-')"
            )
        if name == "default":
            raise ImproperlyConfigured(
                f"{var}: 'default' is the connection that DLI_ENDPOINT, DLI_AK, DLI_SK, ... configure; "
                "list only the others"
            )
        if names.count(name) > 1:
            raise ImproperlyConfigured(f"{var}: {name!r} is listed twice")
        prefix = connection_prefix(name)
        endpoint = env.http_url(f"{prefix}ENDPOINT")
        if not endpoint:
            raise ImproperlyConfigured(
                f"{prefix}ENDPOINT is not set: DLI connection {name} needs its endpoint"
            )
        auth = env.str(f"{prefix}AUTH", choices=tuple(CONNECTION_CREDENTIALS))
        # By variable name, which is what the projects.E012 check and an error page (which hides the whole
        # CREDENTIALS entry by its name) show.
        credentials = {
            f"{prefix}{key}": (env.http_url if key == "IAM_ENDPOINT" else env.str)(
                f"{prefix}{key}", default=""
            )
            for key in CONNECTION_CREDENTIALS[auth]
        }
        connection = {"ENDPOINT": endpoint, "AUTH": auth, "CREDENTIALS": credentials}
        connections[name] = connection
    return connections


def read_dot_env(base_dir: Path) -> Path | None:
    """Adds the variables of .env in the project root, when it exists, to those the process does not set.

    DLI_ADMIN_ENV_FILE names another file instead, or none when it is empty: the test settings set it so,
    since a developer's .env must never steer a test.
    """
    named = os.environ.get("DLI_ADMIN_ENV_FILE")
    if named == "":
        return None
    path = Path(named) if named else base_dir / ".env"
    if not path.is_file():
        if named:
            raise ImproperlyConfigured(f"DLI_ADMIN_ENV_FILE={named}: no such file")
        return None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        # django-environ would log a line it cannot read, secret and all: refuse it without showing it.
        if line.strip() and not line.lstrip().startswith("#") and not _DOT_ENV_LINE.match(line):
            raise ImproperlyConfigured(f"{path}, line {number}: not NAME=value (no spaces around '=')")
    environ.Env.read_env(path)  # setdefault: the process environment wins over the file
    return path
