"""The simulator's built-in demo credentials.

They open nothing but the embedded simulator on loopback, so they are public constants on purpose:
the dashboard, the tests and the demo use them when no real DLI account is configured.
"""

from __future__ import annotations

# Shaped like real ones (a 20-character AK, a 40-character SK) so the client's validation accepts them.
DEMO_ACCESS_KEY = "DLIADMINSIMDEMOAK001"
DEMO_SECRET_KEY = "dliAdminSimulatorDemoSecretKey0000000001"  # noqa: S105  demo-only, loopback simulator
DEMO_TOKEN = "MIIsimulator-dli-admin-demo-token"  # noqa: S105  the static X-Auth-Token it accepts

# The IAM user that POST /v3/auth/tokens accepts (password authentication).
DEMO_IAM_USER = "dli-demo-operator"
DEMO_IAM_PASSWORD = "dli-demo-password"  # noqa: S105  demo-only
DEMO_IAM_DOMAIN = "dli-demo-domain"
