"""Which package manager a command line runs: the program's name, and for yarn the project's flavour.

``yarn`` is two tools: classic (1.x, reads ``.yarnrc`` and ``.npmrc``) and berry
(2+, reads only ``.yarnrc.yml`` and ``YARN_*``). The binary on PATH decides
(``yarn --version`` run *in the project* answers for a ``yarnPath`` release),
and the project's own hints — ``.yarnrc.yml``, ``packageManager`` in
package.json, ``.yarn/releases`` — decide when the version cannot be asked. A
disagreement (``packageManager: yarn@4`` with yarn 1 on PATH) is kept as a
warning: yarn 1 then refuses to run, and that is worth saying.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import UnsupportedClientError, UsageError
from .common import Detection, Tool, find_up, package_manager_field, project_dir, tool_version, which

PROGRAMS: dict[str, str] = {
    "npm": "npm",
    "npx": "npm",
    "pnpm": "pnpm",
    "pnpx": "pnpm",
    "pn": "pnpm",
    "pnx": "pnpm",
    "yarn": "yarn",
    "yarnpkg": "yarn",
    "bun": "bun",
    "bunx": "bun",
}


def program_family(argv0: str) -> str:
    """``/usr/bin/pnpm`` → ``pnpm``; ``npm.cmd`` → ``npm``; raise for anything else."""
    name = Path(argv0).name
    for suffix in (".cmd", ".exe", ".js", ".cjs"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    family = PROGRAMS.get(name)
    if family is None:
        raise UnsupportedClientError(
            f"npm-inspect runs npm, pnpm, yarn or bun, not {argv0!r}: write npm-inspect run -- npm install (or pnpm/yarn/bun)"
        )
    return family


def yarn_hints(project: Path | None, cwd: str) -> tuple[Tool | None, list[str]]:
    """The flavour the project's files ask for, and the evidence (nearest first)."""
    reasons: list[str] = []
    flavour: Tool | None = None
    manager = package_manager_field(project)
    if manager and manager.startswith("yarn@"):
        major = manager[5:].split(".", 1)[0]
        if major.isdigit():
            flavour = "yarn-classic" if int(major) < 2 else "yarn-berry"
            reasons.append(f'package.json packageManager "{manager.split("+", 1)[0]}"')
    yml = find_up(cwd, ".yarnrc.yml")
    if yml:
        reasons.append(f"{yml[0]} exists")
        flavour = flavour or "yarn-berry"
    if project is not None:
        releases = project / ".yarn" / "releases"
        if releases.is_dir() and any(releases.glob("yarn-*.cjs")):
            reasons.append(f"{releases} holds a yarn release")
            flavour = flavour or "yarn-berry"
        lock = project / "yarn.lock"
        if flavour is None and lock.exists():
            head = lock.read_text(errors="replace")[:200]
            if "yarn lockfile v1" in head:
                reasons.append("yarn.lock is a v1 lockfile")
                flavour = "yarn-classic"
            elif "__metadata" in lock.read_text(errors="replace")[:2000]:
                reasons.append("yarn.lock has berry's __metadata")
                flavour = "yarn-berry"
    if flavour is None and find_up(cwd, ".yarnrc"):
        reasons.append(f"{find_up(cwd, '.yarnrc')[0]} exists (classic's rc file)")
        flavour = "yarn-classic"
    return flavour, reasons


def detect(
    argv: list[str], cwd: str | None = None, env: Mapping[str, str] | None = None, *, ask_version: bool = True
) -> Detection:
    """Which tool ``argv`` runs in ``cwd``, its version, and for yarn its flavour.

    Raises :class:`UsageError` for an empty command, :class:`UnsupportedClientError` for another program,
    :class:`~inspector.errors.ClientNotFoundError` when the program is not on PATH.
    """
    if not argv:
        raise UsageError("nothing to run after '--': write npm-inspect run -- npm install <package>")
    env = dict(os.environ if env is None else env)
    cwd = cwd or os.getcwd()
    family = program_family(argv[0])
    program = which(argv[0], env)
    project = project_dir(cwd)
    version = tool_version(program, cwd=cwd, env=env) if ask_version else None
    reasons: list[str] = [f"the command runs {Path(argv[0]).name}"]
    warnings: list[str] = []
    if family != "yarn":
        return Detection(family, program, version, str(project) if project else None, tuple(reasons))  # type: ignore[arg-type]

    hinted, hints = yarn_hints(project, cwd)
    tool: Tool
    if version is not None:
        major = int(version.split(".", 1)[0]) if version.split(".", 1)[0].isdigit() else 1
        tool = "yarn-classic" if major < 2 else "yarn-berry"
        reasons.append(f"{Path(program).name} --version in {cwd} prints {version}")
        if hinted is not None and hinted != tool:
            warnings.append(
                f"the project asks for {'yarn berry' if hinted == 'yarn-berry' else 'yarn classic'} ({'; '.join(hints)}) "
                f"but the yarn on PATH is {version}"
            )
    else:
        tool = hinted or "yarn-classic"
        reasons.extend(hints or ["no berry files in the project: assuming yarn classic"])
    return Detection(tool, program, version, str(project) if project else None, tuple(reasons), tuple(warnings))
