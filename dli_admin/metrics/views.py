"""GET /metrics: Prometheus' text format, for a scraper holding DLI_ADMIN_METRICS_TOKEN; 404 when unset."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest

from dli_admin.accounts.ip import client_ip

from .collectors import DatabaseCollector
from .instruments import process_metrics

log = logging.getLogger("dli_admin.metrics")
REALM = 'Bearer realm="dli-admin metrics"'


def _unauthorized(error: str = "") -> HttpResponse:
    response = HttpResponse("401 Unauthorized\n", status=401, content_type="text/plain; charset=utf-8")
    response["WWW-Authenticate"] = REALM + (f', error="{error}"' if error else "")
    return response


@login_not_required  # the scraper has a token, not a session; a session is not enough either
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    expected = settings.DLI_ADMIN_METRICS_TOKEN
    if not expected:
        raise Http404  # disabled: as if there were no such URL
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return _unauthorized()
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        log.warning("metrics: wrong bearer token from %s", client_ip(request))
        return _unauthorized("invalid_token")
    registry = CollectorRegistry()
    process_metrics(registry)
    registry.register(DatabaseCollector())
    # 0.0.4, which every Prometheus reads (the names need no escaping).
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
