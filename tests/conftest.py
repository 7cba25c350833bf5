"""Fixtures shared by every test: the embedded DLI simulator on a real loopback socket."""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django must still allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def dli_simulator_server():
    """One simulator for the whole run, on a free loopback port with the built-in demo credentials."""
    from dli_admin.simulator.server import Simulator

    simulator = Simulator(port=0).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def simulator(dli_simulator_server, settings):
    """The simulator, freshly seeded with no faults and an empty request log; the dashboard talks to it."""
    dli_simulator_server.reset()
    settings.DLI_ENDPOINT = dli_simulator_server.url
    yield dli_simulator_server
    dli_simulator_server.reset()
