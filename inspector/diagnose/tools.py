"""Which package manager a run used, in the words the rules need: its name, and how it prints each failure.

The rules reason in npm's terms (keys, layers, hops); what changes per tool is
the sentence a user recognises — pnpm 12 says ``error sending request for url``
where npm says ``E407`` — and what the tool cannot do at all (yarn berry has no
``noproxy``). Those facts live here, measured against the pinned tools of the lab
(pnpm 12.4.2, yarn 1.22.22, yarn 4.18.1, bun 1.4.4; see tests/e2e/test_tools_lab.py).
Fix *syntax* lives in :mod:`inspector.clients` (each adapter's ``fix_step``).
"""

from __future__ import annotations

TOOL_NAMES: dict[str, str] = {
    "npm": "npm",
    "pnpm": "pnpm",
    "yarn-classic": "yarn classic",
    "yarn-berry": "yarn berry",
    "bun": "bun",
}


def tool_name(tool: str | None) -> str:
    """``yarn-berry`` → ``yarn berry``; unknown or ``None`` → ``npm``."""
    return TOOL_NAMES.get(tool or "npm", "npm")


def is_npm(tool: str | None) -> bool:
    return (tool or "npm") == "npm"


PROXY_407: dict[str, str] = {
    "npm": "npm prints this as E407",
    "pnpm": "pnpm 12 prints only 'Failed to fetch metadata from …: error sending request for url', without the 407",
    "yarn-classic": "yarn 1 retries ('There appears to be trouble with your network connection'), then prints "
    "'tunneling socket could not be established, statusCode=407'",
    "yarn-berry": "yarn berry prints this as 'YN0001: RequestError: Bad response: 407'",
    "bun": "bun prints this as 'error: ProxyConnectFailed (407) downloading package manifest …'",
}
"""How each tool reports the proxy's 407 to a CONNECT (npm-inspect relays the proxy's answer, so the words are the same)."""

PROXY_CREDENTIALS: dict[str, str] = {
    "npm": "npm only sends credentials that are written into its proxy URL",
    "pnpm": "pnpm only sends credentials that are written into its proxy URL",
    "yarn-classic": "yarn 1 only sends credentials that are written into its proxy URL",
    "yarn-berry": "yarn berry only sends credentials that are written into httpsProxy/httpProxy",
    "bun": "bun only sends credentials that are written into HTTPS_PROXY",
}

CONNECT_403: dict[str, str] = {
    "npm": "npm 11 prints this as 'E403 … 403 Forbidden - GET {scheme}://{host}/…', exactly like a registry 403, and yarn 1 "
    "or npm ≤ 5 as 'tunneling socket could not be established, statusCode=403'",
    "pnpm": "pnpm 12 prints only 'Failed to fetch metadata from {scheme}://{host}/…: error sending request for url', "
    "without the 403, as if the network were down",
    "yarn-classic": "yarn 1 retries ('There appears to be trouble with your network connection'), then prints "
    "'tunneling socket could not be established, statusCode=403'",
    "yarn-berry": "yarn berry prints this as 'YN0001: RequestError: Bad response: 403', like a refusal by the registry",
    "bun": "bun prints this as 'error: ProxyConnectFailed (403) downloading package manifest …'",
}

TLS_WORDS: dict[str, str] = {
    "npm": "npm prints SELF_SIGNED_CERT_IN_CHAIN or UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "pnpm": "pnpm 12 prints only 'error sending request for url', without the certificate error",
    "yarn-classic": "yarn 1 prints 'self-signed certificate in certificate chain' or 'unable to get local issuer certificate'",
    "yarn-berry": "yarn berry prints 'YN0001: RequestError: self-signed certificate in certificate chain'",
    "bun": "bun prints 'error: SELF_SIGNED_CERT_IN_CHAIN downloading package manifest …'",
}
"""What each tool prints without npm-inspect (measured through a re-signing proxy). Through npm-inspect the tool
sees the inspector's 502 instead: the inspector is the one that checks the registry's certificate."""

CA_SETTING: dict[str, str] = {
    "npm": "cafile",
    "pnpm": "cafile (in .npmrc or pnpm's auth.ini)",
    "yarn-classic": "cafile",
    "yarn-berry": "httpsCaFilePath",
    "bun": "cafile in bunfig.toml",
}

CA_REPLACES_ROOTS: dict[str, str] = {
    "npm": "cafile replaces Node's built-in CAs for npm: the bundle must hold every CA npm needs "
    "(behind a re-signing proxy, that CA is usually enough).",
    "pnpm": "pnpm adds NODE_EXTRA_CA_CERTS to its cafile; the cafile itself must still hold the CA that signs the registry "
    "(behind a re-signing proxy, that CA is usually enough).",
    "yarn-classic": "cafile replaces Node's built-in CAs for yarn: the bundle must hold every CA yarn needs "
    "(behind a re-signing proxy, that CA is usually enough).",
    "yarn-berry": "httpsCaFilePath replaces Node's built-in CAs for yarn: the bundle must hold every CA yarn needs "
    "(behind a re-signing proxy, that CA is usually enough).",
    "bun": "a cafile replaces bun's built-in CAs (NODE_EXTRA_CA_CERTS is then ignored): the bundle must hold every CA bun needs "
    "(behind a re-signing proxy, that CA is usually enough).",
}

NO_NOPROXY: dict[str, str] = {
    "yarn-classic": "yarn 1 has no noproxy setting: NO_PROXY is honoured only when the proxy itself comes from HTTPS_PROXY/"
    "HTTP_PROXY (not from .yarnrc or .npmrc). Move the proxy to HTTPS_PROXY and list the host in NO_PROXY, or ask for "
    "the internal registry to be allowed through the proxy.",
    "yarn-berry": "yarn berry has no noproxy setting and ignores NO_PROXY: every request goes to httpsProxy. Ask for the "
    "internal registry to be allowed through the proxy, or give that host its own (empty) proxy in networkSettings of "
    ".yarnrc.yml.",
}
"""Tools that cannot bypass the proxy for one host by config (the fix cannot be written in their syntax)."""

NOPROXY_CAVEAT: dict[str, str] = {
    "npm": "NO_PROXY in the environment is used only when npm's noproxy is not set.",
    "pnpm": "NO_PROXY in the environment is used only when pnpm's noproxy is not set.",
    "bun": "bun reads NO_PROXY from the environment only: export it in your shell profile (and in CI).",
}

STRICT_SSL_FALSE: dict[str, str] = {
    "npm": "Never set strict-ssl=false: it turns off the check that keeps packages from being tampered with.",
    "pnpm": "Never set strict-ssl=false: it turns off the check that keeps packages from being tampered with.",
    "yarn-classic": "Never set strict-ssl false: it turns off the check that keeps packages from being tampered with.",
    "yarn-berry": "Never set enableStrictSsl: false: it turns off the check that keeps packages from being tampered with.",
    "bun": "Never set NODE_TLS_REJECT_UNAUTHORIZED=0: it turns off the check that keeps packages from being tampered with.",
}

QUARANTINE: dict[str, tuple[str, str]] = {
    "yarn-berry": ("npmMinimalAgeGate", "YN0016"),
    "pnpm": ("minimumReleaseAge", "ERR_PNPM_NO_MATURE_MATCHING_VERSION"),
}
"""Tools that hold back versions published less than a set time ago: (the setting, the code they print)."""


def proxy_words(table: dict[str, str], tool: str | None, **fields: str) -> str:
    """``table``'s sentence for ``tool`` (npm's when the tool has none), with ``fields`` filled in."""
    text = table.get(tool or "npm") or table["npm"]
    return text.format(**fields) if fields else text
