"""dli-admin settings. Everything that differs between machines comes from the environment.

Production is the default: with DJANGO_DEBUG unset, HTTPS redirects, HSTS and secure cookies are on,
and DJANGO_SECRET_KEY must be set. A developer opts out with DJANGO_DEBUG=1.

Every variable is read through `env` (django-environ, made strict in dli_admin/environment.py): NAME_FILE,
when set, is read instead of NAME; a malformed value stops the start with ImproperlyConfigured naming
it. A .env file in the project root, when present, fills in what the environment does not set.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from dli_admin.environment import Env, dli_connections, group_role, host_name, origin, read_dot_env

BASE_DIR = Path(__file__).resolve().parent.parent
# Read once, from the checkout dli-admin runs from (it is not installed, so importlib.metadata cannot).
DLI_ADMIN_VERSION = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]["version"]

read_dot_env(BASE_DIR)
env = Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)


def private_path(path: Path, *, directory: bool = False, create: bool = True) -> None:
    """Make `path` (a 0700 directory, an empty 0600 file) or tighten it to that, if it is this user's.

    Created with the mode, not chmod-ed afterwards, so there is no moment when others could open it.
    A path owned by another user is left as that user set it.
    """
    mode = 0o700 if directory else 0o600
    try:
        if directory:
            path.mkdir(mode=mode)
        elif create:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    except (FileExistsError, FileNotFoundError):  # no parent directory: SQLite will say so itself
        pass
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    if status.st_mode & 0o077 and status.st_uid == os.getuid():
        path.chmod(mode)


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random string "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DJANGO_DEBUG=1 for a development run."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", cast=host_name, default=["127.0.0.1", "localhost"] if DEBUG else []
)

INSTALLED_APPS = [
    # First, so that its createsuperuser (Django's, audited) is the one manage.py runs.
    "dli_admin.access",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "dli_admin.accounts",
    "dli_admin.projects",
    "dli_admin.audit",
    "dli_admin.deletes",
    "dli_admin.policies",
    "dli_admin.dashboard",
    "dli_admin.simulator",
    "dli_admin.metrics",
]

MIDDLEWARE = [
    "dli_admin.accounts.middleware.RequestIdMiddleware",  # first: every log line carries the request id
    "dli_admin.metrics.middleware.RequestMetricsMiddleware",  # counts and times every answer below it
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's LoginRequiredMiddleware, answering htmx requests with HX-Redirect instead of a login form.
    "dli_admin.accounts.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "dli_admin.accounts.middleware.TimeZoneMiddleware",  # each user's zone, for every page and the admin
    "dli_admin.accounts.middleware.SessionIdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "dli_admin.urls"
WSGI_APPLICATION = "dli_admin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "dli_admin.dashboard.context_processors.navigation",
                "dli_admin.context_processors.version",
                "dli_admin.context_processors.time_zone",
            ],
        },
    },
]

# --- Database: SQLite by default, PostgreSQL through DATABASE_URL -------------------------------
# var/ holds the SQLite database, demo logins and collected static files: for the owner only.
VAR_DIR = BASE_DIR / "var"
private_path(VAR_DIR, directory=True)
SQLITE_PATH = VAR_DIR / "db.sqlite3"
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")
    | {"CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The file exists, 0600, before SQLite opens it (SQLite gives its -wal and -shm files the same mode).
    if (name := str(DATABASES["default"]["NAME"])) and name != ":memory:" and not name.startswith("file:"):
        for suffix in ("", "-wal", "-shm", "-journal"):
            private_path(Path(name + suffix), create=not suffix)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets readers work beside a writer; IMMEDIATE takes the write lock at BEGIN so two
    # threads claiming the same jobs queue up (busy timeout) instead of failing half-way.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication and sessions -----------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dli-project-list"
LOGOUT_REDIRECT_URL = "login"
# ModelBackend behind the login throttle, so the admin's login form is throttled too.
AUTHENTICATION_BACKENDS = ["dli_admin.accounts.backends.ThrottledModelBackend"]
# After this many failures in a row for a username from one client address, that username is refused
# from that address for DLI_ADMIN_LOGIN_COOLOFF seconds. Not from the environment: "at most 10" is a promise.
DLI_ADMIN_LOGIN_FAILURE_LIMIT = 10
DLI_ADMIN_LOGIN_COOLOFF = env.int("DLI_ADMIN_LOGIN_COOLOFF", default=15 * 60)
if DLI_ADMIN_LOGIN_COOLOFF < 60:  # shorter would make the lockout a formality
    raise ImproperlyConfigured("DLI_ADMIN_LOGIN_COOLOFF must be at least 60 seconds")

# --- Single sign-on with OpenID Connect (docs/sso.md): off unless DLI_ADMIN_OIDC_CLIENT_ID is set -------
DLI_ADMIN_OIDC_CLIENT_ID = env.str("DLI_ADMIN_OIDC_CLIENT_ID", default="")
DLI_ADMIN_SSO = bool(DLI_ADMIN_OIDC_CLIENT_ID)
# Local username and password logins; off, the password form and password change are gone (docs/sso.md
# says how to turn them on again when the identity provider is down).
DLI_ADMIN_PASSWORD_LOGIN = env.bool("DLI_ADMIN_PASSWORD_LOGIN", default=True)
if not DLI_ADMIN_PASSWORD_LOGIN and not DLI_ADMIN_SSO:
    raise ImproperlyConfigured(
        "DLI_ADMIN_PASSWORD_LOGIN=0 needs single sign-on (DLI_ADMIN_OIDC_CLIENT_ID and the rest of "
        "docs/sso.md): otherwise nobody could log in"
    )
if not DLI_ADMIN_PASSWORD_LOGIN:
    AUTHENTICATION_BACKENDS = []


def _sso_url(var: str) -> str:
    if not (value := env.http_url(var)):
        raise ImproperlyConfigured(f"{var} is not set: single sign-on (DLI_ADMIN_OIDC_CLIENT_ID) needs it")
    return value


if DLI_ADMIN_SSO:
    AUTHENTICATION_BACKENDS = [*AUTHENTICATION_BACKENDS, "dli_admin.access.sso.GroupsOidcBackend"]
    OIDC_RP_CLIENT_ID = DLI_ADMIN_OIDC_CLIENT_ID
    OIDC_RP_CLIENT_SECRET = env.str("DLI_ADMIN_OIDC_CLIENT_SECRET")  # or DLI_ADMIN_OIDC_CLIENT_SECRET_FILE
    # The issuer, as the ID token's "iss" must name it; the endpoints are in its
    # /.well-known/openid-configuration (docs/sso.md).
    DLI_ADMIN_OIDC_ISSUER = _sso_url("DLI_ADMIN_OIDC_ISSUER")
    OIDC_OP_AUTHORIZATION_ENDPOINT = _sso_url("DLI_ADMIN_OIDC_AUTHORIZATION_ENDPOINT")
    OIDC_OP_TOKEN_ENDPOINT = _sso_url("DLI_ADMIN_OIDC_TOKEN_ENDPOINT")
    OIDC_OP_USER_ENDPOINT = _sso_url("DLI_ADMIN_OIDC_USERINFO_ENDPOINT")
    OIDC_OP_JWKS_ENDPOINT = _sso_url("DLI_ADMIN_OIDC_JWKS_ENDPOINT")
    OIDC_RP_SIGN_ALGO = env.str(
        "DLI_ADMIN_OIDC_SIGN_ALGO", default="RS256", choices=("RS256", "ES256", "PS256")
    )
    OIDC_RP_SCOPES = env.str("DLI_ADMIN_OIDC_SCOPES", default="openid email profile groups")
    OIDC_USE_PKCE = True
    OIDC_TOKEN_USE_BASIC_AUTH = True  # the secret goes in a header, never in a logged form body
    OIDC_TIMEOUT = 10
    OIDC_AUTHENTICATION_CALLBACK_URL = "dli-sso-callback"
    OIDC_STORE_ACCESS_TOKEN = OIDC_STORE_ID_TOKEN = False  # no token is kept in the session
    LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?sso=failed"
    # The claims that name a user and their groups, and which groups give which roles: comma-separated
    # GROUP=ROLE@PROJECT_ID (viewer, operator, owner) or GROUP=auditor (docs/sso.md).
    DLI_ADMIN_OIDC_USERNAME_CLAIM = env.str("DLI_ADMIN_OIDC_USERNAME_CLAIM", default="preferred_username")
    DLI_ADMIN_OIDC_GROUPS_CLAIM = env.str("DLI_ADMIN_OIDC_GROUPS_CLAIM", default="groups")
    DLI_ADMIN_OIDC_GROUP_ROLES = env.list("DLI_ADMIN_OIDC_GROUP_ROLES", cast=group_role, default=[])

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SESSION_COOKIE_AGE = 8 * 60 * 60  # absolute lifetime from login (fixed at login by the accounts app)
SESSION_IDLE_TIMEOUT = 30 * 60  # enforced by accounts.middleware.SessionIdleTimeoutMiddleware
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "dli_admin.accounts.views.csrf_failure"  # htmx gets the refusal in its action panel

# --- HTTPS and headers: on unless DJANGO_DEBUG=1 --------------------------------------------------
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# Preloading commits the whole registrable domain to HTTPS in browsers, which is the domain owner's call,
# not this app's: the warning that it is off is silenced. DJANGO_HSTS_PRELOAD=1 opts in.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", cast=origin, default=[])

# Behind a reverse proxy that terminates TLS: DJANGO_SECURE_PROXY_SSL_HEADER=1 trusts
# X-Forwarded-Proto. Off by default: a client could forge it when no proxy strips it.
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The header that carries the client's address behind a trusted proxy (e.g. X-Forwarded-For).
# Empty: REMOTE_ADDR is used, since any request header can be forged by the client itself.
DLI_ADMIN_CLIENT_IP_HEADER = env.str("DLI_ADMIN_CLIENT_IP_HEADER", default="")
# Use the proxy's X-Request-Id instead of making one. Off by default: a client could send it too.
DLI_ADMIN_TRUST_REQUEST_ID = env.bool("DLI_ADMIN_TRUST_REQUEST_ID", default=False)
# Load balancers probe /healthz over plain HTTP; Prometheus scrapes each host's /metrics on its private
# address (docs/deployment.md, "Metrics").
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# Error pages and error mails hide credentials by name and by value, with DEBUG on as well as off.
DEFAULT_EXCEPTION_REPORTER = "dli_admin.accounts.reporting.NoSecretsExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "dli_admin.accounts.reporting.NoSecretsReporterFilter"

# --- Static files ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# One time format everywhere (pages, no-JS pages, the admin): accounts/formats/en/formats.py.
FORMAT_MODULE_PATH = ["dli_admin.accounts.formats"]

# --- DLI -----------------------------------------------------------------------------------------
# Empty DLI_ENDPOINT: the embedded simulator starts on loopback and the dashboard talks to it.
DLI_ENDPOINT = env.http_url("DLI_ENDPOINT")
# The embedded simulator stands in for an empty DLI_ENDPOINT only in development (or when asked for):
# a production instance with a forgotten DLI_ENDPOINT must say so, not show demo jobs.
DLI_EMBEDDED_SIMULATOR = env.bool("DLI_EMBEDDED_SIMULATOR", default=DEBUG)
DLI_AK = env.str("DLI_AK", default="")
DLI_SK = env.str("DLI_SK", default="")
DLI_AUTH_TOKEN = env.str("DLI_AUTH_TOKEN", default="")
DLI_IAM_ENDPOINT = env.http_url("DLI_IAM_ENDPOINT")
DLI_IAM_USER = env.str("DLI_IAM_USER", default="")
DLI_IAM_PASSWORD = env.str("DLI_IAM_PASSWORD", default="")
DLI_IAM_DOMAIN = env.str("DLI_IAM_DOMAIN", default="")
# The variables above make the DLI connection named "default". More accounts or regions are named
# connections (docs/deployment.md, "Several DLI accounts and regions"), chosen per project:
# DLI_CONNECTIONS=prod-eu,staging, then DLI_CONNECTION_PROD_EU_ENDPOINT, _AUTH, _AK, _SK_FILE, ...
DLI_CONNECTIONS = dli_connections(env)
DLI_CONNECT_TIMEOUT = env.float("DLI_CONNECT_TIMEOUT", default=3.0)
DLI_TIMEOUT = env.float("DLI_TIMEOUT", default=15.0)  # read timeout, seconds
DLI_BATCH_SIZE = env.int("DLI_BATCH_SIZE", default=50)  # ids per batch-delete call
DLI_MAX_BATCH = env.int("DLI_MAX_BATCH", default=10_000)  # most jobs one delete may cover
DLI_CONCURRENCY = env.int("DLI_CONCURRENCY", default=4)  # calls in flight per DLI endpoint and process
# How long a batch keeps retrying while DLI is unreachable or throttles, before its unsent jobs read skipped.
DLI_BATCH_RETRY_DEADLINE = env.float("DLI_BATCH_RETRY_DEADLINE", default=15 * 60.0)
DLI_BATCH_LEASE = env.float("DLI_BATCH_LEASE", default=30.0)  # seconds a worker holds a batch unrenewed
DLI_BATCH_SWEEP = env.float("DLI_BATCH_SWEEP", default=20.0)  # seconds between looks for stalled batches
# Jobs re-checked and sent between two reads of DLI: one read settles a wave and re-checks the next, so
# a smaller wave shows progress sooner and a larger one costs fewer DLI calls.
DLI_BATCH_WAVE = env.int("DLI_BATCH_WAVE", default=1000)

# Background work: the database is the queue; `manage.py db_worker` runs it (docs/deployment.md).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Room for a selection over the ceiling, so the operator reads why instead of a bare 400.
DATA_UPLOAD_MAX_NUMBER_FIELDS = max(1000, 2 * DLI_MAX_BATCH + 100)
DLI_CONFIRM_NAME_THRESHOLD = env.int("DLI_CONFIRM_NAME_THRESHOLD", default=20)

# --- Cleanup policies (docs/policies.md) ----------------------------------------------------------
DLI_POLICY_TICK = env.float(
    "DLI_POLICY_TICK", default=60.0
)  # seconds between the workers' looks for due runs
# Most jobs a policy's DLI filters may list (before its age and tag rules narrow them) before a run stops.
DLI_POLICY_LIST_CEILING = env.int("DLI_POLICY_LIST_CEILING", default=100_000)
# Where dli-admin is reached, for the batch links in webhook notices (empty: a path only).
DLI_ADMIN_BASE_URL = env.str("DLI_ADMIN_BASE_URL", default="")
DLI_WEBHOOK_TIMEOUT = env.float("DLI_WEBHOOK_TIMEOUT", default=5.0)  # seconds per attempt
DLI_WEBHOOK_ATTEMPTS = env.int("DLI_WEBHOOK_ATTEMPTS", default=4)
DLI_WEBHOOK_RETRY = env.float("DLI_WEBHOOK_RETRY", default=30.0)  # seconds before the 2nd try; doubles

# --- Audit log ----------------------------------------------------------------------------------
# The key of the audit chain's HMACs and checkpoint signatures: a secret kept out of the database, so that
# whoever can write the audit tables cannot forge a record. Required (audit.E001); `make run` makes one.
DLI_ADMIN_AUDIT_KEY = env.str("DLI_ADMIN_AUDIT_KEY", default="")
# Where signed checkpoints of the chain's head go after each write: an append-only file, or "log" for a
# JSON line on the logger dli_admin.audit.checkpoints (for a log shipper).
DLI_ADMIN_AUDIT_CHECKPOINTS = env.str("DLI_ADMIN_AUDIT_CHECKPOINTS", default="") or str(
    VAR_DIR / "audit-checkpoints.jsonl"
)

# --- Metrics: GET /metrics for Prometheus (docs/deployment.md, "Metrics") --------------------------------
# The scraper's bearer token; unset, /metrics answers 404. dli_admin.metrics reads PROMETHEUS_MULTIPROC_DIR.
DLI_ADMIN_METRICS_TOKEN = env.str("DLI_ADMIN_METRICS_TOKEN", default="")
if DLI_ADMIN_METRICS_TOKEN and not re.fullmatch(r"[A-Za-z0-9._~+/=-]{24,}", DLI_ADMIN_METRICS_TOKEN):
    # The value is not repeated: it is a secret.
    raise ImproperlyConfigured(
        "DLI_ADMIN_METRICS_TOKEN must be at least 24 characters of A-Z a-z 0-9 . _ ~ + / = - "
        "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    )
# Told of every attempt of every DLI call (dli_admin.projects.connections hands it to each DliClient).
DLI_ADMIN_DLI_OBSERVER = "dli_admin.metrics.instruments.dli_call_observed"

# --- Logs: JSON lines on stdout in production, text for humans (DJANGO_LOG_FORMAT=text) -------------
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="text" if DEBUG else "json", choices=("json", "text"))
LOG_LEVEL = env.str(
    "DJANGO_LOG_LEVEL", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "dli_admin.accounts.logs.RequestContextFilter"},
        "redact_secrets": {"()": "dli_admin.accounts.logs.RedactSecretsFilter"},
    },
    "formatters": {
        "json": {"()": "dli_admin.accounts.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(user)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["request_context", "redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Replaces Django's own "django" handlers, which would print each line a second time when DEBUG is on.
    "loggers": {"django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}},
}
