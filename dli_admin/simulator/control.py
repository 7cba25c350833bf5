"""A caller's side of a running simulator's control API (`/_sim/`, loopback only, no login).

For `manage.py dli_simulator --reset` and `manage.py demo_setup`. Standard library only, like the
simulator itself: asking is also how a caller tells a simulator from a real DLI endpoint.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class NoSimulator(Exception):
    """Nothing at that URL answers as a dli-admin simulator (no answer, or not the control API's)."""


def _call(base_url: str, method: str, path: str) -> Any:
    url = base_url.rstrip("/") + path
    if not url.startswith(("http://", "https://")):
        raise NoSimulator(f"{url} is not an http(s) URL")
    data = b"" if method == "POST" else None
    request = urllib.request.Request(url, method=method, data=data)  # noqa: S310  http(s): checked above
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise NoSimulator(f"{method} {url} answered {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise NoSimulator(f"no answer from {url}: {getattr(error, 'reason', error)}") from None
    except ValueError:
        raise NoSimulator(f"{method} {url} did not answer JSON") from None


def projects(base_url: str) -> list[dict[str, Any]]:
    """The simulator's projects: [{"id", "name", "job_count", "seeded_job_count"}, ...]."""
    reply = _call(base_url, "GET", "/_sim/projects")
    rows = reply.get("projects") if isinstance(reply, dict) else None
    if not isinstance(rows, list) or not all(
        isinstance(row, dict) and isinstance(row.get("id"), str) and isinstance(row.get("job_count"), int)
        for row in rows
    ):
        raise NoSimulator(
            f"GET {base_url.rstrip('/')}/_sim/projects did not answer a simulator's project list"
        )
    return rows


def reset(base_url: str) -> None:
    """Reseed every project and clear faults, the request log and issued tokens."""
    reply = _call(base_url, "POST", "/_sim/reset")
    if not (isinstance(reply, dict) and reply.get("reset") is True):
        raise NoSimulator(f"POST {base_url.rstrip('/')}/_sim/reset did not answer as a simulator")
