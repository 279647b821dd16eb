"""Rules about the corporate proxy: authentication, refusals, reachability, missing or bypassed proxies."""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import urlsplit

from ...hops import auth_schemes
from ...npmconfig import NpmConfigSnapshot
from ...records import Exchange, Hop
from ..facts import (
    PERCENT_ENCODING,
    evidence_refs,
    host_of,
    is_internal_host,
    location_for,
    proxy_url_for_advice,
    with_credentials,
)
from ..context import RunContext
from ..findings import ConfigChange, Finding
from ..tools import CONNECT_403, NO_NOPROXY, NOPROXY_CAVEAT, PROXY_407, PROXY_CREDENTIALS, is_npm, proxy_words

UNREACHABLE_KINDS = ("connect-failed", "timeout", "reset", "proxy-refused")
PROXY_UPSTREAM_ERRORS = ("ERR_DNS_FAIL", "ERR_CONNECT_FAIL", "ERR_READ_TIMEOUT", "ERR_GATEWAY_FAILURE", "ERR_CANNOT_FORWARD")
RELAYS = ("px", "cntlm")


def _proxy_name(exchanges: list[Exchange]) -> str:
    for e in exchanges:
        if e.evidence.server:
            return e.evidence.server
        if e.evidence.via:
            return f"the proxy in Via: {e.evidence.via}"
    return "the corporate proxy"


def _set_proxy_changes(value: str, config: NpmConfigSnapshot, tool: str = "npm") -> tuple[list[ConfigChange], list[str]]:
    changes, caveats = [], []
    for key in ("proxy", "https-proxy"):
        location, more = location_for(key, config, tool)
        changes.append(ConfigChange("set", key, value, location))  # type: ignore[arg-type]
        caveats.extend(c for c in more if c not in caveats)
    return changes, caveats


def _offered(e: Exchange) -> tuple[str, ...]:
    return auth_schemes(e.evidence.proxy_authenticate)


def proxy_auth(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """407s: no credentials sent, credentials refused, or a scheme npm cannot speak."""
    refusals = [e for e in exchanges if e.status == 407 and e.hop == Hop.PROXY]
    if not refusals:
        return []
    proxy_url, source, known_user = proxy_url_for_advice(config, refusals, context.upstream_source, context.tool)
    name = context.name
    realm = next((v for e in refusals for v in e.evidence.proxy_authenticate), "")
    unsupported = [e for e in refusals if _offered(e) and "basic" not in {s.lower() for s in _offered(e)}]
    basic = [e for e in refusals if e not in unsupported]
    findings: list[Finding] = []

    missing = [e for e in basic if e.proxy_auth is None]
    if missing:
        value = with_credentials(proxy_url, known_user)
        changes, caveats = _set_proxy_changes(value, config, context.tool)
        findings.append(
            Finding(
                rule="proxy-auth-required",
                severity="error",
                hop=Hop.PROXY,
                title=f"The corporate proxy wants a login and {name} sent none ({len(missing)} refused)",
                explanation=(
                    f"{_proxy_name(missing)} at {proxy_url} answered 407 Proxy Authentication Required"
                    f"{' (' + realm + ')' if realm else ''} and {name} sent no Proxy-Authorization. "
                    f"{proxy_words(PROXY_407, context.tool)}. {proxy_words(PROXY_CREDENTIALS, context.tool)} (found via {source})."
                ),
                evidence=evidence_refs(missing),
                commands=tuple(c.command for c in changes),
                caveats=(
                    PERCENT_ENCODING,
                    *caveats,
                    "Use --location=project to keep the password out of your user .npmrc only if the project .npmrc is not committed."
                    if is_npm(context.tool)
                    else "Keep the password out of project files that are committed: prefer your user config.",
                ),
                changes=tuple(changes),
                count=len(missing),
                rank=10,
            )
        )

    rejected = [e for e in basic if e.proxy_auth is not None]
    if rejected:
        users = sorted({e.proxy_auth.username for e in rejected if e.proxy_auth and e.proxy_auth.username})
        prints = sorted({e.proxy_auth.fingerprint for e in rejected if e.proxy_auth})
        value = with_credentials(proxy_url, users[0] if users else known_user)
        changes, caveats = _set_proxy_changes(value, config, context.tool)
        who = f"user {', '.join(users)}" if users else "credentials"
        findings.append(
            Finding(
                rule="proxy-auth-rejected",
                severity="error",
                hop=Hop.PROXY,
                title=f"The corporate proxy refused {name}'s credentials ({len(rejected)} refused)",
                explanation=(
                    f"{name} sent {who} (credential fingerprint {', '.join(prints)}) and {_proxy_name(rejected)} at {proxy_url} "
                    "still answered 407. The password is wrong or expired, the account is locked, or a special "
                    f"character in the password is not percent-encoded in the proxy URL, so {name} sent something else."
                ),
                evidence=evidence_refs(rejected),
                commands=tuple(c.command for c in changes),
                caveats=(PERCENT_ENCODING, *caveats, f"If the password changed recently, update every place it is written: {name} config, HTTPS_PROXY, CI secrets."),
                changes=tuple(changes),
                count=len(rejected),
                rank=11,
            )
        )

    if unsupported:
        schemes = sorted({s for e in unsupported for s in _offered(e)})
        host_port = proxy_url.split("://", 1)[-1]
        relay = "http://127.0.0.1:3128"
        changes, caveats = _set_proxy_changes(relay, config, context.tool)
        findings.append(
            Finding(
                rule="proxy-auth-unsupported-scheme",
                severity="error",
                hop=Hop.PROXY,
                title=f"The proxy only accepts {', '.join(schemes)}, which {name} cannot speak",
                explanation=(
                    f"{_proxy_name(unsupported)} at {proxy_url} offers only {', '.join(schemes)} authentication. {name} can only "
                    "send Basic credentials, so it will get 407 whatever password you give it. Run a local relay that "
                    f"authenticates to the proxy for you (px or cntlm) and point {name} at the relay."
                ),
                evidence=evidence_refs(unsupported),
                commands=(
                    f"pip install px-proxy && px --proxy={host_port} --port=3128",
                    *(c.command for c in changes),
                ),
                caveats=(
                    "cntlm works too: set Proxy to " + host_port + " and Listen to 3128 in cntlm.conf, run 'cntlm -H' to hash your password.",
                    "Keep the relay listening on 127.0.0.1 only.",
                    *caveats,
                ),
                changes=tuple(changes),
                count=len(unsupported),
                rank=9,
            )
        )
    return findings


def _internal_refusals(exchanges: list[Exchange], config: NpmConfigSnapshot) -> list[Exchange]:
    proxy_url, _, _ = proxy_url_for_advice(config, exchanges)
    proxy_host = host_of(proxy_url)
    out = []
    for e in exchanges:
        if e.hop != Hop.PROXY or not e.upstream or not is_internal_host(e.host, proxy_host):
            continue
        squid = (e.evidence.squid_error or "").split(" ")[0]
        refused = e.status in (403, 502, 503, 504) or squid in PROXY_UPSTREAM_ERRORS
        if refused:
            out.append(e)
    return out


def noproxy_internal_registry(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """An internal registry sent through the proxy, which refuses or cannot reach it."""
    internal = _internal_refusals(exchanges, config)
    if not internal:
        return []
    hosts = sorted({e.host for e in internal})
    current = [v.strip() for v in (config.get("noproxy") or "").split(",") if v.strip()]
    value = ",".join([*current, *[h for h in hosts if h not in current]])
    location, caveats = location_for("noproxy", config, context.tool)
    change = ConfigChange("set", "noproxy", value, location)  # type: ignore[arg-type]
    cannot = NO_NOPROXY.get(context.tool)
    advice = cannot or "Internal registries are usually reached directly: list them in noproxy."
    return [
        Finding(
            rule="noproxy-internal-registry",
            severity="error",
            hop=Hop.PROXY,
            title=f"Internal registry {', '.join(hosts)} is sent through the proxy, which refuses it",
            explanation=(
                f"{', '.join(hosts)} looks internal, but {context.name} sends it through the corporate proxy, which answered "
                f"{', '.join(sorted({str(e.status or e.evidence.squid_error or e.error.kind if e.error else '?') for e in internal}))}. "
                + advice
            ),
            evidence=evidence_refs(internal),
            commands=() if cannot else (change.command,),
            caveats=() if cannot else (proxy_words(NOPROXY_CAVEAT, context.tool), *caveats),
            changes=() if cannot else (change,),
            count=len(internal),
            rank=8,
        )
    ]


def proxy_connect_denied(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """The proxy answered 403 to the CONNECT (or to a plain HTTP request) for a host."""
    internal = {e.id for e in _internal_refusals(exchanges, config)}
    denied = [e for e in exchanges if e.hop == Hop.PROXY and e.status == 403 and e.id not in internal]
    name = context.name
    groups: dict[tuple[str, int], list[Exchange]] = defaultdict(list)
    for e in denied:
        groups[(e.host, e.port)].append(e)
    findings = []
    for (host, port), group in groups.items():
        plain_ok = [
            e for e in exchanges if e.host == host and e.scheme == "http" and e.status is not None and e.status < 400 and e.upstream
        ]
        ev = group[0].evidence
        proxy_bits = ", ".join(x for x in (ev.server and f"Server: {ev.server}", ev.via and f"Via: {ev.via}", ev.squid_error and f"X-Squid-Error: {ev.squid_error}") if x)
        location, caveats = location_for("registry", config, context.tool)
        mirror = ConfigChange("set", "registry", "<internal-mirror-url>", location)  # type: ignore[arg-type]
        commands = [mirror.command]
        more_caveats = list(caveats)
        if plain_ok:
            commands.append(ConfigChange("set", "registry", f"http://{host}/", location).command)  # type: ignore[arg-type]
            more_caveats.append(
                f"Last resort only: plain http://{host}/ passed the proxy here, but without TLS anyone on the path can alter "
                "package metadata; keep package-lock.json integrity checks on and switch back as soon as HTTPS is allowed."
            )
        connect = any(e.kind == "connect" for e in group)
        scheme = "https" if connect else (group[0].scheme or "http")
        shown = f"{host}:{port}" if port not in (80, 443) else host
        findings.append(
            Finding(
                rule="proxy-connect-denied",
                severity="error",
                hop=Hop.PROXY,
                title=f"The corporate proxy refuses {'to open a tunnel to ' if connect else 'requests to '}{host}:{port}",
                explanation=(
                    f"The proxy ({proxy_bits or 'no identifying headers'}) answered 403 to "
                    f"{'CONNECT ' if connect else ''}{host}:{port}. {proxy_words(CONNECT_403, context.tool, scheme=scheme, host=shown)}; "
                    "but the registry never saw the request. Ask your network team to allow "
                    f"{host}:{port}, or use your company's internal npm mirror{'' if is_npm(context.tool) else ' (with ' + name + ')'}."
                ),
                evidence=evidence_refs(group),
                commands=tuple(commands),
                caveats=tuple(more_caveats),
                changes=(mirror,),
                count=len(group),
                rank=20,
            )
        )
    return findings


def proxy_unreachable(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """The proxy itself cannot be reached, or it cannot reach the registry."""
    internal = {e.id for e in _internal_refusals(exchanges, config)}
    down = [e for e in exchanges if e.hop == Hop.PROXY and e.status is None and e.error and e.error.kind in UNREACHABLE_KINDS]
    upstream_failed = [
        e
        for e in exchanges
        if e.hop == Hop.PROXY
        and e.id not in internal
        and (e.status in (502, 503, 504) or (e.evidence.squid_error or "").split(" ")[0] in PROXY_UPSTREAM_ERRORS)
    ]
    findings = []
    proxy_url, source, _ = proxy_url_for_advice(config, exchanges, context.upstream_source, context.tool)
    if down:
        address = down[0].upstream or proxy_url
        kinds = sorted({e.error.kind for e in down if e.error})
        findings.append(
            Finding(
                rule="proxy-unreachable",
                severity="error",
                hop=Hop.PROXY,
                title=f"The proxy at {address} does not answer ({', '.join(kinds)})",
                explanation=(
                    f"Connections to the proxy {address} (from {source}) failed: {down[0].error.message if down[0].error else ''}. "
                    "The proxy is down, the address or port is wrong, or this network does not use that proxy (VPN off?)."
                ),
                evidence=evidence_refs(down),
                commands=("npm config get https-proxy", "npm config get proxy", "echo $HTTPS_PROXY $HTTP_PROXY"),
                caveats=("Ask your IT for the current proxy address (often in the PAC file at http://wpad/wpad.dat).",),
                count=len(down),
                rank=5,
            )
        )
    if upstream_failed:
        targets = sorted({f"{e.host}:{e.port}" for e in upstream_failed})
        codes = sorted({(e.evidence.squid_error or str(e.status)).split(" ")[0] for e in upstream_failed})
        findings.append(
            Finding(
                rule="proxy-unreachable",
                severity="error",
                hop=Hop.PROXY,
                title=f"The proxy could not reach {', '.join(targets)} ({', '.join(codes)})",
                explanation=(
                    f"The proxy answered {', '.join(codes)} for {', '.join(targets)}: it could not resolve or connect to the "
                    "registry on your behalf. Check the registry host name for typos; if it is right, the proxy's own "
                    "network or DNS is failing: report it to your network team with this evidence."
                ),
                evidence=evidence_refs(upstream_failed),
                commands=("npm config get registry",),
                count=len(upstream_failed),
                rank=15,
            )
        )
    return findings


def proxy_missing_https(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """HTTPS traffic went direct (or to another proxy) because only an HTTP proxy is configured, or env and npm disagree."""
    findings = []
    name = context.name
    https_proxy = config.get("https-proxy")
    http_proxy = config.get("proxy")
    env_https = config.env_proxy.get("HTTPS_PROXY") or config.env_proxy.get("https_proxy")
    env_http = config.env_proxy.get("HTTP_PROXY") or config.env_proxy.get("http_proxy")
    direct_https_failures = [
        e for e in exchanges if e.upstream is None and e.failed and (e.kind == "connect" or e.scheme == "https") and e.hop != Hop.CLIENT
    ]
    if context.tool == "yarn-berry":
        return _berry_ignores_env(config, env_https or env_http, direct_https_failures)
    if not https_proxy and not http_proxy and env_http and not env_https and direct_https_failures and context.tool != "yarn-classic":
        # yarn 1 falls back to HTTP_PROXY for https (measured): it never goes direct for this reason
        value = env_http
        location, caveats = location_for("https-proxy", config, context.tool)
        change = ConfigChange("set", "https-proxy", value if "***" not in value else value.replace("***", "<password>"), location)  # type: ignore[arg-type]
        findings.append(
            Finding(
                rule="proxy-missing-https",
                severity="error",
                hop=Hop.PROXY,
                title=f"Only HTTP_PROXY is set: {name} sends HTTPS requests around the proxy",
                explanation=(
                    f"HTTP_PROXY is {env_http} but HTTPS_PROXY is not set and {name} has no proxy config. For https:// registries "
                    f"{name} only looks at HTTPS_PROXY, so it connected directly and failed ({len(direct_https_failures)} requests)."
                ),
                evidence=evidence_refs(direct_https_failures),
                commands=(change.command,),
                caveats=("Or export HTTPS_PROXY with the same value as HTTP_PROXY.", *caveats),
                changes=(change,),
                count=len(direct_https_failures),
                rank=12,
            )
        )
    npm_side = https_proxy or http_proxy
    env_side = env_https or env_http
    proxy_failures = [e for e in exchanges if e.hop == Hop.PROXY and e.failed]
    if npm_side and env_side and _address(npm_side) != _address(env_side) and proxy_failures:
        key = "https-proxy" if https_proxy else "proxy"
        layer = config.layer_of(key)
        findings.append(
            Finding(
                rule="proxy-missing-https",
                severity="warning",
                hop=Hop.PROXY,
                title=f"{name}'s proxy config and HTTPS_PROXY disagree",
                explanation=(
                    f"{name} uses its {key} config {npm_side} (from the {layer} layer), not the environment's {env_side}. "
                    f"If the environment is the current proxy, {name}'s config is stale."
                ),
                evidence=evidence_refs(proxy_failures),
                commands=(f"npm config delete {key} --location={layer if layer in ('user', 'project') else 'user'}",),
                caveats=("Delete it only if HTTPS_PROXY is the proxy you mean to use; else update HTTPS_PROXY.",),
                changes=(ConfigChange("delete", key, None, layer if layer in ("user", "project") else "user"),),  # type: ignore[arg-type]
                count=len(proxy_failures),
                rank=13,
            )
        )
    return findings


def _berry_ignores_env(config: NpmConfigSnapshot, env_proxy: str | None, direct: list[Exchange]) -> list[Finding]:
    """yarn berry reads neither HTTPS_PROXY nor HTTP_PROXY (measured: with only those set it connects directly)."""
    if config.get("https-proxy") or config.get("proxy") or not env_proxy or not direct:
        return []
    value = env_proxy if "***" not in env_proxy else env_proxy.replace("***", "<password>")
    location, caveats = location_for("https-proxy", config, "yarn-berry")
    change = ConfigChange("set", "https-proxy", value, location)  # type: ignore[arg-type]
    return [
        Finding(
            rule="proxy-missing-https",
            severity="error",
            hop=Hop.PROXY,
            title="yarn berry ignores HTTPS_PROXY: it sends every request around the proxy",
            explanation=(
                f"HTTPS_PROXY/HTTP_PROXY name {env_proxy}, but yarn berry reads neither: its proxy comes only from httpsProxy "
                f"in .yarnrc.yml (or YARN_HTTPS_PROXY), so it connected directly and failed ({len(direct)} requests)."
            ),
            evidence=evidence_refs(direct),
            commands=(change.command,),
            caveats=("Or export YARN_HTTPS_PROXY with the same value (it beats every .yarnrc.yml).", *caveats),
            changes=(change,),
            count=len(direct),
            rank=12,
        )
    ]


def _address(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    return (parts.hostname or "") + ":" + str(parts.port or "")
