"""yarn berry (2+): ``.yarnrc.yml`` files and ``YARN_*`` variables, nothing else.

Measured with yarn 4.18.1:

- Berry reads **neither** ``.npmrc`` **nor** ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``:
  with only ``HTTPS_PROXY`` set it connects directly.
- ``YARN_HTTPS_PROXY``, ``YARN_HTTP_PROXY``, ``YARN_HTTPS_CA_FILE_PATH``,
  ``YARN_NPM_REGISTRY_SERVER`` … (``YARN_`` + the setting in SCREAMING_SNAKE)
  beat every ``.yarnrc.yml`` (project and home). ``YARN_CA_FILE_PATH`` is an
  error ("legacy configuration settings found: caFilePath").
- ``networkSettings["host"].httpsProxy`` in a ``.yarnrc.yml`` beats
  ``YARN_HTTPS_PROXY`` for that host: such hosts cannot be routed through the
  inspector by the environment (the reader says so). Map settings cannot be set
  from the environment (``YARN_NPM_SCOPES`` must be an object).
- ``httpsCaFilePath`` replaces Node's roots; without it ``NODE_EXTRA_CA_CERTS`` adds.
- ``npmMinimalAgeGate`` defaults to 1 day: a version published minutes ago is
  "quarantined" (``YN0016``).
- ``yarn config set KEY VALUE`` writes the project's ``.yarnrc.yml``; ``-H`` the home one.
  Nested keys: ``npmScopes.corp.npmRegistryServer``, ``'npmRegistries["//host/"].npmAuthToken'``.
  There is no ``noproxy``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import ca
from ..diagnose.findings import ConfigChange
from .common import (
    YARN_DEFAULT_REGISTRY,
    ClientConfigSnapshot,
    Detection,
    FixCopy,
    FixStep,
    Injection,
    NativeLayer,
    RawClientConfig,
    auth_nerf,
    find_up,
    home,
    is_auth_key,
    layered_config,
    new_layer,
    origins_of,
    private_workdir,
    project_dir,
    resolved_value,
    scope_of_key,
    shell_quote,
    split_auth_key,
    winning_file,
    write_private_file,
)
from .writes import WriteTarget
from .yamlfiles import dump_yaml, load_yaml

SCALARS = {
    "npmRegistryServer": "registry",
    "httpsProxy": "https-proxy",
    "httpProxy": "proxy",
    "httpsCaFilePath": "cafile",
    "caFilePath": "cafile",
    "enableStrictSsl": "strict-ssl",
    "npmAlwaysAuth": "always-auth",
}
NATIVE = {"registry": "npmRegistryServer", "https-proxy": "httpsProxy", "proxy": "httpProxy", "cafile": "httpsCaFilePath", "strict-ssl": "enableStrictSsl", "always-auth": "npmAlwaysAuth"}
AUTH_FIELDS = {"npmAuthToken": "_authToken", "npmAuthIdent": "_auth"}
NATIVE_AUTH = {"_authToken": "npmAuthToken", "_auth": "npmAuthIdent"}
INJECTED_ENV = ("YARN_HTTPS_PROXY", "YARN_HTTP_PROXY", "YARN_HTTPS_CA_FILE_PATH", "YARN_CA_FILE_PATH")
NO_NOPROXY = (
    "yarn berry has no noproxy setting and ignores NO_PROXY: every request goes to httpsProxy/httpProxy. "
    "Ask for the internal registry to be allowed through the proxy, or give that host its own proxy in "
    "networkSettings of .yarnrc.yml"
)


def rc_filename(env: Mapping[str, str]) -> str:
    return env.get("YARN_RC_FILENAME") or ".yarnrc.yml"


def env_setting(name: str) -> str:
    """``YARN_NPM_REGISTRY_SERVER`` → ``npmRegistryServer``."""
    parts = name[5:].lower().split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def setting_env(setting: str) -> str:
    """``npmRegistryServer`` → ``YARN_NPM_REGISTRY_SERVER``."""
    out = "".join("_" + c if c.isupper() else c.upper() for c in setting)
    return "YARN_" + out


def _registry(value: Any) -> str:
    text = str(value)
    return text if text.endswith("/") else text + "/"


class YarnBerryAdapter:
    tool = "yarn-berry"

    def read_config(self, detection: Detection, argv: list[str], *, cwd: str, env: Mapping[str, str]) -> RawClientConfig:
        notes: list[str] = []
        sources: list[tuple[str, str | None, str, dict[str, Any]]] = []  # (layer name, path, where, settings)
        env_settings = {env_setting(n): v for n, v in env.items() if n.startswith("YARN_") and v != "" and n != "YARN_RC_FILENAME"}
        sources.append(("env", None, "environment", env_settings))
        user_home = home(env).resolve()
        for path in find_up(cwd, rc_filename(env), stop_at_first=False):
            if path.parent.resolve() != user_home:
                sources.append(("project", str(path), str(path), load_yaml(path)))
        home_rc = user_home / rc_filename(env)
        sources.append(("user", str(home_rc), str(home_rc), load_yaml(home_rc)))

        registry = next((_registry(s["npmRegistryServer"]) for *_, s in sources if s.get("npmRegistryServer")), YARN_DEFAULT_REGISTRY)
        scopes_registry: dict[str, str] = {}
        for *_, settings in reversed(sources):
            for scope, entry in (settings.get("npmScopes") or {}).items():
                if isinstance(entry, dict) and entry.get("npmRegistryServer"):
                    scopes_registry[str(scope).lstrip("@")] = _registry(entry["npmRegistryServer"])
        # a scope entry without npmRegistryServer (e.g. only npmMinimalAgeGate: 0) sends the scope to yarn's
        # default registry, not to the top-level npmRegistryServer (measured with 4.18.1: CONNECT registry.yarnpkg.com)
        bare_scopes = {
            str(scope).lstrip("@")
            for *_, settings in sources
            for scope, entry in (settings.get("npmScopes") or {}).items()
            if isinstance(entry, dict) and str(scope).lstrip("@") not in scopes_registry
        } if all(isinstance(s.get("npmScopes") or {}, dict) for *_, s in sources) else set()
        for scope in bare_scopes:
            scopes_registry[scope] = YARN_DEFAULT_REGISTRY

        layers: list[NativeLayer] = []
        for name, path, where, settings in sources:
            layer = new_layer(name, path, where)
            env_names = {env_setting(n): n for n in env if n.startswith("YARN_")} if name == "env" else {}
            for setting, key in SCALARS.items():
                if setting in settings and settings[setting] is not None and key not in layer.layer.values:
                    value = settings[setting]
                    value = _registry(value) if key == "registry" else str(value).lower() if isinstance(value, bool) else value
                    layer.set(key, value, env_names.get(setting, setting))
            for setting, field_name in AUTH_FIELDS.items():
                if settings.get(setting):
                    layer.set(f"{auth_nerf(registry)}:{field_name}", str(settings[setting]), env_names.get(setting, setting))
            for scope, entry in (settings.get("npmScopes") or {}).items() if isinstance(settings.get("npmScopes"), dict) else ():
                if not isinstance(entry, dict):
                    continue
                scope = str(scope).lstrip("@")
                if entry.get("npmRegistryServer"):
                    layer.set(f"@{scope}:registry", _registry(entry["npmRegistryServer"]), f"npmScopes.{scope}.npmRegistryServer")
                elif scope in bare_scopes and f"@{scope}:registry" not in layer.layer.values:
                    layer.set(f"@{scope}:registry", YARN_DEFAULT_REGISTRY, f"npmScopes.{scope} (no npmRegistryServer: yarn's default)")
                    notes.append(
                        f"npmScopes.{scope} in {where} names no npmRegistryServer: yarn berry then sends @{scope} to "
                        f"{YARN_DEFAULT_REGISTRY}, not to the top-level npmRegistryServer"
                    )
                for setting, field_name in AUTH_FIELDS.items():
                    if entry.get(setting):
                        target = scopes_registry.get(scope, registry)
                        layer.set(f"{auth_nerf(target)}:{field_name}", str(entry[setting]), f"npmScopes.{scope}.{setting}")
            for prefix, entry in (settings.get("npmRegistries") or {}).items() if isinstance(settings.get("npmRegistries"), dict) else ():
                if not isinstance(entry, dict):
                    continue
                url = str(prefix) if "://" in str(prefix) else "https:" + str(prefix) if str(prefix).startswith("//") else "https://" + str(prefix)
                for setting, field_name in AUTH_FIELDS.items():
                    if entry.get(setting):
                        layer.set(f"{auth_nerf(url)}:{field_name}", str(entry[setting]), f'npmRegistries["{prefix}"].{setting}')
            for host, entry in (settings.get("networkSettings") or {}).items() if isinstance(settings.get("networkSettings"), dict) else ():
                if isinstance(entry, dict) and (entry.get("httpsProxy") or entry.get("httpProxy")):
                    notes.append(
                        f'networkSettings["{host}"] in {where} sets its own proxy, which beats httpsProxy and YARN_HTTPS_PROXY: '
                        "requests to that host bypass npm-inspect"
                    )
                if isinstance(entry, dict) and entry.get("httpsCaFilePath"):
                    notes.append(f'networkSettings["{host}"].httpsCaFilePath in {where} replaces the CA for that host')
            layers.append(layer)
        default = new_layer("default", None, "yarn's default")
        default.set("registry", YARN_DEFAULT_REGISTRY, "npmRegistryServer")
        layers.append(default)

        ignored = [n for n in env if n.upper() in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")]
        if ignored:
            notes.append(f"{', '.join(sorted(set(ignored)))} {'is' if len(ignored) == 1 else 'are'} set, but yarn berry ignores "
                         "the proxy environment: it uses httpsProxy/httpProxy from .yarnrc.yml or YARN_HTTPS_PROXY")
        project = project_dir(cwd)
        npmrcs = [p for p in ((project / ".npmrc") if project else None, user_home / ".npmrc") if p is not None and p.exists()]
        if npmrcs:
            notes.append(f"yarn berry does not read .npmrc ({', '.join(map(str, npmrcs))}): registry, scopes and tokens belong in .yarnrc.yml")
        # HTTPS_PROXY/HTTP_PROXY stay in the snapshot (the diagnosis says berry ignores them); the upstream choice
        # never takes them for berry (inspector.runner.ENV_FALLBACK)
        raw = layered_config([n.layer for n in layers], env=env, cwd=cwd, local_prefix=str(project) if project else None)
        files = {"user-rc": str(home_rc)}
        if project is not None:
            files["project-rc"] = str(project / rc_filename(env))
        return RawClientConfig("yarn-berry", detection.version, raw, origins_of(layers), notes, files)

    def trust_pems(self, config: RawClientConfig) -> str:
        """``httpsCaFilePath`` replaces Node's roots: keep it, or Node's roots (with ``NODE_EXTRA_CA_CERTS``)."""
        return config.raw.ca_pems() or ca.node_root_certificates()

    def inject(
        self, detection: Detection, argv: list[str], *, proxy_url: str, ca_bundle: Path, config: RawClientConfig, env: Mapping[str, str]
    ) -> Injection:
        bypass = tuple(n for n in config.notes if n.startswith("networkSettings["))
        return Injection(
            argv=[detection.program, *argv[1:]],
            set_env={"YARN_HTTPS_PROXY": proxy_url, "YARN_HTTP_PROXY": proxy_url, "YARN_HTTPS_CA_FILE_PATH": str(ca_bundle)},
            unset_env=INJECTED_ENV,
            notes=bypass,
        )

    def fix_step(self, change: ConfigChange, config: ClientConfigSnapshot | None = None) -> FixStep:
        setting = self.setting_for(change.key)
        if setting is None:
            reason = NO_NOPROXY if change.key == "noproxy" else (
                f"yarn berry has no equivalent of npm's {change.key}"
                + ("; put user:password in npmAuthIdent instead" if change.key.endswith((":_password", ":username")) else "")
            )
            return FixStep(change, "yarn-berry", unsupported=reason)
        home_flag = "" if change.location == "project" else " -H"
        if change.action == "delete":
            return FixStep(change, "yarn-berry", command=f"yarn config unset{home_flag} {shell_quote(setting)}")
        value = "<token>" if change.action == "copy" else (change.value or "")
        return FixStep(change, "yarn-berry", command=f"yarn config set{home_flag} {shell_quote(setting)} {shell_quote(value)}")

    @staticmethod
    def setting_for(key: str) -> str | None:
        """npm key → berry's setting path (``@corp:registry`` → ``npmScopes.corp.npmRegistryServer``), or ``None``."""
        if key in NATIVE:
            return NATIVE[key]
        scope = scope_of_key(key)
        if scope:
            return f"npmScopes.{scope[1:]}.npmRegistryServer"
        if is_auth_key(key):
            nerf, field_name = split_auth_key(key)
            if field_name in NATIVE_AUTH:
                return f'npmRegistries["{nerf}"].{NATIVE_AUTH[field_name]}'
        return None

    def apply_to_copy(
        self, changes: list[ConfigChange], config: RawClientConfig, argv: list[str], *, env: Mapping[str, str]
    ) -> FixCopy:
        """Plain settings as ``YARN_*`` variables (they beat every file); map settings in a copy of the home rc.

        The copy lives in a temporary ``HOME`` (``YARN_GLOBAL_FOLDER`` keeps the real cache); a map entry the
        project's own ``.yarnrc.yml`` sets still wins there, and is reported unverifiable.
        """
        raw = config.raw
        set_env: dict[str, str] = {}
        unset: list[str] = []
        unverifiable: list[tuple[ConfigChange, str]] = []
        home_changes: list[tuple[ConfigChange, str]] = []
        for change in changes:
            setting = self.setting_for(change.key)
            if setting is None:
                unverifiable.append((change, self.fix_step(change).unsupported or ""))
                continue
            _, layer = raw.lookup(change.key)
            if "." not in setting:
                name = setting_env(setting)
                if change.action == "delete":
                    unset.append(name)
                    if layer is not None and layer.name in ("project", "user"):
                        home_changes.append((change, setting))
                else:
                    value = resolved_value(change, raw)
                    if value:
                        set_env[name] = value
                continue
            home_changes.append((change, setting))
            if layer is not None and layer.name == "project":
                unverifiable.append((change, f"{setting} is set in {layer.path}, which beats the home .yarnrc.yml"))
        if not home_changes:
            return FixCopy(Injection(list(argv), set_env, tuple(unset)), unverifiable)
        workdir = private_workdir()
        real_home = home(env)
        data = load_yaml(real_home / rc_filename(env))
        for change, setting in home_changes:
            _edit(data, setting, None if change.action == "delete" else resolved_value(change, raw))
        rc = write_private_file(workdir, rc_filename(env), dump_yaml(data))
        set_env["HOME"] = str(workdir)
        set_env.setdefault("YARN_GLOBAL_FOLDER", env.get("YARN_GLOBAL_FOLDER") or str(real_home / ".yarn" / "berry"))
        return FixCopy(Injection(list(argv), set_env, tuple(unset), workdir, (rc,)), unverifiable)


    def write_target(self, change: ConfigChange, config: RawClientConfig) -> WriteTarget:
        """The ``.yarnrc.yml`` at the change's location (``yarn config set``: the project's; ``-H``: the home one),
        under the setting name that file uses today. No file holds a noproxy."""
        setting = self.setting_for(change.key)
        if setting is None:
            return WriteTarget(None, unsupported=self.fix_step(change).unsupported)
        found = winning_file(config, change.key, change.location)
        if found is not None and found[0].suffix in (".yml", ".yaml"):
            return WriteTarget(found[0], "yaml", found[1] if found[1] != change.key else setting, env_reference="${%s}")
        path = config.files.get("project-rc") if change.location == "project" else config.files.get("user-rc")
        return WriteTarget(Path(path or Path(config.raw.cwd or ".") / ".yarnrc.yml"), "yaml", setting, env_reference="${%s}")


def _edit(data: dict[str, Any], setting: str, value: str | None) -> None:
    """Set (or with ``None`` remove) ``a.b.c`` / ``npmRegistries["//h/"].npmAuthToken`` in a settings dict."""
    if setting.startswith("npmRegistries["):
        prefix = setting[len('npmRegistries["') : setting.index('"]')]
        path = ["npmRegistries", prefix, setting.rsplit(".", 1)[1]]
    else:
        path = setting.split(".")
    node = data
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if value is None:
                return
            child = node[part] = {}
        node = child
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


__all__ = ["YarnBerryAdapter", "env_setting", "setting_env"]
