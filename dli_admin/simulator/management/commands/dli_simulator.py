"""`manage.py dli_simulator`: serve the DLI simulator stand-alone, for demos, training and manual tests."""

from __future__ import annotations

import ipaddress
import json
import signal
import threading
import urllib.error
import urllib.request
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dli_admin.simulator.credentials import DEMO_ACCESS_KEY
from dli_admin.simulator.seed import DEMO_PROJECTS
from dli_admin.simulator.server import Simulator


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_fault(spec: str) -> tuple[str | None, str, Any]:
    """PROJECT:name=value (PROJECT is an id, a demo project's name, or * for all; =value defaults to true)."""
    project, colon, rest = spec.partition(":")
    name, equals, value = rest.partition("=")
    if not colon or not project or not name:
        raise CommandError(f"--fault {spec!r}: expected PROJECT_ID:name=value")
    names = {p.name: p.id for p in DEMO_PROJECTS}
    project_id = None if project == "*" else names.get(project, project)
    return project_id, name.strip(), value.strip() if equals else True


class Command(BaseCommand):
    help = "Serve the DLI simulator (DLI's Flink-job API with seeded demo projects) until Ctrl-C."
    requires_system_checks: list[str] = []  # needs no database and no models
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
        parser.add_argument(
            "--allow-remote",
            action="store_true",
            help="allow a non-loopback --host (the simulator accepts public demo credentials)",
        )
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="PROJECT_ID:name=value",
            help="switch a fault on from the start, e.g. analytics-prod:throttle=1 (repeatable; * = all)",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="do not serve: ask the simulator already running at --host/--port to reseed, then exit",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if options["reset"]:
            self._reset_running(host, port)
            return
        if not _is_loopback(host) and not options["allow_remote"]:
            raise CommandError(
                f"refusing to listen on {host}: the simulator accepts the public demo credentials. "
                "Use a loopback address, or pass --allow-remote if you really mean it."
            )
        simulator = Simulator(host=host, port=port)
        for spec in options["fault"]:
            project_id, name, value = parse_fault(spec)
            try:
                simulator.set_fault(project_id, name, value)
            except ValueError as error:
                raise CommandError(f"--fault {spec!r}: {error}") from None
        try:
            simulator.start()
        except OSError as error:
            raise CommandError(f"cannot listen on {host}:{port}: {error}") from None
        simulator.verbose = options["verbosity"] >= 2
        for project in simulator.projects():
            self.stdout.write(f"project {project['id']} {project['name']} {project['job_count']} jobs")
        self.stdout.write(
            f"DLI simulator listening on {simulator.url} (access key {DEMO_ACCESS_KEY}; Ctrl-C stops)"
        )
        self.stdout.flush()

        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())  # stop cleanly when a supervisor asks
        try:
            while not stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            simulator.stop()
            self.stdout.write("DLI simulator stopped")

    def _reset_running(self, host: str, port: int) -> None:
        url = f"http://{host}:{port}/_sim/reset"
        try:
            with urllib.request.urlopen(  # noqa: S310  a fixed http URL on the host the operator named
                urllib.request.Request(url, method="POST", data=b""), timeout=5
            ) as response:
                json.load(response)
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise CommandError(f"no DLI simulator answered at {url}: {error}") from None
        self.stdout.write(f"DLI simulator at {host}:{port} reset")
