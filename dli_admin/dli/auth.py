"""requests auth classes for DLI: AK/SK signing, a fixed token, and IAM password login with a token cache.

Each class can tell the client which strings it must keep out of logs and messages (`secret_values`),
and none shows a secret in its repr.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase

from dli_admin import aksk
from dli_admin.dli.errors import DliError, ErrorCategory, error_from_reply, excerpt
from dli_admin.dli.retry import transport_error
from dli_admin.dli.sessions import session_for

log = logging.getLogger("dli_admin.dli")

# Signing a fixed set keeps the signature stable whatever requests or a proxy add (Accept-Encoding,
# Connection...); the gateway checks only the headers named in SignedHeaders. These are the SDK's own.
SIGNED_HEADERS = frozenset({"content-type", "host", "x-project-id", "x-sdk-date", "x-security-token"})


class AkSkAuth(AuthBase):
    """SDK-HMAC-SHA256 signing. What is signed is exactly what goes on the wire: the query is rewritten to
    its canonical form (sorted, RFC 3986) before signing, so the gateway recomputes the same string."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        project_id: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("AkSkAuth needs both an access key and a secret key")
        self._access_key = access_key
        self._secret_key = secret_key
        self._project_id = project_id
        self._clock = clock or (lambda: datetime.now(UTC))

    def __repr__(self) -> str:
        return "AkSkAuth(access_key=<hidden>, secret_key=<hidden>)"

    def secret_values(self) -> tuple[str, ...]:
        return (self._access_key, self._secret_key)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        parts = urlsplit(str(r.url))
        query = aksk.canonical_query(parse_qsl(parts.query, keep_blank_values=True))
        if query != parts.query:
            r.url = urlunsplit(parts._replace(query=query))
        body = r.body or b""
        if isinstance(body, str):
            body = r.body = body.encode("utf-8")  # http.client would send a str as latin-1
        if not isinstance(body, bytes):
            raise TypeError("AkSkAuth signs bytes bodies only, not streams")

        if self._project_id and "X-Project-Id" not in r.headers:
            r.headers["X-Project-Id"] = self._project_id
        r.headers.setdefault("Content-Type", "application/json")
        r.headers["Host"] = parts.netloc.rpartition("@")[2]  # sent as set, so signed as sent
        r.headers["X-Sdk-Date"] = aksk.sdk_date(self._clock())

        names = [name for name in aksk.signed_header_names(r.headers) if name in SIGNED_HEADERS]
        canonical = aksk.canonical_request(
            method=r.method or "GET",
            path=parts.path or "/",
            query=query,
            headers=r.headers,
            signed_headers=names,
            body=body,
        )
        sig = aksk.signature(self._secret_key, aksk.string_to_sign(canonical, r.headers["X-Sdk-Date"]))
        r.headers["Authorization"] = aksk.authorization_header(self._access_key, names, sig)
        return r


class TokenAuth(AuthBase):
    """A fixed IAM token (X-Auth-Token); it expires after 24 hours, and nothing here renews it."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("TokenAuth needs a token")
        self._token = token

    def __repr__(self) -> str:
        return "TokenAuth(token=<hidden>)"

    def secret_values(self) -> tuple[str, ...]:
        return (self._token,)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-Auth-Token"] = self._token
        return r


def _expiry(document: object) -> float | None:
    """token.expires_at (ISO 8601) as a POSIX timestamp, or None when absent or malformed."""
    try:
        text = document["token"]["expires_at"]  # type: ignore[index]
        moment = datetime.fromisoformat(text)
    except (KeyError, TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class IamPasswordAuth(AuthBase):
    """Logs in to IAM with a password for a project-scoped token, and caches it until shortly before it
    expires. Thread-safe: concurrent calls share one login. The client calls `invalidate` on a 401 and
    retries once, so a token revoked early (password change, user disabled) heals by itself."""

    refreshable = True
    # Without a readable expires_at, assume this much life (IAM documents 24 hours; a 401 renews anyway).
    FALLBACK_LIFETIME = 3600.0

    def __init__(
        self,
        iam_endpoint: str,
        user: str,
        password: str,
        domain: str,
        project_id: str,
        *,
        session: requests.Session | None = None,
        refresh_margin: float = 300,
        timeout: tuple[float, float] = (3.0, 15.0),
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (iam_endpoint and user and password and domain and project_id):
            raise ValueError("IamPasswordAuth needs the IAM endpoint, user, password, domain and project id")
        self._url = iam_endpoint.rstrip("/") + "/v3/auth/tokens"
        self._user = user
        self._password = password
        self._domain = domain
        self._project_id = project_id
        self._session = session or session_for(iam_endpoint)
        self._refresh_margin = refresh_margin
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def __repr__(self) -> str:
        return (
            f"IamPasswordAuth(iam_endpoint={self._url.removesuffix('/v3/auth/tokens')!r}, "
            f"user={self._user!r}, domain={self._domain!r}, project_id={self._project_id!r}, "
            "password=<hidden>)"
        )

    def secret_values(self) -> tuple[str, ...]:
        token = self._token
        return (self._password,) + ((token,) if token else ())

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-Auth-Token"] = self.token()
        return r

    def token(self) -> str:
        """A valid token, logging in first when there is none or it is about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._token, self._refresh_at = self._login()
            return self._token

    def invalidate(self, token: str | None = None) -> None:
        """Forget the token (only if it is still `token`, so racing threads log in once, not each)."""
        with self._lock:
            if token is None or token == self._token:
                self._token = None

    def _login(self) -> tuple[str, float]:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self._user,
                            "password": self._password,
                            "domain": {"name": self._domain},
                        }
                    },
                },
                "scope": {"project": {"id": self._project_id}},
            }
        }
        secrets = (self._password,)
        started = time.monotonic()
        try:
            response = self._session.post(
                self._url,
                data=json.dumps(body).encode("utf-8"),
                headers={"Content-Type": "application/json;charset=utf8"},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = transport_error(exc, read_timeout=self._timeout[1], secrets=secrets)
            log.warning("IAM POST /v3/auth/tokens failed: %s", error.message)
            raise DliError(
                error.category,
                error.message,
                advice="check DLI_IAM_ENDPOINT and the network",
                service="IAM",
            ) from None
        elapsed = time.monotonic() - started
        token = response.headers.get("X-Subject-Token")
        log.info(
            "IAM POST /v3/auth/tokens -> %s request_id=%s duration=%.3fs",
            response.status_code,
            response.headers.get("X-Request-Id"),
            elapsed,
        )
        if response.status_code in (400, 401, 403):
            raise error_from_reply(
                response.status_code,
                response.headers,
                response.content,
                secrets=secrets,
                category=ErrorCategory.AUTH,
                advice="check DLI_IAM_USER, DLI_IAM_PASSWORD and DLI_IAM_DOMAIN "
                f"(user {excerpt(self._user)!r}, domain {excerpt(self._domain)!r})",
                service="IAM",
            ) from None
        if not 200 <= response.status_code < 300:
            raise error_from_reply(
                response.status_code,
                response.headers,
                response.content,
                secrets=secrets,
                advice="the IAM login failed; check DLI_IAM_ENDPOINT",
                service="IAM",
            ) from None
        if not token:
            raise DliError(
                ErrorCategory.UNPARSEABLE,
                f"IAM answered HTTP {response.status_code} without an X-Subject-Token header",
                status=response.status_code,
                service="IAM",
            )
        now = self._clock()
        try:
            expires = _expiry(json.loads(response.content))
        except (ValueError, RecursionError):
            expires = None
        lifetime = (expires - now) if expires is not None else self.FALLBACK_LIFETIME
        # A token shorter-lived than the margin is renewed at half its life instead of on every call.
        return token, now + lifetime - min(self._refresh_margin, max(lifetime, 0) / 2)
