"""yarn classic (1.x): its own ``.yarnrc`` files and ``YARN_*`` variables first, then npm's config.

Measured with yarn 1.22.22:

- ``yarn config get`` looks in yarn's config (``YARN_*``/``yarn_*`` variables,
  then ``.yarnrc`` in the folder and its parents, then ``~/.yarnrc``), then in
  npm's (``npm_config_*``, project ``.npmrc``, ``npm_config_userconfig`` or
  ``~/.npmrc``, npm's global npmrc — on this machine ``/usr/etc/npmrc`` sets a
  ``cafile``). ``YARN_HTTPS_PROXY`` beats a ``.yarnrc`` ``https-proxy``;
  ``YARN_CAFILE`` beats every ``cafile``.
- ``cafile`` *replaces* Node's roots (``NODE_EXTRA_CA_CERTS`` is then ignored:
  "unable to verify the first certificate"); ``cafile`` overrides ``ca``.
- A proxy from config ignores ``NO_PROXY``; ``HTTPS_PROXY``/``HTTP_PROXY`` and
  ``NO_PROXY`` are used only when no config sets a proxy. There is no
  ``noproxy`` setting.
- ``yarn config set KEY VALUE`` writes ``~/.yarnrc`` (no ``--location``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from .. import ca
from ..diagnose.findings import ConfigChange
from ..npmrcfile import apply_to_npmrc
from ..npmconfig import env_layer, parse_npmrc
from .common import (
    YARN_DEFAULT_REGISTRY,
    ClientConfigSnapshot,
    Detection,
    FixCopy,
    FixStep,
    Injection,
    NativeLayer,
    RawClientConfig,
    cli_values,
    find_up,
    home,
    is_auth_key,
    layered_config,
    new_layer,
    origins_of,
    private_workdir,
    project_dir,
    read_text,
    resolved_value,
    scope_of_key,
    shell_quote,
    strip_flags,
    winning_file,
    write_private_file,
)
from .writes import WriteTarget

KEYS = ("registry", "https-proxy", "proxy", "cafile", "ca", "strict-ssl", "always-auth")
CLI_FLAGS = ("registry", "https-proxy", "proxy", "cafile", "ca", "strict-ssl")
REWRITTEN_FLAGS = ("https-proxy", "proxy", "cafile", "ca")
INJECTED_ENV = ("YARN_HTTPS_PROXY", "YARN_PROXY", "YARN_CAFILE", "YARN_CA")
NO_NOPROXY = (
    "yarn classic has no noproxy setting: NO_PROXY is honoured only when the proxy itself comes from HTTPS_PROXY/"
    "HTTP_PROXY. Remove the proxy from your .yarnrc/.npmrc, export HTTPS_PROXY and NO_PROXY instead"
)


def parse_yarnrc(text: str) -> dict[str, object]:
    """``key value`` / ``"key" "value"`` lines of a ``.yarnrc`` (yarn 1's lockfile syntax, flat part)."""
    values: dict[str, object] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or raw_line[:1] in (" ", "\t"):
            continue
        key, value = _split(line)
        if key:
            values[key] = value
    return values


def _split(line: str) -> tuple[str, object]:
    if line.startswith('"'):
        end = line.find('"', 1)
        while end > 0 and line[end - 1] == "\\":
            end = line.find('"', end + 1)
        key, rest = (line[1:end], line[end + 1 :]) if end > 0 else (line, "")
    else:
        key, _, rest = line.partition(" ")
    rest = rest.strip()
    if rest.startswith('"') and rest.endswith('"') and len(rest) >= 2:
        try:
            return key, json.loads(rest)
        except ValueError:
            return key, rest[1:-1]
    if rest in ("true", "false"):
        return key, rest
    return key, rest


def _yarnrc_line(key: str, value: str) -> str:
    return f"{json.dumps(key) if not key.replace('-', '').isalnum() else key} {json.dumps(value)}"


def global_npmrc(env: Mapping[str, str]) -> Path | None:
    """npm's global npmrc as yarn 1 finds it: ``npm_config_globalconfig``, else ``<node prefix>/etc/npmrc``."""
    for name, value in env.items():
        if name.lower() == "npm_config_globalconfig" and value:
            return Path(value)
    import shutil

    node = shutil.which("node", path=env.get("PATH"))
    return Path(node).resolve().parent.parent / "etc" / "npmrc" if node else None


def user_npmrc(env: Mapping[str, str]) -> Path:
    for name, value in env.items():
        if name.lower() == "npm_config_userconfig" and value:
            return Path(value).expanduser()
    return home(env) / ".npmrc"


def _keep(key: str) -> bool:
    return key in KEYS or scope_of_key(key) is not None or is_auth_key(key)


class YarnClassicAdapter:
    tool = "yarn-classic"

    def read_config(self, detection: Detection, argv: list[str], *, cwd: str, env: Mapping[str, str]) -> RawClientConfig:
        layers: list[NativeLayer] = []
        cli = new_layer("cli", None, "command line")
        for key, value in cli_values(argv[1:], CLI_FLAGS).items():
            cli.set(key, value, "--" + key)
        layers.append(cli)
        yarn_env = new_layer("env", None, "environment")
        for name, value in env.items():
            if name.lower().startswith("yarn_") and value != "":
                short = name[5:]
                key = short if short.startswith("//") else short.lower().replace("_", "-")
                if _keep(key):
                    yarn_env.set(key, value, name)
        layers.append(yarn_env)
        user_home = home(env).resolve()
        for path in find_up(cwd, ".yarnrc", stop_at_first=False):
            if path.parent.resolve() == user_home:
                continue
            layers.append(self._yarnrc_layer("project", path))
        layers.append(self._yarnrc_layer("user", user_home / ".yarnrc"))
        npm_env = new_layer("env", None, "environment")
        for key, value in env_layer(dict(env)).items():
            if _keep(key):
                native = next((n for n in env if n.lower().startswith("npm_config_") and n[11:].lower().replace("_", "-") == key.lower()), key)
                npm_env.set(key, value, native)
        layers.append(npm_env)
        project = project_dir(cwd)
        files = {"user-rc": str(user_home / ".yarnrc"), "user-npmrc": str(user_npmrc(env))}
        if project is not None:
            files["project-rc"] = str(project / ".yarnrc")
            files["project-npmrc"] = str(project / ".npmrc")
            layers.append(self._npmrc_layer("project", project / ".npmrc", env))
        layers.append(self._npmrc_layer("user", user_npmrc(env), env))
        glob = global_npmrc(env)
        if glob is not None:
            files["global-npmrc"] = str(glob)
            layers.append(self._npmrc_layer("global", glob, env))
        default = new_layer("default", None, "yarn's default")
        default.set("registry", YARN_DEFAULT_REGISTRY, "registry")
        layers.append(default)
        notes = []
        if any(n.upper() in ("NO_PROXY",) for n in env) and any("proxy" in n.layer.values or "https-proxy" in n.layer.values for n in layers):
            notes.append("NO_PROXY is set, but yarn classic ignores it when the proxy comes from its config")
        raw = layered_config([n.layer for n in layers], env=env, cwd=cwd, local_prefix=str(project) if project else None)
        return RawClientConfig("yarn-classic", detection.version, raw, origins_of(layers), notes, files)

    @staticmethod
    def _yarnrc_layer(name: str, path: Path) -> NativeLayer:
        layer = new_layer(name, str(path))
        text = read_text(path)
        for key, value in (parse_yarnrc(text) if text else {}).items():
            if _keep(key):
                layer.set(key, value, key)
        return layer

    @staticmethod
    def _npmrc_layer(name: str, path: Path, env: Mapping[str, str]) -> NativeLayer:
        layer = new_layer(name, str(path))
        text = read_text(path)
        for key, value in (parse_npmrc(text, dict(env)) if text else {}).items():
            if _keep(key):
                layer.set(key, value, key)
        return layer

    def trust_pems(self, config: RawClientConfig) -> str:
        """yarn 1's ``cafile``/``ca`` replace Node's roots, as npm's do."""
        return config.raw.ca_pems() or ca.node_root_certificates()

    def inject(
        self, detection: Detection, argv: list[str], *, proxy_url: str, ca_bundle: Path, config: RawClientConfig, env: Mapping[str, str]
    ) -> Injection:
        return Injection(
            argv=[detection.program, *strip_flags(argv[1:], REWRITTEN_FLAGS)],
            set_env={"YARN_HTTPS_PROXY": proxy_url, "YARN_PROXY": proxy_url, "YARN_CAFILE": str(ca_bundle)},
            unset_env=INJECTED_ENV,
        )

    def fix_step(self, change: ConfigChange, config: ClientConfigSnapshot | None = None) -> FixStep:
        if change.key == "noproxy":
            return FixStep(change, "yarn-classic", unsupported=NO_NOPROXY)
        value = "<token>" if change.action == "copy" else (change.value or "")
        if is_auth_key(change.key):
            npmrc = ".npmrc (in the project)" if change.location == "project" else "~/.npmrc"
            edit = f"remove the {change.key}= line" if change.action == "delete" else f"{change.key}={value}"
            return FixStep(change, "yarn-classic", file=npmrc, edit=edit, note="yarn 1 reads registry tokens from npm's .npmrc")
        if change.location == "project":
            edit = f"remove the {change.key} line" if change.action == "delete" else _yarnrc_line(change.key, value)
            return FixStep(change, "yarn-classic", file=".yarnrc (in the project)", edit=edit)
        if change.action == "delete":
            return FixStep(change, "yarn-classic", command=f"yarn config delete {shell_quote(change.key)}")
        return FixStep(change, "yarn-classic", command=f"yarn config set {shell_quote(change.key)} {shell_quote(value)}")

    def apply_to_copy(
        self, changes: list[ConfigChange], config: RawClientConfig, argv: list[str], *, env: Mapping[str, str]
    ) -> FixCopy:
        """``YARN_*`` variables beat every file for plain keys; tokens go into a private copy of the user .npmrc."""
        raw = config.raw
        set_env: dict[str, str] = {}
        unset: list[str] = []
        unverifiable: list[tuple[ConfigChange, str]] = []
        npmrc_changes: list[ConfigChange] = []
        for change in changes:
            if change.key == "noproxy":
                unverifiable.append((change, NO_NOPROXY))
                continue
            if is_auth_key(change.key):
                npmrc_changes.append(change)
                _, layer = raw.lookup(change.key)
                if layer is not None and layer.path and not layer.path.endswith(".npmrc") and layer.name != "user":
                    unverifiable.append((change, f"{change.key} is also set in {layer.path}, which beats the user .npmrc"))
                continue
            name = "YARN_" + change.key.upper().replace("-", "_") if not change.key.startswith("@") else "yarn_" + change.key
            if change.action == "delete":
                unset.append(name)
                _, layer = raw.lookup(change.key)
                if layer is not None and layer.name not in ("env", "default"):
                    unverifiable.append((change, f"{change.key} is set in {layer.path}: a copy cannot remove it"))
            else:
                value = resolved_value(change, raw)
                if value:
                    set_env[name] = value
        workdir = None
        files: tuple[Path, ...] = ()
        if npmrc_changes:
            workdir = private_workdir()
            original = read_text(user_npmrc(env)) or ""
            copy = write_private_file(workdir, "userconfig.npmrc", apply_to_npmrc(original, npmrc_changes, raw))
            set_env["npm_config_userconfig"] = str(copy)
            files = (copy,)
        return FixCopy(Injection(list(argv), set_env, tuple(unset), workdir, files), unverifiable)

    def write_target(self, change: ConfigChange, config: RawClientConfig) -> WriteTarget:
        """A file at the change's location that sets the key today; else ``.yarnrc`` (``yarn config set`` writes
        ``~/.yarnrc``) — tokens in the ``.npmrc`` yarn 1 reads them from. No file holds a noproxy."""
        if change.key == "noproxy":
            return WriteTarget(None, unsupported=NO_NOPROXY)
        found = winning_file(config, change.key, change.location)
        if found is not None:
            path = found[0]
            if path.name.endswith("npmrc"):
                return WriteTarget(path, "npmrc", change.key, env_reference="${%s}")
            return WriteTarget(path, "yarnrc", change.key)
        project = change.location == "project"
        files = config.files
        root = Path(config.raw.local_prefix or config.raw.cwd or ".")
        if is_auth_key(change.key):
            path = Path(files.get("project-npmrc") or root / ".npmrc") if project else Path(files["user-npmrc"])
            return WriteTarget(path, "npmrc", change.key, env_reference="${%s}")
        path = Path(files.get("project-rc") or root / ".yarnrc") if project else Path(files["user-rc"])
        return WriteTarget(path, "yarnrc", change.key)
