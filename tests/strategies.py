"""Hypothesis strategies and small builders for synthetic records (pure-logic tests only)."""

from __future__ import annotations

import itertools
from dataclasses import replace

from hypothesis import strategies as st

from inspector.npmoutcome import NpmOutcome
from inspector.records import CredentialInfo, ErrorInfo, Evidence, Exchange, Hop, NpmIdentity, Timings, TlsInfo

_ids = itertools.count(1)

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
ms = st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False))
headers = st.lists(st.tuples(st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20), text), max_size=6).map(tuple)

timings = st.builds(Timings, client=ms, upstream_connect=ms, connect=ms, tls=ms, send=ms, wait=ms, receive=ms, total=ms)
evidence = st.builds(
    Evidence,
    status_line=text,
    server=st.one_of(st.none(), text),
    via=st.one_of(st.none(), text),
    squid_error=st.one_of(st.none(), text),
    proxy_authenticate=st.lists(text, max_size=3).map(tuple),
    www_authenticate=st.lists(text, max_size=3).map(tuple),
    error_body=st.one_of(st.none(), text),
    reason=text,
)
credential = st.one_of(st.none(), st.builds(CredentialInfo, scheme=st.sampled_from(["Basic", "Bearer"]), fingerprint=st.text("0123456789abcdef", min_size=8, max_size=8), username=st.one_of(st.none(), text)))

exchanges = st.builds(
    Exchange,
    id=st.uuids().map(str),
    seq=st.integers(min_value=1, max_value=10**6),
    kind=st.sampled_from(["connect", "http"]),
    started=st.floats(min_value=0, max_value=2e9, allow_nan=False),
    method=st.sampled_from(["CONNECT", "GET", "PUT", "POST", "HEAD"]),
    scheme=st.sampled_from(["", "http", "https"]),
    host=st.sampled_from(["registry.npmjs.org", "registry.lab.test", "nexus.corp", "npm.pkg.github.com", "127.0.0.1"]),
    port=st.integers(min_value=1, max_value=65535),
    path=st.sampled_from(["", "/lodash", "/@corp%2fsecret", "/@corp/secret", "/lodash/-/lodash-4.17.21.tgz", "/-/whoami"]),
    status=st.one_of(st.none(), st.sampled_from([200, 201, 304, 401, 403, 404, 407, 500, 502, 503, 504])),
    reason=text,
    hop=st.one_of(st.none(), st.sampled_from(list(Hop))),
    state=st.sampled_from(["open", "done"]),
    upstream=st.one_of(st.none(), st.just("127.0.0.1:3128")),
    timings=timings,
    evidence=evidence,
    request_headers=headers,
    response_headers=headers,
    npm=st.builds(NpmIdentity, command=st.one_of(st.none(), st.sampled_from(["install", "view", "ci"]))),
    proxy_auth=credential,
    auth=credential,
    bytes_sent=st.integers(min_value=0, max_value=10**9),
    bytes_received=st.integers(min_value=0, max_value=10**9),
    error=st.one_of(st.none(), st.builds(ErrorInfo, kind=st.sampled_from(["tls", "reset", "timeout", "connect-failed", "proxy-refused", "proxy-scheme", "proxy-slow"]), message=text)),
    decrypted=st.booleans(),
    content_type=st.one_of(st.none(), st.sampled_from(["application/json", "text/html; charset=utf-8", "application/octet-stream"])),
    body_preview=st.one_of(st.none(), text, st.just("<html><title>Sign in</title></html>")),
)

maybe_text = st.one_of(st.none(), text)
npm_identities = st.builds(
    NpmIdentity,
    command=st.one_of(st.none(), st.sampled_from(["install", "view", "ci"])),
    session=maybe_text,
    user_agent=st.one_of(st.none(), st.just("npm/11.19.1 node/v20.20.2 linux x64 workspaces/false"), text),
    auth_type=st.one_of(st.none(), st.sampled_from(["web", "legacy"])),
    scope=st.one_of(st.none(), st.just("@corp")),
    request_type=st.one_of(st.none(), st.sampled_from(["packument", "tarball", "metadata"])),
)
_PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2Fy\n-----END CERTIFICATE-----\n"
tls_infos = st.builds(
    TlsInfo,
    sni=st.one_of(st.none(), st.sampled_from(["registry.npmjs.org", "nexus.corp"])),
    version=st.one_of(st.none(), st.sampled_from(["TLSv1.2", "TLSv1.3"])),
    subject=maybe_text,
    issuer=st.one_of(st.none(), st.just("CN=Corp SSL Inspection CA, O=Corp"), text),
    chain=st.lists(text, max_size=3).map(tuple),
    chain_pem=st.one_of(st.none(), st.just(_PEM)),
    failed_by=st.one_of(st.none(), st.sampled_from([Hop.CLIENT, Hop.REGISTRY])),
    error=maybe_text,
)
complete_exchanges = st.builds(
    lambda e, npm, tls, run: replace(e, npm=npm, tls=tls, run=run),
    exchanges,
    npm_identities,
    st.one_of(st.none(), tls_infos),
    st.integers(min_value=1, max_value=9),
)
"""Every field of a record set, TLS facts, npm's whole identity and the run included (round-trip tests)."""

outcomes = st.builds(
    NpmOutcome,
    exit_code=st.one_of(st.none(), st.integers(min_value=-15, max_value=255)),
    code=st.one_of(st.none(), st.sampled_from(["E404", "ETARGET", "ERR_INVALID_AUTH", "EALLOWREMOTE", "FETCH_ERROR", "EINTEGRITY", "EPROTO", "E500", "EJSONPARSE"])),
    message=st.lists(
        st.one_of(
            text,
            st.sampled_from([
                "No matching version found for lodash@^9.",
                "Invalid auth configuration found: `_auth` must be renamed to `//r/:_auth` in user config",
                'Refusing to fetch "x@https://old.corp/x/-/x-1.tgz"',
                "404 Not Found - GET https://registry.npmjs.org/nope",
                "invalid json response body at https://r/x reason: Unexpected token '<'",
                "write EPROTO wrong version number",
            ]),
        ),
        max_size=4,
    ).map(tuple),
    warnings=st.lists(st.sampled_from(['invalid config fetch-timeout="x" set in /u/.npmrc', 'Unknown user config "always-auth". x', "x"]), max_size=3).map(tuple),
    lockfile_hosts=st.lists(st.tuples(st.sampled_from(["https://old.corp/", "https://registry.npmjs.org/", "https://m/repo/npm/"]), st.integers(1, 9)), max_size=3).map(tuple),
    versions=st.lists(st.tuples(st.sampled_from(["lodash", "x"]), st.lists(st.sampled_from(["1.0.0", "2.0.0"]), max_size=3).map(tuple), st.just((("latest", "2.0.0"),))), max_size=2).map(tuple),
)


def make_exchange(**fields) -> Exchange:
    """A plausible record with overrides: ``make_exchange(kind="connect", status=407, hop=Hop.PROXY)``."""
    n = next(_ids)
    kind = fields.get("kind", "http")
    base = dict(
        id=f"ex-{n}",
        seq=n,
        kind=kind,
        started=1_700_000_000.0 + n,
        method="CONNECT" if kind == "connect" else "GET",
        scheme="" if kind == "connect" else "https",
        host="registry.npmjs.org",
        port=443,
        path="" if kind == "connect" else "/lodash",
        status=200,
        hop=Hop.PROXY if kind == "connect" else Hop.REGISTRY,
        timings=Timings(total=10.0),
    )
    base.update(fields)
    return Exchange(**base)
