"""Settings that make installs work by turning verification off: say so, even when npm succeeds."""

from __future__ import annotations

from urllib.parse import urlsplit

from ...npmconfig import NpmConfigSnapshot
from ...records import Exchange, Hop
from ..context import RunContext
from ..facts import evidence_refs, location_for
from ..findings import ConfigChange, Finding
from ..tools import CA_REPLACES_ROOTS, proxy_words
from .tls import _PUBLIC_CAS, CORPORATE_CA_FILE, _common_name


def _off(value: str | None) -> bool:
    return (value or "").strip().lower() in ("false", "0", "no")


def insecure_tls_config(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """``strict-ssl=false``, ``NODE_TLS_REJECT_UNAUTHORIZED=0`` or ``http://`` registries left in effect."""
    findings: list[Finding] = []
    tls_seen = [e for e in exchanges if e.tls is not None and e.tls.issuer and e.tls.failed_by is None]
    corporate = next((e for e in tls_seen if e.tls and e.tls.issuer and not _PUBLIC_CAS.search(e.tls.issuer)), None)
    pem = next((e.tls.chain_pem for e in tls_seen if e.tls is not None and e.tls.chain_pem and e is corporate), None)
    if _off(config.get("strict-ssl")):
        layer = config.layer_of("strict-ssl") or "user"
        location, caveats = location_for("strict-ssl", config, context.tool)
        changes = [ConfigChange("delete", "strict-ssl", None, location)]  # type: ignore[arg-type]
        issuer = _common_name(corporate.tls.issuer) if corporate and corporate.tls else None
        if corporate is not None and pem:
            cafile_location, more = location_for("cafile", config, context.tool)
            changes.append(ConfigChange("set", "cafile", CORPORATE_CA_FILE, cafile_location))  # type: ignore[arg-type]
            caveats += [c for c in more if c not in caveats]
            why = (
                f" The registry's certificate here is issued by '{issuer}', not a public CA (your company's own CA, "
                f"or a TLS-inspecting proxy that re-signs HTTPS). npm-inspect saved that CA as {CORPORATE_CA_FILE}: "
                "trust it with cafile instead of trusting everything."
            )
        elif corporate is not None:
            why = (
                f" The registry's certificate here is issued by '{issuer}', not a public CA: trust that CA with cafile "
                "(export it from your browser or ask IT) instead of trusting everything."
            )
        else:
            why = " The certificates seen in this run are publicly issued: turning the check back on should just work."
        findings.append(
            Finding(
                rule="insecure-tls-config",
                severity="warning",
                hop=Hop.TLS,
                title=f"strict-ssl=false: {context.name} does not verify the registry's certificate",
                explanation=(
                    f"strict-ssl is false (from your {layer} config{', ' + (config.values['strict-ssl'].source or '') if 'strict-ssl' in config.values and config.values['strict-ssl'].source else ''}), "
                    "so anyone on the network path can answer in the registry's name: your token goes to them and the "
                    "packages they send are installed." + why
                ),
                evidence=evidence_refs([corporate] if corporate else tls_seen[:1]),
                commands=tuple(c.command for c in changes),
                caveats=(
                    proxy_words(CA_REPLACES_ROOTS, context.tool),
                    f"Prove it first: npm-inspect run --verify-fix -- {context.name.split()[0]} install",
                    *caveats,
                ),
                changes=tuple(changes),
                attachments=((CORPORATE_CA_FILE, pem),) if corporate is not None and pem else (),
                count=1,
                rank=60,
            )
        )
    reject = config.env_tls.get("NODE_TLS_REJECT_UNAUTHORIZED")
    if reject is not None and reject.strip() == "0":
        findings.append(
            Finding(
                rule="insecure-tls-config",
                severity="warning",
                hop=Hop.TLS,
                title="NODE_TLS_REJECT_UNAUTHORIZED=0 turns off certificate checks for every node program",
                explanation=(
                    "NODE_TLS_REJECT_UNAUTHORIZED=0 is set in the environment. npm itself ignores it for registry "
                    "requests (strict-ssl decides; measured with npm 11 and 12), but install scripts and the tools they "
                    "run (node-gyp downloading headers, prebuilt-binary downloaders) then accept any certificate."
                    + (
                        f" This network re-signs HTTPS ('{_common_name(corporate.tls.issuer)}'): give node that CA with "
                        f"NODE_EXTRA_CA_CERTS={CORPORATE_CA_FILE} instead."
                        if corporate and corporate.tls
                        else ""
                    )
                ),
                commands=(
                    "unset NODE_TLS_REJECT_UNAUTHORIZED",
                    *((f"export NODE_EXTRA_CA_CERTS={CORPORATE_CA_FILE}",) if corporate is not None and pem else ()),
                ),
                caveats=("Remove it where it is set too (shell profile, CI variables), or it comes back.",),
                attachments=((CORPORATE_CA_FILE, pem),) if corporate is not None and pem else (),
                rank=61,
            )
        )
    plain = [(key, url) for key, url in (("registry", config.registry), *((f"{s}:registry", u) for s, u in config.scope_registries().items())) if url.startswith("http://")]
    if plain:
        sent = [e for e in exchanges if e.kind == "http" and e.scheme == "http" and e.auth is not None]
        changes = []
        caveats: list[str] = []
        for key, url in plain:
            location, more = location_for(key, config, context.tool)
            parts = urlsplit(url)
            secure = f"https://{parts.hostname}{parts.path or '/'}"
            changes.append(ConfigChange("set", key, secure, location))  # type: ignore[arg-type]
            caveats += [c for c in more if c not in caveats]
        findings.append(
            Finding(
                rule="insecure-tls-config",
                severity="warning",
                hop=Hop.REGISTRY,
                title=f"Plain http:// registry: {', '.join(url for _, url in plain)}",
                explanation=(
                    f"{', '.join(f'{k}={u}' for k, u in plain)}: packages and package documents travel without TLS, so "
                    "anyone on the path (and every proxy) can read and change them"
                    + (f", and npm sent its credentials in clear text {len(sent)} time(s) in this run." if sent else ".")
                    + " Use the registry's https:// address."
                ),
                evidence=evidence_refs(sent or [e for e in exchanges if e.kind == "http" and e.scheme == "http"]),
                commands=tuple(c.command for c in changes),
                caveats=(
                    "The https:// address may use another port or path: check it in the registry's 'Set Me Up' page "
                    "or with its owners before you switch.",
                    "If the proxy refused https:// to that host, that is the problem to raise, not a reason for http://.",
                    *caveats,
                ),
                changes=tuple(changes),
                count=max(1, len(sent)),
                rank=62,
            )
        )
    return findings
