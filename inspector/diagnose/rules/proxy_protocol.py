"""The proxy speaks, but not what npm expects: its own HTML page in place of the registry's answer, or the
other scheme (TLS vs plain HTTP) than the proxy URL says."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from ...hops import PROXY_SCHEME, is_html
from ...npmconfig import NpmConfigSnapshot
from ...records import Exchange, Hop
from ..context import RunContext
from ..facts import evidence_refs, location_for, proxy_url_for_advice, with_credentials
from ..findings import ConfigChange, Finding

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_LOGIN = re.compile(r"sign.?in|log.?in|logon|authenticat|credential|password|portal|captive", re.I)
_BLOCK = re.compile(r"block|denied|forbidden|not allowed|policy|restricted|category", re.I)
_SCAN = re.compile(r"scan|download|progress|virus|malware|patience|please wait", re.I)


def page_title(e: Exchange) -> str | None:
    """The ``<title>`` of an HTML page kept as evidence, unescaped and short."""
    text = e.body_preview or e.evidence.error_body or ""
    match = _TITLE.search(text)
    if not match:
        return None
    title = " ".join(html.unescape(match.group(1)).split())
    return title[:120] or None


def _kind_of_page(titles: list[str], bodies: str) -> str:
    words = " ".join(titles) + " " + bodies
    if _LOGIN.search(words):
        return "login"
    if _BLOCK.search(words):
        return "block"
    if _SCAN.search(words):
        return "scan"
    return "unknown"


def proxy_interstitial(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """The proxy answered with its own HTML page (login portal, block page, download-progress page)."""
    pages = [
        e
        for e in exchanges
        if e.kind == "http" and e.hop == Hop.PROXY and e.status is not None and 200 <= e.status < 300 and is_html(e.content_type)
    ]
    words_only = False
    if not pages:
        unseen = not any(e.kind == "http" and e.decrypted for e in exchanges)
        through_proxy = any(e.upstream for e in exchanges)
        said = context.npm_failed and (
            (context.code == "FETCH_ERROR" and context.said("invalid json response body", "<"))
            or context.code == "EINTEGRITY"
        )
        if not (said and unseen and through_proxy):
            return []
        words_only = True
    titles = [t for e in pages if (t := page_title(e))]
    bodies = " ".join((e.body_preview or "")[:400] for e in pages)
    kind = _kind_of_page(titles, bodies)
    tarballs = [e for e in pages if e.path.split("?", 1)[0].endswith(".tgz") or e.npm.request_type == "tarball"]
    documents = [e for e in pages if e not in tarballs]
    proxy_url, source, user = proxy_url_for_advice(config, exchanges, context.upstream_source)
    npm_prints = []
    if documents or (words_only and context.code == "FETCH_ERROR"):
        npm_prints.append("'FETCH_ERROR invalid json response body … Unexpected token '<'' for package documents")
    if tarballs or (words_only and context.code == "EINTEGRITY"):
        npm_prints.append("'EINTEGRITY … integrity checksum failed' for tarballs")
    named = f" ('{titles[0]}')" if titles else ""
    hosts = sorted({e.host for e in pages}) or ["the registry"]
    if words_only:
        seen = (
            "npm-inspect did not see inside the tunnel (metadata-only), but npm's message shows it received HTML "
            f"where it expected {'JSON' if context.code == 'FETCH_ERROR' else 'a tarball'}: {context.outcome.headline if context.outcome else ''}."
        )
    else:
        seen = (
            f"{len(pages)} answer(s) to npm were the proxy's own HTML page{named}, 200 text/html with no header a "
            "registry product sends, where npm asked for "
            + ("JSON and tarballs" if documents and tarballs else "a tarball" if tarballs else "JSON")
            + ". The registry never answered these requests."
        )
    advice = {
        "login": (
            "It is a login page: the proxy wants you to sign in through a browser, which npm cannot do. Give npm "
            "proxy credentials in its proxy URL if the proxy accepts them from programs, or sign in through a browser "
            "on this machine first if the proxy remembers logins by address."
        ),
        "block": (
            f"It is a block page: the proxy's policy does not allow {', '.join(hosts)}. Ask your network team to "
            "allow the registry, or use your company's npm mirror."
        ),
        "scan": (
            "It is a download-progress or scanning page: the proxy holds files back while it scans them. Ask your "
            "network team to exempt the registry from that (npm cannot click through it), or use your company's mirror."
        ),
        "unknown": (
            "Open the URL through the same proxy in a browser (or with curl, below) to see what the page asks for: "
            "a login, a policy block, or a scan in progress."
        ),
    }[kind]
    example = (pages[0].url if pages else None) or (f"{config.registry}")
    commands = [f"curl --proxy {proxy_url} -s {example} | head -20"]
    changes: list[ConfigChange] = []
    caveats = [f"The proxy address comes from {source}."]
    if kind == "login":
        for key in ("proxy", "https-proxy"):
            location, more = location_for(key, config, context.tool)
            changes.append(ConfigChange("set", key, with_credentials(proxy_url, user), location))  # type: ignore[arg-type]
            caveats.extend(c for c in more if c not in caveats)
        commands += [c.command for c in changes]
    if tarballs:
        caveats.append("npm retries a corrupted tarball once and does not cache it; nothing to clean after the fix.")
    return [
        Finding(
            rule="proxy-interstitial",
            severity="error",
            hop=Hop.PROXY,
            title=f"The proxy answered with its own HTML page{named} instead of the registry's "
            + ("tarball" if tarballs and not documents else "JSON"),
            explanation=(
                f"{seen} {advice} npm prints this as {' and '.join(npm_prints) or 'a parse or integrity error'}, "
                "which reads like a broken registry."
            ),
            evidence=evidence_refs(pages),
            commands=tuple(commands),
            caveats=tuple(caveats),
            changes=tuple(changes),
            count=max(1, len(pages)),
            rank=7,
        )
    ]


def _fixed_url(value: str, scheme: str, host: str, port: int) -> str:
    parts = urlsplit(value)
    user = parts.username
    base = f"{scheme}://{host}:{port}"
    return with_credentials(base, user) if user else base


def proxy_scheme_mismatch(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """``https://`` in the proxy URL for a proxy that speaks plain HTTP (or the reverse), confirmed by knocking both ways."""
    confirmed = [e for e in exchanges if e.kind == "connect" and e.hop == Hop.PROXY and e.error and e.error.kind == PROXY_SCHEME]
    suspected = [
        e
        for e in exchanges
        if e.kind == "connect"
        and e.hop == Hop.PROXY
        and e.error
        and e.error.kind == "tls"
        and "tls with the proxy failed" in e.error.message.lower()
        and "certificate" not in e.error.message.lower()
    ]
    group = confirmed or suspected
    npm_alone = (
        not group
        and context.npm_failed
        and context.code == "EPROTO"
        and context.said("wrong version number")
        and any((config.get(k) or "").startswith("https://") for k in ("https-proxy", "proxy"))
    )
    if not group and not npm_alone:
        return []
    to_https = any("is an https:// proxy" in (e.error.message if e.error else "") for e in group)
    wrong, right = ("http", "https") if to_https else ("https", "http")
    address = group[0].upstream if group else None
    keys = []
    for key in ("https-proxy", "proxy"):
        value = config.get(key) or ""
        parts = urlsplit(value)
        if parts.scheme == wrong and (address is None or f"{parts.hostname}:{parts.port or (443 if wrong == 'https' else 80)}" == address):
            keys.append((key, value, parts))
    changes: list[ConfigChange] = []
    caveats: list[str] = []
    commands: list[str] = []
    for key, value, parts in keys:
        location, more = location_for(key, config, context.tool)
        port = parts.port or (443 if wrong == "https" else 80)
        changes.append(ConfigChange("set", key, _fixed_url(value, right, parts.hostname or "", port), location))  # type: ignore[arg-type]
        caveats.extend(c for c in more if c not in caveats)
    commands += [c.command for c in changes]
    source = context.upstream_source or ("npm config " + keys[0][0] if keys else "the proxy URL")
    if not keys and address:
        fixed = f"{right}://{address}"
        if context.upstream_source == "--upstream":
            commands.append(f"npm-inspect --upstream {fixed} …")
        elif context.upstream_source and context.upstream_source.startswith("environment "):
            commands.append(f"export {context.upstream_source.split(' ', 1)[1]}={fixed}")
        else:
            commands.append(f"npm config set https-proxy={fixed} --location=user")
    shown = address or (urlsplit(keys[0][1]).netloc.rpartition("@")[2] if keys else "the proxy")
    if right == "http":
        what = (
            f"The proxy URL says https://{shown}, so npm (and npm-inspect) start TLS with the proxy itself, but that port "
            "speaks plain HTTP: TLS fails with 'wrong version number'. npm alone prints 'EPROTO … wrong version "
            "number'; through npm-inspect it sees a 502. The https:// in the proxy URL is about how to talk to the "
            "proxy, not about the registry: HTTPS registries still get a TLS tunnel end to end through an http:// proxy."
        )
    else:
        what = (
            f"The proxy URL says http://{shown}, but that port speaks TLS (an https:// proxy): the proxy cannot read "
            "npm's plain CONNECT and closes the connection."
        )
    confirmation = (
        "Confirmed: npm-inspect knocked on the same port the other way and got an answer."
        if confirmed
        else "Not confirmed by a second probe; the TLS error with the proxy points to it."
        if suspected
        else "From npm's own message (npm-inspect saw no exchange)."
    )
    return [
        Finding(
            rule="proxy-scheme-mismatch",
            severity="error",
            hop=Hop.PROXY,
            title=f"The proxy {shown} speaks {'plain HTTP' if right == 'http' else 'TLS'}, but its URL says {wrong}://",
            explanation=f"{what} {confirmation} (proxy URL from {source})",
            evidence=evidence_refs(group),
            commands=tuple(commands),
            caveats=tuple(caveats),
            changes=tuple(changes),
            count=max(1, len(group)),
            rank=4,
        )
    ]
