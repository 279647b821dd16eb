"""Which registry product answered, from URL shapes and headers, and how each wants you to log in."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..hops import first_header
from ..records import Exchange


@dataclass(frozen=True)
class Flavour:
    name: str
    login: tuple[str, ...]
    """Commands, with ``{registry}`` for the registry URL."""
    token_hint: str


NPMJS = Flavour(
    "npmjs",
    ("npm login --registry={registry}",),
    "Create an access token at https://www.npmjs.com/settings/<user>/tokens (granular, read-only is enough to install).",
)
GITHUB = Flavour(
    "GitHub Packages",
    ("npm login --scope=@<owner> --auth-type=legacy --registry={registry}",),
    "GitHub Packages needs a personal access token with read:packages as the password (your GitHub user name as user).",
)
NEXUS = Flavour(
    "Nexus",
    ("npm login --registry={registry}",),
    "Nexus: npm login needs the 'npm Bearer Token Realm' enabled by your Nexus admin; otherwise set _auth to base64(user:password).",
)
ARTIFACTORY = Flavour(
    "Artifactory",
    ("npm login --registry={registry}",),
    "Artifactory: use an identity/access token from 'Set Me Up' (your password or API key may be refused).",
)
VERDACCIO = Flavour("Verdaccio", ("npm login --registry={registry}",), "Verdaccio: npm login (or npm adduser) against the registry.")
AZURE = Flavour(
    "Azure Artifacts",
    ("npx vsts-npm-auth -config .npmrc",),
    "Azure Artifacts: a personal access token with Packaging (read) scope, base64-encoded as _password.",
)
GENERIC = Flavour("registry", ("npm login --registry={registry}",), "Ask the registry's owners how to get a token for npm.")


def detect(exchanges: list[Exchange], registry_url: str) -> Flavour:
    """Guess the registry product from the URL and any answer from it."""
    parts = urlsplit(registry_url)
    host, path = (parts.hostname or "").lower(), parts.path.lower()
    if host.endswith("npmjs.org") or host.endswith("npmjs.com") or host == "registry.yarnpkg.com":
        return NPMJS
    if host == "npm.pkg.github.com":
        return GITHUB
    if "pkgs.dev.azure.com" in host or "pkgs.visualstudio.com" in host:
        return AZURE
    if "/artifactory/" in path or "/api/npm/" in path:
        return ARTIFACTORY
    if path.startswith("/repository/"):
        return NEXUS
    for e in exchanges:
        if e.host.lower() != host:
            continue
        headers = e.response_headers
        server = (first_header(headers, "server") or "").lower()
        powered = (first_header(headers, "x-powered-by") or "").lower()
        if "verdaccio" in powered or "verdaccio" in server:
            return VERDACCIO
        if "nexus" in server or first_header(headers, "x-nexus-ui"):
            return NEXUS
        if "artifactory" in server or first_header(headers, "x-artifactory-id"):
            return ARTIFACTORY
        if first_header(headers, "x-github-request-id"):
            return GITHUB
        body = (e.evidence.error_body or "").lower()
        if "verdaccio" in body or "no such package available" in body:  # Verdaccio's 404 wording
            return VERDACCIO
    return GENERIC
