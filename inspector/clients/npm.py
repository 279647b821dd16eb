"""npm: the reference adapter, wrapping what :mod:`inspector.runner` and :mod:`inspector.npmconfig` do.

npm's own layers are read by asking npm (``npm config list``); the proxy and
CA go in ``npm_config_proxy`` / ``npm_config_https_proxy`` /
``npm_config_cafile``, which beat every ``.npmrc``; ``--proxy`` and friends on
the command line (which would beat the environment) are taken out of argv.
``cafile`` *replaces* Node's roots, so the bundle keeps the user's cafile/ca
(or Node's roots) besides npm-inspect's CA.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .. import ca
from ..diagnose.findings import ConfigChange
from ..npmrcfile import apply_to_npmrc, changed_environment
from ..npmconfig import read_npm_config
from .common import (
    ClientConfigSnapshot,
    home,
    Detection,
    FixCopy,
    FixStep,
    Injection,
    NativeLayer,
    RawClientConfig,
    origins_of,
    private_workdir,
    read_text,
    strip_flags,
    write_private_file,
)
from .writes import WriteTarget

REWRITTEN_FLAGS = ("proxy", "https-proxy", "cafile", "ca")
INJECTED_ENV = ("npm_config_proxy", "npm_config_https_proxy", "npm_config_cafile", "npm_config_ca")


class NpmAdapter:
    tool = "npm"

    def read_config(self, detection: Detection, argv: list[str], *, cwd: str, env: Mapping[str, str]) -> RawClientConfig:
        npm = detection.program if Path(detection.program).name.startswith("npm") else "npm"
        raw = read_npm_config(npm, cwd=cwd, env=dict(env), npm_args=argv[1:])
        natives = []
        for layer in raw.layers:
            where = {"cli": "command line", "env": "environment"}.get(layer.name, layer.path or layer.name)
            names = {}
            for key in layer.values:
                if layer.name == "env":
                    names[key] = "npm_config_" + (key if key.startswith("//") else key.replace("-", "_"))
                elif layer.name == "cli":
                    names[key] = "--" + key
            natives.append(NativeLayer(layer, names, where))
        files = {name: path for name, path in ((layer.name, layer.path) for layer in raw.layers) if path}
        return RawClientConfig("npm", raw.npm_version or detection.version, raw, origins_of(natives), [], files)

    def trust_pems(self, config: RawClientConfig) -> str:
        """npm's ``cafile``/``ca`` replace Node's roots: keep them, or Node's roots when none is set."""
        return config.raw.ca_pems() or ca.node_root_certificates()

    def inject(
        self, detection: Detection, argv: list[str], *, proxy_url: str, ca_bundle: Path, config: RawClientConfig, env: Mapping[str, str]
    ) -> Injection:
        return Injection(
            argv=[detection.program, *strip_flags(argv[1:], REWRITTEN_FLAGS)],
            set_env={"npm_config_proxy": proxy_url, "npm_config_https_proxy": proxy_url, "npm_config_cafile": str(ca_bundle)},
            unset_env=INJECTED_ENV,
        )

    def fix_step(self, change: ConfigChange, config: ClientConfigSnapshot | None = None) -> FixStep:
        return FixStep(change, "npm", command=change.command)

    def apply_to_copy(
        self, changes: list[ConfigChange], config: RawClientConfig, argv: list[str], *, env: Mapping[str, str]
    ) -> FixCopy:
        """As ``--verify-fix`` does today: a private copy of the user's .npmrc, changed, as ``npm_config_userconfig``."""
        raw = config.raw
        user = next((layer.path for layer in raw.layers if layer.name == "user"), None)
        original = (read_text(Path(user)) if user else None) or ""
        workdir = private_workdir()
        userconfig = write_private_file(workdir, "userconfig.npmrc", apply_to_npmrc(original, changes, raw))
        changed = changed_environment(changes, raw, userconfig, {})
        return FixCopy(Injection(argv=list(argv), set_env=changed, workdir=workdir, files=(userconfig,)))

    def write_target(self, change: ConfigChange, config: RawClientConfig) -> WriteTarget:
        """The .npmrc of the change's layer (project, user, global), as ``npm config set --location`` writes it."""
        raw = config.raw
        target = next((Path(layer.path) for layer in raw.layers if layer.name == change.location and layer.path), None)
        if target is None:
            base = raw.local_prefix or raw.cwd or "."
            target = Path(base) / ".npmrc" if change.location == "project" else home(raw.env) / ".npmrc"
        return WriteTarget(target, "npmrc", change.key, env_reference="${%s}")
