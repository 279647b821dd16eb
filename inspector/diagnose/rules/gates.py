"""Rules about a package manager's own gates: versions held back because they were published too recently.

yarn berry (``npmMinimalAgeGate``, 1 day by default since 4.15) and pnpm 12 (``minimumReleaseAge``; a failure only
with ``minimumReleaseAgeStrict``, otherwise pnpm adds the package to ``minimumReleaseAgeExclude`` itself) refuse
versions younger than the gate. The wire shows nothing wrong — the registry answered 200 — so only the tool's
words explain it; and the user most likely to hit it is the one who just published an internal package.
"""

from __future__ import annotations

import re

from ...npmconfig import NpmConfigSnapshot
from ...records import Exchange, Hop
from ..context import RunContext
from ..facts import evidence_refs, scope_of
from ..findings import Finding

_BERRY = re.compile(r'((?:@[\w.-]+/)?[\w.-]+)@(?:npm:)?[^\s:]*:\s*All versions satisfying "([^"]*)" are quarantined')
_PNPM = re.compile(r"((?:@[\w.-]+/)?[\w.-]+)@(\S+) was published at (\S+?),? within the")


def package_quarantined(exchanges: list[Exchange], config: NpmConfigSnapshot, context: RunContext) -> list[Finding]:
    """berry's ``YN0016 … are quarantined`` or pnpm's ``ERR_PNPM_NO_MATURE_MATCHING_VERSION``."""
    outcome = context.outcome
    if outcome is None or not outcome.failed:
        return []
    text = outcome.text()
    if context.tool == "yarn-berry" and (outcome.code == "YN0016" or "are quarantined" in text):
        packages = list(dict.fromkeys(m.group(1) for m in _BERRY.finditer(text)))
        setting, code = "npmMinimalAgeGate", "YN0016"
        scopes = sorted({s[1:] for p in packages if (s := scope_of(p))})
        unscoped = [p for p in packages if not scope_of(p)]
        edit = "in .yarnrc.yml (in the project):\n" + "\n".join(
            [*(["npmPreapprovedPackages:", *(f"  - {json_str(p)}" for p in unscoped)] if unscoped else []),
             *(["npmScopes:", *(f"  {s}:\n    npmMinimalAgeGate: 0" for s in scopes)] if scopes else [])]
        )
        how = (
            "exempt your own packages: npmPreapprovedPackages (names or globs such as '@corp/*'), or "
            "npmMinimalAgeGate: 0 inside the scope's npmScopes entry (yarn ≥ 4.15)"
        )
    elif context.tool == "pnpm" and (outcome.code == "ERR_PNPM_NO_MATURE_MATCHING_VERSION" or "minimumReleaseAge" in text):
        packages = list(dict.fromkeys(m.group(1) for m in _PNPM.finditer(text)))
        setting, code = "minimumReleaseAge", outcome.code or "ERR_PNPM_NO_MATURE_MATCHING_VERSION"
        edit = "in pnpm-workspace.yaml:\nminimumReleaseAgeExclude:\n" + "\n".join(f"  - {json_str(p)}" for p in packages or ["<package>"])
        how = "exempt your own packages with minimumReleaseAgeExclude (names or globs such as '@corp/*')"
    else:
        return []
    names = ", ".join(packages) or "a package"
    return [
        Finding(
            rule="package-quarantined",
            severity="error",
            hop=Hop.CLIENT,
            title=f"{context.name} holds back {names}: published too recently for its {setting}",
            explanation=(
                f"{context.name} stopped with {code}: every version of {names} that satisfies the range was published more "
                f"recently than {setting} allows, so it refuses them although the registry served them. This gate guards "
                "against compromised releases of public packages; it also blocks a package your team published minutes "
                f"ago. Keep the gate and {how}; or wait until the version is old enough."
            ),
            evidence=evidence_refs([e for e in exchanges if e.kind == "http" and e.status == 200][:3]),
            commands=(edit,),
            caveats=(
                f"Turning {setting} off entirely (0) removes the protection for every package: exempt only your own.",
                f"{context.name} reads the publish time from the registry's package document ('time'): a registry that "
                "drops it makes every version look new.",
            ),
            count=max(1, len(packages)),
            rank=4,
        )
    ]


def json_str(value: str) -> str:
    """A YAML scalar that stays a string (``@corp/*`` needs quotes)."""
    return value if re.fullmatch(r"[A-Za-z0-9._-]+", value) else f"'{value}'"
