"""DLI's AK/SK request signing ("SDK-HMAC-SHA256"), as the official SDK's Signer does it.

Pure functions shared by the DLI client (which signs) and the embedded simulator (which verifies),
so neither imports the other. Checked byte for byte against the SDK's vectors in the test suite.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def sdk_date(now: datetime | None = None) -> str:
    """The X-Sdk-Date value for a moment (UTC now by default)."""
    return (now or datetime.now(UTC)).strftime(DATE_FORMAT)


def parse_sdk_date(value: str) -> datetime:
    """Parse an X-Sdk-Date header; raises ValueError when malformed."""
    return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)


def _encode(value: str) -> str:
    # RFC 3986: unreserved characters stay, everything else is %XX in upper case.
    return quote(value, safe="~")


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def canonical_uri(path: str) -> str:
    segments = [_encode(segment) for segment in unquote(path).split("/")]
    uri = "/".join(segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(params: Iterable[tuple[str, object]]) -> str:
    """Sorted, RFC 3986-encoded `k=v` pairs. This exact string is also what goes on the wire."""
    pairs = sorted((str(key), _query_value(value)) for key, value in params)
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in pairs)


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    # The SDK signs every header present, except names with "_" (since SDK 3.1.103).
    return sorted(name.lower() for name in headers if "_" not in name)


def canonical_request(
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes,
) -> str:
    """The canonical request; `query` is already canonical (see canonical_query)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    header_lines = "".join(f"{name}:{lowered[name].strip()}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            query,
            header_lines,
            ";".join(signed_headers),
            lowered.get("x-sdk-content-sha256") or payload_hash(body),
        ]
    )


def string_to_sign(canonical: str, date: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{date}\n{digest}"


def signature(secret_key: str, to_sign: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization_header(access_key: str, signed_headers: list[str], sig: str) -> str:
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(signed_headers)}, Signature={sig}"
