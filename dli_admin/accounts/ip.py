from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the first address of DLI_ADMIN_CLIENT_IP_HEADER when set.

    The header is trusted only when configured, because a client can send any header itself; the
    proxy must overwrite it, not append to it. A value that is not an address falls back to REMOTE_ADDR.
    """
    remote_addr = request.META.get("REMOTE_ADDR", "")
    if header := settings.DLI_ADMIN_CLIENT_IP_HEADER:
        first = request.headers.get(header, "").split(",")[0].strip()
        try:
            return str(ipaddress.ip_address(first))
        except ValueError:
            return remote_addr
    return remote_addr
