"""A finding's commands in the syntax of the tool that ran: ``yarn config set httpsProxy …``, a bunfig.toml edit…

The rules speak npm (keys, ``npm config set``/``delete``/``get``, ``npm login``): that keeps them one engine for
every tool, and keeps ``Finding.changes`` in npm's key names, which ``--verify-fix``/``x``/``w`` hand to the
adapter. After the rules, :func:`for_tool` rewrites each command for the tool that ran:

- ``npm config set KEY=VALUE --location=L`` / ``npm config delete KEY …`` → the adapter's ``fix_step`` (a command,
  a file edit, or — when the tool has no such setting — a caveat saying so and what to do instead);
- ``npm config get``, ``npm login``/``logout``/``whoami`` → the tool's own command where it has one (yarn 1 and bun
  read npm's ``.npmrc`` tokens, so ``npm login`` stays right for them);
- anything else (``npm view``, ``px``, ``cat``) stays as it is: those work whichever tool installs.
"""

from __future__ import annotations

import shlex
from dataclasses import replace

from ..diagnose.findings import ConfigChange, Finding
from . import adapter_for
from .common import shell_quote

GET_NAMES = {
    "pnpm": "pnpm config get {key}",
    "yarn-classic": "yarn config get {key}",
}
BERRY_SETTINGS = {"https-proxy": "httpsProxy", "proxy": "httpProxy", "registry": "npmRegistryServer", "cafile": "httpsCaFilePath"}
BUN_GET = {
    "https-proxy": "echo $HTTPS_PROXY",
    "proxy": "echo $HTTP_PROXY",
    "noproxy": "echo $NO_PROXY",
    "registry": "grep -A3 '\\[install' bunfig.toml ~/.bunfig.toml",
}


def npm_config_change(command: str) -> ConfigChange | None:
    """``npm config set 'KEY=VALUE' --location=L`` / ``npm config delete KEY --location=L`` → the change; else ``None``."""
    if not command.startswith("npm config "):
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if len(words) < 4 or words[2] not in ("set", "delete"):
        return None
    location = "user"
    rest = []
    for word in words[3:]:
        if word.startswith("--location="):
            location = word.split("=", 1)[1]
        else:
            rest.append(word)
    if not rest or location not in ("user", "project", "global"):
        return None
    if words[2] == "delete":
        return ConfigChange("delete", rest[0], None, location)  # type: ignore[arg-type]
    key, sep, value = rest[0].partition("=")
    if not sep and len(rest) > 1:
        value = rest[1]
    return ConfigChange("set", key, value, location)  # type: ignore[arg-type]


def other_command(command: str, tool: str) -> str:
    """``npm config get``, ``npm login``/``logout``/``whoami`` in the tool's words (others unchanged)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    if len(words) < 2 or words[0] != "npm":
        return command
    if words[1:3] == ["config", "get"] and len(words) == 4:
        key = words[3]
        if tool in GET_NAMES:
            return GET_NAMES[tool].format(key=shell_quote(key))
        if tool == "yarn-berry":
            return f"yarn config get {BERRY_SETTINGS.get(key, key)}"
        if tool == "bun":
            return BUN_GET.get(key, command)
    if words[1] in ("login", "logout", "whoami"):
        if tool == "pnpm":
            return "pnpm " + " ".join(shlex.quote(w) for w in words[1:])
        if tool == "yarn-berry":  # berry logs in to the registry its config names (npmRegistryServer/npmScopes)
            return f"yarn npm {words[1]}"
    if words[1] == "--cafile":  # npm-inspect's own CA, for a client that refused it
        return f"npm-inspect run -- {tool.split('-')[0]} install"
    return command


def for_tool(findings: list[Finding], tool: str) -> list[Finding]:
    """``findings`` with their commands in ``tool``'s syntax (npm: unchanged); see the module docstring."""
    if tool == "npm":
        return findings
    adapter = adapter_for(tool)
    out = []
    for finding in findings:
        commands: list[str] = []
        caveats: list[str] = []
        for command in finding.commands:
            change = npm_config_change(command)
            if change is None:
                translated = other_command(command, tool)
                if translated not in commands:
                    commands.append(translated)
                continue
            step = adapter.fix_step(change)
            if not step.supported:
                if step.unsupported and step.unsupported not in caveats:
                    caveats.append(step.unsupported)
                continue
            if step.text not in commands:
                commands.append(step.text)
            if step.note and step.note not in caveats:
                caveats.append(step.note)
        out.append(replace(finding, commands=tuple(commands), caveats=(*caveats, *(c for c in finding.caveats if c not in caveats))))
    return out


__all__ = ["for_tool", "npm_config_change", "other_command"]
