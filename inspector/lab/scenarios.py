"""The demo's scenarios: one small corporate network each, with the failure a newcomer should recognise."""

from __future__ import annotations

from dataclasses import dataclass, field

from .registry import MIRROR_HOST, PRIVATE_HOST, PUBLIC_HOST, SCOPE


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    story: str
    npm_args: tuple[str, ...]
    npmrc: tuple[str, ...]
    """Lines of the demo's own npm config; ``{ca}``, ``{proxy}``, ``{alice}``, ``{guest}`` are filled in."""
    expected_rule: str | None
    expected_hop: str | None
    proxy_auth: bool = False
    deny: tuple[str, ...] = ()
    resign: bool = False
    fix_values: dict[str, str] = field(default_factory=dict)
    """Placeholder values the demo knows (the user would type their own)."""


PUBLIC = f"https://{PUBLIC_HOST}/"
PRIVATE = f"https://{PRIVATE_HOST}/"
MIRROR = f"https://{MIRROR_HOST}/"
PROXY_USER = "demo-user"
PROXY_PASSWORD = "p@ss:w0rd#demo"

BASE = (f"registry={PUBLIC}", "cafile={ca}", "proxy={proxy}", "https-proxy={proxy}")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "proxy-auth",
        "The corporate proxy wants a login (407)",
        "npm prints E407. npm-inspect shows the proxy answered the CONNECT, that npm sent no credentials, "
        "and the exact proxy URL to set, with the password's special characters percent-encoded.",
        ("install", "demo-hello"),
        BASE,
        "proxy-auth-required",
        "proxy",
        proxy_auth=True,
        fix_values={"user": PROXY_USER, "password": PROXY_PASSWORD},
    ),
    Scenario(
        "connect-denied",
        "The proxy refuses the registry (tunneling socket … statusCode=403)",
        "npm prints E403 — just like a registry 403. npm-inspect shows the proxy refused the CONNECT before "
        "the registry saw anything, and proposes the company's internal mirror.",
        ("install", "demo-hello"),
        BASE,
        "proxy-connect-denied",
        "proxy",
        deny=(PUBLIC_HOST,),
        fix_values={"internal-mirror-url": MIRROR},
    ),
    Scenario(
        "registry-401",
        "The private registry wants a token (401)",
        "npm prints E401. This time the proxy let the request through: the registry answered, and npm "
        "had no token for it.",
        ("install", f"{SCOPE}/secret"),
        (*BASE, f"{SCOPE}:registry={PRIVATE}"),
        "registry-auth-missing",
        "registry",
        fix_values={"token": "{alice}"},
    ),
    Scenario(
        "registry-403",
        "Logged in, but not allowed (403)",
        "npm prints E403 again — but here it is the registry, refusing this user. npm-inspect tells the two "
        "403s apart and proposes whoami, owner ls, and a token with access.",
        ("install", f"{SCOPE}/secret"),
        (*BASE, f"{SCOPE}:registry={PRIVATE}", f"//{PRIVATE_HOST}/:_authToken={{guest}}"),
        "registry-forbidden",
        "registry",
        fix_values={"token": "{alice}"},
    ),
    Scenario(
        "scope-missing",
        "A private scope asked of the public registry (404)",
        "npm prints E404 for a package that exists — on the company registry. npm has a token for it but "
        "no @scope mapping, so npm asked the public registry.",
        ("install", f"{SCOPE}/ui"),
        (*BASE, f"//{PRIVATE_HOST}/:_authToken={{alice}}"),
        "scope-registry-missing",
        "registry",
    ),
    Scenario(
        "tls-resign",
        "The proxy re-signs TLS with its own CA",
        "npm would print SELF_SIGNED_CERT_IN_CHAIN. npm-inspect names the corporate CA, saves it, and "
        "proposes cafile — never strict-ssl=false.",
        ("install", "demo-hello"),
        BASE,
        "tls-untrusted",
        "tls",
        resign=True,
    ),
    Scenario(
        "healthy",
        "Everything works",
        "What a good install looks like: CONNECTs answered by the proxy, packuments and tarballs by the registry.",
        ("install", "demo-hello"),
        BASE,
        None,
        None,
    ),
)

BY_NAME = {s.name: s for s in SCENARIOS}
