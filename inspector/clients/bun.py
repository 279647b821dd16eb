"""bun: proxies from the environment only; registry, scopes and CA from bunfig.toml and .npmrc.

Measured with bun 1.4.4:

- Proxy: ``HTTPS_PROXY``/``https_proxy`` (``HTTP_PROXY`` for http:// registries),
  ``NO_PROXY`` honoured; ``https-proxy`` in ``.npmrc`` and ``npm_config_https_proxy``
  are **ignored** (bun connects directly). Loopback registries still go through the proxy.
- Registry: ``BUN_CONFIG_REGISTRY`` / ``NPM_CONFIG_REGISTRY`` beat ``bunfig.toml``
  ``[install] registry``, which beats ``.npmrc`` ``registry``. bun reads the project
  ``bunfig.toml``, the global ``$XDG_CONFIG_HOME/.bunfig.toml`` (else ``~/.bunfig.toml``),
  the project ``.npmrc`` and the user ``.npmrc`` (``npm_config_userconfig`` honoured).
- TLS: ``NODE_EXTRA_CA_CERTS`` / ``SSL_CERT_FILE`` add to bun's roots — but a ``cafile``
  (bunfig or .npmrc; bunfig wins) *replaces* them, and then no variable helps
  (``BUN_CONFIG_CAFILE``, ``NPM_CONFIG_CAFILE`` are not read). ``--cafile=PATH`` on the
  command line beats both files: the injection uses it only in that case (a path, no secret).
- bun has no ``config set`` command: fixes are bunfig.toml edits or exported variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
    auth_nerf,
    cli_values,
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
    strip_flags,
    winning_file,
    write_private_file,
    xdg_config_home,
)
from .writes import WriteTarget
from .yamlfiles import load_toml, toml_key, toml_string

NPMRC_KEYS = ("registry", "cafile", "ca", "always-auth")
IGNORED_NPMRC = ("https-proxy", "proxy", "noproxy", "strict-ssl")
CA_FLAGS = ("cafile", "ca")
INJECTED_ENV = ("HTTPS_PROXY", "HTTP_PROXY", "NODE_EXTRA_CA_CERTS")
NO_STRICT_SSL = (
    "bun has no strict-ssl setting; give it the CA instead (cafile in bunfig.toml), "
    "or, for one command only, NODE_TLS_REJECT_UNAUTHORIZED=0"
)


def global_bunfig(env: Mapping[str, str]) -> Path:
    xdg = xdg_config_home(env) / ".bunfig.toml"
    return xdg if env.get("XDG_CONFIG_HOME") or xdg.exists() else home(env) / ".bunfig.toml"


def user_npmrc(env: Mapping[str, str]) -> Path:
    for name, value in env.items():
        if name.lower() == "npm_config_userconfig" and value:
            return Path(value).expanduser()
    return home(env) / ".npmrc"


def _registry(value: str) -> str:
    return value if value.endswith("/") else value + "/"


def _bunfig_layer(name: str, path: Path) -> NativeLayer:
    layer = new_layer(name, str(path))
    install = load_toml(path).get("install") or {}
    if not isinstance(install, dict):
        return layer
    registry = install.get("registry")
    default_url = None
    if isinstance(registry, str):
        default_url = _registry(registry)
    elif isinstance(registry, dict) and registry.get("url"):
        default_url = _registry(str(registry["url"]))
    if default_url:
        layer.set("registry", default_url, "[install] registry")
        if isinstance(registry, dict) and registry.get("token"):
            layer.set(f"{auth_nerf(default_url)}:_authToken", str(registry["token"]), "[install.registry] token")
    for field_name in ("cafile", "ca"):
        if install.get(field_name):
            layer.set(field_name, install[field_name], f"[install] {field_name}")
    scopes = install.get("scopes") or {}
    for scope, entry in scopes.items() if isinstance(scopes, dict) else ():
        scope = str(scope).lstrip("@")
        url = entry if isinstance(entry, str) else entry.get("url") if isinstance(entry, dict) else None
        if url:
            layer.set(f"@{scope}:registry", _registry(str(url)), f"[install.scopes] {scope}")
            if isinstance(entry, dict) and entry.get("token"):
                layer.set(f"{auth_nerf(str(url))}:_authToken", str(entry["token"]), f"[install.scopes] {scope}.token")
    return layer


class BunAdapter:
    tool = "bun"

    def read_config(self, detection: Detection, argv: list[str], *, cwd: str, env: Mapping[str, str]) -> RawClientConfig:
        notes: list[str] = []
        cli = new_layer("cli", None, "command line")
        for key, value in cli_values(argv[1:], ("registry", *CA_FLAGS)).items():
            cli.set(key, value, "--" + key)
        env_layer = new_layer("env", None, "environment")
        for name in ("BUN_CONFIG_REGISTRY", "NPM_CONFIG_REGISTRY", "npm_config_registry"):
            if env.get(name) and "registry" not in env_layer.layer.values:
                env_layer.set("registry", _registry(env[name]), name)
        project = project_dir(cwd)
        root = project or Path(cwd)
        layers = [cli, env_layer, _bunfig_layer("project", root / "bunfig.toml"), _bunfig_layer("user", global_bunfig(env))]
        if env.get("BUN_CONFIG_TOKEN"):
            registry = next((n.layer.values["registry"] for n in layers if "registry" in n.layer.values), "https://registry.npmjs.org/")
            env_layer.set(f"{auth_nerf(registry)}:_authToken", env["BUN_CONFIG_TOKEN"], "BUN_CONFIG_TOKEN")
        for name, path in (("project", root / ".npmrc"), ("user", user_npmrc(env))):
            layer = new_layer(name, str(path))
            text = read_text(path)
            for key, value in (parse_npmrc(text, dict(env)) if text else {}).items():
                if key in NPMRC_KEYS or scope_of_key(key) or is_auth_key(key):
                    layer.set(key, value, key)
                elif key in IGNORED_NPMRC:
                    notes.append(f"{key} in {path} is ignored by bun (proxies come from HTTPS_PROXY/HTTP_PROXY/NO_PROXY only)"
                                 if key != "strict-ssl" else f"strict-ssl in {path} is ignored by bun")
            layers.append(layer)
        raw = layered_config([n.layer for n in layers], env=env, cwd=cwd, local_prefix=str(project) if project else None)
        files = {"project-rc": str(root / "bunfig.toml"), "user-rc": str(global_bunfig(env)),
                 "project-npmrc": str(root / ".npmrc"), "user-npmrc": str(user_npmrc(env))}
        return RawClientConfig("bun", detection.version, raw, origins_of(layers), notes, files)

    @staticmethod
    def has_cafile(config: RawClientConfig) -> bool:
        return bool(config.raw.get("cafile") or config.raw.get("ca"))

    def trust_pems(self, config: RawClientConfig) -> str:
        """With a cafile/ca: those (they replace bun's roots). Without: what ``NODE_EXTRA_CA_CERTS`` added."""
        if self.has_cafile(config):
            return config.raw.ca_pems() or ""
        extra = config.raw.env.get("NODE_EXTRA_CA_CERTS")
        return (read_text(Path(extra)) or "") if extra else ""

    def inject(
        self, detection: Detection, argv: list[str], *, proxy_url: str, ca_bundle: Path, config: RawClientConfig, env: Mapping[str, str]
    ) -> Injection:
        args = strip_flags(argv[1:], CA_FLAGS)
        set_env = {"HTTPS_PROXY": proxy_url, "HTTP_PROXY": proxy_url}
        if self.has_cafile(config):
            # a cafile replaces bun's roots and no variable beats it, so the bundle goes on the command line: acceptable
            # only because a CA file's path is no secret (ps shows it to every user); the proxy URL with the run's
            # credential stays in the environment
            args = _with_flag(args, f"--cafile={ca_bundle}")
        else:
            set_env["NODE_EXTRA_CA_CERTS"] = str(ca_bundle)
        return Injection(argv=[detection.program, *args], set_env=set_env, unset_env=INJECTED_ENV)

    def fix_step(self, change: ConfigChange, config: ClientConfigSnapshot | None = None) -> FixStep:
        bunfig = "bunfig.toml (in the project)" if change.location == "project" else "~/.bunfig.toml"
        npmrc = ".npmrc (in the project)" if change.location == "project" else "~/.npmrc"
        key = change.key
        value = "<token>" if change.action == "copy" else (change.value or "")
        if key in ("https-proxy", "proxy", "noproxy"):
            name = {"https-proxy": "HTTPS_PROXY", "proxy": "HTTP_PROXY", "noproxy": "NO_PROXY"}[key]
            note = "bun reads proxies only from the environment: put this in your shell profile"
            if change.action == "delete":
                return FixStep(change, "bun", command=f"unset {name}", note=note)
            return FixStep(change, "bun", command=f"export {name}={_sh(value)}", note=note)
        if key == "strict-ssl":
            return FixStep(change, "bun", unsupported=NO_STRICT_SSL)
        if key in ("registry", "cafile", "ca"):
            edit = f"[install]\n{key} = {toml_string(value)}" if change.action != "delete" else f"remove {key} from [install]"
            return FixStep(change, "bun", file=bunfig, edit=edit)
        scope = scope_of_key(key)
        if scope:
            edit = f"[install.scopes]\n{toml_key(scope[1:])} = {toml_string(value)}" if change.action != "delete" else f"remove {scope[1:]} from [install.scopes]"
            return FixStep(change, "bun", file=bunfig, edit=edit)
        if is_auth_key(key):
            edit = f"{key}={value}" if change.action != "delete" else f"remove the {key}= line"
            return FixStep(change, "bun", file=npmrc, edit=edit, note="bun reads registry tokens from .npmrc")
        return FixStep(change, "bun", unsupported=f"bun has no equivalent of npm's {key}")

    def apply_to_copy(
        self, changes: list[ConfigChange], config: RawClientConfig, argv: list[str], *, env: Mapping[str, str]
    ) -> FixCopy:
        """Registry and proxies as variables, a CA as ``--cafile``, scopes in a copy of the global bunfig,
        tokens in a copy of the user ``.npmrc`` (``npm_config_userconfig``, which bun honours).

        The bunfig copy is ``$XDG_CONFIG_HOME/.bunfig.toml`` under a temporary ``XDG_CONFIG_HOME``; the project's
        own bunfig.toml (and a token written there) still wins, so such keys are reported unverifiable.
        """
        raw = config.raw
        args = list(argv)
        set_env: dict[str, str] = {}
        unset: list[str] = []
        unverifiable: list[tuple[ConfigChange, str]] = []
        scope_changes: list[ConfigChange] = []
        token_changes: list[ConfigChange] = []
        for change in changes:
            value = resolved_value(change, raw)
            _, layer = raw.lookup(change.key)
            if change.key in ("https-proxy", "proxy", "noproxy"):
                name = {"https-proxy": "HTTPS_PROXY", "proxy": "HTTP_PROXY", "noproxy": "NO_PROXY"}[change.key]
                if change.action == "delete":
                    unset.append(name)
                elif value:
                    set_env[name] = value
            elif change.key == "registry" and change.action != "delete" and value:
                set_env["BUN_CONFIG_REGISTRY"] = value
            elif change.key == "cafile" and change.action != "delete" and value:
                args = [args[0], *_with_flag(strip_flags(args[1:], CA_FLAGS), f"--cafile={value}")]
            elif scope_of_key(change.key):
                scope_changes.append(change)
                if layer is not None and layer.name == "project":
                    unverifiable.append((change, f"{change.key} is set in {layer.path}, which beats the global bunfig"))
            elif is_auth_key(change.key):
                token_changes.append(change)
                if layer is not None and layer.path and layer.path.endswith(".toml"):
                    unverifiable.append((change, f"{change.key} is set in {layer.path}, which beats .npmrc"))
            else:
                unverifiable.append((change, self.fix_step(change).unsupported or f"{change.key} cannot be applied to a copy"))
        if not scope_changes and not token_changes:
            return FixCopy(Injection(args, set_env, tuple(unset)), unverifiable)
        workdir = private_workdir()
        files: list[Path] = []
        if scope_changes:
            data = load_toml(global_bunfig(env))
            scopes = data.setdefault("install", {}).setdefault("scopes", {})
            for change in scope_changes:
                value = resolved_value(change, raw)
                name = scope_of_key(change.key)[1:]  # type: ignore[index]
                if change.action == "delete":
                    scopes.pop(name, None)
                elif value:
                    entry = scopes.get(name)
                    scopes[name] = {**entry, "url": value} if isinstance(entry, dict) else value
            files.append(write_private_file(workdir, ".bunfig.toml", dump_toml(data)))
            set_env["XDG_CONFIG_HOME"] = str(workdir)
        if token_changes:
            original = read_text(user_npmrc(env)) or ""
            files.append(write_private_file(workdir, "userconfig.npmrc", apply_to_npmrc(original, token_changes, raw)))
            set_env["npm_config_userconfig"] = str(files[-1])
        return FixCopy(Injection(args, set_env, tuple(unset), workdir, tuple(files)), unverifiable)


    def write_target(self, change: ConfigChange, config: RawClientConfig) -> WriteTarget:
        """bunfig.toml for the registry, CA and scopes; .npmrc for tokens. Proxies live in the environment only and
        bun has no strict-ssl: no file holds them."""
        key = change.key
        if key in ("https-proxy", "proxy", "noproxy"):
            step = self.fix_step(change)
            return WriteTarget(None, unsupported=f"bun reads proxies only from the environment: put '{step.command}' in your shell profile (and CI)")
        if key == "strict-ssl":
            return WriteTarget(None, unsupported=NO_STRICT_SSL)
        project = change.location == "project"
        files = config.files
        scope = scope_of_key(key)
        if key in ("registry", "cafile", "ca") or scope:
            table_key = f"install.scopes.{scope[1:]}" if scope else f"install.{key}"
            found = winning_file(config, key, change.location)
            path = found[0] if found is not None and found[0].suffix == ".toml" else Path(files["project-rc"] if project else files["user-rc"])
            return WriteTarget(path, "toml", table_key, env_reference="$%s")
        if is_auth_key(key):
            found = winning_file(config, key, change.location)
            if found is not None and found[0].suffix != ".toml":
                return WriteTarget(found[0], "npmrc", key, env_reference="${%s}")
            return WriteTarget(Path(files["project-npmrc"] if project else files["user-npmrc"]), "npmrc", key, env_reference="${%s}")
        return WriteTarget(None, unsupported=f"bun has no equivalent of npm's {key}")


def _with_flag(args: list[str], flag: str) -> list[str]:
    """``flag`` before a bare ``--`` (bun's own options end there), else at the end."""
    if "--" in args:
        i = args.index("--")
        return [*args[:i], flag, *args[i:]]
    return [*args, flag]


def _sh(value: str) -> str:
    from .common import shell_quote

    return shell_quote(value)


def dump_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for bunfig's shapes: scalars, then sub-tables (``[install.scopes]``)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((f"{prefix}.{toml_key(key)}" if prefix else toml_key(key), value))
        else:
            lines.append(f"{toml_key(key)} = {_toml_value(value)}")
    out = ""
    if prefix and (lines or not tables):
        out += f"[{prefix}]\n"
    out += "".join(line + "\n" for line in lines)
    for name, table in tables:
        out += ("\n" if out else "") + dump_toml(table, name)
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return toml_string(str(value))
