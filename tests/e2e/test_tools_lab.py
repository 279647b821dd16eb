"""pnpm, yarn 1, yarn berry and bun through ``npm-inspect run --verify-fix``: one scenario table, tool × scenario.

Each cell builds the tool's own config (its files, its syntax, its layers), runs the real tool through the real
CLI to a real Squid and the session's Verdaccio, and checks: the right finding on the right hop, a fix in that
tool's own syntax, the fix proven by a re-run through the same inspector (the finding gone), the report naming
the tool and its version, and the user's config files untouched. Scenarios: the proxy's 407 and its 403 to the
CONNECT, the registry's 401 and 403, a scope asked of the wrong registry, a re-signing proxy's TLS chain.

One Verdaccio for the session (answering also as ``mirror.lab.test``, the company mirror / private registry),
three Squids and one re-signing mitmdump for the module. The 24 cells run side by side (a few at a time, each in
its own folders and npm-inspect home) in one module fixture, and each test asserts on its own cell: most of a
cell's time is waiting (yarn 1 retries a refused request four times, 3 s apart), so the table takes about as long
as its slowest cells.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab import MIRROR_HOST, REGISTRY_HOST
from tests.lab.fixtures import LabPki, _require, assert_a_failure_has_a_finding
from tests.lab.pki import make_ca, make_intermediate_ca, write_mitmproxy_ca
from tests.lab.procs import ManagedProcess, free_port, port_open, wait_until
from tests.lab.squid import Squid, SquidConfig
from tests.lab.toolchain import PROGRAM, VERSIONS, installed, tool_env
from tests.lab.verdaccio import Verdaccio

pytestmark = pytest.mark.e2e

TOOLS = ("pnpm", "yarn-classic", "yarn-berry", "bun")
USER, PASSWORD = "carol", "p@ss:w0rd/#1"
HOSTS = {REGISTRY_HOST: "127.0.0.1", MIRROR_HOST: "127.0.0.1"}
SIDE_BY_SIDE = 4
"""Cells run at once: enough to overlap yarn 1's retry pauses, few enough for 2 shared cores."""


@dataclass
class CorpNet:
    """The module's corporate network: an open proxy, one that wants carol's login, one that refuses the registry's
    name, and a TLS-inspecting proxy (re-signs with 'Corp SSL Inspection CA') in front of the open one."""

    open: Squid
    login: Squid
    deny: Squid
    resign_url: str
    verdaccio: Verdaccio

    def proxy(self, kind: str) -> str:
        return {"open": self.open.url, "login": self.login.url, "deny": self.deny.url, "resign": self.resign_url}[kind]

    def registry(self, host: str = REGISTRY_HOST) -> str:
        return self.verdaccio.url("https", host)


@pytest.fixture(scope="module")
def corp(tmp_path_factory: pytest.TempPathFactory, verdaccio: Verdaccio, lab_pki: LabPki) -> Iterator[CorpNet]:
    squids = [
        Squid(SquidConfig(hosts=HOSTS)).start(),
        Squid(SquidConfig(users={USER: PASSWORD}, hosts=HOSTS)).start(),
        Squid(SquidConfig(deny_hosts=[REGISTRY_HOST], hosts=HOSTS)).start(),
    ]
    d = tmp_path_factory.mktemp("corp-proxy")
    root = make_ca(d / "pki", "Corp Root CA", "Corp IT")
    write_mitmproxy_ca(d / "conf", make_intermediate_ca(d / "pki", root, "Corp SSL Inspection CA"), root.cert)
    port = free_port()
    resign = ManagedProcess(
        [str(Path(sys.executable).with_name("mitmdump")), "-q", "--listen-host", "127.0.0.1", "-p", str(port),
         "--mode", f"upstream:{squids[0].url}", "--set", f"confdir={d / 'conf'}", "--set", f"ssl_verify_upstream_trusted_ca={lab_pki.ca.cert}"],
        log=d / "mitmdump.log",
    )
    try:
        wait_until(lambda: port_open(port), timeout=30, what="the re-signing proxy")
        yield CorpNet(*squids, f"http://127.0.0.1:{port}", verdaccio)
    finally:
        resign.stop()
        for squid in squids:
            squid.cleanup()


@dataclass(frozen=True)
class Scenario:
    name: str
    proxy: str
    """Which of the module's proxies the tool's config names."""
    rule: str
    hop: str
    package: str = "lab-hello"
    token: str | None = None
    """Whose token the user config holds (alice may read @corp, bob may not)."""
    token_host: str = REGISTRY_HOST
    scope_mapped: bool = True
    fix_values: tuple[str, ...] = ()
    fix_token: bool = False


SCENARIOS = [
    Scenario("proxy-407", "login", "proxy-auth-required", "proxy", fix_values=(f"user={USER}", f"password={PASSWORD}")),
    Scenario("connect-403", "deny", "proxy-connect-denied", "proxy", fix_values=("internal-mirror-url={mirror}",)),
    Scenario("registry-401", "open", "registry-auth-missing", "registry", package="@corp/secret", fix_token=True),
    Scenario("registry-403", "open", "registry-forbidden", "registry", package="@corp/secret", token="bob", fix_token=True),
    Scenario("scope-missing", "open", "scope-registry-missing", "registry", package="@corp/secret", token="alice",
             token_host=MIRROR_HOST, scope_mapped=False),
    Scenario("tls-untrusted", "resign", "tls-untrusted", "tls"),
]

FIX_SYNTAX = {
    ("proxy-407", "pnpm"): "pnpm config set https-proxy 'http://<user>:<password>@{proxy}' --location project",
    ("proxy-407", "yarn-classic"): 'in .yarnrc (in the project):\nhttps-proxy "http://<user>:<password>@{proxy}"',
    ("proxy-407", "yarn-berry"): "yarn config set httpsProxy 'http://<user>:<password>@{proxy}'",
    ("proxy-407", "bun"): "export HTTPS_PROXY='http://<user>:<password>@{proxy}'",
    ("connect-403", "pnpm"): "pnpm config set registry '<internal-mirror-url>'",
    ("connect-403", "yarn-classic"): 'in .yarnrc (in the project):\nregistry "<internal-mirror-url>"',
    ("connect-403", "yarn-berry"): "yarn config set npmRegistryServer '<internal-mirror-url>'",
    ("connect-403", "bun"): 'in bunfig.toml (in the project):\n[install]\nregistry = "<internal-mirror-url>"',
    ("registry-401", "pnpm"): "pnpm config set {nerf}:_authToken '<token>'",
    ("registry-401", "yarn-classic"): "in ~/.npmrc:\n{nerf}:_authToken=<token>",
    ("registry-401", "yarn-berry"): "yarn config set -H 'npmRegistries[\"{nerf}\"].npmAuthToken' '<token>'",
    ("registry-401", "bun"): "in ~/.npmrc:\n{nerf}:_authToken=<token>",
    ("scope-missing", "pnpm"): "pnpm config set @corp:registry {mirror}",
    ("scope-missing", "yarn-classic"): "yarn config set @corp:registry {mirror}",
    ("scope-missing", "yarn-berry"): "yarn config set -H npmScopes.corp.npmRegistryServer {mirror}",
    ("scope-missing", "bun"): 'in ~/.bunfig.toml:\n[install.scopes]\ncorp = "{mirror}"',
    ("tls-untrusted", "pnpm"): "pnpm config set cafile {ca}",
    ("tls-untrusted", "yarn-classic"): 'in .yarnrc (in the project):\ncafile "{ca}"',
    ("tls-untrusted", "yarn-berry"): "yarn config set httpsCaFilePath {ca}",
    ("tls-untrusted", "bun"): 'in bunfig.toml (in the project):\n[install]\ncafile = "{ca}"',
}
FIX_SYNTAX.update({("registry-403", tool): FIX_SYNTAX[("registry-401", tool)] for tool in TOOLS})
CONFIG_FILES = (".npmrc", ".yarnrc", ".yarnrc.yml", "bunfig.toml", "pnpm-workspace.yaml", "package.json")


@dataclass
class World:
    tool: str
    proj: Path
    home: Path
    env: dict[str, str]
    inspector_home: Path

    def config_files(self) -> dict[Path, bytes]:
        return {p: p.read_bytes() for folder in (self.proj, self.home) for p in folder.iterdir() if p.name in CONFIG_FILES}


def make_world(tool: str, scenario: Scenario, corp: CorpNet, lab_pki: LabPki, tmp: Path) -> World:
    """The tool's own config for the scenario: proxy, registry, scope, CA where that tool keeps them; tokens and
    what a fix must beat at the user level (a temporary copy then proves the fix, see each adapter)."""
    proj, home = tmp / "proj", tmp / "home"
    proj.mkdir()
    (home / ".config").mkdir(parents=True)
    version = "1.0.0" if scenario.package.startswith("@") else "1.1.0"
    manifest = {"name": "lab-app", "version": "1.0.0", "private": True, "dependencies": {scenario.package: version}}
    (proj / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")  # as yarn berry writes it back
    registry, proxy, ca = corp.registry(), corp.proxy(scenario.proxy), lab_pki.ca.cert
    token = corp.verdaccio.tokens[scenario.token] if scenario.token else None
    nerf = corp.registry(scenario.token_host).split(":", 1)[1]
    npmrc_token = f"{nerf}:_authToken={token}\n" if token else ""
    scope = f"@corp:registry={registry}\n" if scenario.scope_mapped else ""
    extra: dict[str, str] = {"npm_config_userconfig": str(home / ".npmrc")}
    if tool == "pnpm":
        (home / ".npmrc").write_text(f"registry={registry}\n{scope}{npmrc_token}cafile={ca}\n")
        (proj / "pnpm-workspace.yaml").write_text(f"httpsProxy: {proxy}\nminimumReleaseAge: 0\n")
    elif tool == "yarn-classic":
        (proj / ".yarnrc").write_text(
            f'registry "{registry}"\n' + (f'"@corp:registry" "{registry}"\n' if scenario.scope_mapped else "") + f'https-proxy "{proxy}"\ncafile "{ca}"\n'
        )
        (home / ".npmrc").write_text(npmrc_token)
    elif tool == "yarn-berry":
        scopes = f'npmScopes:\n  corp:\n    npmRegistryServer: "{registry}"\n' if scenario.scope_mapped else ""
        # the lab's packages were published seconds ago: yarn 4.18 gives a scope entry its default 1-day age gate, not
        # the top-level 0 (measured), so @corp is pre-approved for every gate
        (proj / ".yarnrc.yml").write_text(
            f'npmRegistryServer: "{registry}"\nhttpsProxy: "{proxy}"\nhttpsCaFilePath: "{ca}"\n{scopes}'
            'npmMinimalAgeGate: 0\nnpmPreapprovedPackages:\n  - "@corp/*"\n'
            "enableTelemetry: false\nenableGlobalCache: false\nnodeLinker: node-modules\n"
        )
        (home / ".yarnrc.yml").write_text(f'npmRegistries:\n  "{nerf}":\n    npmAuthToken: "{token}"\n' if token else "")
        (proj / "yarn.lock").write_text("")
        extra = {"YARN_HTTP_RETRY": "0"}
    elif tool == "bun":
        (proj / "bunfig.toml").write_text(
            f'[install]\nregistry = "{registry}"\ncafile = "{ca}"\n' + (f'[install.scopes]\ncorp = "{registry}"\n' if scenario.scope_mapped else "")
        )
        (home / ".npmrc").write_text(npmrc_token)
        extra["HTTPS_PROXY"] = proxy
    # its own npm-inspect home: cells run side by side and save the corporate CA there
    env = tool_env(tool, home, tmp, NPM_INSPECT_HOME=str(tmp / "npm-inspect"), **extra)
    return World(tool, proj, home, env, tmp / "npm-inspect")


def verify_fix(world: World, scenario: Scenario, corp: CorpNet) -> tuple[subprocess.CompletedProcess[str], dict]:
    args = [a for value in scenario.fix_values for a in ("--fix-value", value.format(mirror=corp.registry(MIRROR_HOST)))]
    env = dict(world.env)
    if scenario.fix_token:
        env["NPM_INSPECT_FIX_TOKEN"] = corp.verdaccio.tokens["alice"]
    argv = [sys.executable, "-m", "inspector", "run", "--report", "json", "--verify-fix", *args, "--", PROGRAM[world.tool], "install"]
    process = subprocess.run(argv, cwd=world.proj, env=env, capture_output=True, text=True, timeout=300)
    report = json.loads(process.stdout) if process.stdout.strip().startswith("{") else {}
    assert_a_failure_has_a_finding(process.stdout, report or None, "json")
    return process, report


@dataclass
class Cell:
    """One tool × scenario, run: the world, the user's config files before, npm-inspect's process and report."""

    world: World
    before: dict[Path, bytes]
    process: subprocess.CompletedProcess[str]
    report: dict


def run_cell(world: World, scenario: Scenario, corp: CorpNet) -> Cell:
    before = world.config_files()
    process, report = verify_fix(world, scenario, corp)
    return Cell(world, before, process, report)


@pytest.fixture(scope="module")
def table(corp: CorpNet, lab_pki: LabPki, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Cell | BaseException]:
    """Every cell of the table, run side by side; a cell's failure is kept for its own test to raise."""
    keys = [(tool, scenario) for tool in TOOLS if installed(tool) for scenario in SCENARIOS]
    keys.sort(key=lambda key: key[0] != "yarn-classic")  # the slowest first (yarn 1 retries)
    worlds = {key: make_world(key[0], key[1], corp, lab_pki, tmp_path_factory.mktemp(f"{key[0]}-{key[1].name}")) for key in keys}
    results: dict[tuple[str, str], Cell | BaseException] = {}
    with ThreadPoolExecutor(SIDE_BY_SIDE) as pool:
        futures = {(tool, scenario.name): pool.submit(run_cell, worlds[(tool, scenario)], scenario, corp) for tool, scenario in keys}
        for key, future in futures.items():
            try:
                results[key] = future.result()
            except BaseException as e:  # noqa: BLE001 - reported by the cell's own test
                results[key] = e
    return results


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
@pytest.mark.parametrize("tool", TOOLS)
def test_each_tool_gets_the_finding_a_fix_in_its_own_syntax_and_the_fix_proven_by_a_rerun(tool, scenario, corp, table):
    _require(installed(tool), f"{PROGRAM[tool]} for the lab (npm ci in tests/lab/clients)")
    cell = table[(tool, scenario.name)]
    if isinstance(cell, BaseException):
        raise cell
    world, process, report = cell.world, cell.process, cell.report
    output = process.stderr[-3000:]
    assert report, output
    assert report["tool"]["name"] == tool and report["tool"]["version"] == VERSIONS[tool], report["tool"]
    assert report["runs"][0]["exit"] != 0, output  # run 1: the tool failed
    finding = report["findings"][0]
    assert (finding["rule"], finding["hop"]) == (scenario.rule, scenario.hop), (report["findings"], output)
    expected = FIX_SYNTAX[(scenario.name, tool)].format(
        proxy=corp.proxy(scenario.proxy).split("//", 1)[1],
        nerf=corp.registry().split(":", 1)[1],
        mirror=corp.registry(MIRROR_HOST),
        ca=world.inspector_home / "saved" / "corporate-ca.pem",
    )
    assert expected in finding["commands"], finding["commands"]
    assert not any(c.startswith("npm config") for c in finding["commands"]), finding["commands"]

    (proof,) = [v for v in report["verify"] if v["rule"] == scenario.rule]
    assert proof["passed"] is True and proof["gone"] is True and proof["run"] == 2, (proof, output)
    assert not proof["note"], proof  # nothing the copy could not apply
    assert report["runs"][-1]["exit"] == 0

    assert world.config_files() == cell.before, "the user's config files are untouched"
    assert PASSWORD not in process.stdout + process.stderr
    assert corp.verdaccio.tokens["alice"] not in process.stdout
    if tool == "pnpm":
        assert "package-not-found" not in {f["rule"] for f in report["findings"]}  # pnpm's own version check (GET /pnpm)
