"""Rules that start from npm's own words: a config npm refuses, and the fallback when nothing else explains a failure."""

from __future__ import annotations

import re
from collections import Counter

from ...npmconfig import NpmConfigSnapshot
from ...records import Exchange, Hop
from ..context import RunContext
from ..facts import evidence_refs, location_for
from ..findings import ConfigChange, Finding

_RENAME = re.compile(r"`([^`]+)` must be renamed to `([^`]+)` in (\w+) config")
_NOT_ALLOWED = re.compile(r"`([^`]+)` is not allowed in (\w+) config")
_INVALID_VALUE = re.compile(r'^invalid config (\S+?)=(.*?) set in (.+)$')
_UNKNOWN_KEY = re.compile(r'^Unknown (\w+) config "([^"]+)"(?: \(([^)]+)\))?')
_LOCATIONS = ("project", "user", "global")


def _location(where: str) -> str:
    return where if where in _LOCATIONS else "user"


def _layer_of_file(path: str, config: NpmConfigSnapshot) -> str:
    for layer, file in config.files.items():
        if file and path.strip() == file:
            return layer
    return "user"


def _auth_problems(text: str) -> list[tuple[str, str, str | None, str]]:
    """(action, key, new key or None, where) from npm's ERR_INVALID_AUTH message."""
    problems: list[tuple[str, str, str | None, str]] = []
    for match in _RENAME.finditer(text):
        problems.append(("rename", match.group(1), match.group(2), match.group(3)))
    for match in _NOT_ALLOWED.finditer(text):
        problems.append(("delete", match.group(1), None, match.group(2)))
    return problems


def npm_config_invalid(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """npm refused its own config (unscoped credentials, keys npm 12 rejects, invalid values), or warns it will."""
    outcome = context.outcome
    if outcome is None:
        return []
    findings: list[Finding] = []
    if outcome.failed and outcome.code == "ERR_INVALID_AUTH":
        problems = _auth_problems(outcome.text())
        changes: list[ConfigChange] = []
        commands = ["npm config fix"]
        described = []
        for action, key, new_key, where in problems:
            location = _location(where)
            if action == "rename" and new_key:
                changes.append(ConfigChange("copy", new_key, key, location))  # type: ignore[arg-type]
                changes.append(ConfigChange("delete", key, None, location))  # type: ignore[arg-type]
                commands += [changes[-2].command, changes[-1].command]
                described.append(f"{key} (in your {where} config) must be keyed by the registry: {new_key}")
            else:
                changes.append(ConfigChange("delete", key, None, location))  # type: ignore[arg-type]
                commands.append(changes[-1].command)
                described.append(f"{key} is not allowed in your {where} config")
        keys = ", ".join(sorted({p[1] for p in problems})) or "a credential"
        findings.append(
            Finding(
                rule="npm-config-invalid",
                severity="error",
                hop=Hop.CLIENT,
                title=f"npm refused its own config before any request ({keys})",
                explanation=(
                    f"npm stopped with ERR_INVALID_AUTH before it sent a request ({len(exchanges)} exchange(s) seen): "
                    + ("; ".join(described) if described else outcome.headline)
                    + ". Since npm 9, credentials (_auth, _authToken, username/_password) must be scoped to a registry "
                    "(//host/path/:_authToken) so they are never sent to another host; npm 12 also refuses a top-level "
                    "email, certfile and keyfile. 'npm config fix' moves them for you."
                ),
                evidence=evidence_refs(exchanges),
                commands=tuple(commands),
                caveats=(
                    f"npm said: {outcome.headline}",
                    "The registry key is the registry URL without its scheme, ending in a slash; scope credentials for "
                    "each registry that needs them.",
                ),
                changes=tuple(changes),
                count=max(1, len(problems)),
                rank=1,
            )
        )
    invalid = [(m.group(1), m.group(2), m.group(3)) for w in outcome.warnings if (m := _INVALID_VALUE.match(w))]
    if outcome.failed and invalid:
        changes = []
        described = []
        for key, value, path in invalid:
            location = _layer_of_file(path, config)
            changes.append(ConfigChange("delete", key, None, _location(location)))  # type: ignore[arg-type]
            described.append(f"{key}={value} (in {path})")
        reasons = [w for w in outcome.warnings if w.startswith("invalid config ") and not _INVALID_VALUE.match(w)]
        findings.append(
            Finding(
                rule="npm-config-invalid",
                severity="error",
                hop=Hop.CLIENT,
                title=f"npm's config has an invalid value: {', '.join(k for k, _, _ in invalid)}",
                explanation=(
                    f"npm warned that {', '.join(described)} is invalid"
                    + (f" ({'; '.join(r.removeprefix('invalid config ') for r in reasons)})" if reasons else "")
                    + f", then failed: {outcome.headline}. Remove the value (npm then uses its default) or set a valid one."
                ),
                evidence=evidence_refs(exchanges),
                commands=tuple(c.command for c in changes),
                caveats=("'npm config get <key>' shows the value npm uses; 'npm help config' lists the valid ones.",),
                changes=tuple(changes),
                count=len(invalid),
                rank=2,
            )
        )
    unknown = [(m.group(1), m.group(2), m.group(3)) for w in outcome.warnings if (m := _UNKNOWN_KEY.match(w))]
    if unknown:
        changes = []
        for where, key, full in unknown:
            changes.append(ConfigChange("delete", full or key, None, _location(where)))  # type: ignore[arg-type]
        names = sorted({full or key for _, key, full in unknown})
        findings.append(
            Finding(
                rule="npm-config-invalid",
                severity="warning",
                hop=Hop.CLIENT,
                title=f"npm ignores config keys it no longer knows: {', '.join(names)}",
                explanation=(
                    f"npm {config.npm_version or ''} warns that {', '.join(names)} is not a config key any more "
                    "(always-auth is ignored since npm 9: npm sends a registry's credentials to that registry only) and "
                    "that a later npm will refuse it. Delete it before that npm refuses to start."
                ).replace("npm  warns", "npm warns"),
                commands=tuple(c.command for c in changes),
                changes=tuple(changes),
                count=len(names),
                rank=85,
            )
        )
    return findings


_WHY_EXIT = {130: "interrupted (Ctrl-C)", -2: "interrupted (Ctrl-C)", 143: "terminated", -15: "terminated", 137: "killed", -9: "killed"}


def npm_error(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """The fallback when npm failed and no rule explains it: npm's own words, and what was (not) seen on the wire."""
    outcome = context.outcome
    if outcome is None or not outcome.failed:
        return []
    failed = [e for e in exchanges if e.failed]
    name = context.name
    if not exchanges:
        wire = (
            f"No request reached npm-inspect: {name} stopped before it used the network (its config, package.json, the "
            "lockfile, the cache or a local check), or it never used the proxy (a noproxy match)."
        )
        hop = Hop.CLIENT
    elif not failed:
        hosts = sorted({f"{e.host}:{e.port}" for e in exchanges})
        wire = (
            f"npm-inspect saw {len(exchanges)} exchange(s) with {', '.join(hosts[:4])}{'…' if len(hosts) > 4 else ''}, "
            f"and none of them failed: {name}'s failure is in what it received or decided, not in a refusal on the way."
        )
        hop = Hop.CLIENT
    else:
        by_hop = Counter(e.hop.value if e.hop else "?" for e in failed)
        labels = Counter(str(e.status) if e.status is not None else (e.error.kind if e.error else "?") for e in failed)
        wire = (
            f"npm-inspect saw {len(exchanges)} exchange(s); {len(failed)} failed "
            f"({', '.join(f'{k} ×{n}' for k, n in labels.most_common(4))}; hop {', '.join(by_hop)}), "
            "none of them in a way a rule recognises."
        )
        top = by_hop.most_common(1)[0][0]
        hop = Hop(top) if top in Hop._value2member_map_ else Hop.CLIENT
    said = outcome.headline or f"exit status {outcome.exit_code}"
    why = _WHY_EXIT.get(outcome.exit_code or 0)
    if not outcome.code and not outcome.message and why:
        said = f"exit status {outcome.exit_code} ({why})"
    words = "\n".join(outcome.message[:8])
    source = f" (from {outcome.source}{' ' + outcome.log_file if outcome.log_file else ''})" if outcome.source else ""
    caveats = []
    if outcome.warnings:
        caveats.append(f"{name} warned: " + " | ".join(outcome.warnings[:3]))
    if outcome.fetch_failures:
        caveats.append("npm's log lists failed requests: " + "; ".join(outcome.fetch_failures[:3]))
    if not outcome.source:
        caveats.append(
            "npm's own message was not available (no debug log: logs-max=0 or an unwritable cache?); run with --report json to capture npm's output."
            if context.tool == "npm"
            else f"{name}'s own message was not captured (it printed nothing npm-inspect could read)."
        )
    commands = (f"cat {outcome.log_file}",) if outcome.log_file else ()
    return [
        Finding(
            rule="npm-error",
            severity="error",
            hop=hop,
            title=f"{name} failed: {said}"[:200],
            explanation=(f"{name} said{source}:\n{words}\n" if words else f"{name} ended with {said}{source}. ") + wire,
            evidence=evidence_refs(failed or exchanges),
            commands=commands,
            caveats=tuple(caveats),
            count=max(1, len(failed)),
            rank=90,
        )
    ]


_REFUSED_SPEC = re.compile(r'Refusing to fetch "([^"]+)"')
_BLOCKED = re.compile(r"^install-scripts\s+((?:@[\w.-]+/)?[\w.-]+)@(\S+) \((\w+): ")


def npm_policy(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """npm 12's install policies: git and URL dependencies off by default, dependencies' install scripts blocked."""
    outcome = context.outcome
    if outcome is None:
        return []
    findings: list[Finding] = []
    kinds = {"EALLOWGIT": ("git", "allow-git"), "EALLOWREMOTE": ("remote", "allow-remote")}
    if outcome.failed and outcome.code in kinds and not (outcome.code == "EALLOWREMOTE" and _lockfile_explains(outcome, config)):
        kind, key = kinds[outcome.code]
        specs = _REFUSED_SPEC.findall(outcome.text())
        location, caveats = location_for(key, config, context.tool)
        change = ConfigChange("set", key, "root", "project" if location == "user" else location)  # type: ignore[arg-type]
        what = "git repositories" if kind == "git" else "tarball URLs"
        findings.append(
            Finding(
                rule="npm-policy",
                severity="error",
                hop=Hop.CLIENT,
                title=f"npm 12 refuses dependencies from {what}: {', '.join(specs) or outcome.headline}"[:200],
                explanation=(
                    f"npm {config.npm_version or '12'} stopped before any request ({outcome.code}): since npm 12, "
                    f"'{key}' is 'none' by default, so dependencies that point at {what} instead of a registry version "
                    "are not fetched"
                    + (" (they run git against a remote repository and may install what the project does not control)" if kind == "git" else "")
                    + f". Allow them for the dependencies your package.json names ('{key}=root', in the project's "
                    ".npmrc so the whole team gets it), or replace them with registry versions."
                ),
                commands=(change.command, f"npm install --{key}=root"),
                caveats=(f"'{key}=all' also allows them for dependencies of dependencies: only if you trust the whole tree.", *caveats),
                changes=(change,),
                count=max(1, len(specs)),
                rank=3,
            )
        )
    blocked = [m.groups() for w in outcome.warnings if (m := _BLOCKED.match(w))]
    if blocked and any("blocked" in w for w in outcome.warnings):
        names = sorted({name for name, _, _ in blocked})
        findings.append(
            Finding(
                rule="npm-policy",
                severity="warning",
                hop=Hop.CLIENT,
                title=f"npm 12 did not run the install scripts of {', '.join(names)}",
                explanation=(
                    f"{', '.join(f'{n}@{v} ({phase})' for n, v, phase in blocked)}: npm 12 blocks dependencies' install "
                    "scripts until the project approves them (allowScripts in package.json). A package that builds "
                    "native code or downloads a binary in its install script is then installed but does not work."
                ),
                commands=("npm install-scripts ls", *(f"npm install-scripts approve {n}" for n in names)),
                caveats=("Approve only packages you trust: an install script runs with your permissions.",),
                count=len(names),
                rank=70,
            )
        )
    return findings


def _lockfile_explains(outcome, config: NpmConfigSnapshot) -> bool:
    """An EALLOWREMOTE the lockfile rule explains (resolved URLs on a host that is not a configured registry)."""
    from urllib.parse import urlsplit

    registries = {urlsplit(u).hostname for u in (config.registry, *config.scope_registries().values())}
    return any(urlsplit(base).hostname not in registries for base, _ in outcome.lockfile_hosts)
