"""One pooled requests.Session per endpoint, shared by every client that talks to it."""

from __future__ import annotations

import threading
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

POOL_SIZE = 10  # concurrent connections per host: the read-back runs a few calls at once

_lock = threading.Lock()
_sessions: dict[str, requests.Session] = {}


def new_session(pool_size: int = POOL_SIZE) -> requests.Session:
    session = requests.Session()
    # Retries are the client's own decision (a POST must never be re-sent by urllib3 behind its back).
    adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # Calls carry their own auth and headers; refuse cookies so a shared session holds no per-user state.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    session.headers["User-Agent"] = "dli-admin"
    return session


def session_for(endpoint: str) -> requests.Session:
    """The shared session for an endpoint (scheme and host), created on first use."""
    parts = urlsplit(endpoint)
    key = f"{parts.scheme}://{parts.netloc}".lower()
    with _lock:
        session = _sessions.get(key)
        if session is None:
            session = _sessions[key] = new_session()
        return session


def close_sessions() -> None:
    """Close every shared session (at shutdown, or between test runs)."""
    with _lock:
        sessions = list(_sessions.values())
        _sessions.clear()
    for session in sessions:
        session.close()
