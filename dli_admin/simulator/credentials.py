"""The credentials a simulator accepts, and the built-in demo ones.

The demo credentials open nothing but a simulator on loopback, so they are public constants on purpose:
the dashboard's embedded simulator, the tests and the demo use them when no real DLI account is
configured. `manage.py dli_simulator` accepts DLI_AK/DLI_SK or DLI_AUTH_TOKEN instead when they are set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Shaped like real ones (a 20-character AK, a 40-character SK) so the client's validation accepts them.
DEMO_ACCESS_KEY = "DLIADMINSIMDEMOAK001"
DEMO_SECRET_KEY = "dliAdminSimulatorDemoSecretKey0000000001"  # noqa: S105  demo-only, loopback simulator
DEMO_TOKEN = "MIIsimulator-dli-admin-demo-token"  # noqa: S105  the static X-Auth-Token it accepts

# The IAM user that POST /v3/auth/tokens accepts (password authentication).
DEMO_IAM_USER = "dli-demo-operator"
DEMO_IAM_PASSWORD = "dli-demo-password"  # noqa: S105  demo-only
DEMO_IAM_DOMAIN = "dli-demo-domain"


@dataclass(frozen=True)
class Credentials:
    """What a simulator accepts; a way of signing in whose fields are None is refused (401)."""

    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)  # a static X-Auth-Token
    iam_user: str | None = None  # IAM password login (POST /v3/auth/tokens)
    iam_password: str | None = field(default=None, repr=False)
    iam_domain: str | None = None

    def __post_init__(self) -> None:
        if "" in (self.access_key, self.secret_key, self.token, self.iam_user, self.iam_password):
            raise ValueError("an empty credential: leave it None to refuse that way of signing in")
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError("an access key and a secret key go together")
        iam = (self.iam_user, self.iam_password, self.iam_domain)
        if any(value is None for value in iam) and any(value is not None for value in iam):
            raise ValueError("IAM password login needs a user, a password and a domain")
        if self.access_key is None and self.token is None and self.iam_user is None:
            raise ValueError("the simulator must accept some credentials")


DEMO = Credentials(
    access_key=DEMO_ACCESS_KEY,
    secret_key=DEMO_SECRET_KEY,
    token=DEMO_TOKEN,
    iam_user=DEMO_IAM_USER,
    iam_password=DEMO_IAM_PASSWORD,
    iam_domain=DEMO_IAM_DOMAIN,
)
