"""TLS: a certificate npm (or the inspector, on npm's behalf) would not trust."""

from __future__ import annotations

import re

from ...npmconfig import NpmConfigSnapshot
from ...records import Exchange, Hop
from ..facts import evidence_refs, location_for
from ..context import RunContext
from ..findings import ConfigChange, Finding
from ..tools import CA_REPLACES_ROOTS, CA_SETTING, STRICT_SSL_FALSE, TLS_WORDS, proxy_words

CORPORATE_CA_FILE = "corporate-ca.pem"

_PUBLIC_CAS = re.compile(
    r"digicert|let'?s encrypt|isrg|globalsign|sectigo|comodo|usertrust|amazon|google trust|gts |godaddy|starfield|"
    r"entrust|baltimore|cloudflare|microsoft|identrust|buypass|certum|quovadis|actalis|harica|ssl\.com|"
    r"thawte|geotrust|verisign|symantec|rapidssl|zerossl|trustwave|secom|t-telesec|d-trust|swisssign",
    re.I,
)


def _common_name(name: str | None) -> str:
    if not name:
        return "an unknown issuer"
    match = re.search(r"CN=([^,]+)", name)
    return match.group(1).strip() if match else name


def tls_untrusted(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """npm rejected npm-inspect's CA, or the registry's certificate is not trusted (often a re-signing proxy)."""
    findings = []
    name, tool = context.name, context.tool
    words = proxy_words(TLS_WORDS, tool)
    setting = proxy_words(CA_SETTING, tool)
    client_side = [e for e in exchanges if e.tls is not None and e.tls.failed_by == Hop.CLIENT]
    upstream_side = [
        e
        for e in exchanges
        if (e.tls is not None and e.tls.failed_by == Hop.REGISTRY) or (e.error is not None and e.error.kind == "tls" and e.hop == Hop.TLS)
    ]
    if upstream_side:
        tls = next((e.tls for e in upstream_side if e.tls is not None and e.tls.issuer), None)
        issuer = _common_name(tls.issuer if tls else None)
        corporate = bool(tls and tls.issuer and not _PUBLIC_CAS.search(tls.issuer))
        pem = next((e.tls.chain_pem for e in upstream_side if e.tls is not None and e.tls.chain_pem), None)
        hosts = sorted({e.host for e in upstream_side})
        location, caveats = location_for("cafile", config, context.tool)
        change = ConfigChange("set", "cafile", CORPORATE_CA_FILE, location)  # type: ignore[arg-type]
        if corporate:
            explanation = (
                f"The certificate for {', '.join(hosts)} was issued by '{issuer}', not by a public CA: something on "
                f"your network (a TLS-inspecting proxy or firewall) re-signs HTTPS with its own CA, which {name} does not "
                f"trust (without npm-inspect, {words}). Trust that CA explicitly with {setting}."
            )
        else:
            explanation = (
                f"The certificate for {', '.join(hosts)} (issuer '{issuer}') is not trusted with {name}'s current CA settings"
                f"{' (cafile ' + config.get('cafile') + ')' if config.get('cafile') else ''}: without npm-inspect, {words}. "
                f"Point {setting} at a bundle that holds the issuing CA."
            )
        findings.append(
            Finding(
                rule="tls-untrusted",
                severity="error",
                hop=Hop.TLS,
                title=f"{'A re-signing proxy' if corporate else 'An untrusted CA'} ('{issuer}') signs {', '.join(hosts)}",
                explanation=explanation,
                evidence=evidence_refs(upstream_side),
                commands=(change.command,),
                caveats=(
                    proxy_words(STRICT_SSL_FALSE, tool),
                    proxy_words(CA_REPLACES_ROOTS, tool),
                    f"npm-inspect saved the CA certificates it saw as {CORPORATE_CA_FILE}." if pem else
                    "The proxy did not send its CA certificate: export it from your browser (the padlock → certificate → "
                    f"the top of the chain) or ask IT, and save it as {CORPORATE_CA_FILE}.",
                    *caveats,
                ),
                changes=(change,) if pem else (),
                attachments=((CORPORATE_CA_FILE, pem),) if pem else (),
                count=len(upstream_side),
                rank=18,
            )
        )
    if client_side:
        findings.append(
            Finding(
                rule="tls-untrusted",
                severity="error",
                hop=Hop.CLIENT,
                title=f"{name} does not trust npm-inspect's CA, so npm-inspect cannot see inside HTTPS",
                explanation=(
                    f"{name} refused the certificate npm-inspect presents for "
                    f"{', '.join(sorted({e.host for e in client_side}))}. This is about the inspector, not your network: "
                    f"run {name} through 'npm-inspect run -- {name.split()[0]} …' (it hands {name} a CA bundle), give {name} the bundle from "
                    "'npm-inspect ca --bundle', or use --no-decrypt for metadata only."
                ),
                evidence=evidence_refs(client_side),
                commands=('npm --cafile "$(npm-inspect ca --bundle)" install',),
                caveats=("Only trust npm-inspect's CA while you inspect; its key lives in your npm-inspect config directory.",),
                count=len(client_side),
                rank=3,
            )
        )
    return findings
