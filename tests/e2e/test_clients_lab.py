"""Each real package manager through the inspector: its adapter routes it, its config is read from the right file.

One Squid for the module, the session's Verdaccio (HTTPS, lab CA), an in-process inspector per test.
Each tool's own config (in its own syntax and file) names the registry, the @corp scope with alice's
token, the lab CA and the corporate proxy (bun: ``HTTPS_PROXY``, the only place bun reads one). The
adapter reads that config, the upstream is chosen from it, the injection routes the tool through the
inspector — and the install must succeed with every registry request seen by the inspector and Squid.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from inspector.ca import ensure_ca, write_bundle
from inspector.clients import adapter_for, detect
from inspector.diagnose.findings import ConfigChange
from inspector.listener import ListenerCredential
from inspector.proxy import InspectorProxy, ProxyConfig
from inspector.runner import resolve_upstream
from inspector.session import SessionStore
from tests.lab import REGISTRY_HOST
from tests.lab.fixtures import LabPki, _require
from tests.lab.squid import Squid, SquidConfig
from tests.lab.toolchain import PROGRAM, VERSIONS, installed, tool_env
from tests.lab.verdaccio import Verdaccio

pytestmark = pytest.mark.e2e

DEPENDENCIES = {"lab-hello": "1.1.0", "@corp/secret": "1.0.0"}


@pytest.fixture(scope="module")
def squid() -> Iterator[Squid]:
    proxy = Squid(SquidConfig()).start()
    yield proxy
    proxy.cleanup()


def write_tool_config(tool: str, proj: Path, home: Path, registry: str, token: str | None, squid: Squid, ca_file: Path) -> dict[str, str]:
    """The tool's own config files for this lab (``token=None``: no credential for @corp); returns extra environment."""
    nerf = registry.split(":", 1)[1]
    auth = f"{nerf}:_authToken={token}\n" if token else ""
    if tool == "npm":
        (home / ".npmrc").write_text(
            f"registry={registry}\n@corp:registry={registry}\n{auth}https-proxy={squid.url}\ncafile={ca_file}\n"
        )
        return {"npm_config_userconfig": str(home / ".npmrc")}
    if tool == "pnpm":
        (proj / ".npmrc").write_text(f"registry={registry}\n@corp:registry={registry}\n{auth}cafile={ca_file}\n")
        (proj / "pnpm-workspace.yaml").write_text(f"httpsProxy: {squid.url}\nminimumReleaseAge: 0\n")
        return {}
    if tool == "yarn-classic":
        (proj / ".yarnrc").write_text(f'registry "{registry}"\n"@corp:registry" "{registry}"\nhttps-proxy "{squid.url}"\ncafile "{ca_file}"\n')
        (proj / ".npmrc").write_text(auth)
        return {}
    if tool == "yarn-berry":
        (proj / ".yarnrc.yml").write_text(
            f'npmRegistryServer: "{registry}"\nhttpsProxy: "{squid.url}"\nhttpsCaFilePath: "{ca_file}"\n'
            f'npmScopes:\n  corp:\n    npmRegistryServer: "{registry}"\n    {'npmAuthToken: "' + token + '"' if token else ''}\n    npmMinimalAgeGate: 0\n'
            "npmMinimalAgeGate: 0\nenableTelemetry: false\nenableGlobalCache: false\nnodeLinker: node-modules\n"
        )
        (proj / "yarn.lock").write_text("")
        return {}
    if tool == "bun":
        (proj / "bunfig.toml").write_text(
            f'[install]\nregistry = "{registry}"\ncafile = "{ca_file}"\n[install.scopes]\ncorp = {{ url = "{registry}"{', token = "' + token + '"' if token else ''} }}\n'
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


TOOLS = ["npm", "pnpm", "yarn-classic", "yarn-berry", "bun"]


@dataclass
class World:
    """One tool's project, home and environment in this lab."""

    tool: str
    proj: Path
    home: Path
    env: dict[str, str]
    tmp: Path

    @property
    def argv(self) -> list[str]:
        return [PROGRAM[self.tool], "install"]


def make_world(tool: str, tmp_path: Path, verdaccio: Verdaccio, lab_pki: LabPki, squid: Squid, *, token: str | None) -> World:
    _require(installed(tool), f"{PROGRAM[tool]} for the lab (npm ci in tests/lab/clients)")
    proj, home = tmp_path / "proj", tmp_path / "home"
    proj.mkdir()
    (home / ".config").mkdir(parents=True)
    (proj / "package.json").write_text(json.dumps({"name": "lab-app", "version": "1.0.0", "private": True, "dependencies": DEPENDENCIES}))
    extra = write_tool_config(tool, proj, home, verdaccio.url("https"), token, squid, lab_pki.ca.cert)
    env = tool_env(tool, home, tmp_path, **extra)
    return World(tool, proj, home, env, tmp_path)


def through_inspector(world: World, env: dict[str, str], argv: list[str]) -> tuple[subprocess.CompletedProcess[str], SessionStore]:
    """What the run lifecycle will do: detect, read config, choose the upstream, inject, run the tool."""
    detection = detect(argv, str(world.proj), env)
    adapter = adapter_for(detection.tool)
    config = adapter.read_config(detection, argv, cwd=str(world.proj), env=env)
    upstream, where = resolve_upstream(config.raw, None)
    assert upstream is not None, f"{world.tool}: no upstream found in its config"
    confdir = world.tmp / "ca"
    inspector_ca = ensure_ca(confdir)
    bundle = write_bundle(world.tmp, "client-bundle.pem", adapter.trust_pems(config), inspector_ca.read_text())
    upstream_trust = write_bundle(world.tmp, "upstream-trust.pem", config.raw.ca_pems() or "")
    store = SessionStore()
    credential = ListenerCredential.generate()
    proxy = InspectorProxy(
        ProxyConfig(confdir=confdir, upstream=upstream, listener=credential, upstream_trusted_ca=upstream_trust), store.add
    ).start()
    try:
        url = credential.url(proxy.host, proxy.port)
        with adapter.inject(detection, argv, proxy_url=url, ca_bundle=bundle, config=config, env=env) as injection:
            assert not any(credential.password in arg for arg in injection.argv)
            result = subprocess.run(injection.argv, cwd=world.proj, env=injection.child_env(env), capture_output=True, text=True, timeout=180)
        proxy.settle()
    finally:
        proxy.stop()
    return result, store


def registry_answers(store: SessionStore) -> set[tuple[str, int | None]]:
    return {(e.path.split("?")[0].replace("%2F", "%2f").replace("@corp/", "@corp%2f"), e.status) for e in store.exchanges()
            if e.kind == "http" and e.host == REGISTRY_HOST}


@pytest.mark.parametrize("tool", TOOLS)
def test_each_tool_installs_through_the_inspector_with_the_config_it_really_uses(
    tool, tmp_path, verdaccio: Verdaccio, lab_pki: LabPki, squid: Squid
):
    world = make_world(tool, tmp_path, verdaccio, lab_pki, squid, token=verdaccio.tokens["alice"])
    registry = verdaccio.url("https")

    detection = detect(world.argv, str(world.proj), world.env)
    assert detection.tool == tool
    if tool in VERSIONS:
        assert detection.version == VERSIONS[tool]
    config = adapter_for(tool).read_config(detection, world.argv, cwd=str(world.proj), env=world.env)
    snap = config.snapshot()
    registry_origin, proxy_origin = (o.format(home=world.home, proj=world.proj) if o else None for o in EXPECTED_ORIGINS[tool])
    assert snap.config.registry == registry and snap.origins["registry"] == registry_origin
    assert snap.config.registry_for("@corp/secret") == registry
    assert snap.config.auth_for(registry + "@corp%2fsecret"), "alice's token is known for the registry"
    if proxy_origin:
        assert snap.config.get("https-proxy") == squid.url and snap.origins["https-proxy"] == proxy_origin
    else:
        assert snap.config.env_proxy == {"HTTPS_PROXY": squid.url}
    assert verdaccio.tokens["alice"] not in json.dumps(snap.to_dict())

    result, store = through_inspector(world, world.env, world.argv)
    output = (result.stdout + result.stderr)[-3000:]
    assert result.returncode == 0, output
    assert (world.proj / "node_modules" / "@corp" / "secret" / "package.json").exists(), output
    fetched = registry_answers(store)
    assert {("/lab-hello", 200), ("/lab-hello/-/lab-hello-1.1.0.tgz", 200), ("/@corp%2fsecret", 200)} <= fetched, fetched
    tunnels = [e for e in squid.access_entries() if e["method"] == "CONNECT" and e["url"] == f"{REGISTRY_HOST}:{verdaccio.https_port}"]
    assert tunnels and all(e["status"] == "200" for e in tunnels)


@pytest.mark.parametrize("tool", TOOLS)
def test_a_missing_token_fix_applied_to_temporary_copies_is_proven_by_a_rerun(
    tool, tmp_path, verdaccio: Verdaccio, lab_pki: LabPki, squid: Squid
):
    world = make_world(tool, tmp_path, verdaccio, lab_pki, squid, token=None)
    config_files = {".npmrc", ".yarnrc", ".yarnrc.yml", "bunfig.toml", "pnpm-workspace.yaml"}
    before = {p: p.read_bytes() for p in [*world.proj.iterdir(), *world.home.rglob("*")] if p.is_file() and (p.name in config_files or world.home in p.parents)}
    assert before

    failed, store = through_inspector(world, world.env, world.argv)
    assert failed.returncode != 0
    assert ("/@corp%2fsecret", 401) in registry_answers(store)

    nerf = verdaccio.url("https").split(":", 1)[1]
    change = ConfigChange("set", f"{nerf}:_authToken", verdaccio.tokens["alice"])
    adapter = adapter_for(tool)
    config = adapter.read_config(detect(world.argv, str(world.proj), world.env), world.argv, cwd=str(world.proj), env=world.env)
    copy = adapter.apply_to_copy([change], config, world.argv, env=world.env)
    assert copy.unverifiable == []
    with copy.injection as fix:
        passed, store = through_inspector(world, fix.child_env(world.env), fix.argv)
        workdir = fix.workdir
    assert passed.returncode == 0, (passed.stdout + passed.stderr)[-3000:]
    assert ("/@corp%2fsecret", 200) in registry_answers(store)
    assert workdir is None or not workdir.exists()
    after = {p: p.read_bytes() for p in before}
    assert after == before, "the user's config files are untouched"
