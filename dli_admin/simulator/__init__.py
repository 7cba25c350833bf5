"""The embedded DLI simulator: DLI's Flink-job API on loopback, so dli-admin runs with no cloud account.

It runs three ways:

- in the test suite, through the `simulator` fixture (a `Simulator(port=0)` reset around each test);
- stand-alone: `python manage.py dli_simulator --port 8765 [--fault PROJECT:name=value ...]`, accepting
  DLI_AK/DLI_SK or DLI_AUTH_TOKEN from its environment when set;
- inside the dashboard when DLI_ENDPOINT is empty: `server.embedded()` starts one per process.

Each accepts the public demo credentials unless given its own (`Simulator(credentials=...)`).
Modules: `server` (HTTP, auth, the Simulator class), `state` (the jobs), `seed` (the demo projects),
`faults` (the fault switches), `credentials` (what a simulator accepts, and the demo credentials),
`control` (a caller's side of a running simulator's `/_sim/` control API).
It needs no Django, and shares nothing with the DLI client but `dli_admin.aksk`.
"""
