"""The embedded DLI simulator: DLI's Flink-job API on loopback, so dli-admin runs with no cloud account.

It runs three ways:

- in the test suite, through the `simulator` fixture (a `Simulator(port=0)` reset around each test);
- stand-alone: `python manage.py dli_simulator --port 8765 [--fault PROJECT:name=value ...]`;
- inside the dashboard when DLI_ENDPOINT is empty: `server.embedded()` starts one per process.

Modules: `server` (HTTP, auth, the Simulator class), `state` (the jobs), `seed` (the demo projects),
`faults` (the fault switches), `credentials` (the public demo credentials it accepts).
It needs no Django, and shares nothing with the DLI client but `dli_admin.aksk`.
"""
