"""`manage.py dli_simulator`: serve the DLI simulator stand-alone, for demos, training and manual tests.

With DLI_AK and DLI_SK, or DLI_AUTH_TOKEN, set it accepts exactly those; otherwise the public demo
credentials, which it prints in full.
"""

from __future__ import annotations

import ipaddress
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dli_admin.simulator import control
from dli_admin.simulator.credentials import DEMO, Credentials
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


def credentials_from_settings() -> Credentials | None:
    """DLI_AK+DLI_SK and/or DLI_AUTH_TOKEN (environment, NAME_FILE or .env), or None when neither is set."""
    access_key, secret_key, token = settings.DLI_AK, settings.DLI_SK, settings.DLI_AUTH_TOKEN
    if bool(access_key) != bool(secret_key):
        raise CommandError("DLI_AK and DLI_SK go together: set both, or neither for the demo credentials")
    if not (access_key or token):
        return None
    return Credentials(access_key=access_key or None, secret_key=secret_key or None, token=token or None)


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
            help="allow a non-loopback --host (its control API needs no login, and it may accept demo keys)",
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
                f"refusing to listen on {host}: the simulator is for demos and tests (without DLI_AK/DLI_SK "
                "it accepts the public demo credentials). Use a loopback address, or pass --allow-remote "
                "if you really mean it."
            )
        own = credentials_from_settings()
        simulator = Simulator(host=host, port=port, credentials=own or DEMO)
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
        if own is None:
            # Public values that open only this simulator: printed whole, to paste into the dashboard's env.
            self.stdout.write(
                "accepting the demo credentials (set DLI_AK and DLI_SK, or DLI_AUTH_TOKEN, for your own):"
            )
            self.stdout.write(f"  DLI_AK={DEMO.access_key} DLI_SK={DEMO.secret_key}")
            self.stdout.write(f"  DLI_AUTH_TOKEN={DEMO.token}")
            self.stdout.write(
                f"  DLI_IAM_ENDPOINT={simulator.url} DLI_IAM_USER={DEMO.iam_user} "
                f"DLI_IAM_PASSWORD={DEMO.iam_password} DLI_IAM_DOMAIN={DEMO.iam_domain}"
            )
        else:
            # Never echo them: they may be a real account's.
            kinds = [
                name for name, on in (("DLI_AK/DLI_SK", own.access_key), ("DLI_AUTH_TOKEN", own.token)) if on
            ]
            self.stdout.write(
                f"accepting {' and '.join(kinds)} from the environment only (not the demo credentials)"
            )
        self.stdout.write(f"DLI simulator listening on {simulator.url} (Ctrl-C stops)")
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
        url = f"http://{host}:{port}"
        try:
            control.reset(url)
        except control.NoSimulator as error:
            raise CommandError(f"no DLI simulator answered at {url}/_sim/reset: {error}") from None
        self.stdout.write(f"DLI simulator at {host}:{port} reset")
