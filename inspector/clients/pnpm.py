"""pnpm 12: a native binary with its own config files and its own environment prefix.

Measured with pnpm 12.4.2 (see the module's tests and FIELD-NOTES):

- Environment: ``pnpm_config_*`` (any case), **not** ``npm_config_*`` — except
  ``npm_config_userconfig``, which still names the user ``.npmrc``. From the
  environment pnpm reads ``registry``, ``https_proxy``, ``http_proxy``,
  ``proxy``, ``noproxy``/``no_proxy``; it ignores ``pnpm_config_cafile``,
  ``_ca`` and ``_strict_ssl``.
- Files, highest first: project ``pnpm-workspace.yaml`` (settings) and
  ``.npmrc`` (registry, scopes, auth, cafile, strict-ssl, and still
  ``https-proxy``/``proxy``/``noproxy``); the global
  ``$XDG_CONFIG_HOME/pnpm/config.yaml`` (settings) and ``auth.ini`` (npmrc
  syntax); then the user ``~/.npmrc``. ``HTTPS_PROXY`` is used only when no
  config sets a proxy (the docs say the opposite; the binary does this).
- ``pnpm config set`` writes registry/scope/auth/cafile keys to ``auth.ini``
  (``--location project``: ``.npmrc``) and other settings to ``config.yaml``
  (``pnpm-workspace.yaml``). ``strictSsl`` in those YAML files is **ignored**
  by 12.4.2, so ``pnpm config set strict-ssl false`` does nothing; ``strict-ssl``
  in an ``.npmrc``/``auth.ini`` works.
- TLS: ``NODE_EXTRA_CA_CERTS`` (and ``SSL_CERT_FILE``) *add* to what pnpm trusts,
  even with a ``cafile`` set — unlike npm. So the injection is
  ``pnpm_config_https_proxy``/``_http_proxy``/``_proxy`` (beat every file) plus
  ``NODE_EXTRA_CA_CERTS``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from ..diagnose.findings import ConfigChange
from ..npmrcfile import apply_to_npmrc
from ..npmconfig import parse_npmrc
from .common import (
    ClientConfigSnapshot,
    Detection,
    FixCopy,
    FixStep,
    Injection,
    NativeLayer,
    RawClientConfig,
    cli_values,
    find_up,
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
    xdg_config_home,
    home,
)
from .writes import WriteTarget
from .yamlfiles import dump_yaml, load_yaml

ENV_PREFIX = "pnpm_config_"
ENV_KEYS = {"registry": "registry", "https_proxy": "https-proxy", "proxy": "proxy", "http_proxy": "proxy", "noproxy": "noproxy", "no_proxy": "noproxy"}
IGNORED_ENV = ("cafile", "ca", "strict_ssl")
YAML_KEYS = {"registry": "registry", "httpsProxy": "https-proxy", "httpProxy": "proxy", "proxy": "proxy", "noProxy": "noproxy", "noproxy": "noproxy"}
NPMRC_KEYS = ("registry", "https-proxy", "proxy", "noproxy", "cafile", "ca", "strict-ssl", "always-auth")
CLI_FLAGS = ("registry", "https-proxy", "proxy", "http-proxy", "noproxy", "cafile", "ca", "strict-ssl")
REWRITTEN_FLAGS = ("https-proxy", "proxy", "http-proxy", "cafile", "ca")
INJECTED_ENV = ("pnpm_config_https_proxy", "pnpm_config_http_proxy", "pnpm_config_proxy", "NODE_EXTRA_CA_CERTS")
#: keys ``pnpm config set`` writes to a YAML settings file (the rest go to auth.ini / .npmrc)
SETTINGS_KEYS = {"https-proxy": "httpsProxy", "proxy": "proxy", "noproxy": "noproxy"}
#: keys pnpm reads from ``pnpm_config_*``: a copy applies them there, where they beat every file
ENV_APPLICABLE = {"registry": "pnpm_config_registry", "https-proxy": "pnpm_config_https_proxy", "proxy": "pnpm_config_proxy", "noproxy": "pnpm_config_noproxy"}


def workspace_root(cwd: str) -> Path | None:
    found = find_up(cwd, "pnpm-workspace.yaml")
    return found[0].parent if found else project_dir(cwd)


def user_npmrc(env: Mapping[str, str]) -> Path:
    for name, value in env.items():
        if name.lower() in ("pnpm_config_userconfig", "npm_config_userconfig", "pnpm_config_npmrc_auth_file") and value:
            return Path(value).expanduser()
    return home(env) / ".npmrc"


def global_dir(env: Mapping[str, str]) -> Path:
    return xdg_config_home(env) / "pnpm"


def _npmrc_layer(name: str, path: Path, env: Mapping[str, str]) -> NativeLayer:
    layer = new_layer(name, str(path))
    text = read_text(path)
    if text is None:
        return layer
    for key, value in parse_npmrc(text, dict(env)).items():
        if key in NPMRC_KEYS or scope_of_key(key) or is_auth_key(key):
            layer.set(key, value, key)
    return layer


def _yaml_layer(name: str, path: Path, notes: list[str]) -> NativeLayer:
    layer = new_layer(name, str(path))
    data = load_yaml(path)
    for native, key in YAML_KEYS.items():
        if native in data and data[native] is not None and key not in layer.layer.values:
            layer.set(key, str(data[native]), native)
    if "strictSsl" in data:
        notes.append(f"strictSsl in {path} is ignored by pnpm 12.4 (measured); strict-ssl in an .npmrc or auth.ini works")
    return layer


class PnpmAdapter:
    tool = "pnpm"

    def read_config(self, detection: Detection, argv: list[str], *, cwd: str, env: Mapping[str, str]) -> RawClientConfig:
        notes: list[str] = []
        cli = new_layer("cli", None, "command line")
        for key, value in cli_values(argv[1:], CLI_FLAGS).items():
            cli.set("proxy" if key == "http-proxy" else key, value, "--" + key)
        env_layer = new_layer("env", None, "environment")
        for name, value in sorted(env.items(), key=lambda kv: kv[0].lower() == "pnpm_config_proxy"):  # http_proxy beats proxy
            lowered = name.lower()
            if not lowered.startswith(ENV_PREFIX) or value == "":
                continue
            short = lowered[len(ENV_PREFIX) :]
            if short in ENV_KEYS and ENV_KEYS[short] not in env_layer.layer.values:
                env_layer.set(ENV_KEYS[short], value, name)
            elif short in IGNORED_ENV:
                notes.append(f"{name} is set, but pnpm 12 does not read {short} from the environment")
        ignored_npm = sorted(n for n in env if n.lower().startswith("npm_config_") and n.lower() != "npm_config_userconfig")
        if ignored_npm:
            notes.append(f"pnpm 12 ignores npm_config_* variables ({', '.join(ignored_npm[:4])}{'…' if len(ignored_npm) > 4 else ''})")

        root = workspace_root(cwd)
        layers: list[NativeLayer] = [cli, env_layer]
        files: dict[str, str] = {}
        if root is not None:
            files["project-settings"] = str(root / "pnpm-workspace.yaml")
            files["project-rc"] = str(root / ".npmrc")
            layers.append(_yaml_layer("project", root / "pnpm-workspace.yaml", notes))
            layers.append(_npmrc_layer("project", root / ".npmrc", env))
        gdir = global_dir(env)
        files["global-settings"] = str(gdir / "config.yaml")
        files["global-rc"] = str(gdir / "auth.ini")
        files["user-rc"] = str(user_npmrc(env))
        layers.append(_yaml_layer("user", gdir / "config.yaml", notes))
        layers.append(_npmrc_layer("user", gdir / "auth.ini", env))
        layers.append(_npmrc_layer("user", user_npmrc(env), env))
        raw = layered_config([n.layer for n in layers], env=env, cwd=cwd, local_prefix=str(root) if root else None)
        return RawClientConfig("pnpm", detection.version, raw, origins_of(layers), notes, files)

    def trust_pems(self, config: RawClientConfig) -> str:
        """Only what ``NODE_EXTRA_CA_CERTS`` held: the injection replaces it, and pnpm adds it to its own trust."""
        extra = config.raw.env.get("NODE_EXTRA_CA_CERTS")
        return (read_text(Path(extra)) or "") if extra else ""

    def inject(
        self, detection: Detection, argv: list[str], *, proxy_url: str, ca_bundle: Path, config: RawClientConfig, env: Mapping[str, str]
    ) -> Injection:
        return Injection(
            argv=[detection.program, *strip_flags(argv[1:], REWRITTEN_FLAGS)],
            set_env={
                "pnpm_config_https_proxy": proxy_url,
                "pnpm_config_http_proxy": proxy_url,
                "pnpm_config_proxy": proxy_url,
                "NODE_EXTRA_CA_CERTS": str(ca_bundle),
            },
            unset_env=INJECTED_ENV,
        )

    def fix_step(self, change: ConfigChange, config: ClientConfigSnapshot | None = None) -> FixStep:
        where = " --location project" if change.location == "project" else ""
        if change.key == "strict-ssl":
            file = ".npmrc (in the project)" if change.location == "project" else "~/.config/pnpm/auth.ini"
            if change.action == "delete":
                return FixStep(change, "pnpm", file=file, edit="remove the strict-ssl= line", note=_STRICT_NOTE)
            return FixStep(change, "pnpm", file=file, edit=f"strict-ssl={change.value}", note=_STRICT_NOTE)
        if change.action == "delete":
            return FixStep(change, "pnpm", command=f"pnpm config delete {shell_quote(change.key)}{where}")
        value = "<token>" if change.action == "copy" else (change.value or "")
        return FixStep(change, "pnpm", command=f"pnpm config set {shell_quote(change.key)} {shell_quote(value)}{where}")

    def apply_to_copy(
        self, changes: list[ConfigChange], config: RawClientConfig, argv: list[str], *, env: Mapping[str, str]
    ) -> FixCopy:
        """Keys pnpm reads from the environment go there; the rest into a private copy of the global config dir.

        The copy is ``$XDG_CONFIG_HOME/pnpm`` (auth.ini beats ~/.npmrc) under a temporary ``XDG_CONFIG_HOME``;
        a key the project's own files set cannot be overridden that way and is reported unverifiable.
        """
        raw = config.raw
        workdir = private_workdir()
        src = global_dir(env)
        dst = workdir / "pnpm"
        if src.is_dir():
            shutil.copytree(src, dst)
            for path in dst.rglob("*"):
                os.chmod(path, 0o700 if path.is_dir() else 0o600)
        else:
            dst.mkdir(mode=0o700)
        set_env: dict[str, str] = {"XDG_CONFIG_HOME": str(workdir)}
        unset: list[str] = []
        unverifiable: list[tuple[ConfigChange, str]] = []
        auth_ini = dst / "auth.ini"
        settings = dst / "config.yaml"
        ini_changes: list[ConfigChange] = []
        for change in changes:
            _, layer = raw.lookup(change.key)
            if change.key in ENV_APPLICABLE:
                name = ENV_APPLICABLE[change.key]
                if change.action == "delete":
                    unset.append(name)
                    if change.key in SETTINGS_KEYS:
                        _drop_yaml_key(settings, SETTINGS_KEYS[change.key])
                    ini_changes.append(change)
                    if layer is not None and layer.name in ("project", "cli"):
                        unverifiable.append((change, f"{change.key} is set in {layer.path or layer.name}, which a copy cannot override"))
                else:
                    value = resolved_value(change, raw)
                    if value:
                        set_env[name] = value
                continue
            if layer is not None and layer.name == "project":
                unverifiable.append((change, f"{change.key} is set in {layer.path}, which beats pnpm's global config"))
            ini_changes.append(change)
        original = read_text(auth_ini) or ""
        write_private_file(dst, "auth.ini", apply_to_npmrc(original, ini_changes, raw))
        files = [auth_ini]
        # a deletion must reach the lowest user file too: auth.ini beats ~/.npmrc, but a key removed only from auth.ini
        # still comes from ~/.npmrc — so the copy of ~/.npmrc (npm_config_userconfig, which pnpm honours) drops it too
        deletions = [c for c in ini_changes if c.action == "delete"]
        home_rc = user_npmrc(env)
        if deletions and any(layer.path == str(home_rc) and any(c.key in layer.values for c in deletions) for layer in raw.layers):
            files.append(write_private_file(workdir, "userconfig.npmrc", apply_to_npmrc(read_text(home_rc) or "", deletions, raw)))
            set_env["npm_config_userconfig"] = str(files[-1])
        injection = Injection(argv=list(argv), set_env=set_env, unset_env=tuple(unset), workdir=workdir, files=tuple(files))
        return FixCopy(injection, unverifiable)

    def write_target(self, change: ConfigChange, config: RawClientConfig) -> WriteTarget:
        """Where ``pnpm config set`` writes (proxies: ``pnpm-workspace.yaml``/``config.yaml``; the rest: the project
        ``.npmrc``/``auth.ini``), unless a file at that location sets the key today; strict-ssl never in YAML (ignored)."""
        project = change.location == "project"
        found = winning_file(config, change.key, change.location)
        if found is not None and not (change.key == "strict-ssl" and found[0].suffix == ".yaml"):
            path, native = found
            if path.suffix == ".yaml":
                return WriteTarget(path, "yaml", native)
            return WriteTarget(path, "npmrc", change.key, env_reference="${%s}")
        root = Path(config.raw.local_prefix or config.raw.cwd or ".")
        if change.key in SETTINGS_KEYS:
            path = Path(config.files.get("project-settings") or root / "pnpm-workspace.yaml") if project else Path(config.files["global-settings"])
            return WriteTarget(path, "yaml", SETTINGS_KEYS[change.key])
        path = Path(config.files.get("project-rc") or root / ".npmrc") if project else Path(config.files["global-rc"])
        return WriteTarget(path, "npmrc", change.key, env_reference="${%s}")


_STRICT_NOTE = "pnpm 12.4 ignores strictSsl in config.yaml and pnpm-workspace.yaml (what 'pnpm config set strict-ssl' writes): edit the file"


def _drop_yaml_key(path: Path, key: str) -> None:
    data = load_yaml(path)
    if key in data:
        del data[key]
        write_private_file(path.parent, path.name, dump_yaml(data))
