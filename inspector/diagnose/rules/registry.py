"""Rules about the registry: missing, rejected and misplaced tokens, permissions, scope mappings."""

from __future__ import annotations

from collections import defaultdict

from ...npmconfig import AuthEntry, NpmConfigSnapshot, nerf_dart
from ...records import Exchange, Hop
from ..facts import evidence_refs, location_for, package_of, registry_for_exchange, scope_of
from ..context import RunContext
from ..findings import ConfigChange, Finding
from ..flavours import detect
from ..tools import is_npm


def _registry_failures(exchanges: list[Exchange], statuses: tuple[int, ...]) -> list[Exchange]:
    return [e for e in exchanges if e.kind == "http" and e.hop == Hop.REGISTRY and e.status in statuses]


def _by_registry(exchanges: list[Exchange], config: NpmConfigSnapshot) -> dict[str, list[Exchange]]:
    groups: dict[str, list[Exchange]] = defaultdict(list)
    for e in exchanges:
        groups[registry_for_exchange(e, config)].append(e)
    return groups


def _body_hint(group: list[Exchange]) -> str:
    for e in group:
        if e.evidence.error_body:
            return " The registry said: " + " ".join(e.evidence.error_body.split())[:200]
    return ""


def _same_host_entries(url: str, config: NpmConfigSnapshot) -> list[AuthEntry]:
    """Tokens configured for the request's host but not for a prefix npm would use for this URL."""
    if config.auth_for(url):
        return []
    host = nerf_dart(url)[2:].split("/", 1)[0]
    hostname = host.split(":")[0]
    return [a for a in config.auth if a.field in ("_authToken", "_auth", "_password") and a.host.split(":")[0] == hostname]


def _scope_candidate(e: Exchange, config: NpmConfigSnapshot) -> tuple[str, str] | None:
    """(scope, registry URL to map it to) for a scoped request that went to the default registry."""
    scope = scope_of(package_of(e.path))
    if not scope or scope in config.scope_registries():
        return None
    default_nerf = nerf_dart(config.registry)
    if not nerf_dart(e.url).startswith(default_nerf):
        return None
    for other in config.scope_registries().values():
        if nerf_dart(other) != default_nerf:
            return scope, other
    for entry in config.auth:
        if not entry.nerf.startswith(default_nerf) and not default_nerf.startswith(entry.nerf):
            return scope, "https:" + entry.nerf
    return None


def scope_registry_missing(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """A scoped package asked of the default registry, failing, where a @scope:registry mapping would help."""
    failures = _registry_failures(exchanges, (401, 403, 404))
    groups: dict[tuple[str, str | None], list[Exchange]] = defaultdict(list)
    for e in failures:
        scope = scope_of(package_of(e.path))
        if not scope or scope in config.scope_registries():
            continue
        candidate = _scope_candidate(e, config)
        if candidate is None and e.status != 404:
            continue  # the default registry may be right: the auth rules speak for it
        groups[(scope, candidate[1] if candidate else None)].append(e)
    findings = []
    for (scope, target), group in groups.items():
        key = f"{scope}:registry"
        location, caveats = location_for(key, config, context.tool)
        change = ConfigChange("set", key, target or "<registry-url>", location)  # type: ignore[arg-type]
        where = f" — {context.name} has credentials or mappings for {target}, which is likely where {scope} lives" if target else ""
        findings.append(
            Finding(
                rule="scope-registry-missing",
                severity="error",
                hop=Hop.REGISTRY,
                title=f"{scope} packages are asked of the default registry ({group[0].host}), which does not serve them",
                explanation=(
                    f"{context.name} has no {key if is_npm(context.tool) else scope + ' scope'} mapping, so "
                    f"{', '.join(sorted({package_of(e.path) or '' for e in group}))} went to "
                    f"{config.registry} and got {', '.join(sorted({str(e.status) for e in group}))}{where}. "
                    "Map the scope to your private registry."
                ),
                evidence=evidence_refs(group),
                commands=(change.command,),
                caveats=tuple(caveats),
                changes=(change,),
                count=len(group),
                rank=25,
            )
        )
    return findings


def _scope_handled(e: Exchange, config: NpmConfigSnapshot) -> bool:
    return _scope_candidate(e, config) is not None


def _is_mismatch(e: Exchange, config: NpmConfigSnapshot) -> bool:
    """No token sent, though one is configured for this host under another path or port (and no scope mapping explains it)."""
    return (
        e.auth is None
        and e.status in (401, 403)
        and bool(_same_host_entries(registry_for_exchange(e, config), config))
        and not _scope_handled(e, config)
    )


def token_host_mismatch(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """A token is configured for the registry's host, but under another path or port than npm asks."""
    groups: dict[str, list[Exchange]] = defaultdict(list)
    entries: dict[str, list[AuthEntry]] = {}
    for e in _registry_failures(exchanges, (401, 403)):
        if _is_mismatch(e, config):
            registry = registry_for_exchange(e, config)
            groups[registry].append(e)
            entries[registry] = _same_host_entries(registry, config)
    findings = []
    for registry, group in groups.items():
        wanted = nerf_dart(registry)
        have = entries[registry][0]
        location = "user" if have.layer not in ("project",) else "project"
        changes = (
            ConfigChange("copy", f"{wanted}:{have.field}", f"{have.nerf}:{have.field}", location),  # type: ignore[arg-type]
            ConfigChange("delete", f"{have.nerf}:{have.field}", None, location),  # type: ignore[arg-type]
        )
        findings.append(
            Finding(
                rule="token-host-mismatch",
                severity="error",
                hop=Hop.REGISTRY,
                title=f"Your token is configured for {have.nerf}, but {context.name} asks {wanted}",
                explanation=(
                    f"{context.name} sends a token only to the registry path it was configured for. The {have.field} in your "
                    f"{have.layer} config ({have.source or 'no file'}, fingerprint {have.fingerprint or '-'}) is keyed "
                    f"{have.nerf}, while the registry is {registry} (key {wanted}): {context.name} sent no Authorization and got "
                    f"{', '.join(sorted({str(e.status) for e in group}))}. Paths must match, including a trailing path "
                    "like /repository/npm-group/, and the port if the registry URL has one."
                ),
                evidence=evidence_refs(group),
                commands=(
                    ConfigChange("set", f"{wanted}:{have.field}", "<token>", location).command,  # type: ignore[arg-type]
                    changes[1].command,
                ),
                caveats=(
                    "Key the token by the registry URL without the scheme, ending in a slash: //host[:port]/path/:_authToken."
                    if is_npm(context.tool)
                    else f"Key the token by the registry URL without the scheme, ending in a slash (//host[:port]/path/): "
                    f"that is how {context.name} looks it up.",
                ),
                changes=changes,
                count=len(group),
                rank=22,
            )
        )
    return findings


def registry_auth(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """401s: no token sent (login), or a token sent and refused (expired, revoked, wrong registry)."""
    unauthorized = [e for e in _registry_failures(exchanges, (401,)) if not _is_mismatch(e, config) and not _scope_handled(e, config)]
    findings = []
    for registry, group in _by_registry(unauthorized, config).items():
        flavour = detect(exchanges, registry)
        nerf = nerf_dart(registry)
        missing = [e for e in group if e.auth is None]
        rejected = [e for e in group if e.auth is not None]
        login = tuple(cmd.format(registry=registry) for cmd in flavour.login)
        if missing:
            change = ConfigChange("set", f"{nerf}:_authToken", "<token>", "user")
            findings.append(
                Finding(
                    rule="registry-auth-missing",
                    severity="error",
                    hop=Hop.REGISTRY,
                    title=f"{registry} wants a login and {context.name} has no token for it",
                    explanation=(
                        f"The registry ({flavour.name}) answered 401 and {context.name} sent no Authorization: there is no "
                        f"token for {nerf} (npm's {nerf}:_authToken) in {context.name}'s config.{_body_hint(missing)}"
                    ),
                    evidence=evidence_refs(missing),
                    commands=(*login, change.command),
                    caveats=(
                        flavour.token_hint,
                        "Never commit a token in a project .npmrc; use ${NPM_TOKEN} there." if is_npm(context.tool)
                        else "Never commit a token in a project config file; refer to an environment variable there instead.",
                    ),
                    changes=(change,),
                    count=len(missing),
                    rank=30,
                )
            )
        if rejected:
            prints = sorted({e.auth.fingerprint for e in rejected if e.auth})
            configured = config.auth_for(registry)
            where = (
                f" It comes from your {configured[0].layer} config ({configured[0].source or configured[0].layer}), key {configured[0].nerf}:{configured[0].field}."
                if configured
                else ""
            )
            change = ConfigChange("set", f"{nerf}:_authToken", "<token>", "user")
            findings.append(
                Finding(
                    rule="registry-auth-rejected",
                    severity="error",
                    hop=Hop.REGISTRY,
                    title=f"{registry} refused {context.name}'s token (expired, revoked or for another registry)",
                    explanation=(
                        f"{context.name} sent {rejected[0].auth.scheme if rejected[0].auth else 'a'} credentials (fingerprint "
                        f"{', '.join(prints)}) and the registry ({flavour.name}) still answered 401.{where}{_body_hint(rejected)}"
                    ),
                    evidence=evidence_refs(rejected),
                    commands=(f"npm logout --registry={registry}", *login, change.command),
                    caveats=(flavour.token_hint,),
                    changes=(change,),
                    count=len(rejected),
                    rank=31,
                )
            )
    return findings


def registry_forbidden(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """403 from the registry: the user (or token) lacks permission, or anonymous access is off."""
    forbidden = [e for e in _registry_failures(exchanges, (403,)) if not _is_mismatch(e, config) and not _scope_handled(e, config)]
    findings = []
    for registry, group in _by_registry(forbidden, config).items():
        flavour = detect(exchanges, registry)
        packages = sorted({p for e in group if (p := package_of(e.path))})
        with_token = [e for e in group if e.auth is not None]
        commands = [f"npm whoami --registry={registry}"]
        commands += [f"npm owner ls {p} --registry={registry}" for p in packages[:3]]
        changes: tuple[ConfigChange, ...] = ()
        if with_token:
            token_key = f"{nerf_dart(registry)}:_authToken"
            location, _ = location_for(token_key, config, context.tool)
            changes = (ConfigChange("set", token_key, "<token>", location),)  # type: ignore[arg-type]
            commands.append(changes[0].command)
            explanation = (
                f"{context.name} sent a token and the registry ({flavour.name}) answered 403 for "
                f"{', '.join(packages) or 'this request'}: you are logged in, but this user or token may not read it.{_body_hint(group)}"
            )
            caveats = (
                "Check the package's org/team access and the token's scope: granular tokens are limited to chosen "
                "packages/orgs and may be read-only, expired or IP-restricted.",
                f"{'npm' if is_npm(context.tool) else context.name} whoami shows which user the token belongs to; once you have access (or a token that has it), "
                "put that token in place with the last command.",
            )
        else:
            explanation = (
                f"The registry ({flavour.name}) answered 403 to an anonymous request for {', '.join(packages) or 'this'}: "
                f"it does not allow anonymous reads.{_body_hint(group)}"
            )
            commands = [cmd.format(registry=registry) for cmd in flavour.login] + commands
            caveats = (flavour.token_hint,)
        findings.append(
            Finding(
                rule="registry-forbidden",
                severity="error",
                hop=Hop.REGISTRY,
                title=f"{registry} forbids {', '.join(packages) or 'this request'} for this user",
                explanation=explanation,
                evidence=evidence_refs(group),
                commands=tuple(commands),
                caveats=caveats,
                changes=changes,
                count=len(group),
                rank=32,
            )
        )
    return findings
