"""Small pure helpers the rules share: evidence excerpts, package names, where a key should be set."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from ..hops import auth_schemes
from ..npmconfig import NpmConfigSnapshot, nerf_dart
from ..records import Exchange
from .findings import EvidenceRef
from .tools import tool_name

MAX_EVIDENCE = 5

PERCENT_ENCODING = (
    "Percent-encode special characters in the user name and password inside the URL: "
    "@ → %40, : → %3A, / → %2F, # → %23, % → %25, space → %20 "
    "(so p@ss:w0rd becomes p%40ss%3Aw0rd)."
)


def evidence_excerpt(exchange: Exchange) -> str:
    """One line that shows why: status line and the telling headers or body."""
    ev = exchange.evidence
    target = exchange.url if exchange.kind == "http" else f"CONNECT {exchange.host}:{exchange.port}"
    if exchange.kind == "http":
        target = f"{exchange.method} {target}"
    parts = [target, "→"]
    if ev.status_line:
        parts.append(ev.status_line)
    elif exchange.error is not None:
        parts.append(f"{exchange.error.kind}: {exchange.error.message}")
    details = []
    if ev.proxy_authenticate:
        details.append("Proxy-Authenticate: " + ", ".join(auth_schemes(ev.proxy_authenticate)))
    if ev.squid_error:
        details.append(f"X-Squid-Error: {ev.squid_error}")
    if ev.server and (ev.squid_error or exchange.hop is not None and exchange.hop.value == "proxy"):
        details.append(f"Server: {ev.server}")
    if ev.www_authenticate:
        details.append("WWW-Authenticate: " + "; ".join(ev.www_authenticate))
    if ev.error_body and exchange.hop is not None and exchange.hop.value == "registry":
        details.append("body: " + " ".join(ev.error_body.split())[:200])
    if exchange.tls is not None and exchange.tls.error:
        details.append(f"TLS: {exchange.tls.error}")
        if exchange.tls.issuer:
            details.append(f"issuer: {exchange.tls.issuer}")
    if details:
        parts.append("(" + "; ".join(details) + ")")
    return " ".join(parts)


def evidence_refs(exchanges: Iterable[Exchange], limit: int = MAX_EVIDENCE) -> tuple[EvidenceRef, ...]:
    return tuple(EvidenceRef(e.id, e.seq, evidence_excerpt(e)) for e in list(exchanges)[:limit])


def package_of(path: str) -> str | None:
    """The package a registry path is about: ``/@corp%2fsecret`` and ``/@corp/secret/-/x.tgz`` → ``@corp/secret``."""
    if not path or path.startswith("/-/"):
        return None
    parts = unquote(path.split("?", 1)[0]).lstrip("/").split("/")
    if not parts or not parts[0]:
        return None
    if parts[0].startswith("@"):
        return "/".join(parts[:2]) if len(parts) > 1 and parts[1] and parts[1] != "-" else None
    return parts[0]


def scope_of(package: str | None) -> str | None:
    if package and package.startswith("@") and "/" in package:
        return package.split("/", 1)[0]
    return None


def registry_for_exchange(exchange: Exchange, config: NpmConfigSnapshot) -> str:
    """The configured registry URL whose prefix covers this request, else the request's origin."""
    found = _covering_registry(exchange_nerf(exchange), _registries(config))
    if found:
        return found
    default = {"http": 80, "https": 443}.get(exchange.scheme)
    port = "" if exchange.port == default else f":{exchange.port}"
    return f"{exchange.scheme or 'https'}://{exchange.host}{port}/"


def exchange_nerf(exchange: Exchange) -> str:
    """:func:`nerf_dart` of the exchange's URL, without parsing it again (hot path at 100k records)."""
    default = {"http": 80, "https": 443}.get(exchange.scheme)
    port = "" if exchange.port == default else f":{exchange.port}"
    path = exchange.path.split("?", 1)[0] or "/"
    return f"//{exchange.host}{port}{path[: path.rfind('/') + 1]}"


def _registries(config: NpmConfigSnapshot) -> tuple[str, ...]:
    return (config.registry, *config.scope_registries().values())


@lru_cache(maxsize=8192)
def _covering_registry(nerf: str, registries: tuple[str, ...]) -> str:
    best = ""
    for registry in registries:
        if registry and nerf.startswith(nerf_dart(registry)) and len(registry) > len(best):
            best = registry
    return best


def location_for(key: str, config: NpmConfigSnapshot, tool: str = "npm") -> tuple[str, list[str]]:
    """Where a fix for ``key`` must go to take effect, and warnings about higher layers."""
    value = config.values.get(key)
    caveats: list[str] = []
    location = "user"
    if value is not None:
        if value.layer == "project":
            location = "project"
        elif value.layer == "env":
            if tool == "npm":
                env_name = "npm_config_" + key.replace("-", "_")
                caveats.append(f"{env_name} is set in your environment and overrides .npmrc: change or unset it too.")
            else:
                caveats.append(f"{key} is set by a variable in your environment, which overrides {tool_name(tool)}'s config files: change or unset it too.")
        elif value.layer == "cli":
            caveats.append(f"--{key} on the command line overrides {'.npmrc' if tool == 'npm' else 'the config files'}: drop it or change it there.")
    return location, caveats


def proxy_url_for_advice(
    config: NpmConfigSnapshot, exchanges: Iterable[Exchange], upstream_source: str | None = None, tool: str = "npm"
) -> tuple[str, str, str | None]:
    """(scheme://host:port of the corporate proxy, where we learned it, user name if known).

    ``upstream_source`` is where the run took its upstream from; ``--upstream``
    beats npm's config, as it did for the run. For other tools the config key is named the tool's way
    (``upstream_source`` already is: ``yarn berry httpsProxy (/p/.yarnrc.yml)``).
    """
    exchanges = list(exchanges)
    if upstream_source == "--upstream":
        for e in exchanges:
            if e.upstream:
                return f"http://{e.upstream}", "npm-inspect's --upstream", None
    for key in ("https-proxy", "proxy"):
        value = config.get(key)
        if value:
            where = f"npm config {key}" if tool == "npm" or not upstream_source else upstream_source
            return _strip_userinfo(value), where, _user(value)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy") if tool != "yarn-berry" else ():  # berry ignores them
        value = config.env_proxy.get(name)
        if value:
            return _strip_userinfo(value), f"environment {name}", _user(value)
    for e in exchanges:
        if e.upstream:
            return f"http://{e.upstream}", upstream_source or "npm-inspect's upstream setting", None
    return "http://<proxy-host>:<port>", "unknown", None


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme or 'http'}://{parts.netloc.rpartition('@')[2]}"


def _user(url: str) -> str | None:
    netloc = urlsplit(url).netloc
    if "@" not in netloc:
        return None
    return unquote(netloc.rpartition("@")[0].split(":", 1)[0]) or None


def with_credentials(proxy_url: str, user: str | None) -> str:
    """``http://host:port`` → ``http://<user>:<password>@host:port`` (the user filled in when known)."""
    scheme, _, rest = proxy_url.partition("://")
    from urllib.parse import quote

    shown_user = quote(user, safe="") if user else "<user>"
    return f"{scheme}://{shown_user}:<password>@{rest}"


_INTERNAL_SUFFIXES = (".local", ".corp", ".internal", ".intranet", ".lan", ".home", ".localdomain", ".intra", ".private")


@lru_cache(maxsize=4096)
def is_internal_host(host: str, proxy_host: str | None = None) -> bool:
    """Does this host look like it lives inside the company network (no DNS lookup)?"""
    host = host.strip("[]").lower()
    try:
        address = ipaddress.ip_address(host)
        return address.is_private or address.is_loopback or address.is_link_local
    except ValueError:
        pass
    if "." not in host:
        return True
    if host.endswith(_INTERNAL_SUFFIXES):
        return True
    if proxy_host and "." in proxy_host and not _is_ip(proxy_host):
        proxy_domain = proxy_host.lower().split(".", 1)[1]
        if proxy_domain.count(".") >= 1 and host.endswith("." + proxy_domain):
            return True
    return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""
