"""Rules about which packages exist where: a package or version the registry (or company mirror) lacks, and
tarballs asked of another host because of the lockfile's ``resolved`` URLs."""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlsplit

from ...npmconfig import NpmConfigSnapshot
from ...records import Exchange, Hop
from ..context import RunContext
from ..facts import evidence_refs, location_for, package_of, registry_for_exchange, scope_of
from ..findings import ConfigChange, Finding
from ..flavours import ARTIFACTORY, NEXUS, NPMJS, VERDACCIO, Flavour, detect

PUBLIC_REGISTRY = "https://registry.npmjs.org/"
_CURATION = re.compile(r"curat|quarantin|blocked|policy|firewall|not allowed|malicious", re.I)
_NOT_FOUND_URL = re.compile(r"404 Not Found - GET (\S+)")
_NO_MATCH = re.compile(r"No matching version found for ((?:@[\w.-]+/)?[\w.-]+)@(\S+?)\.?$", re.M)
_REFUSING = re.compile(r'Refusing to fetch "((?:@[\w.-]+/)?[\w.-]+)@(https?://[^"]+)"')
_TOOL_NO_MATCH: dict[str, tuple[str | None, re.Pattern[str], bool]] = {
    # tool: (its error code, or None: the words alone; the words; True when the range comes before the package)
    "pnpm": ("ERR_PNPM_NO_MATCHING_VERSION", re.compile(r"No matching version found for ((?:@[\w.-]+/)?[\w.-]+)@(\S+?)(?: while|\.?$)", re.M), False),
    "yarn-classic": (None, re.compile(r'Couldn\'t find any versions for "([^"]+)" that matches "([^"]+)"'), False),
    "yarn-berry": ("YN0082", re.compile(r"((?:@[\w.-]+/)?[\w.-]+)@(?:npm:)?(\S+?): No candidates found"), False),
    "bun": (None, re.compile(r'No version matching "([^"]+)" found for specifier "([^"]+)"'), True),
}
"""How pnpm, yarn and bun say what npm says with ETARGET (measured with the lab's pinned versions)."""

SELF_CHECKS = {"pnpm": ("pnpm", "@pnpm/exe")}
"""Packages a tool looks itself up as (pnpm 12 asks the registry for ``/pnpm`` on every run, measured): a private
registry without them answers 404, which says nothing about the user's install."""


def _self_check(e: Exchange, context: RunContext) -> bool:
    package = package_of(e.path)
    if package not in SELF_CHECKS.get(context.tool, ()):
        return False
    return context.outcome is None or f"{package}@" not in context.outcome.text()


def _mirror_advice(flavour: Flavour, package: str) -> str:
    """Why a mirror may lack a package that exists publicly, in the words of that product."""
    if flavour is VERDACCIO:
        return (
            "Verdaccio serves what was published to it and what its uplinks proxy: this package's access rule needs "
            "'proxy: npmjs' and an uplink to the public registry (uplinks: npmjs: url: https://registry.npmjs.org/)."
        )
    if flavour is NEXUS:
        return (
            "Nexus: a hosted npm repository only has what was published to it; install through a group repository "
            "(…/repository/npm-group/) that includes an npm proxy repository for registry.npmjs.org."
        )
    if flavour is ARTIFACTORY:
        return (
            "Artifactory: a local npm repository only has what was published to it; use a virtual repository that "
            "includes a remote repository for registry.npmjs.org (see 'Set Me Up')."
        )
    if flavour is NPMJS:
        return (
            f"On the public registry a 404 also means a private package you may not see: log in (npm login) if "
            f"{package} belongs to your organisation, and check the name for typos."
        )
    return "If the package exists on the public registry, the mirror does not proxy it: ask its owners to add it."


def _named(flavour: Flavour) -> str:
    return "" if flavour.name == "registry" else f" ({flavour.name})"


def _registry_url(e: Exchange, config: NpmConfigSnapshot) -> str:
    return registry_for_exchange(e, config)


def package_not_found(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """404 for a package (or its tarball) on the configured registry or mirror."""
    mapped = config.scope_registries()
    missing = [
        e
        for e in exchanges
        if e.kind == "http" and e.hop == Hop.REGISTRY and e.status == 404 and package_of(e.path)
        # an unmapped scope asked of the default registry is scope-registry-missing's
        and not ((scope := scope_of(package_of(e.path))) and scope not in mapped)
        and not _self_check(e, context)
    ]
    urls: list[str] = []
    if not missing and context.npm_failed and context.code == "E404" and context.outcome is not None:
        urls = [m.group(1) for m in _NOT_FOUND_URL.finditer(context.outcome.text())]
    groups: dict[tuple[str, str], list[Exchange]] = defaultdict(list)
    for e in missing:
        groups[(_registry_url(e, config), package_of(e.path) or "")].append(e)
    for url in urls:
        package = package_of(urlsplit(url).path) or ""
        scope = scope_of(package)
        if package and not (scope and scope not in mapped):
            registry = config.registry_for(package)
            groups.setdefault((registry, package), [])
    findings = []
    for (registry, package), group in groups.items():
        flavour = detect(exchanges, registry)
        bodies = " ".join(e.evidence.error_body or "" for e in group)
        curated = bool(_CURATION.search(bodies))
        tarball = all(e.path.split("?", 1)[0].endswith(".tgz") for e in group) if group else False
        scope = scope_of(package)
        via = f" (mapped by {scope}:registry)" if scope and scope in mapped else ""
        what = f"the tarball of {package}" if tarball else package
        explanation = (
            f"The registry{via} at {registry}{_named(flavour)} answered 404 for {what}"
            + (f": {' '.join(group[0].evidence.error_body.split())[:200]}" if group and group[0].evidence.error_body else "")
            + (" (seen only in npm's message: the request was not decrypted)" if not group else "")
            + ". "
        )
        if curated:
            explanation += "Its answer names a policy: the package is likely blocked by the mirror's curation rules; ask its owners to approve it. "
        elif tarball:
            explanation += "The registry lists the version but does not serve its file: the mirror's cache or storage is incomplete. "
        else:
            explanation += "Either the name is wrong, or this registry does not have it. " + _mirror_advice(flavour, package)
        commands = [f"npm view {package} versions --registry={registry}"]
        if registry.rstrip("/") != PUBLIC_REGISTRY.rstrip("/") and not tarball:
            commands.append(f"npm view {package} versions --registry={PUBLIC_REGISTRY}")
        caveats = []
        if scope and scope not in mapped and registry == config.registry:
            caveats.append(f"{scope} packages usually live in a private registry: map it with {scope}:registry.")
        if flavour is not NPMJS:
            caveats.append("Checking the public registry needs the proxy to allow it; your mirror's web UI shows what it has too.")
        findings.append(
            Finding(
                rule="package-not-found",
                severity="error",
                hop=Hop.REGISTRY,
                title=f"{registry} has no {what}" + (" (blocked by a policy?)" if curated else ""),
                explanation=explanation,
                evidence=evidence_refs(group),
                commands=tuple(commands),
                caveats=tuple(caveats),
                count=max(1, len(group)),
                rank=35,
            )
        )
    return findings


def version_not_found(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """ETARGET: no version of a package satisfies the range asked; list what the registry has."""
    outcome = context.outcome
    if outcome is None or not outcome.failed:
        return []
    if context.tool in _TOOL_NO_MATCH:
        code, words, reversed_ = _TOOL_NO_MATCH[context.tool]
        if code is not None and outcome.code != code and not words.search(outcome.text()):
            return []
        pairs = [(m.group(2), m.group(1)) if reversed_ else (m.group(1), m.group(2)) for m in words.finditer(outcome.text())]
    elif outcome.code == "ETARGET":
        pairs = [(m.group(1), m.group(2)) for m in _NO_MATCH.finditer(outcome.text())]
    else:
        return []
    name, said = context.name, outcome.code or "no matching version"
    findings = []
    for package, wanted in dict.fromkeys(pairs):
        registry = config.registry_for(package)
        seen = [
            e
            for e in exchanges
            if e.kind == "http" and e.method == "GET" and package_of(e.path) == package and not e.path.split("?", 1)[0].endswith(".tgz")
        ]
        if seen:
            registry = registry_for_exchange(seen[-1], config)
        flavour = detect(exchanges, registry)
        found = outcome.versions_of(package)
        if found is not None:
            versions, tags = found
            shown = ", ".join(versions[-12:]) if versions else "none"
            more = f" (and {len(versions) - 12} older)" if len(versions) > 12 else ""
            latest = f"; latest is {tags['latest']}" if tags.get("latest") else ""
            has = f"It lists {shown}{more}{latest}."
        elif seen:
            has = "npm-inspect saw the package document but not its contents (not decrypted, or npm used its cache)."
        else:
            has = f"{name} answered from its cache: no request for the package document reached the registry in this run."
        findings.append(
            Finding(
                rule="version-not-found",
                severity="error",
                hop=Hop.REGISTRY,
                title=f"No version of {package} on {registry} matches {wanted}",
                explanation=(
                    f"{name} asked for {package}@{wanted} and no version the registry{_named(flavour)} at {registry} "
                    f"lists satisfies it ({name}: {said}). {has} A company mirror may lag behind the public registry, or "
                    "hide versions its curation policy has not approved yet; a package published minutes ago may not "
                    "have reached it."
                ),
                evidence=evidence_refs(seen),
                commands=(
                    f"npm view {package} versions --registry={registry}",
                    f"npm view {package}@'{wanted}' version --registry={PUBLIC_REGISTRY}",
                    *(("npm install --prefer-online",) if context.tool == "npm" else ()),
                ),
                caveats=(
                    "If the public registry has a matching version and the mirror does not, ask the mirror's owners "
                    "(mirror lag or a curation block), or pin a version the mirror has in package.json.",
                    "A range in a dependency's package.json (not yours) shows in 'npm explain' once a version installs.",
                ),
                count=max(1, len(seen)),
                rank=36,
            )
        )
    return findings


def _registry_hosts(config: NpmConfigSnapshot) -> set[str]:
    hosts = set()
    for url in (config.registry, *config.scope_registries().values()):
        parts = urlsplit(url)
        if parts.hostname:
            hosts.add(parts.hostname.lower())
    return hosts


def lockfile_registry_mismatch(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """Tarballs asked of (or refused for) a host that is not the configured registry, because of the lockfile."""
    outcome = context.outcome
    registries = _registry_hosts(config)
    foreign = {
        base: count
        for base, count in (outcome.lockfile_hosts if outcome else ())
        if (urlsplit(base).hostname or "").lower() not in registries
    }
    foreign_hosts = {(urlsplit(base).hostname or "").lower() for base in foreign}
    refused: list[tuple[str, str]] = []
    if outcome is not None and outcome.failed and outcome.code == "EALLOWREMOTE":
        refused = [
            (m.group(1), m.group(2))
            for m in _REFUSING.finditer(outcome.text())
            if (urlsplit(m.group(2)).hostname or "").lower() in foreign_hosts  # a URL dependency is npm-policy's
        ]
    wire = [
        e
        for e in exchanges
        if e.host.lower() in foreign_hosts
        and (e.kind == "connect" or e.path.split("?", 1)[0].endswith(".tgz") or e.npm.request_type == "tarball")
    ]
    if not foreign_hosts or not (wire or refused):
        return []
    hosts = sorted(foreign_hosts)
    lockfile = (outcome.lockfile if outcome else None) or "package-lock.json"
    total = sum(foreign.values())
    counts = ", ".join(f"{base} ×{n}" for base, n in sorted(foreign.items(), key=lambda item: -item[1])) or ", ".join(hosts)
    if len(foreign) == 1:
        (base,) = foreign
        parts = urlsplit(base)
        value = parts.hostname or hosts[0] if parts.path in ("", "/") else base.rstrip("/")
    elif len(hosts) == 1 and not foreign:
        value = hosts[0]
    else:
        value = "always"
    location, caveats = location_for("replace-registry-host", config, context.tool)
    change = ConfigChange("set", "replace-registry-host", value, location)  # type: ignore[arg-type]
    failed_wire = [e for e in wire if e.failed]
    if refused:
        happened = (
            f"npm {config.npm_version or '12'} refused before any request (EALLOWREMOTE: 'allow-remote' is 'none' "
            f"by default since npm 12): {refused[0][0]} is locked to {refused[0][1]}."
        )
    elif failed_wire:
        happened = (
            f"npm asked {', '.join(sorted({e.host for e in failed_wire}))} for tarballs and it failed "
            f"({', '.join(sorted({str(e.status or (e.error.kind if e.error else '?')) for e in failed_wire}))}); "
            "that host is not your registry, the lockfile sent npm there."
        )
    else:
        happened = f"npm fetched tarballs from {', '.join(sorted({e.host for e in wire}))}, which is not your registry."
    registry = config.registry
    return [
        Finding(
            rule="lockfile-registry-mismatch",
            severity="error" if (refused or failed_wire or context.npm_failed) else "warning",
            hop=Hop.CLIENT,
            title=f"The lockfile sends npm to {', '.join(hosts)} instead of {registry} ({total or len(refused)} resolved URL(s))",
            explanation=(
                f"{lockfile} records where each tarball came from ('resolved'): {counts}. npm "
                f"fetches from those URLs, not from your registry ({registry}); npm only rewrites registry.npmjs.org by "
                f"default. {happened} Tell npm to rewrite "
                + ("that registry's URLs" if value != "always" else "every resolved URL")
                + " to your registry (replace-registry-host), or regenerate the lockfile against your registry."
            ),
            evidence=evidence_refs(failed_wire or wire),
            commands=(
                change.command,
                f"npm ci --replace-registry-host={value}",
                "rm -rf node_modules package-lock.json && npm install",
            ),
            caveats=(
                "replace-registry-host takes a host name, or a URL with the old registry's path (npm ≥ 11) so the path is "
                "swapped too; 'always' rewrites every host.",
                "Regenerating the lockfile may move versions within your ranges; commit the new lockfile once it installs.",
                "npm 12: '--allow-remote=all' also lets npm fetch those URLs, but npm still goes to the old host; "
                "rewriting it to your registry is the fix.",
                *caveats,
            ),
            changes=(change,),
            count=max(1, total or len(wire) or len(refused)),
            rank=6,
        )
    ]


def _hostport_of(e: Exchange) -> str:
    default = 443 if (e.kind == "connect" or e.scheme == "https") else 80
    return e.host.lower() if e.port == default else f"{e.host.lower()}:{e.port}"
