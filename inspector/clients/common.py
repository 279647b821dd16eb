"""What every package-manager adapter speaks: detection, injection, config and fix steps.

An adapter knows one tool (npm, pnpm, yarn classic, yarn berry, bun) and does
four things, each measured against the real tool (see FIELD-NOTES):

- :class:`Detection` — which tool and version a command line runs;
- :class:`Injection` — the environment, temporary files and argv changes that
  make the tool send every registry request through the inspector and trust
  its CA, without touching the user's files and without the proxy URL (which
  holds the run's credential) on a command line;
- :class:`RawClientConfig` — the tool's effective registry, scopes, proxy, CA,
  auth and strict-ssl, translated to npm's key names inside a
  :class:`~inspector.npmconfig.RawNpmConfig` so the diagnosis engine and the
  upstream choice work unchanged; :meth:`RawClientConfig.snapshot` is the
  redacted view (secrets only as fingerprints);
- :class:`FixStep` — a diagnosis :class:`~inspector.diagnose.ConfigChange` in
  the tool's own syntax, or the reason the tool cannot do it.

This module imports neither mitmproxy nor textual.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..diagnose.findings import ConfigChange
from ..diagnose.tools import TOOL_NAMES  # noqa: F401  (re-exported by inspector.clients)
from ..errors import ClientNotFoundError
from ..npmconfig import NpmConfigSnapshot, RawLayer, RawNpmConfig, nerf_dart

if TYPE_CHECKING:
    from .writes import WriteTarget

logger = logging.getLogger(__name__)

Tool = Literal["npm", "pnpm", "yarn-classic", "yarn-berry", "bun"]
TOOLS: tuple[Tool, ...] = ("npm", "pnpm", "yarn-classic", "yarn-berry", "bun")
YARN_DEFAULT_REGISTRY = "https://registry.yarnpkg.com/"
PROXY_ENV = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")


# -- detection ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """Which package manager a command line runs, and why we think so."""

    tool: Tool
    program: str
    """The executable that will run (an absolute path when found on PATH)."""
    version: str | None
    """What ``<program> --version`` printed in the project (``None``: it could not be asked)."""
    project: str | None = None
    """The nearest folder with a package.json, from the working directory up."""
    reasons: tuple[str, ...] = ()
    """How the tool (and for yarn the flavour) was decided, for explanations."""
    warnings: tuple[str, ...] = ()
    """Disagreements worth showing, e.g. ``packageManager`` asks for yarn 4 but yarn 1 is on PATH."""

    @property
    def display(self) -> str:
        """``yarn 4.18.1 (berry)``, ``pnpm 12.4.2``, ``npm``."""
        base = "yarn" if self.tool.startswith("yarn") else self.tool
        flavour = f" ({self.tool.split('-', 1)[1]})" if self.tool.startswith("yarn") else ""
        return f"{base}{' ' + self.version if self.version else ''}{flavour}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "program": Path(self.program).name,
            "version": self.version,
            "display": self.display,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
        }


# -- injection ---------------------------------------------------------------------------------


@dataclass
class Injection:
    """How to run the tool through the inspector: environment changes, argv, temporary files.

    ``set_env`` holds the proxy URL with the run's credential: apply it to the child's environment only,
    never log or show it. ``cleanup()`` removes every temporary file (also as a context manager).
    """

    argv: list[str]
    set_env: dict[str, str] = field(default_factory=dict, repr=False)
    unset_env: tuple[str, ...] = ()
    """Variables removed from the child's environment before ``set_env`` is applied."""
    workdir: Path | None = None
    """A private temporary directory owned by this injection (removed by ``cleanup``)."""
    files: tuple[Path, ...] = ()
    """Temporary files written for the tool (all inside ``workdir``)."""
    notes: tuple[str, ...] = ()
    """What the injection could not cover (e.g. yarn berry's per-host ``networkSettings`` proxies)."""

    def child_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` with the injection applied: the environment to start the tool with."""
        unset = {name.lower() for name in self.unset_env}
        env = {k: v for k, v in base.items() if k.lower() not in unset}
        env.update(self.set_env)
        return env

    def cleanup(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> "Injection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


# -- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientConfigSnapshot:
    """A tool's effective configuration, safe to show, save and send.

    ``config`` uses npm's key names (``registry``, ``@scope:registry``, ``https-proxy``, ``proxy``,
    ``noproxy``, ``cafile``, ``strict-ssl``, ``//host/:_authToken``) so the diagnosis engine reads it
    unchanged; ``origins`` says, per npm key, the tool's own name for it and where it was set.
    """

    tool: Tool
    version: str | None
    config: NpmConfigSnapshot
    origins: dict[str, str] = field(default_factory=dict)
    """npm key → ``"<file or variable>: <tool's key>"`` (``"/p/.yarnrc.yml: npmScopes.corp.npmRegistryServer"``)."""
    notes: tuple[str, ...] = ()
    """Facts about this tool's config worth a sentence (``HTTPS_PROXY is set, but yarn berry ignores it``)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "version": self.version,
            "config": self.config.to_dict(),
            "origins": dict(self.origins),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClientConfigSnapshot":
        return cls(
            tool=data.get("tool", "npm"),
            version=data.get("version"),
            config=NpmConfigSnapshot.from_dict(data.get("config") or {}),
            origins=dict(data.get("origins") or {}),
            notes=tuple(data.get("notes") or ()),
        )


@dataclass
class RawClientConfig:
    """A tool's configuration with raw values (tokens, proxy passwords). Never serialise, log or show it."""

    tool: Tool
    version: str | None
    raw: RawNpmConfig = field(repr=False)
    """The tool's layers, highest first, translated to npm's key names."""
    origins: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    """Role → path of the tool's own files (``project-rc``, ``user-rc``, ``global-settings``…), read or not."""

    def secrets(self) -> list[str]:
        return self.raw.secrets()

    def snapshot(self) -> ClientConfigSnapshot:
        return ClientConfigSnapshot(
            tool=self.tool, version=self.version, config=self.raw.snapshot(), origins=dict(self.origins), notes=tuple(self.notes)
        )


def layered_config(
    layers: list[RawLayer],
    *,
    env: Mapping[str, str],
    cwd: str,
    node_version: str | None = None,
    local_prefix: str | None = None,
) -> RawNpmConfig:
    """A :class:`RawNpmConfig` over translated layers (no npm-specific ``effective`` listing)."""
    return RawNpmConfig(
        layers=layers, effective={}, npm_version=None, node_version=node_version, cwd=cwd, local_prefix=local_prefix, env=dict(env)
    )


@dataclass
class NativeLayer:
    """One translated layer and, per npm key, the tool's own name for it and where it was read."""

    layer: RawLayer
    names: dict[str, str] = field(default_factory=dict)
    """npm key → the tool's key (``https-proxy`` → ``httpsProxy``; env layers: the variable's name)."""
    where: str = ""
    """A file path, ``environment`` or ``command line``."""

    def set(self, key: str, value: Any, native: str) -> None:
        self.layer.values[key] = value
        self.names[key] = native


def new_layer(name: str, path: str | None, where: str | None = None) -> NativeLayer:
    return NativeLayer(RawLayer(name, path, {}), {}, where or path or name)


def origins_of(layers: Iterable[NativeLayer]) -> dict[str, str]:
    """npm key → ``"<where>: <tool's key>"`` for the layer that wins each key."""
    origins: dict[str, str] = {}
    for native in layers:
        for key in native.layer.values:
            if key not in origins:
                origins[key] = f"{native.where}: {native.names.get(key, key)}"
    return origins


# -- fixes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixStep:
    """One config change in a tool's own syntax: a command, a file edit, or why the tool cannot do it."""

    change: ConfigChange
    tool: Tool
    command: str | None = None
    """A shell command that makes the change (``yarn config set httpsProxy …``)."""
    file: str | None = None
    """The file to edit when no command does it (``~/.bunfig.toml``)."""
    edit: str | None = None
    """What to put in ``file`` (a TOML/YAML/ini snippet)."""
    unsupported: str | None = None
    """Set when the tool has no such setting: the explanation, and what to do instead."""
    note: str | None = None

    @property
    def supported(self) -> bool:
        return self.unsupported is None

    @property
    def text(self) -> str:
        """One human line: the command, the edit, or the reason."""
        if self.command:
            return self.command
        if self.file and self.edit is not None:
            return f"in {self.file}:\n{self.edit}"
        return self.unsupported or ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "action": self.change.action,
            "key": self.change.key,
            "command": self.command,
            "file": self.file,
            "edit": self.edit,
            "unsupported": self.unsupported,
            "note": self.note,
        }


@dataclass
class FixCopy:
    """A set of changes applied to temporary copies, for ``--verify-fix``: run the tool with ``injection``."""

    injection: Injection
    unverifiable: list[tuple[ConfigChange, str]] = field(default_factory=list)
    """Changes that could not be applied to a copy (and why): a re-run does not prove them."""


def shell_quote(value: str) -> str:
    """POSIX single quotes unless the value is plainly safe (same safe set as npm's commands)."""
    if value and all(c.isalnum() or c in "@%+=:,./-_~" for c in value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def resolved_value(change: ConfigChange, raw: RawNpmConfig) -> str | None:
    """The value a change sets: its own for ``set``, the raw value of the key it names for ``copy``."""
    if change.action == "set":
        return change.value
    if change.action == "copy":
        value = raw.get(change.value or "")
        return str(value) if value is not None else None
    return None


def is_auth_key(key: str) -> bool:
    return key.startswith("//") and ":" in key


def split_auth_key(key: str) -> tuple[str, str]:
    """``//host/path/:_authToken`` → (``//host/path/``, ``_authToken``)."""
    nerf, _, name = key.rpartition(":")
    return (nerf if nerf.endswith("/") else nerf + "/"), name


def scope_of_key(key: str) -> str | None:
    """``@corp:registry`` → ``@corp``."""
    if key.startswith("@") and key.endswith(":registry"):
        return key[: -len(":registry")]
    return None


# -- the adapter protocol ----------------------------------------------------------------------


class ClientAdapter(Protocol):
    """One package manager. Implementations: :mod:`inspector.clients.npm`, ``pnpm``, ``yarn_classic``, ``yarn_berry``, ``bun``."""

    tool: Tool

    def read_config(self, detection: Detection, argv: list[str], *, cwd: str, env: Mapping[str, str]) -> RawClientConfig:
        """The tool's effective config and where each value came from."""
        ...

    def trust_pems(self, config: RawClientConfig) -> str:
        """The certificates the tool trusts today that the bundle handed to it must keep (besides npm-inspect's CA)."""
        ...

    def inject(
        self, detection: Detection, argv: list[str], *, proxy_url: str, ca_bundle: Path, config: RawClientConfig, env: Mapping[str, str]
    ) -> Injection:
        """Route the tool through ``proxy_url`` (environment or temporary file only) and make it trust ``ca_bundle``."""
        ...

    def fix_step(self, change: ConfigChange, config: ClientConfigSnapshot | None = None) -> FixStep:
        """``change`` in this tool's syntax."""
        ...

    def apply_to_copy(self, changes: list[ConfigChange], config: RawClientConfig, argv: list[str], *, env: Mapping[str, str]) -> FixCopy:
        """Apply ``changes`` to temporary copies of the tool's config and say how to run the tool against them."""
        ...

    def write_target(self, change: ConfigChange, config: RawClientConfig) -> "WriteTarget":
        """The file ``change`` is written to by ``w`` (the one that sets the key at that location today, else the
        one the tool's own ``config set`` writes), its format and the key's name there (see :mod:`.writes`)."""
        ...


# -- small shared helpers ----------------------------------------------------------------------


def which(program: str, env: Mapping[str, str]) -> str:
    """``program`` resolved on the child's PATH, or raise :class:`ClientNotFoundError`."""
    found = shutil.which(program, path=env.get("PATH"))
    if found:
        return found
    if os.sep in program and Path(program).exists():
        return program
    if Path(program).name in ("npm", "npx"):
        raise ClientNotFoundError(f"{program} is not on PATH: install Node.js and npm, or add npm's directory to PATH")
    raise ClientNotFoundError(f"{program} is not on PATH: install it, or add its directory to PATH")


def tool_version(program: str, *, cwd: str, env: Mapping[str, str], timeout: float = 30) -> str | None:
    """What ``program --version`` prints in ``cwd`` (yarn answers for the project's ``yarnPath``), or ``None``."""
    try:
        result = subprocess.run([program, "--version"], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as e:
        logger.debug("%s --version failed: %r", program, e)
        return None
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or not lines:
        return None
    version = lines[-1].lstrip("v")
    return version if version[:1].isdigit() else None


def find_up(start: str | Path, name: str, *, stop_at_first: bool = True) -> list[Path]:
    """``name`` in ``start`` and its parents (nearest first)."""
    found: list[Path] = []
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        candidate = folder / name
        if candidate.exists():
            found.append(candidate)
            if stop_at_first:
                break
    return found


def project_dir(cwd: str | Path) -> Path | None:
    """The nearest folder with a package.json, from ``cwd`` up."""
    found = find_up(cwd, "package.json")
    return found[0].parent if found else None


def package_manager_field(project: Path | None) -> str | None:
    """package.json's ``packageManager`` (``yarn@4.18.1+sha…``), or ``None``."""
    if project is None:
        return None
    try:
        data = json.loads((project / "package.json").read_text())
    except (OSError, ValueError):
        return None
    value = data.get("packageManager") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def xdg_config_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("XDG_CONFIG_HOME") or home(env) / ".config")


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def without(env: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """``env`` without ``names`` (case-insensitively: ``https_proxy`` and ``HTTPS_PROXY`` alike)."""
    lowered = {n.lower() for n in names}
    return {k: v for k, v in env.items() if k.lower() not in lowered}


def auth_nerf(registry: str) -> str:
    return nerf_dart(registry if registry.endswith("/") else registry + "/")


def strip_flags(args: list[str], names: Iterable[str]) -> list[str]:
    """``args`` without ``--name value`` / ``--name=value`` for ``names`` (up to a bare ``--``).

    Command-line config beats what the injection sets in the environment, so such flags would send the
    tool around the inspector; their values were read first (the config's "cli" layer).
    """
    wanted = set(names)
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg[2:].split("=", 1)[0] if arg.startswith("--") else None
        if arg == "--":
            out.extend(args[i:])
            break
        if name in wanted:
            if "=" not in arg and i + 1 < len(args) and not args[i + 1].startswith("-"):
                i += 1
        else:
            out.append(arg)
        i += 1
    return out


def cli_values(args: list[str], names: Iterable[str]) -> dict[str, str]:
    """``--name value`` / ``--name=value`` for ``names`` in ``args`` (the tool's command-line layer)."""
    wanted = set(names)
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name in wanted:
                if eq:
                    values[name] = value
                elif i + 1 < len(args) and not args[i + 1].startswith("-"):
                    values[name] = args[i + 1]
                    i += 1
            elif name.startswith("no-") and name[3:] in wanted:
                values[name[3:]] = "false"
        i += 1
    return values


def winning_file(config: RawClientConfig, key: str, location: str) -> tuple[Path, str] | None:
    """(file, the tool's name for ``key`` there) when the file that sets ``key`` today is at ``location``.

    A write there takes effect; a write to a lower file would be shadowed by it.
    """
    _, layer = config.raw.lookup(key)
    if layer is None or not layer.path or layer.name != location:
        return None
    origin = config.origins.get(key, "")
    where, _, native = origin.rpartition(": ")
    return Path(layer.path), (native if where == layer.path and native else key)


def private_workdir() -> Path:
    """A fresh owner-only temporary directory for one injection's files."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix="npm-inspect-client-"))


def write_private_file(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path
