"""Each real package manager through the inspector: its adapter routes it, its config is read from the right file.

One Squid for the module, the session's Verdaccio (HTTPS, lab CA), an in-process inspector per test.
Each tool's own config (in its own syntax and file) names the registry, the @corp scope with alice's
token, the lab CA and the corporate proxy (bun: ``HTTPS_PROXY``, the only place bun reads one). The
adapter reads that config, the upstream is chosen from it, the injection routes the tool through the
inspector — and the install must succeed with every registry request seen by the inspector and Squid.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspector.ca import ensure_ca, write_bundle
from inspector.clients import adapter_for, detect
from inspector.listener import ListenerCredential
from inspector.proxy import InspectorProxy, ProxyConfig
from inspector.runner import resolve_upstream
from inspector.session import SessionStore
from tests.lab import REGISTRY_HOST
from tests.lab.fixtures import LabPki, _require
from tests.lab.squid import Squid, SquidConfig
from tests.lab.toolchain import PROGRAM, VERSIONS, installed, path_for
from tests.lab.verdaccio import Verdaccio

pytestmark = pytest.mark.e2e

DEPENDENCIES = {"lab-hello": "1.1.0", "@corp/secret": "1.0.0"}


@pytest.fixture(scope="module")
def squid() -> Iterator[Squid]:
    proxy = Squid(SquidConfig()).start()
    yield proxy
    proxy.cleanup()


def write_tool_config(tool: str, proj: Path, home: Path, registry: str, token: str, squid: Squid, ca_file: Path) -> dict[str, str]:
    """The tool's own config files for this lab; returns extra environment (bun's proxy lives there)."""
    nerf = registry.split(":", 1)[1]
    if tool == "npm":
        (home / ".npmrc").write_text(
            f"registry={registry}\n@corp:registry={registry}\n{nerf}:_authToken={token}\nhttps-proxy={squid.url}\ncafile={ca_file}\n"
        )
        return {"npm_config_userconfig": str(home / ".npmrc")}
    if tool == "pnpm":
        (proj / ".npmrc").write_text(f"registry={registry}\n@corp:registry={registry}\n{nerf}:_authToken={token}\ncafile={ca_file}\n")
        (proj / "pnpm-workspace.yaml").write_text(f"httpsProxy: {squid.url}\nminimumReleaseAge: 0\n")
        return {}
    if tool == "yarn-classic":
        (proj / ".yarnrc").write_text(f'registry "{registry}"\n"@corp:registry" "{registry}"\nhttps-proxy "{squid.url}"\ncafile "{ca_file}"\n')
        (proj / ".npmrc").write_text(f"{nerf}:_authToken={token}\n")
        return {}
    if tool == "yarn-berry":
        (proj / ".yarnrc.yml").write_text(
            f'npmRegistryServer: "{registry}"\nhttpsProxy: "{squid.url}"\nhttpsCaFilePath: "{ca_file}"\n'
            f'npmScopes:\n  corp:\n    npmRegistryServer: "{registry}"\n    npmAuthToken: "{token}"\n    npmMinimalAgeGate: 0\n'
            "npmMinimalAgeGate: 0\nenableTelemetry: false\nenableGlobalCache: false\nnodeLinker: node-modules\n"
        )
        (proj / "yarn.lock").write_text("")
        return {}
    if tool == "bun":
        (proj / "bunfig.toml").write_text(
            f'[install]\nregistry = "{registry}"\ncafile = "{ca_file}"\n[install.scopes]\ncorp = {{ url = "{registry}", token = "{token}" }}\n'
        )
        return {"HTTPS_PROXY": squid.url}
    raise AssertionError(tool)


EXPECTED_ORIGINS = {
    "npm": ("{home}/.npmrc: registry", "{home}/.npmrc: https-proxy"),
    "pnpm": ("{proj}/.npmrc: registry", "{proj}/pnpm-workspace.yaml: httpsProxy"),
    "yarn-classic": ("{proj}/.yarnrc: registry", "{proj}/.yarnrc: https-proxy"),
    "yarn-berry": ("{proj}/.yarnrc.yml: npmRegistryServer", "{proj}/.yarnrc.yml: httpsProxy"),
    "bun": ("{proj}/bunfig.toml: [install] registry", None),
}


@pytest.mark.parametrize("tool", ["npm", "pnpm", "yarn-classic", "yarn-berry", "bun"])
def test_each_tool_installs_through_the_inspector_with_the_config_it_really_uses(
    tool, tmp_path, verdaccio: Verdaccio, lab_pki: LabPki, squid: Squid
):
    _require(installed(tool), f"{PROGRAM[tool]} for the lab (npm ci in tests/lab/clients)")
    proj, home = tmp_path / "proj", tmp_path / "home"
    proj.mkdir()
    (home / ".config").mkdir(parents=True)
    (proj / "package.json").write_text(json.dumps({"name": "lab-app", "version": "1.0.0", "private": True, "dependencies": DEPENDENCIES}))
    registry = verdaccio.url("https")
    extra = write_tool_config(tool, proj, home, registry, verdaccio.tokens["alice"], squid, lab_pki.ca.cert)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k != "NODE_EXTRA_CA_CERTS"}
    env.update(
        PATH=path_for(tool),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        YARN_CACHE_FOLDER=str(tmp_path / "yarn-cache"),
        BUN_INSTALL_CACHE_DIR=str(tmp_path / "bun-cache"),
        npm_config_cache=str(tmp_path / "npm-cache"),
        pnpm_config_fetch_retries="0",
        **extra,
    )
    argv = [PROGRAM[tool], "install"]

    detection = detect(argv, str(proj), env)
    assert detection.tool == tool
    if tool in VERSIONS:
        assert detection.version == VERSIONS[tool]
    adapter = adapter_for(tool)
    config = adapter.read_config(detection, argv, cwd=str(proj), env=env)
    snap = config.snapshot()
    registry_origin, proxy_origin = (o.format(home=home, proj=proj) if o else None for o in EXPECTED_ORIGINS[tool])
    assert snap.config.registry == registry and snap.origins["registry"] == registry_origin
    assert snap.config.registry_for("@corp/secret") == registry
    assert snap.config.auth_for(registry + "@corp%2fsecret"), "alice's token is known for the registry"
    if proxy_origin:
        assert snap.config.get("https-proxy") == squid.url and snap.origins["https-proxy"] == proxy_origin
    else:
        assert snap.config.env_proxy == {"HTTPS_PROXY": squid.url}
    assert verdaccio.tokens["alice"] not in json.dumps(snap.to_dict())

    upstream, where = resolve_upstream(config.raw, None)
    assert upstream is not None and upstream.address == f"127.0.0.1:{squid.port}", where

    confdir = tmp_path / "ca"
    inspector_ca = ensure_ca(confdir)
    bundle = write_bundle(tmp_path, "client-bundle.pem", adapter.trust_pems(config), inspector_ca.read_text())
    upstream_trust = write_bundle(tmp_path, "upstream-trust.pem", config.raw.ca_pems() or "")
    store = SessionStore()
    credential = ListenerCredential.generate()
    proxy = InspectorProxy(
        ProxyConfig(confdir=confdir, upstream=upstream, listener=credential, upstream_trusted_ca=upstream_trust), store.add
    ).start()
    try:
        with adapter.inject(detection, argv, proxy_url=credential.url(proxy.host, proxy.port), ca_bundle=bundle, config=config, env=env) as injection:
            assert not any(credential.password in arg for arg in injection.argv)
            result = subprocess.run(injection.argv, cwd=proj, env=injection.child_env(env), capture_output=True, text=True, timeout=180)
        proxy.settle()
    finally:
        proxy.stop()
    output = (result.stdout + result.stderr)[-3000:]
    assert result.returncode == 0, output
    assert (proj / "node_modules" / "@corp" / "secret" / "package.json").exists(), output

    fetched = {(e.path.split("?")[0], e.status) for e in store.exchanges() if e.kind == "http" and e.host == REGISTRY_HOST}
    assert ("/lab-hello", 200) in fetched and ("/lab-hello/-/lab-hello-1.1.0.tgz", 200) in fetched, fetched
    assert any(p in ("/@corp%2fsecret", "/@corp%2Fsecret", "/@corp/secret") and s == 200 for p, s in fetched), fetched
    tunnels = [e for e in squid.access_entries() if e["method"] == "CONNECT" and e["url"] == f"{REGISTRY_HOST}:{verdaccio.https_port}"]
    assert tunnels and all(e["status"] == "200" for e in tunnels)
